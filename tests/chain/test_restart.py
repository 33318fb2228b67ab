"""The embedded chain restarts exactly: replay of multi-sender blocks, clean stop then start,
and transactions that Amanat did not sign (a holder's own wallet) surviving restore."""

from __future__ import annotations

import signal
import stat
import time
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import to_checksum_address

from amanat.chain.client import Chain, TxRequest, state_fingerprint
from amanat.chain.keys import dev_account
from amanat.chain.node import anvil_binary

SINK = "0x000000000000000000000000000000000000c0de"
SENDERS = 40


def _ping(op: int) -> TxRequest:
    return TxRequest(SINK, op.to_bytes(8, "big"), gas=30_000, idempotency_key=f"op-{op}")


def _block_hashes(chain: Chain) -> list[str]:
    head = chain.block_number()
    replies = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(head + 1)])
    return [block["hash"] for block in replies]


def _state_root(chain: Chain) -> str:
    return str(chain.rpc.call("eth_getBlockByNumber", ["latest", False])["stateRoot"])


def _fingerprint(chain: Chain) -> tuple[list[str], str, str]:
    return _block_hashes(chain), _state_root(chain), state_fingerprint(chain.rpc)


def _multi_sender_batches(chain: Chain, batches: int, size: int) -> None:
    """Batches as the throughput bench sends them: many senders interleaved in one block."""
    op = 0
    for _ in range(batches):
        items = []
        for _ in range(size):
            items.append((dev_account(1 + (op * 7) % SENDERS), _ping(op)))
            op += 1
        chain.submit_batch(items)


def test_replay_reproduces_multi_sender_blocks_after_stop_start_and_sigkill(data_dir):
    chain = Chain.embedded(data_dir, snapshot_every=10**9)  # replay everything from genesis
    _multi_sender_batches(chain, batches=4, size=250)
    before = _fingerprint(chain)
    assert len(before[0]) == 5

    assert chain.node is not None
    chain.node.stop()
    restarted = Chain.embedded(data_dir, snapshot_every=10**9)
    assert _fingerprint(restarted) == before

    assert restarted.node is not None
    restarted.node.stop(signal.SIGKILL)
    recovered = Chain.embedded(data_dir, snapshot_every=10**9)
    assert _fingerprint(recovered) == before


def _slow_releasing_anvil(tmp_path: Path) -> Path:
    """A node launcher whose recorded process exits at once on SIGTERM while the real anvil,
    in a session of its own, keeps the port a second longer: as a large anvil does while it
    tears down gigabytes of history."""
    script = tmp_path / "slow-anvil.sh"
    script.write_text(
        "#!/bin/bash\n"
        f'setsid "{anvil_binary()}" "$@" &\n'
        "child=$!\n"
        "trap '(sleep 1; kill $child) & exit 0' TERM\n"
        "wait $child\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_clean_stop_waits_until_the_port_is_free_so_start_succeeds(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("AMANAT_ANVIL", str(_slow_releasing_anvil(tmp_path)))
    chain = Chain.embedded(data_dir)
    chain.transact(dev_account(1), [_ping(1)])
    head = chain.block_number()
    assert chain.node is not None
    chain.node.stop()
    restarted = Chain.embedded(data_dir)
    assert restarted.block_number() == head


# -- a holder's own wallet: plain JSON-RPC, signed with eth-account ---------------------------


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    reply = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
    ).json()
    assert "error" not in reply, reply
    return reply["result"]


def _wallet_send(
    url: str, key: bytes, to: str, value: int = 0, data: bytes = b"", nonce: int | None = None
) -> str:
    """What a standard wallet does: ask the node for nonce (unless it keeps count itself), gas
    price and chain id, sign, send."""
    account = Account.from_key(key)
    if nonce is None:
        nonce = int(_rpc(url, "eth_getTransactionCount", [account.address, "pending"]), 16)
    tx = {
        "nonce": nonce,
        "gasPrice": int(_rpc(url, "eth_gasPrice", []), 16),
        "gas": 50_000,
        "to": to_checksum_address(to),
        "value": value,
        "data": data,
        "chainId": int(_rpc(url, "eth_chainId", []), 16),
    }
    raw = Account.sign_transaction(tx, key).raw_transaction
    return str(_rpc(url, "eth_sendRawTransaction", ["0x" + bytes(raw).hex()]))


