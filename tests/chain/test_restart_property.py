"""Property: whatever the workload (Amanat's multi-sender batches of any size, wallets signing
their own transactions with eth-account over plain JSON-RPC, nonce gaps later filled), a clean
restart and a recovery after SIGKILL rebuild the identical chain: same block hashes, same
state root, same state."""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amanat.chain.client import Chain, TxRequest, state_fingerprint
from amanat.chain.keys import dev_account
from amanat.chain.node import AnvilNode

SINK = "0x000000000000000000000000000000000000c0DE"
WALLETS = [Account.from_key(bytes([0x11 * (i + 1)]) * 32) for i in range(3)]

amanat_batch = st.tuples(
    st.just("amanat"), st.integers(1, 60), st.integers(1, 8), st.integers(0, 10**6)
)
wallet_sends = st.tuples(st.just("wallet"), st.integers(0, 2), st.integers(1, 3), st.booleans())
workloads = st.lists(st.one_of(amanat_batch, wallet_sends), min_size=1, max_size=6)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    reply = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
    ).json()
    assert "error" not in reply, reply
    return reply["result"]


def _wallet_txs(url: str, wallet_index: int, count: int, gap_first: bool) -> None:
    """`count` transactions from one wallet; with `gap_first` the later nonces are sent before
    the first, so they wait in the pool behind a nonce gap until it is filled."""
    wallet = WALLETS[wallet_index]
    nonce = int(_rpc(url, "eth_getTransactionCount", [wallet.address, "pending"]), 16)
    raws = []
    for offset in range(count):
        tx = {
            "nonce": nonce + offset,
            "gasPrice": 0,
            "gas": 40_000,
            "to": SINK,
            "value": 0,
            "data": bytes([wallet_index, offset]),
            "chainId": 31337,
        }
        raws.append("0x" + bytes(wallet.sign_transaction(tx).raw_transaction).hex())
    if gap_first and count > 1:
        raws = raws[1:] + raws[:1]
    for raw in raws:
        _rpc(url, "eth_sendRawTransaction", [raw])


def _wait_until_pool_empty(url: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = _rpc(url, "txpool_status", [])
        if int(status["pending"], 16) == 0 and int(status["queued"], 16) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the block producer left transactions pending")


def _snapshot_of(chain: Chain) -> tuple[list[str], str, str]:
    head = chain.block_number()
    blocks = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(head + 1)])
    return [b["hash"] for b in blocks], blocks[-1]["stateRoot"], state_fingerprint(chain.rpc)


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(workload=workloads, snapshot_every=st.sampled_from([2, 5, 10**9]))
def test_restart_and_recovery_rebuild_the_identical_chain(workload, snapshot_every):
    with tempfile.TemporaryDirectory(prefix="amanat-restart-") as tmp:
        data_dir = Path(tmp)
        try:
            chain = Chain.embedded(data_dir, snapshot_every=snapshot_every)
            url = chain.rpc.url
            op = 0
            for step in workload:
                if step[0] == "amanat":
                    _, size, senders, seed = step
                    items = []
                    for _ in range(size):
                        sender = dev_account(1 + (seed + op * 5) % senders)
                        data = op.to_bytes(8, "big")
                        items.append((sender, TxRequest(SINK, data, gas=30_000)))
                        op += 1
                    chain.submit_batch(items)
                else:
                    _, wallet_index, count, gap_first = step
                    _wallet_txs(url, wallet_index, count, gap_first)
            _wait_until_pool_empty(url)
            before = _snapshot_of(chain)

            assert chain.node is not None
            chain.node.stop()
            restarted = Chain.embedded(data_dir, snapshot_every=snapshot_every)
            assert _snapshot_of(restarted) == before

            assert restarted.node is not None
            restarted.node.stop(signal.SIGKILL)
            recovered = Chain.embedded(data_dir, snapshot_every=snapshot_every)
            assert _snapshot_of(recovered) == before
        finally:
            AnvilNode(data_dir).stop()
