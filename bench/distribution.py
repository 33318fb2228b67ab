"""Distributions: a coupon to 10,000 holders of record on the embedded chain, and the gas per
holder of push payments against Merkle claims.

Setup (not timed): a bond held by --holders bank identities (default 10,000), and PKRT issued to
the treasury. Timed, end to end: the holders of record read from the token's Transfer events, the
exact split, the payout Merkle tree, the M-of-N declaration (proposal, approval, the timelock
passed on the embedded clock, execution, which draws the total from the treasury), and the push
payments, 100 proven payouts per transaction, until the last is confirmed. Goal: <= 60 s.

Gas per holder: push = the pay transactions' gas / holders; claim = the mean gas of --claims
claims made by holders themselves on a second distribution.

Last line: `coupon_holders N coupon_seconds S push_gas_per_holder P claim_gas_per_holder C`
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from holders import OFFICIALS, BenchPlatform, bond_with_holders

from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.services import cash, distributions, governance

COUPON_MINOR = 12_345_678_901  # PKR 123,456,789.01: does not split evenly


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def coupon(platform: BenchPlatform, token: distributions.Bound, total: int) -> tuple[int, dict]:
    """Declare a coupon to the current holders (2-of-3, timelock passed) and push every payout."""
    record_block = platform.chain.block_number()
    proposal_id, _ = distributions.propose_declare(
        platform, OFFICIALS[0], token, distributions.KINDS["coupon"], total, record_block
    )
    governance.approve(platform, OFFICIALS[1], proposal_id)
    view = governance.show(platform, proposal_id)
    platform.chain.advance_time(max(0, view.ready_at - platform.chain.block_timestamp()))
    governance.execute(platform, OFFICIALS[0], proposal_id)
    distribution_id = platform.contract("Distributor").read("distributionCount")
    return distribution_id, distributions.pay(platform, "issuer", distribution_id)


def run(data_dir: Path, holders: int, claims: int) -> tuple[float, float, float]:
    started = time.perf_counter()
    platform = BenchPlatform.open(Settings.resolve(str(data_dir)), require_deployment=False)
    token, names = bond_with_holders(platform, "PK0000CPNBN1", "CPNBENCH", holders)
    treasury = platform.manifest.address("Governance")
    governance.govern(
        platform,
        OFFICIALS,
        platform.contract("CashToken"),
        "issueCash",
        [treasury, 3 * COUPON_MINOR, bytes.fromhex(cash.reference_hash("bench budget")[2:])],
        advance_clock=True,
    )
    log(f"setup: {holders} holders onboarded and minted in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    distribution_id, paid = coupon(platform, token, COUPON_MINOR)
    seconds = time.perf_counter() - started
    if not paid["complete"] or paid["paid_minor"] != COUPON_MINOR:
        raise SystemExit(f"coupon incomplete: {paid}")
    push_per_holder = paid["gas_used"] / holders
    log(
        f"coupon {distribution_id}: {holders} holders paid {paid['paid']} exactly in "
        f"{seconds:.1f} s; {paid['transactions']} pay transactions in {paid['blocks']} blocks, "
        f"{paid['gas_used']:,} gas"
    )

    record_block = platform.chain.block_number()
    proposal_id, _ = distributions.propose_declare(
        platform, OFFICIALS[0], token, distributions.KINDS["coupon"], COUPON_MINOR, record_block
    )
    governance.approve(platform, OFFICIALS[1], proposal_id)
    platform.chain.advance_time(3600)
    governance.execute(platform, OFFICIALS[0], proposal_id)
    second = platform.contract("Distributor").read("distributionCount")
    claim_gas = [distributions.claim(platform, name, second)["gas_used"] for name in names[:claims]]
    claim_per_holder = statistics.mean(claim_gas)
    log(f"claims: {claims} holders claimed, mean {claim_per_holder:,.0f} gas")
    return seconds, push_per_holder, claim_per_holder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=10_000)
    parser.add_argument("--claims", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amanat-bench-distribution-") as directory:
        data_dir = Path(directory)
        try:
            seconds, push, claim = run(data_dir, args.holders, args.claims)
        finally:
            AnvilNode(data_dir).stop()
    print(
        f"coupon_holders {args.holders} coupon_seconds {seconds:.1f} "
        f"push_gas_per_holder {push:,.0f} claim_gas_per_holder {claim:,.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