def _wait_receipt(url: str, tx_hash: str, seconds: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        receipt = _rpc(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return dict(receipt)
        time.sleep(0.05)
    raise AssertionError(f"{tx_hash} not mined within {seconds} s")


WALLET_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def test_a_wallet_sends_at_zero_gas_price_and_is_mined_within_a_second(data_dir):
    chain = Chain.embedded(data_dir)
    url = chain.rpc.url
    assert int(_rpc(url, "eth_gasPrice", []), 16) == 0
    head = chain.block_number()
    tx_hash = _wallet_send(url, WALLET_KEY, SINK, data=b"wallet")  # the wallet holds 0 ETH
    receipt = _wait_receipt(url, tx_hash, seconds=1.5)
    assert receipt["status"] == "0x1"
    assert int(receipt["blockNumber"], 16) == head + 1


def test_a_wallets_own_transactions_survive_stop_start_and_sigkill(data_dir):
    chain = Chain.embedded(data_dir, snapshot_every=10**9)
    url = chain.rpc.url
    chain.transact(dev_account(1), [_ping(1)])
    wallet_hashes = [_wallet_send(url, WALLET_KEY, SINK, data=bytes([i])) for i in range(3)]
    for tx_hash in wallet_hashes:
        _wait_receipt(url, tx_hash)
    chain.transact(dev_account(2), [_ping(2)])
    wallet = Account.from_key(WALLET_KEY).address
    before = _fingerprint(chain)

    assert chain.node is not None
    chain.node.stop()
    restarted = Chain.embedded(data_dir, snapshot_every=10**9)
    assert _fingerprint(restarted) == before
    assert int(_rpc(restarted.rpc.url, "eth_getTransactionCount", [wallet, "latest"]), 16) == 3

    assert restarted.node is not None
    restarted.node.stop(signal.SIGKILL)
    recovered = Chain.embedded(data_dir, snapshot_every=10**9)
    assert _fingerprint(recovered) == before
    for tx_hash in wallet_hashes:
        assert _rpc(recovered.rpc.url, "eth_getTransactionReceipt", [tx_hash])["status"] == "0x1"
    (receipt,) = recovered.transact(dev_account(1), [_ping(3)])
    assert receipt.status


def test_a_wallet_transaction_the_node_died_mining_is_mined_after_recovery(data_dir):
    """The node dies after the producer journaled the pool and before the block was journaled."""
    from amanat.chain.producer import journal_pool

    chain = Chain.embedded(data_dir)
    url = chain.rpc.url
    with chain.locked():  # the producer waits for the lock, as during a block
        tx_hash = _wallet_send(url, WALLET_KEY, SINK, data=b"in flight")
        journal_pool(chain.rpc, chain.journal, own_pending=0)
        assert chain.journal.tx_state(tx_hash) == ("pending", None, None)
        assert chain.node is not None
        chain.node.stop(signal.SIGKILL)
    recovered = Chain.embedded(data_dir)
    receipt = _rpc(recovered.rpc.url, "eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None and receipt["status"] == "0x1"
    assert recovered.journal.tx_state(tx_hash)[0] == "mined"  # type: ignore[index]


def test_snapshots_are_taken_by_transactions_and_old_ones_pruned(data_dir):
    chain = Chain.embedded(data_dir, snapshot_every_transactions=40)
    op = 0
    for _ in range(5):  # 50 transactions a block: a snapshot after each
        chain.submit_batch([(dev_account(1 + i % 5), _ping(op + i)) for i in range(50)])
        op += 50
        chain.wait_for_snapshot()
    before = _fingerprint(chain)
    snapshots = sorted((data_dir / "node" / "snapshots").glob("state-*.gz"))
    assert [int(p.stem.split("-")[1]) for p in snapshots] == [4, 5]
    assert chain.journal.latest_snapshot() == (5, str(snapshots[-1]))

    assert chain.node is not None
    chain.node.stop(signal.SIGKILL)
    recovered = Chain.embedded(data_dir, snapshot_every_transactions=40)
    assert _fingerprint(recovered) == before


def test_the_block_producer_can_be_left_out_and_stops_with_the_node(data_dir, monkeypatch):
    chain = Chain.embedded(data_dir)
    assert chain.node is not None
    producer = chain.node.producer_pid()
    assert producer is not None
    chain.node.stop()
    assert chain.node.producer_pid() is None

    monkeypatch.setenv("AMANAT_BLOCK_PRODUCER", "off")  # for tests that mine by hand
    again = Chain.embedded(data_dir)
    assert again.node is not None and again.node.producer_pid() is None


def test_a_wallet_sending_during_replay_changes_no_replayed_block(data_dir, monkeypatch):
    """A wallet that resends while the node is being rebuilt (the node listens from the first
    replayed block on) gets its transaction in after the replay, not inside a replayed block;
    and a node that diverged is never trusted by the next start."""
    from amanat.chain import client as chain_client

    chain = Chain.embedded(data_dir, snapshot_every=10**9)
    url = chain.rpc.url
    chain.transact(dev_account(1), [_ping(1)])
    first = _wallet_send(url, WALLET_KEY, SINK, data=b"before")
    _wait_receipt(url, first)
    chain.transact(dev_account(2), [_ping(2)])
    before = _fingerprint(chain)
    assert chain.node is not None
    chain.node.stop(signal.SIGKILL)

    real_send = chain_client.send_raw_in_order
    racing: list[str] = []

    def send_with_a_wallet_racing(node_url: str, raws: Any) -> Any:
        if not racing:  # the wallet's next transaction reaches the node mid-replay
            racing.append(_wallet_send(node_url, WALLET_KEY, SINK, data=b"during", nonce=1))
        return real_send(node_url, raws)

    monkeypatch.setattr(chain_client, "send_raw_in_order", send_with_a_wallet_racing)
    restarted = Chain.embedded(data_dir, snapshot_every=10**9)
    monkeypatch.undo()
    hashes, _, _ = _fingerprint(restarted)
    assert hashes[: len(before[0])] == before[0]  # every replayed block exactly as journaled
    receipt = _wait_receipt(restarted.rpc.url, racing[0])
    assert receipt["status"] == "0x1" and int(receipt["blockNumber"], 16) >= len(before[0])
    assert restarted.journal.tx_state(racing[0])[0] == "mined"  # type: ignore[index]
    # and after a SIGKILL the wallet's transaction is rebuilt like every other
    after = _fingerprint(restarted)
    assert restarted.node is not None
    restarted.node.stop(signal.SIGKILL)
    assert _fingerprint(Chain.embedded(data_dir, snapshot_every=10**9)) == after


def test_a_node_that_diverged_from_the_journal_is_rebuilt(data_dir):
    """A node at the journal's height but with another block there (a replay that went wrong,
    a block mined behind Amanat's back) is not trusted: the next start rebuilds it."""
    chain = Chain.embedded(data_dir, snapshot_every=10**9)
    chain.transact(dev_account(1), [_ping(1)])
    marker = _rpc(chain.rpc.url, "evm_snapshot", [])
    chain.transact(dev_account(2), [_ping(2)])
    before = _fingerprint(chain)
    with chain.locked():  # the node's last block replaced by an empty one at the same height
        assert _rpc(chain.rpc.url, "evm_revert", [marker]) is True
        _rpc(chain.rpc.url, "evm_mine", [])
    assert chain.block_number() == len(before[0]) - 1
    assert _block_hashes(chain) != before[0]
    assert _fingerprint(Chain.embedded(data_dir, snapshot_every=10**9)) == before


def test_a_wallet_resending_at_a_nonce_of_a_replayed_block_does_not_stop_the_start(
    data_dir, monkeypatch
):
    """During the rebuild the node reports an earlier nonce, so a wallet may send another
    transaction at the nonce its own journaled transaction holds in a later block: the replay
    starts again without it (journaled, then refused after the replay as a used nonce)."""
    from amanat.chain import client as chain_client

    chain = Chain.embedded(data_dir, snapshot_every=10**9)
    url = chain.rpc.url
    chain.transact(dev_account(1), [_ping(1)])
    first = _wallet_send(url, WALLET_KEY, SINK, data=b"first")  # nonce 0, in block 2
    _wait_receipt(url, first)
    chain.transact(dev_account(2), [_ping(2)])
    before = _fingerprint(chain)
    assert chain.node is not None
    chain.node.stop(signal.SIGKILL)

    real_send = chain_client.send_raw_in_order
    calls: list[int] = []
    racing: list[str] = []

    def send_with_a_stale_wallet(node_url: str, raws: Any) -> Any:
        calls.append(1)
        if len(calls) == 2 and not racing:  # block 2 is next: the node says nonce 0 is free
            racing.append(_wallet_send(node_url, WALLET_KEY, SINK, data=b"stale", nonce=0))
        return real_send(node_url, raws)

    monkeypatch.setattr(chain_client, "send_raw_in_order", send_with_a_stale_wallet)
    restarted = Chain.embedded(data_dir, snapshot_every=10**9)
    monkeypatch.undo()
    assert _fingerprint(restarted)[0][: len(before[0])] == before[0]
    state, _, reason = restarted.journal.tx_state(racing[0])  # type: ignore[misc]
    assert state == "rejected" and "nonce" in str(reason).lower()
