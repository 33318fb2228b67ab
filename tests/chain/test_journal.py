"""The embedded chain behind Amanat's journal: restore, adoption, nonces, idempotency, manifest."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from eth_utils import keccak

from amanat.chain.client import Chain, TxRequest, state_fingerprint
from amanat.chain.deploy import GovernanceSetup, Manifest, deploy, verify
from amanat.chain.journal import JournalTx
from amanat.chain.keys import dev_account
from amanat.chain.signing import sign_legacy
from amanat.errors import ChainUnavailable, DeploymentMismatch

SINK = "0x000000000000000000000000000000000000b0b0"
REPO = Path(__file__).resolve().parents[2]


def _ping(op: int, key: str | None = None) -> TxRequest:
    return TxRequest(SINK, op.to_bytes(4, "big"), gas=30_000, idempotency_key=key)


def _setup() -> GovernanceSetup:
    return GovernanceSetup(
        officials=tuple(dev_account(i).address for i in (1, 2, 3)),
        threshold=2,
        registrars=(dev_account(4).address,),
        issuers=(dev_account(5).address,),
        valuers=(dev_account(6).address,),
        timelocks={},
    )


def test_killed_node_is_rebuilt_from_snapshot_and_journal_to_identical_state(data_dir, chain):
    deploy(chain, dev_account(0), _setup())
    for op in range(10):  # one block each: snapshots at blocks 3, 6, 9 and later
        chain.transact(dev_account(1 + op % 3), [_ping(op)])
    chain.wait_for_snapshot()
    assert chain.journal.latest_snapshot() is not None
    before = state_fingerprint(chain.rpc)
    head = chain.block_number()
    assert chain.node is not None
    chain.node.stop(signal.SIGKILL)

    restored = Chain.embedded(data_dir, snapshot_every=3)
    assert restored.block_number() == head
    assert state_fingerprint(restored.rpc) == before


def test_replay_from_genesis_alone_gives_identical_state(data_dir, chain):
    for op in range(5):
        chain.transact(dev_account(1), [_ping(op)])
    before = state_fingerprint(chain.rpc)
    chain.journal._db.execute("DELETE FROM snapshot")  # force a replay from genesis
    chain.node.stop(signal.SIGKILL)  # type: ignore[union-attr]
    restored = Chain.embedded(data_dir, snapshot_every=1000)
    assert state_fingerprint(restored.rpc) == before


def _acknowledge_only(chain: Chain, account_index: int, data: bytes) -> tuple[str, bytes]:
    """Journal (acknowledge) a signed transaction without sending it, as a crash would leave it."""
    account = dev_account(account_index)
    nonce = int(chain.rpc.call("eth_getTransactionCount", [account.address, "pending"]), 16)
    raw = sign_legacy(
        bytes(account.key),
        nonce=nonce,
        gas_price=0,
        gas=30_000,
        to=bytes.fromhex(SINK[2:]),
        value=0,
        data=data,
        chain_id=chain.chain_id,
    )
    tx_hash = "0x" + keccak(raw).hex()
    chain.journal.acknowledge(
        {account.address: 1},
        {account.address: nonce},
        lambda firsts: [JournalTx(tx_hash, account.address, nonce, raw)],
    )
    return tx_hash, raw


def test_blocks_mined_but_not_journaled_are_adopted(data_dir, chain):
    """Amanat died after the node mined a block and before the journal recorded it."""
    tx_hash, raw = _acknowledge_only(chain, 2, b"\x01")
    chain.rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
    chain.rpc.call("evm_mine", [])  # the node has it; the journal does not know

    recovered = Chain.embedded(data_dir)
    assert recovered.journal.head().number == recovered.block_number()  # type: ignore[union-attr]
    assert recovered.journal.tx_state(tx_hash)[0] == "mined"  # type: ignore[index]


def test_acknowledged_but_unsent_transactions_are_sent_on_recovery(data_dir, chain):
    """Amanat died after journaling (acknowledging) and before sending."""
    tx_hash, _ = _acknowledge_only(chain, 3, b"\x02")
    recovered = Chain.embedded(data_dir)
    (receipt,) = recovered.confirm([tx_hash])
    assert receipt.status


def test_nonces_survive_a_restart_of_amanat_and_the_node(data_dir, chain):
    account = dev_account(1)
    chain.transact(account, [_ping(1), _ping(2)])
    chain.node.stop(signal.SIGKILL)  # type: ignore[union-attr]
    again = Chain.embedded(data_dir)
    assert again.journal.known_nonce(account.address) == 2
    (receipt,) = again.transact(account, [_ping(3)])
    assert receipt.status
    assert int(again.rpc.call("eth_getTransactionCount", [account.address, "latest"]), 16) == 3


def test_an_idempotency_key_returns_the_first_transaction(chain):
    first = chain.submit(dev_account(1), [_ping(7, key="order-7")])
    second = chain.submit(dev_account(1), [_ping(7, key="order-7")])
    assert first == second
    assert chain.journal.count() == 1


def test_a_refused_call_is_reported_and_nothing_is_sent(chain):
    manifest = deploy(chain, dev_account(0), _setup())
    sent_before = chain.journal.count()
    from amanat.chain.abi import interface

    call = interface("Governance").function("setThreshold").encode(1)  # only via a proposal
    with pytest.raises(Exception, match="only through an approved proposal"):
        chain.transact(dev_account(1), [TxRequest(manifest.address("Governance"), call)])
    assert chain.journal.count() == sent_before


def test_manifest_is_checked_on_connect(data_dir, chain):
    manifest = deploy(chain, dev_account(0), _setup())
    verify(chain, manifest)
    path = data_dir / "deployment.json"
    manifest.save(path)
    tampered = Manifest.load(path)
    contracts = dict(tampered.contracts)
    governance = contracts["Governance"]
    contracts["Governance"] = type(governance)(
        governance.address, "0x" + "00" * 32, governance.source_sha256
    )
    with pytest.raises(DeploymentMismatch, match="code hash"):
        verify(
            chain,
            Manifest(
                tampered.version,
                tampered.chain_id,
                tampered.deployed_block,
                tampered.deployer,
                contracts,
            ),
        )
    with pytest.raises(DeploymentMismatch, match="chain id"):
        verify(
            chain,
            Manifest(
                tampered.version,
                2026,
                tampered.deployed_block,
                tampered.deployer,
                tampered.contracts,
            ),
        )


def test_crash_bench_loses_and_duplicates_nothing():
    """A short run of bench/crash.py: multi-sender batches and a wallet sending over plain
    JSON-RPC, with random SIGKILLs of the worker and the node."""
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "crash.py"),
            "--ops",
            "400",
            "--kills",
            "6",
            "--seed",
            "3",
            "--wallet-ops",
            "40",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    last = result.stdout.strip().splitlines()[-1].split()
    assert last == ["acked", "440", "lost", "0", "duplicated", "0"], result.stdout + result.stderr


def test_an_idempotency_key_cannot_be_reused_for_another_request(chain):
    from amanat.chain.client import IdempotencyConflict

    chain.submit(dev_account(1), [_ping(8, key="order-8")])
    with pytest.raises(IdempotencyConflict, match="already used for a different request"):
        chain.submit(dev_account(1), [_ping(9, key="order-8")])
    assert chain.journal.count() == 1


def test_concurrent_writers_share_blocks_and_each_gets_its_own_receipt(data_dir, chain):
    """Writers in threads of one process (an API server's requests) hand their transactions to
    the node one at a time and then share the next block, each confirmed on its own."""
    import threading

    writers = 8
    start = threading.Barrier(writers)
    outcomes: dict[int, object] = {}

    def write(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = chain.transact(dev_account(10 + n), [_ping(100 + n, f"share-{n}")])[0]
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[n] = exc

    before = chain.block_number()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    receipts = [outcomes[n] for n in range(writers)]
    assert all(not isinstance(r, Exception) for r in receipts), receipts
    blocks = {r.block_number for r in receipts}  # type: ignore[attr-defined]
    assert len(blocks) < writers  # at least two writers shared a block
    assert chain.block_number() - before == len(blocks)
    assert all(r.status for r in receipts)  # type: ignore[attr-defined]
    for n in range(writers):  # every one journaled under its own key, once
        assert chain.seen(f"share-{n}")


def test_writers_queued_for_the_chain_are_journaled_in_one_write_and_refused_alone(chain):
    """Writers queued behind the chain lock (an API server's concurrent requests) are taken
    together by the next one to get it: acknowledged in one synced journal write, handed to the
    node together and mined in one block (each is pre-checked before it queues). A request the
    pre-check refuses gets its own readable refusal, one the node refuses its own error, and
    neither touches the others; the same idempotency key twice in one group runs once."""
    import threading
    import time

    from amanat.chain.client import TransactionRefused

    writers = 6
    reverting = TxRequest(None, b"\xfe")  # creation code that hits INVALID: the pre-check refuses
    starved = TxRequest(SINK, b"\x01", gas=20_000)  # below intrinsic gas: the node refuses
    jobs = [(dev_account(10 + n), _ping(200 + n, f"group-{n}")) for n in range(writers)]
    jobs += [
        (dev_account(10 + writers), reverting),
        (dev_account(11 + writers), starved),
        (dev_account(10), _ping(200, "group-0")),  # the same key and request again
    ]
    outcomes: dict[int, object] = {}

    def write(n: int) -> None:
        signer, request = jobs[n]
        try:
            outcomes[n] = chain.transact(signer, [request])[0]
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[n] = exc

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(jobs))]
    with chain.locked():  # every writer queues behind the lock before any of them sends
        for thread in threads:
            thread.start()
        queued = len(jobs) - 1  # the pre-check refuses one before it queues (without the lock)
        deadline = time.monotonic() + 30
        while chain.sending() < queued and time.monotonic() < deadline:
            time.sleep(0.01)
        assert chain.sending() == queued
    for thread in threads:
        thread.join()

    receipts = [outcomes[n] for n in range(writers)]
    assert all(not isinstance(r, Exception) and r.status for r in receipts), outcomes
    assert len({r.block_number for r in receipts}) == 1  # type: ignore[attr-defined]
    acked = chain.journal._db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT acked_at) FROM tx WHERE idempotency_key LIKE 'group-%'"
    ).fetchone()
    assert acked == (writers, 1)  # one synced write for the group, one entry per request
    assert isinstance(outcomes[writers], TransactionRefused)
    assert isinstance(outcomes[writers + 1], ChainUnavailable)
    assert "intrinsic gas too low" in str(outcomes[writers + 1])
    assert outcomes[writers + 2] == outcomes[0]  # the repeated key: the first transaction
    rejected = chain.journal._db.execute("SELECT sender FROM tx WHERE state = 'rejected'")
    assert [row[0] for row in rejected] == [dev_account(11 + writers).address]
    assert chain.journal.count("pending") == 0


def test_a_call_dropped_behind_anothers_refused_nonce_resends_only_what_was_dropped(chain):
    """Two calls in one group: B's transaction from Y is refused by the node; A's (no keys, two
    senders X and Y) Y transaction is dropped behind it. A is sent again for Y only: its X
    transaction, which the node took, is neither signed nor sent a second time."""
    import threading
    import time

    x, y = dev_account(20), dev_account(21)
    x_first = chain.next_nonce(x.address)
    outcomes: dict[str, object] = {}

    def call(name: str, items: list[tuple[object, TxRequest]]) -> None:
        try:
            outcomes[name] = chain.submit_batch(items)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[name] = exc

    refused = threading.Thread(target=call, args=("b", [(y, TxRequest(SINK, b"\x01", gas=20_000))]))
    both = threading.Thread(target=call, args=("a", [(x, _ping(7)), (y, _ping(8))]))
    with chain.locked():  # B queues first, then A: one group
        refused.start()
        while chain.sending() < 1:
            time.sleep(0.01)
        both.start()
        while chain.sending() < 2:
            time.sleep(0.01)
    refused.join()
    both.join()
    assert isinstance(outcomes["b"], ChainUnavailable)
    a_hashes = outcomes["a"]
    assert isinstance(a_hashes, list) and len(a_hashes) == 2
    assert all(r.status for r in chain.confirm(a_hashes))
    sent_by_x = chain.journal._db.execute(
        "SELECT hash FROM tx WHERE sender = ?", (x.address,)
    ).fetchall()
    assert [row[0] for row in sent_by_x] == [a_hashes[0]]
    latest = chain.rpc.call("eth_getTransactionCount", [x.address, "latest"])
    assert int(latest, 16) == x_first + 1


def test_an_idempotency_key_whose_transaction_was_rejected_can_be_retried(chain):
    """A transaction the node refused never took effect: a retry under the same key is sent
    anew (not answered with the dead transaction's hash), and the refusal stays on record."""
    (first,) = chain.submit(dev_account(1), [_ping(7, key="retry-me")])
    chain.confirm([first])
    (doomed,) = chain.journal.acknowledge(
        {dev_account(2).address: 1},
        {dev_account(2).address: 10**6},  # a nonce far ahead: the node would never mine it
        lambda firsts: [
            JournalTx("0x" + "ab" * 32, dev_account(2).address, 10**6, b"\x01", "retried-key")
        ],
    )
    chain.journal.reject(doomed.hash, "node refused the transaction")  # as `_send` does
    chain.journal.release_nonces(dev_account(2).address, 0)
    assert not chain.seen("retried-key")
    (retry,) = chain.submit(dev_account(2), [_ping(8, key="retried-key")])
    assert retry != doomed.hash
    (receipt,) = chain.confirm([retry])
    assert receipt.status
    assert chain.seen("retried-key")
    state, _, reason = chain.journal.tx_state(doomed.hash)  # type: ignore[misc]
    assert state == "rejected" and "retried-key" in str(reason)


def test_refusals_of_several_senders_in_one_batch_release_each_senders_nonces(chain):
    """The node refuses two senders' transactions of one batch (intrinsic gas too low): both
    are recorded as rejected with the node's reason and both senders can send again at once;
    the accepted sender's transaction is mined."""
    good, bad_one, bad_two = dev_account(1), dev_account(2), dev_account(3)
    starved = TxRequest(SINK, b"\x01", gas=20_000)  # below the 21,000 any transaction costs
    with pytest.raises(ChainUnavailable, match="refused"):
        chain.submit_batch([(good, _ping(1)), (bad_one, starved), (bad_two, starved)])
    rejected = chain.journal._db.execute(
        "SELECT sender, reason FROM tx WHERE state = 'rejected'"
    ).fetchall()
    assert {row[0] for row in rejected} == {bad_one.address, bad_two.address}
    assert all("intrinsic gas too low" in row[1] for row in rejected)
    receipts = chain.transact(bad_two, [_ping(2)]) + chain.transact(bad_one, [_ping(3)])
    assert all(r.status for r in receipts)
    assert chain.journal.count("pending") == 0  # the good sender's transaction was mined too


def test_a_journaled_nonce_used_meanwhile_by_another_transaction_does_not_wedge_start(
    data_dir, chain
):
    """Amanat journaled a request's transaction and died before sending it; meanwhile the same
    key sent another transaction with that nonce outside Amanat (a wallet holding the key). The
    restart records the request as failed (its nonce went to the wallet's transaction) and goes
    on, instead of waiting for a block that can never include it; a retry of the request under
    its idempotency key is sent anew and runs."""
    account = dev_account(5)
    raw = sign_legacy(
        bytes(account.key),
        nonce=0,
        gas_price=0,
        gas=30_000,
        to=bytes.fromhex(SINK[2:]),
        value=0,
        data=(77).to_bytes(4, "big"),
        chain_id=chain.chain_id,
    )
    journaled = "0x" + keccak(raw).hex()
    chain.journal.acknowledge(
        {account.address: 1},
        {account.address: 0},
        lambda firsts: [JournalTx(journaled, account.address, 0, raw, "request-77")],
    )
    outside = sign_legacy(
        bytes(account.key),
        nonce=0,
        gas_price=0,
        gas=30_000,
        to=bytes.fromhex(SINK[2:]),
        value=0,
        data=b"wallet",
        chain_id=chain.chain_id,
    )
    chain.rpc.call("eth_sendRawTransaction", ["0x" + outside.hex()])
    chain.transact(dev_account(1), [_ping(1)])  # a block: it takes the wallet's transaction too
    restarted = Chain.embedded(data_dir)
    state, _, reason = restarted.journal.tx_state(journaled)  # type: ignore[misc]
    assert state == "rejected" and "mined in 0x" in str(reason)
    assert not restarted.seen("request-77")
    (receipt,) = restarted.transact(account, [_ping(77, key="request-77")])
    assert receipt.status and receipt.tx_hash != journaled
    assert restarted.seen("request-77")
