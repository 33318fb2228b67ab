"""Network mode against a second, independent EVM implementation: the whole lifecycle through
the CLI on the EthereumJS client (custom Prague genesis, zero base fee, Engine-API block
driver), reached through a proxy that enforces Besu's request limits scaled down (100-block log
range, 20-request batches) so that Amanat's reads cross them.

Covers deploy with staging timelocks, asset, governance, tokenize, onboard, cash, mint, transfer
and refusal, DvP, a distribution, `log publish`, `reconcile`, `verify`, and `serve`'s indexer
following the node. Keys are Keystore V3 files (light KDF: the test unlocks many). The server's
data directory holds only the platform's operational keys (network mode refuses a key it holds for
an institution or an official): officials and institutions sign with their own files (`--key`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account

from amanat.chain.keys import dev_account
from amanat.chain.rpc import RpcClient
from amanat.services.platform import DEV_ROLES, DEVELOPMENT_OFFICIAL, PUBLISHER_KEY, dev_key_for
from tests.integration.support import Amanat
from tests.network.ethereumjs import BINARY, BlockDriver, ethereumjs_node
from tests.network.proxy import Limits, limited

pytestmark = pytest.mark.skipif(not BINARY.exists(), reason="npm @ethereumjs/client not installed")

CHAIN_ID = 7771
UNREGISTERED = "0x000000000000000000000000000000000000dEaD"
PASSPHRASE = "network mode passphrase"
LOGS_RANGE = 100
BATCH = 20
INSTITUTIONS = {
    "inb": ("Indus National Bank", "PK", "bank"),
    "kla": ("Karakoram Life Assurance", "PK", "insurer"),
}


def _keys(directory: Path, own: Path) -> dict[str, str]:
    """Keystore V3 files for every role and institution: the platform's operational keys in the
    server's `directory`, the officials' and institutions' in their owners' hands (`own`);
    returns name -> address."""
    accounts = {name: dev_account(index) for name, index in DEV_ROLES.items()}
    accounts[PUBLISHER_KEY] = dev_key_for(PUBLISHER_KEY)
    accounts.update({name: dev_key_for(name) for name in INSTITUTIONS})
    directory.mkdir(parents=True, exist_ok=True)
    own.mkdir(parents=True, exist_ok=True)
    for name, account in accounts.items():
        keystore = Account.encrypt(account.key, PASSPHRASE, kdf="pbkdf2", iterations=2)
        held_by_owner = name in INSTITUTIONS or DEVELOPMENT_OFFICIAL.fullmatch(name)
        path = (own if held_by_owner else directory) / f"{name}.json"
        path.write_text(json.dumps(keystore))
        path.chmod(0o600)
    return {name: account.address for name, account in accounts.items()}


class Network:
    """The CLI on a data directory whose chain is the EthereumJS node behind the proxy."""

    def __init__(
        self,
        cli: Amanat,
        node_url: str,
        driver: BlockDriver,
        limits: Limits,
        addresses: dict[str, str],
        own: Path,
    ) -> None:
        self.cli = cli
        self.own = own
        self.addresses = addresses
        self.node = RpcClient(node_url)
        self.driver = driver
        self.limits = limits

    def key(self, name: str) -> list[str]:
        """The global option with which `name`'s owner signs with its own key file."""
        return ["--key", str(self.own / f"{name}.json")]

    def chain_time(self) -> int:
        return int(self.node.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def head(self) -> int:
        return int(self.node.call("eth_blockNumber"), 16)

    def govern(self, proposals: list[list[Any]]) -> list[dict[str, Any]]:
        """Propose (official-1), approve (official-2), wait out the staging timelock in chain
        time, execute (official-1)."""
        proposed = self.cli.json_many(
            [[*self.key("official-1"), *p, "--as", "official-1"] for p in proposals]
        )
        approved = self.cli.json_many(
            [
                [*self.key("official-2"), "proposal", "approve", p["id"], "--as", "official-2"]
                for p in proposed
            ]
        )
        ready = max(a.get("ready_at") or 0 for a in approved)
        deadline = time.monotonic() + 120
        while self.chain_time() <= ready:
            assert self.driver.failure is None, f"the block driver failed: {self.driver.failure!r}"
            assert time.monotonic() < deadline, f"chain time {self.chain_time()} not past {ready}"
            time.sleep(0.5)
        return self.cli.json_many(
            [
                [*self.key("official-1"), "proposal", "execute", p["id"], "--as", "official-1"]
                for p in proposed
            ]
        )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    root = tmp_path_factory.mktemp("ethereumjs")
    data_dir = root / "data"
    addresses = _keys(data_dir / "keys", root / "own-keys")
    (data_dir / "transparency-key.pem").write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    limits = Limits(max_batch=BATCH, max_logs_range=LOGS_RANGE)
    with (
        ethereumjs_node(root / "node", CHAIN_ID, funded=[]) as (node_url, driver),
        limited(node_url, limits) as proxy_url,
    ):
        (data_dir / "amanat.toml").write_text(
            f'[chain]\nrpc = "{proxy_url}"\nlogs_range = {LOGS_RANGE}\nbatch_size = {BATCH}\n'
        )
        cli = Amanat(data_dir)
        cli.env["AMANAT_KEY_PASSPHRASE"] = PASSPHRASE
        cli.env["AMANAT_DATA_KEY"] = Fernet.generate_key().decode()
        yield Network(cli, node_url, driver, limits, addresses, root / "own-keys")
        assert driver.failure is None, f"the block driver failed: {driver.failure!r}"


# Some fifty CLI processes against a JavaScript EVM: minutes, not seconds, on a loaded machine.
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_lifecycle_on_ethereumjs_within_besu_limits(network: Network, tmp_path: Path):
    cli = network.cli
    documents = tmp_path / "documents"
    documents.mkdir()
    authorisation = documents / "auth.txt"
    authorisation.write_text("Notification F.4(1)-DM/2026-200: 3-month T-bills, 1,000,000 units.")

    # --- deployment: staging timelocks, stated in the manifest
    officials = ",".join(network.addresses[f"official-{i}"] for i in (1, 2, 3))
    deployed = cli.json("deploy", "--timelocks", "staging", "--officials", officials)
    manifest = json.loads((cli.data_dir / "deployment.json").read_text())
    assert manifest["chain_id"] == CHAIN_ID and manifest["timelock_profile"] == "staging"
    assert manifest["timelocks"]["mint"] == 10
    assert set(deployed) == set(manifest["contracts"])

    # --- asset, institutions, governance (approval and cash), tokenize, mint
    asset = cli.json(
        "asset", "register", "--class", "t_bill", "--legal-id", "PK0200TB3M27",
        "--name", "3-month T-bill (network mode)", "--ministry", "Ministry of Finance",
        "--authorisation", "Notification F.4(1)-DM/2026-200",
        "--authorisation-doc", authorisation, "--max-units", 1_000_000,
    )["asset"]  # fmt: skip
    onboard = []
    for key, (name, country, category) in INSTITUTIONS.items():
        kyc = documents / f"kyc-{key}.json"
        kyc.write_text(json.dumps({"legal_name": name, "registration_no": f"REG-{key}"}))
        onboard.append([
            "institution", "onboard", "--name", name, "--country", country,
            "--category", category, "--kyc-file", kyc, "--kyc-expiry", "2031-12-31",
            "--wallet", network.addresses[key],
        ])  # fmt: skip
    cli.json_many(onboard)
    governance = manifest["contracts"]["Governance"]["address"]
    cash = {network.addresses["kla"]: "5,000,000.00", governance: "100,000.00"}
    executed = network.govern(
        [
            ["propose", "approve-asset", asset],
            *[
                ["propose", "issue-cash", "--to", who, "--amount", amount,
                 "--reference", f"RTGS {i}"]
                for i, (who, amount) in enumerate(cash.items())
            ],
        ]
    )  # fmt: skip
    assert all(e["state"] == "executed" for e in executed), executed
    (tokenized,) = network.govern(
        [["propose", "tokenize", asset, "--name", "3M T-Bill NM", "--symbol", "PKTBNM"]]
    )
    assert tokenized["state"] == "executed", tokenized
    minted = network.govern(
        [["propose", "mint", asset, "--to", network.addresses["inb"], "--amount", 500_000]]
    )
    assert minted[0]["state"] == "executed", minted

    # --- transfer and a refusal that sends nothing
    moved = cli.json(
        *network.key("inb"), "token", "transfer", "PKTBNM", "--as", "inb",
        "--to", network.addresses["kla"], "--amount", 10_000,
    )  # fmt: skip
    assert moved["tx"], moved
    nonce_before = network.node.call(
        "eth_getTransactionCount", [network.addresses["inb"], "latest"]
    )
    refused = cli.refused(
        *network.key("inb"), "token", "transfer", "PKTBNM", "--as", "inb", "--to", UNREGISTERED, "--amount", 5_000,
        code=3, rule="receiver-not-verified",
    )  # fmt: skip
    assert "not a verified institution" in refused.output
    assert (
        network.node.call("eth_getTransactionCount", [network.addresses["inb"], "latest"])
        == nonce_before
    )

    # --- DvP: inb sells 1,000 to kla against cash
    opened = cli.json(
        *network.key("inb"), "dvp", "instruct", "PKTBNM", "--units", 1_000,
        "--cash", "97,000.00", "--to", network.addresses["kla"], "--as", "inb",
    )  # fmt: skip
    number = opened["instruction"]
    cli.json(*network.key("kla"), "dvp", "affirm", number, "--as", "kla")
    settled = cli.json(*network.key("kla"), "dvp", "settle", number, "--as", "kla")
    assert settled, settled

    # --- cross the node's log range before the reads that scan history
    network.driver.produce(LOGS_RANGE + 20)
    holders = {row["wallet"]: row["balance"] for row in cli.json("token", "holders", "PKTBNM")}
    assert sorted(holders.values()) == [11_000, 489_000]
    history = cli.json("token", "history", "PKTBNM")
    assert len(history) >= 3

    # --- a distribution (coupon) declared by governance and paid by the agent
    declared = network.govern(
        [["propose", "distribution", "PKTBNM", "--kind", "coupon", "--total", "50,000.00",
          "--record-date", "now"]]
    )  # fmt: skip
    assert declared[0]["state"] == "executed", declared
    distribution = cli.json("distribution", "list")[-1]["distribution"]
    paid = cli.json("distribution", "pay", distribution)
    assert paid["transactions"] >= 1

    # --- transparency: publish, reconcile, export and verify independently
    network.driver.produce(LOGS_RANGE + 20)
    published = cli.json("log", "publish")
    assert published
    reconciled = cli.json("reconcile")
    assert reconciled["differences"] == [], reconciled
    bundle = tmp_path / "bundle.json"
    cli.json("log", "export", "--out", bundle)
    verified = cli.json("verify", "--bundle", bundle)
    assert verified["ok"], verified

    # --- the limits were real: Amanat crossed them only in pages and chunks
    assert network.limits.refused == [], network.limits.refused
    assert network.head() - manifest["deployed_block"] > 2 * LOGS_RANGE
    assert network.limits.largest_batch <= BATCH

    # --- serve: its indexer follows the node to a transfer made while it runs
    _serve_follows(network)


def _serve_follows(network: Network) -> None:
    cli = network.cli
    process = subprocess.Popen(
        [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(cli.data_dir), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cli.cwd,
        env={**cli.env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, line
        base = found.group(0)
        later = cli.json(
            *network.key("kla"), "token", "transfer", "PKTBNM", "--as", "kla",
            "--to", network.addresses["inb"], "--amount", 500,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        # the public log names each chain event's block (its content is for oversight)
        block = f"chain:{later['block']}:"
        seen: set[str] = set()
        while not any(source.startswith(block) for source in seen):
            assert time.monotonic() < deadline, "serve's indexer did not reach the new transfer"
            time.sleep(1)
            try:
                size = requests.get(
                    f"{base}/transparency/entries", params={"limit": 1}, timeout=5
                ).json()["size"]
                page = requests.get(
                    f"{base}/transparency/entries",
                    params={"start": max(0, size - 50), "limit": 50},
                    timeout=5,
                ).json()
            except requests.RequestException:
                continue
            seen = {e["source"] for e in page["entries"] if e["kind"] == "chain_event"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
