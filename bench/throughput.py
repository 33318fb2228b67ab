"""Throughput: compliant transfers end to end through Amanat vs plain ERC-20 transfers on raw anvil.

Amanat path (timed): pre-check, sign, journal durably (acknowledge), send, mine, confirm - via
`amanat.services.tokens.transfer_batch` on the embedded chain, with the token's compliance rules
on. Raw path (timed): pre-signed plain ERC-20 transfers sent to a bare anvil (same flags, automine
off) in JSON-RPC batches, mined with evm_mine, receipts fetched. Same batch size for both.

Last line: `amanat_tps X raw_tps Y ratio R` (goal R >= 0.5).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import vyper
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from amanat.chain.keys import dev_account
from amanat.chain.node import AnvilNode
from amanat.chain.rpc import RpcClient
from amanat.config import Settings
from amanat.domain.assets import AssetClass, AssetStatus
from amanat.domain.identity import COUNTRY_CODES, InvestorCategory
from amanat.domain.rules import TokenRules
from amanat.services import assets, governance, identities, tokens
from amanat.services.platform import Platform

OFFICIALS = ["official-1", "official-2"]
HERE = Path(__file__).resolve().parent


def setup_amanat(data_dir: Path, holders: int) -> tuple[Platform, tokens.Bound, list[str]]:

    platform = Platform.open(Settings.resolve(str(data_dir)), require_deployment=False)
    platform.deploy_development()
    doc = "0x" + "11" * 32
    asset_id = assets.register(
        platform,
        "issuer",
        AssetClass.BOND,
        "PK0000BENCH1",
        "Benchmark bond",
        "Ministry of Finance",
        "Benchmark authorisation",
        doc,
        10**12,
    )
    registry = platform.contract("AssetRegistry")
    governance.govern(
        platform,
        OFFICIALS,
        registry,
        "setStatus",
        [asset_id, int(AssetStatus.APPROVED)],
        advance_clock=True,
    )
    rules = TokenRules(
        eligible_categories=frozenset(InvestorCategory) - {InvestorCategory.RETAIL},
        foreign_cap_bps=4000,
        holding_cap=10**9,
        minimum_holding=1,
        country_mode="allow",
        countries=(COUNTRY_CODES["PK"], COUNTRY_CODES["AE"]),
    )
    governance.govern(
        platform,
        OFFICIALS,
        platform.contract("TokenFactory"),
        "createToken",
        tokens.tokenize_args(asset_id, "Bench bond", "BENCH", 0, rules),
        advance_clock=True,
    )
    token = tokens.token_for_asset(platform, asset_id)
    names = [f"bench-holder-{i}" for i in range(holders)]
    expiry = platform.chain.block_timestamp() + 365 * 86400
    for name in names:
        identities.onboard(
            platform,
            "registrar",
            name,
            {"name": name},
            COUNTRY_CODES["PK"],
            InvestorCategory.BANK,
            expiry,
            [name],
        )
    for start in range(0, holders, 100):
        chunk = names[start : start + 100]
        governance.govern(
            platform,
            OFFICIALS,
            token,
            "batchMint",
            [[platform.address_of(n) for n in chunk], [10**6] * len(chunk)],
            advance_clock=True,
        )
    return platform, token, names


def run_amanat(data_dir: Path, count: int, batch: int, holders: int) -> float:
    platform, token, names = setup_amanat(data_dir, holders)
    rng = random.Random(7)
    plan = []
    for _ in range(count):
        sender, receiver = rng.sample(names, 2)
        plan.append((sender, token, receiver, rng.randint(1, 10)))
    for name in names:  # unlock (derive) every key before timing
        platform.signer(name)
    started = time.perf_counter()
    settled = 0
    for start in range(0, count, batch):
        results = tokens.transfer_batch(platform, plan[start : start + batch])
        settled += sum(1 for r in results if r.get("settled"))
    elapsed = time.perf_counter() - started
    if settled != count:
        raise SystemExit(f"only {settled} of {count} compliant transfers settled")
    journaled = platform.chain.journal.count("mined")
    print(
        f"amanat: {count} transfers in {elapsed:.2f} s, all settled; {journaled} txs journaled",
        file=sys.stderr,
    )
    return count / elapsed


def run_raw(data_dir: Path, count: int, batch: int) -> float:
    node = AnvilNode(data_dir)
    node.start(genesis_timestamp=int(time.time()))
    try:
        rpc = RpcClient(node.url)
        source = (HERE / "contracts" / "PlainToken.vy").read_text()
        bytecode = bytes.fromhex(
            vyper.compile_code(source, output_formats=["bytecode"])["bytecode"][2:]
        )
        deployer = dev_account(0)
        senders = [dev_account(i) for i in range(1, 9)]
        nonces = {a.address: 0 for a in [deployer, *senders]}

        def sign(account, to, data, gas):  # type: ignore[no-untyped-def]
            tx = {
                "nonce": nonces[account.address],
                "gas": gas,
                "gasPrice": 0,
                "data": data,
                "value": 0,
                "chainId": 31337,
            }
            if to:
                tx["to"] = to
            nonces[account.address] += 1
            return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()

        def send_and_mine(raws: list[str]) -> list[dict]:
            rpc.batch([("eth_sendRawTransaction", [r]) for r in raws])
            rpc.call("evm_mine", [])
            hashes = ["0x" + keccak(bytes.fromhex(r[2:])).hex() for r in raws]
            return rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])

        (receipt,) = send_and_mine(
            [sign(deployer, None, bytecode + encode(["uint256"], [10**30]), 1_000_000)]
        )
        token = to_checksum_address(receipt["contractAddress"])
        selector = function_signature_to_4byte_selector("transfer(address,uint256)")
        send_and_mine(
            [
                sign(
                    deployer,
                    token,
                    selector + encode(["address", "uint256"], [s.address, 10**20]),
                    100_000,
                )
                for s in senders
            ]
        )
        rng = random.Random(7)
        raws = []
        for i in range(count):
            sender = senders[i % len(senders)]
            receiver = rng.choice(senders).address
            raws.append(
                sign(
                    sender, token, selector + encode(["address", "uint256"], [receiver, 1]), 100_000
                )
            )
        started = time.perf_counter()
        ok = 0
        for start in range(0, count, batch):
            receipts = send_and_mine(raws[start : start + batch])
            ok += sum(1 for r in receipts if r and r["status"] == "0x1")
        elapsed = time.perf_counter() - started
        if ok != count:
            raise SystemExit(f"raw: only {ok} of {count} transfers succeeded")
        print(f"raw anvil: {count} plain ERC-20 transfers in {elapsed:.2f} s", file=sys.stderr)
        return count / elapsed
    finally:
        node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--holders", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amanat-bench-") as tmp:
        root = Path(tmp)
        try:
            amanat_tps = run_amanat(root / "amanat", args.transfers, args.batch, args.holders)
        finally:
            AnvilNode(root / "amanat").stop()
        raw_tps = run_raw(root / "raw", args.transfers, args.batch)
    print(f"amanat_tps {amanat_tps:.0f} raw_tps {raw_tps:.0f} ratio {amanat_tps / raw_tps:.2f}")


if __name__ == "__main__":
    main()
