"""One code path for a real network: blocks come from the node (interval mining stands in for
Besu QBFT validators), Amanat journals, submits and waits for receipts; keys are Keystore V3."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from amanat.chain.client import Chain, TxRequest
from amanat.chain.deploy import GovernanceSetup, deploy, verify
from amanat.chain.keys import Keyring, dev_account
from amanat.chain.node import _free_port, anvil_binary
from amanat.chain.rpc import RpcClient
from amanat.errors import AmanatError


@pytest.fixture
def network_url() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            anvil_binary(),
            "--port",
            str(port),
            "--block-time",
            "1",
            "--chain-id",
            "2026",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not RpcClient(url, timeout=1).is_up():
        assert time.monotonic() < deadline, "anvil did not start"
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait()


def test_deploy_and_transact_on_a_network_chain_with_a_keystore_key(network_url, tmp_path: Path):
    chain = Chain.network(network_url, tmp_path)
    assert chain.node is None and chain.chain_id == 2026
    keyring = Keyring(tmp_path / "keys")
    funded = dev_account(0)  # anvil funds this account; gas is not free on this network
    keyring.create("treasury-deployer", "correct horse battery", bytes(funded.key))
    deployer = Keyring(tmp_path / "keys").unlock("treasury-deployer", "correct horse battery")
    assert deployer.address == funded.address
    setup = GovernanceSetup(
        officials=tuple(dev_account(i).address for i in (1, 2, 3)),
        threshold=2,
        registrars=(dev_account(4).address,),
        issuers=(dev_account(5).address,),
        valuers=(dev_account(6).address,),
        timelocks={},
    )
    manifest = deploy(chain, deployer, setup)
    verify(chain, manifest)
    (receipt,) = chain.transact(deployer, [TxRequest(dev_account(9).address, b"", gas=21_000)])
    assert receipt.status
    assert chain.journal.tx_state(receipt.tx_hash) is not None


def test_keystore_refuses_a_wrong_passphrase(tmp_path: Path):
    keyring = Keyring(tmp_path)
    keyring.create("registrar", "a good passphrase")
    with pytest.raises(AmanatError, match="wrong passphrase"):
        Keyring(tmp_path).unlock("registrar", "not the passphrase")
    with pytest.raises(AmanatError, match="already exists"):
        keyring.create("registrar", "a good passphrase")
    assert (tmp_path / "registrar.json").stat().st_mode & 0o777 == 0o600


def test_network_journal_marks_confirmed_transactions_mined(network_url, tmp_path: Path):
    chain = Chain.network(network_url, tmp_path)
    (receipt,) = chain.transact(
        dev_account(0), [TxRequest(dev_account(8).address, b"", gas=21_000)]
    )
    assert chain.journal.tx_state(receipt.tx_hash)[:2] == ("mined", receipt.block_number)  # type: ignore[index]
    assert chain.journal.pending() == []


def test_a_refusal_on_a_network_leaves_the_senders_queued_requests_to_run_once(
    network_url, tmp_path: Path
):
    """A network node refuses one of a sender's transactions and keeps its later ones queued:
    the refused one is rejected (its request may be retried), its nonce is filled by a journaled
    transfer of nothing, and the queued request runs once, not again on a retry of its key."""
    from amanat.errors import ChainUnavailable

    chain = Chain.network(network_url, tmp_path)
    sender, sink = dev_account(3), "0x000000000000000000000000000000000000c0de"
    requests = [
        TxRequest(sink, b"A", gas=30_000, idempotency_key="net-A"),
        TxRequest(sink, b"B", gas=20_000, idempotency_key="net-B"),  # below intrinsic gas
        TxRequest(sink, b"C", gas=30_000, idempotency_key="net-C"),
    ]
    with pytest.raises(ChainUnavailable, match="refused"):
        chain.submit(sender, requests)
    assert not chain.seen("net-B") and chain.seen("net-C")
    (retry_c,) = chain.submit(sender, [requests[2]])  # the queued one, not a second copy
    (retry_b,) = chain.submit(sender, [TxRequest(sink, b"B", gas=30_000, idempotency_key="net-B")])
    receipts = chain.confirm([retry_c, retry_b])
    assert all(r.status for r in receipts)
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    calls = [
        bytes.fromhex(tx["input"][2:])
        for n in range(1, head + 1)
        for tx in chain.rpc.call("eth_getBlockByNumber", [hex(n), True])["transactions"]
        if tx["from"].lower() == sender.address.lower()
    ]
    assert sorted(calls) == [b"", b"A", b"B", b"C"]  # the filler, then each request once
