"""The chain gateway: sign, journal, submit, order into blocks and confirm Amanat's transactions.

One code path for both deployments:
- embedded: Amanat runs anvil with automine off and produces each block itself (`evm_mine`
  with a journaled timestamp); if anvil dies it is rebuilt from the last snapshot plus the
  journal, giving the identical state;
- network (e.g. Besu QBFT): blocks come from the validators; Amanat waits for receipts.
In both, a transaction is acknowledged only after its signed bytes are durably journaled, and
an idempotency key makes a resubmission return the first transaction instead of a second one.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from amanat.chain.abi import checksum, decode_revert
from amanat.chain.archive import Archive, HistoryRpc
from amanat.chain.journal import Journal, JournalBlock, JournalTx
from amanat.chain.node import AnvilNode
from amanat.chain.producer import (
    adopt_blocks,
    chain_file_lock,
    clock_time,
    mine_block,
    outside_txs,
    pending_count,
    pool_hashes,
)
from amanat.chain.rpc import DEFAULT_BATCH_SIZE, DEFAULT_LOGS_RANGE, RpcClient, RpcError
from amanat.chain.signing import (
    DigestSigner,
    SignedTx,
    decode_signed,
    sign_dynamic_fee,
    sign_legacy,
)
from amanat.domain.evm import keccak
from amanat.errors import AmanatError, ChainUnavailable, InvalidInput, RuleViolation

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    # a key Amanat holds (Keystore V3, development) or one it cannot read (a hardware token's)
    Signer = LocalAccount | DigestSigner

GAS_MARGIN_NUMERATOR = 5  # estimated gas * 5/4, plus a fixed allowance
GAS_MARGIN_FIXED = 20_000
# A client-signed transaction's gas limit may be at most this many times the node's estimate
# (or SIGNED_GAS_FLOOR, whichever is larger): a sender cannot burn its wallet's funds on gas.
SIGNED_GAS_FACTOR = 2
SIGNED_GAS_FLOOR = 100_000
# Snapshots bound the replay after a crash: one is taken after this many journaled transactions,
# or after this long with any, never by a count of blocks alone (a block may hold 1 or 1,000).
# A snapshot holds state, block headers and the node's last blocks (history is in the archive),
# so it is small and quick to take: often enough that a restart replays a few seconds at most.
SNAPSHOT_EVERY_TRANSACTIONS = 2_000
SNAPSHOT_EVERY_SECONDS = 600
SNAPSHOTS_KEPT = 2
RECEIPT_TIMEOUT_SECONDS = 120.0
LOAD_STATE_TIMEOUT_SECONDS = 600.0
REPLACE_AFTER_SECONDS = 15.0  # network: a transaction still unmined this long is resent
PLAIN_TRANSFER_GAS = 21_000
RECEIPT_BLOCKS_KEPT = 16  # embedded: the receipts of this many recent blocks are kept
SHARE_WAIT_SECONDS = 0.05  # the longest a writer about to mine waits for others to join its block
# A replacement must raise both fee fields by at least 10 % (geth and Besu); 1/8 clears it.
FEE_BUMP_NUMERATOR, FEE_BUMP_DENOMINATOR = 9, 8


@dataclass(frozen=True)
class TxRequest:
    """A transaction Amanat wants sent: target, call data, optional gas and idempotency key."""

    to: str | None
    data: bytes
    gas: int | None = None
    idempotency_key: str | None = None
    description: str = ""


@dataclass(eq=False)
class _Submission:
    """One caller's `submit_batch`, waiting in this process's queue for the chain lock; whichever
    queued writer gets the lock sends it with the others (`Chain._send_group`)."""

    items: list[tuple[Signer, TxRequest]]
    gases: dict[int, int] = field(default_factory=dict)  # gas limit by item, from the pre-check
    sent: dict[int, str] = field(default_factory=dict)  # item -> its transaction the node took
    done: bool = False
    hashes: list[str] = field(default_factory=list)  # one per item, in order
    fresh: list[str] = field(default_factory=list)  # those signed for it now, to be mined
    error: BaseException | None = None

    def idempotency_keys(self) -> set[str]:
        return {r.idempotency_key for _, r in self.items if r.idempotency_key}

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True


@dataclass(frozen=True)
class Fees:
    """The fee fields Amanat signs a batch with: EIP-1559 where the chain has a base fee (then
    `max_fee` is the cap and `max_priority_fee` the tip), else a legacy gas price (both equal)."""

    max_fee: int
    max_priority_fee: int
    dynamic: bool

    def bumped_over(self, old: Fees) -> Fees:
        """These fees, raised where needed to replace a transaction signed with `old`."""

        def bump(value: int) -> int:
            return -(-value * FEE_BUMP_NUMERATOR // FEE_BUMP_DENOMINATOR)

        return Fees(
            max(self.max_fee, bump(old.max_fee)),
            max(self.max_priority_fee, bump(old.max_priority_fee)),
            self.dynamic,
        )


FREE = Fees(0, 0, dynamic=False)


@dataclass
class Receipt:
    tx_hash: str
    status: bool
    block_number: int
    gas_used: int
    contract_address: str | None
    logs: list[dict[str, Any]] = field(default_factory=list)


class IdempotencyConflict(InvalidInput):
    """An idempotency key given again with a different request."""

    rule = "idempotency-key-reused"


class TransactionRefused(RuleViolation):
    """The chain refused (reverted) a transaction; the message is the contract's reason."""

    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__("chain-refused", reason, **values)


def _hex(value: int) -> str:
    return hex(value)


class Chain:
    """Amanat's gateway to one EVM chain, with its journal and (embedded) its node."""

    def __init__(
        self,
        rpc: RpcClient,
        journal: Journal,
        lock_path: Path,
        node: AnvilNode | None,
        snapshot_every: int | None = None,
        snapshot_every_transactions: int = SNAPSHOT_EVERY_TRANSACTIONS,
    ) -> None:
        self.rpc = rpc
        self.snapshot_every = snapshot_every  # blocks, in addition to transactions and time
        self.snapshot_every_transactions = snapshot_every_transactions
        self._snapshot_writer: threading.Thread | None = None
        self.journal = journal
        self.node = node
        self._lock_path = lock_path
        self._lock_depth = 0
        self._lock_fd: int | None = None
        self._thread_lock = threading.RLock()  # threads of this process, before the file lock
        self._lock_owner: int | None = None  # the thread holding the chain lock
        # Threads of this process sending (`submit_batch`) and mining (`_produce`): one leads
        # each, the others wait on these conditions instead of queueing for the chain lock.
        self._queue: list[_Submission] = []  # submissions waiting to be sent
        self._leading = False  # a thread is sending the queued submissions
        self._queue_changed = threading.Condition()
        self._mining = False  # a thread is mining
        self._mined = threading.Condition()
        self._receipts: dict[int, list[dict[str, Any]]] = {}  # embedded: of recent blocks
        self._receipts_guard = threading.Lock()
        self.chain_id = int(rpc.call("eth_chainId"), 16)
        self.replace_after = REPLACE_AFTER_SECONDS
        # sender -> key this process signed with (fee bumps): a secret, or a token's signer
        self._keys: dict[str, bytes | DigestSigner] = {}

    # ------------------------------------------------------------ opening

    @classmethod
    def embedded(
        cls,
        data_dir: Path,
        start: bool = True,
        snapshot_every: int | None = None,
        snapshot_every_transactions: int = SNAPSHOT_EVERY_TRANSACTIONS,
    ) -> Chain:
        """The embedded anvil chain under `data_dir`, started and made consistent with the journal.

        A snapshot is taken after `snapshot_every_transactions` journaled transactions, after
        SNAPSHOT_EVERY_SECONDS with any, and (if given) after `snapshot_every` blocks."""
        node = AnvilNode(data_dir)
        journal = Journal(data_dir / "journal.sqlite")
        lock_path = data_dir / "chain.lock"
        with chain_file_lock(lock_path):
            if node.status().running:
                pass
            elif start:
                _restore(node, journal)
            else:
                raise ChainUnavailable("the embedded node is not running: `amanat node start`")
        chain = cls(
            HistoryRpc(node.url, journal),
            journal,
            lock_path,
            node,
            snapshot_every,
            snapshot_every_transactions,
        )
        chain.recover()
        if start:
            with chain_file_lock(lock_path):
                node.start_producer()
        return chain

    @classmethod
    def network(
        cls,
        rpc_url: str,
        data_dir: Path,
        batch_size: int = DEFAULT_BATCH_SIZE,
        logs_range: int = DEFAULT_LOGS_RANGE,
    ) -> Chain:
        """Any EVM JSON-RPC network (e.g. Besu QBFT); the journal lives in `data_dir`. Batches
        and log queries stay within the node's limits (`batch_size`, `logs_range`)."""
        rpc = RpcClient(rpc_url, batch_size=batch_size, logs_range=logs_range)
        if not rpc.is_up():
            raise ChainUnavailable(f"cannot reach the chain at {rpc_url}")
        chain = cls(rpc, Journal(data_dir / "journal.sqlite"), data_dir / "chain.lock", None)
        chain.recover()
        return chain

    def _let_senders_in(self) -> None:
        """Before mining: wait (at most SHARE_WAIT_SECONDS) while other threads of this process
        are sending or queued to send, so that their transactions share the block, unless this
        thread holds the chain lock (they could not)."""
        if self._lock_owner == threading.get_ident():
            return
        deadline = time.monotonic() + SHARE_WAIT_SECONDS
        with self._queue_changed:  # woken as each group is sent (no polling)
            while (self._queue or self._leading) and (left := deadline - time.monotonic()) > 0:
                self._queue_changed.wait(left)

    def sending(self) -> int:
        """How many submissions of this process wait to be sent."""
        with self._queue_changed:
            return len(self._queue)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise block production across Amanat processes sharing this data directory,
        and across the threads of this one (a web server's workers)."""
        with self._thread_lock:
            if self._lock_depth == 0:
                self._lock_fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
                self._lock_owner = threading.get_ident()
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    self._lock_owner = None
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    # ------------------------------------------------------------- reading

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def block_timestamp(self, block: int | str = "latest") -> int:
        tag = _hex(block) if isinstance(block, int) else block
        return int(self.rpc.call("eth_getBlockByNumber", [tag, False])["timestamp"], 16)

    def now(self) -> int:
        """The chain's clock: the time a transaction sent now runs at, by which every on-chain
        rule (timelock, maturity, lock-up, KYC expiry, deadline) is judged. Embedded: the time
        the next block will carry, which runs on between blocks (the node mines only for
        transactions, so the latest block may be long past). Network: the latest block's time
        (validators produce blocks continuously)."""
        if self.node is None:
            return self.block_timestamp()
        head = self.journal.head()
        return clock_time(self.journal, head.timestamp if head else self.block_timestamp())

    def _at(self, tag: str) -> list[Any]:
        """The block and override arguments of an eth_call or eth_estimateGas at `tag`: on the
        embedded chain a call at the latest block runs in the next block, at the chain's clock
        (`now`), as the transaction it previews will."""
        if tag != "latest" or self.node is None:
            return [tag]
        head = self.journal.head()
        number = (head.number if head else self.block_number()) + 1
        return [tag, {}, {"number": _hex(number), "time": _hex(self.now())}]

    def call_many(
        self, calls: Sequence[tuple[str, bytes]], block: int | str = "latest"
    ) -> list[Any]:
        """Several eth_calls (address, call data) in one JSON-RPC batch, at `block` as `call`
        makes them; each result is its bytes or the RpcError."""
        tag = self._at(_hex(block) if isinstance(block, int) else block)
        replies = self.rpc.batch(
            [("eth_call", [{"to": to, "data": "0x" + data.hex()}, *tag]) for to, data in calls]
        )
        return [r if isinstance(r, Exception) else bytes.fromhex(r[2:]) for r in replies]

    def block_timestamps(self, blocks: Sequence[int]) -> dict[int, int]:
        """The timestamps of several blocks, in one JSON-RPC batch."""
        wanted = sorted(set(blocks))
        replies = self.rpc.batch([("eth_getBlockByNumber", [_hex(b), False]) for b in wanted])
        out = {}
        for block, reply in zip(wanted, replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            out[block] = int(reply["timestamp"], 16)
        return out

    def block_at_or_before(self, timestamp: int) -> int:
        """The last block whose timestamp is at or before `timestamp` (binary search)."""
        low, high = 0, self.block_number()
        if self.block_timestamp(low) > timestamp:
            raise AmanatError(f"time {timestamp} is before the chain's first block")
        while low < high:
            middle = (low + high + 1) // 2
            if self.block_timestamp(middle) <= timestamp:
                low = middle
            else:
                high = middle - 1
        return low

    def code(self, address: str) -> bytes:
        return bytes.fromhex(self.rpc.call("eth_getCode", [address, "latest"])[2:])

    def call(
        self, to: str, data: bytes, block: int | str = "latest", sender: str | None = None
    ) -> bytes:
        """eth_call; a revert raises TransactionRefused with the contract's reason."""
        tag = _hex(block) if isinstance(block, int) else block
        params: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
        if sender:
            params["from"] = sender
        try:
            result = self.rpc.call("eth_call", [params, *self._at(tag)])
        except RpcError as exc:
            raise self._refusal(exc) from None
        return bytes.fromhex(result[2:])

    def get_logs(
        self,
        addresses: Sequence[str],
        topics: list[Any] | None = None,
        from_block: int = 0,
        to_block: int | str = "latest",
    ) -> list[dict[str, Any]]:
        """The logs of `addresses` (all contracts if none) matching `topics`, oldest first; paged
        by the client's block range so a long-lived chain never exceeds the node's limit."""
        query: dict[str, Any] = {"topics": topics or []}
        if addresses:  # no addresses: every contract's logs
            query["address"] = list(addresses)
        last = to_block if isinstance(to_block, int) else self.block_number()
        return self.rpc.get_logs(query, from_block, last)

    # ------------------------------------------------------------- writing

    def transact(
        self, signer: Signer, requests: Sequence[TxRequest], check: bool = True
    ) -> list[Receipt]:
        """Sign, journal (acknowledge), submit and confirm `requests` in order.

        Gas is estimated first, so a call the chain would refuse fails here with the contract's
        reason and nothing is sent. With `check`, a transaction that reverts once mined raises.
        """
        hashes = self.submit(signer, requests)
        receipts = self.confirm(hashes)
        if check:
            for receipt, request in zip(receipts, requests, strict=True):
                if not receipt.status:
                    raise self._replay_failure(signer.address, request, receipt)
        return receipts

    def submit(self, signer: Signer, requests: Sequence[TxRequest]) -> list[str]:
        """Sign and durably journal `requests` from one signer; see `submit_batch`."""
        return self.submit_batch([(signer, request) for request in requests])

    def submit_batch(self, items: Sequence[tuple[Signer, TxRequest]]) -> list[str]:
        """Sign and durably journal the transactions, then hand them to the node.

        Returns their hashes: from this point they are acknowledged and will be mined even if
        this process or the node dies. A request whose idempotency key was seen before returns
        the earlier transaction's hash and is not sent again. Each sender's transactions keep
        their order; all of them go into as few blocks as the node allows.

        Callers in several threads of this process (an API server's concurrent requests) queue
        for the chain lock; the one that gets it sends every queued call together, as
        `transfer_batch` does: their journal entries in one synced write, one hand-over to the
        node, one block (each call is pre-checked before it queues, without the lock). Each
        call keeps its own outcome: a pre-check refusal, a reused key or a transaction the node
        refuses fails that call alone (as before, those of its transactions the node took are
        still mined); a transaction dropped behind another call's refused nonce is signed and
        sent again, and its call's other transactions are not.
        """
        mine = _Submission(list(items))
        self._pre_check_submission(mine)  # outside the lock: reads of the chain's state only
        if self._lock_owner == threading.get_ident():
            with self.locked():  # this thread holds the chain lock (a multi-step operation)
                while not mine.done:  # its own calls alone, now
                    self._send_group([mine])
                    with self._queue_changed:
                        if mine in self._queue:  # re-queued after a drop: sent again here
                            self._queue.remove(mine)
        else:
            self._send_queued(mine)
        if mine.error is not None:
            raise mine.error
        if mine.fresh:  # outside the lock, so that concurrent writers share the next block
            self._produce(set(mine.fresh))
        return mine.hashes

    def _send_queued(self, mine: _Submission) -> None:
        """Queue `mine`; wait while another thread sends, then, if it is still unsent, send the
        queue under the chain lock until it is (the waiting threads are woken after each group,
        without taking the lock)."""
        with self._queue_changed:
            self._queue.append(mine)
            while self._leading and not mine.done:
                self._queue_changed.wait()
            if mine.done:
                return
            self._leading = True
        try:
            with self.locked():
                while not mine.done:
                    self._send_group(self._take_group())
                    with self._queue_changed:
                        self._queue_changed.notify_all()
        finally:
            with self._queue_changed:
                if not mine.done and mine in self._queue:  # the lock failed: never sent
                    self._queue.remove(mine)
                self._leading = False
                self._queue_changed.notify_all()

    def _take_group(self) -> list[_Submission]:
        """The queued submissions to send now: all of them, but one whose idempotency key an
        earlier one in the group has waits for the next group (it is then answered from the
        journal)."""
        with self._queue_changed:
            group: list[_Submission] = []
            later: list[_Submission] = []
            taken: set[str] = set()
            for submission in self._queue:
                keys = submission.idempotency_keys()
                if keys & taken:
                    later.append(submission)
                else:
                    group.append(submission)
                    taken |= keys
            self._queue = later
            return group

    def _send_group(self, group: list[_Submission]) -> None:
        """Send the submissions of `group` together; each one ends done, with its hashes or its
        own error (an error of the whole step, e.g. the node unreachable, is every one's)."""
        try:
            self._send_submissions(group)
        except BaseException as error:  # noqa: BLE001 - handed to each waiting caller
            for submission in group:
                if not submission.done:
                    submission.fail(error)

    def _pre_check_submission(self, submission: _Submission) -> None:
        """Before the chain lock: refuse a reused key or a call the chain would refuse (with its
        reason), and keep each new call's gas limit for `_send_submissions`."""
        items = submission.items
        known = self.journal.existing(submission.idempotency_keys())
        self._check_replays(known, [r for _, r in items])
        fresh = [i for i, (_, r) in enumerate(items) if r.idempotency_key not in known]
        gases = self._pre_check([(str(items[i][0].address), items[i][1]) for i in fresh])
        submission.gases = dict(zip(fresh, gases, strict=True))

    def _send_submissions(self, group: list[_Submission]) -> None:
        known = self.journal.existing(
            {key for submission in group for key in submission.idempotency_keys()}
        )
        fresh: list[tuple[_Submission, int, Signer, str, TxRequest]] = []
        for submission in group:
            try:  # again: a concurrent call may have used a key since the pre-check
                self._check_replays(known, [r for _, r in submission.items])
            except AmanatError as error:
                submission.fail(error)
                continue
            fresh.extend(
                (submission, i, signer, str(signer.address), request)
                for i, (signer, request) in enumerate(submission.items)
                if request.idempotency_key not in known and i not in submission.sent
            )
        # a call whose key was journaled at its pre-check and is free again (its transaction
        # was rejected since) is pre-checked here
        unchecked = [(s, i, sender, r) for s, i, _, sender, r in fresh if i not in s.gases]
        for (submission, i, _, _), outcome in zip(
            unchecked,
            self._pre_check_each([(sender, r) for _, _, sender, r in unchecked]),
            strict=True,
        ):
            if isinstance(outcome, AmanatError):
                submission.fail(outcome)
            else:
                submission.gases[i] = outcome
        to_sign = [
            (submission, i, signer, sender, request, submission.gases[i])
            for submission, i, signer, sender, request in fresh
            if not submission.done
        ]
        signed = self._acknowledge([(s, sender, r, gas) for _, _, s, sender, r, gas in to_sign])
        refused, dropped = self._hand_over(signed) if signed else ({}, set())
        reasons: dict[int, str] = {}
        for (submission, i, *_), tx in zip(to_sign, signed, strict=True):
            if tx.hash in refused:
                reasons.setdefault(id(submission), refused[tx.hash])
            elif tx.hash not in dropped:
                submission.sent[i] = tx.hash
        retry: list[_Submission] = []
        for submission in group:
            if submission.done:
                continue
            if id(submission) in reasons:  # those of its transactions the node took still run
                reason = reasons[id(submission)]
                submission.fail(ChainUnavailable(f"the node refused a transaction: {reason}"))
                continue
            items = submission.items
            if any(
                r.idempotency_key not in known and i not in submission.sent
                for i, (_, r) in enumerate(items)
            ):
                # dropped behind another call's refused nonce: those are signed and sent again,
                # the ones the node took are kept
                retry.append(submission)
                continue
            submission.hashes = [
                submission.sent[i] if i in submission.sent else known[str(r.idempotency_key)]
                for i, (_, r) in enumerate(items)
            ]
            submission.fresh = list(submission.sent.values())
            submission.done = True
        if retry:
            with self._queue_changed:
                self._queue[:0] = retry

    def _acknowledge(self, fresh: list[tuple[Signer, str, TxRequest, int]]) -> list[JournalTx]:
        """Sign `fresh` (signer, sender, request, gas limit) with each sender's next nonces and
        record them in one synced journal write: from its return they are acknowledged."""
        if not fresh:
            return []
        for signer, sender, _, _ in fresh:
            self._keys[sender.lower()] = _signing_key(signer)
        fees = self.fees()
        counts: dict[str, int] = {}
        for _, sender, _, _ in fresh:
            counts[sender] = counts.get(sender, 0) + 1
        pending_nonces = self._batch_checked(
            [("eth_getTransactionCount", [sender, "pending"]) for sender in counts]
        )
        chain_next = {s: int(n, 16) for s, n in zip(counts, pending_nonces, strict=True)}

        def sign(firsts: dict[str, int]) -> list[JournalTx]:
            next_nonce = dict(firsts)
            signed = []
            for signer, sender, request, gas in fresh:
                raw = self._sign(
                    _signing_key(signer), next_nonce[sender], gas, request.to, request.data, fees
                )
                signed.append(
                    JournalTx(
                        "0x" + keccak(raw).hex(),
                        sender,
                        next_nonce[sender],
                        raw,
                        request.idempotency_key,
                    )
                )
                next_nonce[sender] += 1
            return signed

        return self.journal.acknowledge(counts, chain_next, sign)

    def next_nonce(self, sender: str) -> int:
        """The nonce `sender`'s next transaction takes: after those the node holds and those
        the journal has acknowledged."""
        pending = int(self.rpc.call("eth_getTransactionCount", [sender, "pending"]), 16)
        return max(pending, self.journal.known_nonce(sender) or 0)

    def unsigned(self, sender: str, request: TxRequest) -> dict[str, Any]:
        """The transaction `sender` is to sign itself for `request`, its fields named and written
        as JSON-RPC does (hex quantities; `type` 0x2 for EIP-1559 only): pre-checked and its
        gas estimated as Amanat's own are, at the sender's next nonce and the chain's fees now."""
        (gas,) = self._pre_check([(sender, request)])
        fees = self.fees()
        unsigned: dict[str, Any] = {
            "from": sender,
            "to": request.to,
            "data": "0x" + request.data.hex(),
            "value": "0x0",
            "nonce": _hex(self.next_nonce(sender)),
            "gas": _hex(gas),
            "chainId": _hex(self.chain_id),
        }
        if fees.dynamic:
            unsigned.update(
                type="0x2",
                maxFeePerGas=_hex(fees.max_fee),
                maxPriorityFeePerGas=_hex(fees.max_priority_fee),
            )
        else:
            unsigned["gasPrice"] = _hex(fees.max_fee)  # legacy: no type, as signers expect
        return unsigned

    def transact_signed(
        self, signed: SignedTx, raw: bytes, description: str = "", built_gas: int | None = None
    ) -> Receipt:
        """Journal (acknowledge), submit and confirm a transaction its sender signed itself; its
        hash is its idempotency key, so the same bytes again return the first one's receipt.

        Before anything is written it is refused if its nonce is not the sender's next one or
        if the chain would refuse it (with the contract's reason); a transaction that reverts
        once mined raises, as in `transact`; so is a gas limit above twice the node's estimate
        (at least SIGNED_GAS_FLOOR, or `built_gas`, the limit the platform builds for the call)
        and, on a network, a fee cap below the current base fee."""
        sender = checksum(signed.sender)
        fields = signed.fields
        request = TxRequest(fields.to, fields.data, fields.gas, signed.hash, description)
        with self.locked():
            state = self.journal.tx_state(signed.hash)
            if state is not None and state[0] == "rejected":
                raise TransactionRefused(
                    state[2] or "the node refused the transaction", tx_hash=signed.hash
                )
            if state is None:
                expected = self.next_nonce(sender)
                if fields.nonce != expected:
                    raise RuleViolation(
                        "nonce-mismatch",
                        f"the transaction's nonce is {fields.nonce} but the next nonce of "
                        f"{sender} is {expected}: build it again",
                        nonce=fields.nonce,
                        expected=expected,
                    )
                self._check_signed(sender, request, fields.max_fee, built_gas or 0)
                journaled = JournalTx(signed.hash, sender, fields.nonce, raw, signed.hash)
                self.journal.acknowledge_signed(journaled)
                self._send([journaled])
                self._produce({signed.hash})
        (receipt,) = self.confirm([signed.hash])
        if not receipt.status:
            raise self._replay_failure(sender, request, receipt)
        return receipt

    def seen(self, idempotency_key: str | None) -> bool:
        """Whether a transaction was already journaled under this idempotency key."""
        return bool(idempotency_key) and bool(self.journal.existing([str(idempotency_key)]))

    def _check_replays(self, known: dict[str, str], requests: Sequence[TxRequest]) -> None:
        """A key may only be replayed for the very same call: same target, same call data."""
        for request in requests:
            key = request.idempotency_key
            if key is None or key not in known:
                continue
            (raw,) = self.journal.raw_of([known[key]])
            fields = decode_signed(raw)
            to = fields.to
            if (to or "").lower() != (request.to or "").lower() or fields.data != request.data:
                raise IdempotencyConflict(
                    f"idempotency key {key!r} was already used for a different request "
                    f"(transaction {known[key]}); use a new key",
                    tx_hash=known[key],
                )

    def _batch_checked(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        results = self.rpc.batch(calls)
        for result in results:
            if isinstance(result, RpcError):
                raise result
        return results

    def confirm(self, tx_hashes: Sequence[str]) -> list[Receipt]:
        """Receipts of submitted transactions, waiting for them on a network chain."""
        deadline = time.monotonic() + RECEIPT_TIMEOUT_SECONDS
        results: dict[str, Any] = {}
        wanted = set(tx_hashes)
        if self.node is not None:  # embedded: a mined block's receipts, once per block
            for number in self.journal.blocks_of(wanted):
                for raw in self._block_receipts(number):
                    if raw["transactionHash"] in wanted:
                        results[raw["transactionHash"]] = raw
        resend_at = time.monotonic() + self.replace_after
        while len(results) < len(wanted):
            missing = [h for h in tx_hashes if h not in results]
            # On a network a transaction may have been replaced (higher fee, same nonce): the
            # receipt of any transaction with its nonce answers for it.
            candidates = (
                [(h, c) for h in missing for c in (self.journal.same_nonce(h) or [h])]
                if self.node is None
                else [(h, h) for h in missing]
            )
            replies = self.rpc.batch([("eth_getTransactionReceipt", [c]) for _, c in candidates])
            for (tx_hash, _), reply in zip(candidates, replies, strict=True):
                if isinstance(reply, RpcError):
                    raise reply
                if reply is not None:
                    results[tx_hash] = reply
            if len(results) == len(wanted):
                break
            if time.monotonic() > deadline:
                raise ChainUnavailable(
                    f"{len(missing)} acknowledged transactions not mined after "
                    f"{RECEIPT_TIMEOUT_SECONDS:.0f} s; they stay journaled and will be resent"
                )
            if self.node is None and time.monotonic() > resend_at:
                with self.locked():
                    self._resend(self.journal.pending())
                resend_at = time.monotonic() + self.replace_after
            time.sleep(0.2)
        receipts = [_receipt(results[h]) for h in tx_hashes]
        if self.node is None:
            self.journal.mark_mined({r.tx_hash: r.block_number for r in receipts})
            for receipt in receipts:  # a nonce with replacements: the mined one wins
                if len(self.journal.same_nonce(receipt.tx_hash)) > 1:
                    self.journal.settle_nonce(
                        receipt.tx_hash, receipt.tx_hash, receipt.block_number
                    )
        return receipts

    def _block_receipts(self, number: int) -> list[dict[str, Any]]:
        """Embedded: the receipts of journaled block `number`, asked of the node once for all
        the writers of this process waiting for a transaction of it (the last few blocks are
        kept)."""
        with self._receipts_guard:
            cached = self._receipts.get(number)
            if cached is None:
                cached = self._batch_checked([("eth_getBlockReceipts", [_hex(number)])])[0] or []
                if cached:  # a block the node does not hold (yet) is asked again next time
                    self._receipts[number] = cached
                while len(self._receipts) > RECEIPT_BLOCKS_KEPT:
                    del self._receipts[min(self._receipts)]
            return cached

    # ------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Bring the journal and the chain into agreement after any crash.

        Blocks the node produced but the journal missed are adopted; a node that lost blocks, or
        holds another block at the journal's head, is rebuilt from snapshot + journal;
        acknowledged transactions not yet mined are resent.
        """
        with self.locked():
            if self.node is not None and not _node_agrees(self.rpc, self.journal.head()):
                self.node.stop()
                _restore(self.node, self.journal)
            if self.node is not None:
                head = adopt_blocks(self.rpc, self.journal)
                # blocks journaled by a process that died before archiving them
                Archive.beside(self.journal).fill(self.rpc, self.journal, up_to=head)
            pending = self.journal.pending()
            if pending and self.node is None:
                self._resend(pending)
                pending = []
            if pending:
                pending = self._resend_outside(pending)
            if pending:
                self._send(pending, resend=True)
                self._produce({t.hash for t in pending})

    def _resend_outside(self, pending: list[JournalTx]) -> list[JournalTx]:
        """Hand back to the node the wallets' transactions journaled as it was about to mine
        them (it died first); one the node now refuses is recorded as rejected with its reason.
        Returns Amanat's own pending transactions (its senders have a journaled nonce)."""
        own = [t for t in pending if self.journal.known_nonce(t.sender) is not None]
        outside = [t for t in pending if self.journal.known_nonce(t.sender) is None]
        for tx in outside:
            try:
                self.rpc.call("eth_sendRawTransaction", ["0x" + tx.raw.hex()])
            except RpcError as exc:
                if "already" not in exc.message.lower():
                    self.journal.reject(tx.hash, f"node refused after restart: {exc.message}")
        if outside and pending_count(self.rpc):
            mine_block(self.rpc, self.journal)
        return own

    def advance_time(self, seconds: int) -> int:
        """Embedded only: move the chain's clock (`now`) `seconds` forward and mine a block there
        (e.g. past a timelock or to maturity). Returns the new block timestamp."""
        if self.node is None:
            raise AmanatError("the chain clock can only be advanced on the embedded chain")
        if seconds < 0:
            raise AmanatError("the chain clock only moves forward")
        with self.locked():
            target = self.now() + seconds
            offset = int(self.journal.get_meta("clock_offset") or 0)
            self.journal.set_meta("clock_offset", str(max(offset, target - int(time.time()))))
            self._produce(set(), force=True)
        return self.block_timestamp()

    # ------------------------------------------------------------ internals

    def _pre_check(self, items: Sequence[tuple[str, TxRequest]]) -> list[int]:
        """Run every request as an eth_call first and return each one's gas limit (its own, or
        the node's estimate plus a margin). A call the chain would refuse is reported here with
        the contract's reason and nothing is signed: the refusal never depends on the node's
        eth_estimateGas reverting (some clients return a figure for a call that reverts)."""
        gases = []
        for outcome in self._pre_check_each(items):
            if isinstance(outcome, AmanatError):
                raise outcome
            gases.append(outcome)
        return gases

    def _pre_check_each(self, items: Sequence[tuple[str, TxRequest]]) -> list[int | AmanatError]:
        """`_pre_check` in one JSON-RPC batch, each request's outcome on its own: its gas limit
        or the refusal with the contract's reason."""
        if not items:
            return []
        calls: list[tuple[str, list[Any]]] = []
        for sender, request in items:
            params: dict[str, Any] = {"from": sender, "data": "0x" + request.data.hex()}
            if request.to:
                params["to"] = request.to
            calls.append(("eth_call", [params, *self._at("latest")]))
            if request.gas is None:
                # on the embedded chain at the chain's clock too (a network node takes the
                # call alone, estimating at its latest block)
                at = self._at("latest") if self.node is not None else []
                calls.append(("eth_estimateGas", [params, *at]))
        replies = iter(self.rpc.batch(calls))
        outcomes: list[int | AmanatError] = []
        for _, request in items:
            outcome = next(replies)
            estimate = next(replies) if request.gas is None else None
            failed = next((r for r in (outcome, estimate) if isinstance(r, RpcError)), None)
            if failed is not None:
                outcomes.append(self._refusal(failed, request))
            elif request.gas is not None:
                outcomes.append(request.gas)
            else:
                outcomes.append(
                    int(str(estimate), 16) * GAS_MARGIN_NUMERATOR // 4 + GAS_MARGIN_FIXED
                )
        return outcomes

    def _check_signed(self, sender: str, request: TxRequest, max_fee: int, built_gas: int) -> None:
        """The pre-check of a client-signed transaction: its call run with its own gas limit,
        that limit against the node's estimate, and (on a network) its fee against the base fee."""
        assert request.gas is not None
        params: dict[str, Any] = {"from": sender, "data": "0x" + request.data.hex()}
        if request.to:
            params["to"] = request.to
        at = self._at("latest")
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{**params, "gas": hex(request.gas)}, *at]),
            ("eth_estimateGas", [params, *(at if self.node is not None else [])]),
        ]
        if self.node is None:
            calls.append(("eth_getBlockByNumber", ["latest", False]))
        replies = self.rpc.batch(calls)
        for reply in replies[:2]:
            if isinstance(reply, RpcError):
                raise self._refusal(reply, request)
        estimate = int(str(replies[1]), 16)
        allowed = max(SIGNED_GAS_FACTOR * estimate, SIGNED_GAS_FLOOR, built_gas)
        if request.gas > allowed:
            raise RuleViolation(
                "gas-limit-too-high",
                f"the transaction's gas limit is {request.gas:,} but the call needs about "
                f"{estimate:,}; at most {allowed:,} is accepted: build it again",
                gas=request.gas,
                allowed=allowed,
            )
        if self.node is None:
            block = replies[2]
            if isinstance(block, RpcError):
                raise block
            base_fee = int(block.get("baseFeePerGas") or "0x0", 16)
            if max_fee < base_fee:
                raise RuleViolation(
                    "fee-too-low",
                    f"the transaction's fee cap is {max_fee:,} wei per gas, below the current "
                    f"base fee of {base_fee:,}: build it again",
                    fee=max_fee,
                    base_fee=base_fee,
                )

    def fees(self) -> Fees:
        """The fees to sign with now. Embedded: zero (a permissioned chain at zero gas price, so
        institutions' wallets need no funding). Network: EIP-1559 where the latest block has a
        base fee (cap twice the base fee plus the tip), else the node's gas price."""
        if self.node is not None:
            return FREE
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if block.get("baseFeePerGas") is None:
            price = int(self.rpc.call("eth_gasPrice"), 16)
            return Fees(price, price, dynamic=False)
        base_fee = int(block["baseFeePerGas"], 16)
        if base_fee == 0:
            return Fees(0, 0, dynamic=True)  # a zero-base-fee permissioned network: free
        try:
            tip = int(self.rpc.call("eth_maxPriorityFeePerGas"), 16)
        except RpcError:
            tip = 0
        return Fees(2 * base_fee + tip, tip, dynamic=True)

    def _sign(
        self,
        secret: bytes | DigestSigner,
        nonce: int,
        gas: int,
        to: str | None,
        data: bytes,
        fees: Fees,
    ) -> bytes:
        target = bytes.fromhex(to[2:]) if to else None
        if fees.dynamic:
            return sign_dynamic_fee(
                secret,
                nonce=nonce,
                max_priority_fee=fees.max_priority_fee,
                max_fee=fees.max_fee,
                gas=gas,
                to=target,
                value=0,
                data=data,
                chain_id=self.chain_id,
            )
        return sign_legacy(
            secret,
            nonce=nonce,
            gas_price=fees.max_fee,
            gas=gas,
            to=target,
            value=0,
            data=data,
            chain_id=self.chain_id,
        )

    def _resend(self, pending: Sequence[JournalTx]) -> None:
        """Network: settle or resend acknowledged transactions that are not known mined.

        A mined one (or a mined replacement) is recorded as such; one whose fee no longer fits
        the chain is replaced by the same transaction at a bumped fee; the rest are sent again
        unchanged; one whose nonce was taken by a transaction Amanat did not sign is failed with
        that reason. Every journal entry thus reaches a terminal state."""
        if not pending:
            return
        replies = self.rpc.batch([("eth_getTransactionReceipt", [t.hash]) for t in pending])
        unmined = []
        for tx, reply in zip(pending, replies, strict=True):
            if isinstance(reply, dict):
                self.journal.settle_nonce(tx.hash, tx.hash, int(reply["blockNumber"], 16))
            else:
                unmined.append(tx)
        if not unmined:
            return
        fees = self.fees()
        outgoing = []
        for tx in unmined:
            fields = decode_signed(tx.raw)
            signed = Fees(fields.max_fee, fields.max_priority_fee, fields.dynamic)
            if signed.max_fee >= fees.max_fee and signed.dynamic == fees.dynamic:
                outgoing.append(tx)
                continue
            secret = self._secret_of(tx.sender)
            if secret is None:
                outgoing.append(tx)  # no key to re-sign with in this process: resend as is
                continue
            raw = self._sign(
                secret, tx.nonce, fields.gas, fields.to, fields.data, fees.bumped_over(signed)
            )
            replacement = JournalTx(
                "0x" + keccak(raw).hex(), tx.sender, tx.nonce, raw, tx.idempotency_key
            )
            self.journal.replace(tx.hash, replacement)
            outgoing.append(replacement)
        self._send(outgoing, resend=True)

    def _secret_of(self, sender: str) -> bytes | DigestSigner | None:
        """The key of `sender` if this process has signed with it."""
        return self._keys.get(sender.lower())

    def _settle_used_nonce(self, tx: JournalTx) -> None:
        """A resend answered "nonce too low": the nonce was mined, by this transaction, by one of
        its replacements, or by a transaction Amanat did not sign."""
        family = self.journal.same_nonce(tx.hash) or [tx.hash]
        replies = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in family])
        for tx_hash, reply in zip(family, replies, strict=True):
            if isinstance(reply, dict):
                self.journal.settle_nonce(tx.hash, tx_hash, int(reply["blockNumber"], 16))
                return
        self.journal.settle_nonce(tx.hash, None, None)

    def _send(self, txs: Sequence[JournalTx], resend: bool = False) -> None:
        """Hand `txs` to the node; raise if it refused any (see `_hand_over`)."""
        refused, _ = self._hand_over(txs, resend)
        if refused:
            raise ChainUnavailable(
                f"the node refused a transaction: {next(iter(refused.values()))}"
            )

    def _hand_over(
        self, txs: Sequence[JournalTx], resend: bool = False
    ) -> tuple[dict[str, str], set[str]]:
        """Hand `txs` to the node. Returns the transactions it refused, each with its reason
        (rejected in the journal; on a network their nonces are filled), and, embedded, the
        later transactions of their senders, rejected and dropped with them (they could only
        wait behind the gap)."""
        replies = self.rpc.batch([("eth_sendRawTransaction", ["0x" + t.raw.hex()]) for t in txs])
        refused: list[tuple[JournalTx, str]] = []
        for tx, reply in zip(txs, replies, strict=True):
            if isinstance(reply, RpcError):
                message = str(reply.error.get("message", ""))
                if resend and "nonce too low" in message.lower():
                    self._settle_used_nonce(tx)  # mined: by it, a replacement, or a wallet
                    continue
                if "already" in message.lower():
                    continue  # the node has it
                refused.append((tx, message))
        rejected = {tx.hash: message for tx, message in refused}
        dropped: set[str] = set()
        if refused and self.node is None:
            self._fill_refused_nonces(refused)
        elif refused:
            # embedded, per sender: its refused transaction and every later one of its own
            # (they could only wait behind the gap) are rejected and dropped from the node's
            # pool, and its nonces from there on released
            first_bad: dict[str, tuple[int, str]] = {}
            for tx, message in refused:
                if tx.sender not in first_bad or tx.nonce < first_bad[tx.sender][0]:
                    first_bad[tx.sender] = (tx.nonce, message)
            for tx in txs:
                if tx.sender in first_bad and tx.nonce >= first_bad[tx.sender][0]:
                    self.journal.reject(
                        tx.hash, f"node refused the transaction: {first_bad[tx.sender][1]}"
                    )
                    self.rpc.call("anvil_dropTransaction", [tx.hash])
                    if tx.hash not in rejected:
                        dropped.add(tx.hash)
            for sender, (nonce, _) in first_bad.items():
                self.journal.release_nonces(sender, nonce)
        return rejected, dropped

    def _fill_refused_nonces(self, refused: Sequence[tuple[JournalTx, str]]) -> None:
        """Network: nothing takes a transaction out of a node's pool (or its peers'), so a
        sender's later transactions that the node accepted stay queued behind a refused nonce
        and will run once it is used. They stay journaled as pending (their requests are not
        free to be retried), each refused transaction is rejected, and its nonce is used by a
        journaled transfer of nothing from the sender to itself, so that the queue moves on."""
        fees = self.fees()
        fillers = []
        for tx, message in refused:
            self.journal.reject(tx.hash, f"node refused the transaction: {message}")
            key = self._secret_of(tx.sender)
            if key is None:  # not signed by this process: the next start resends and settles
                continue
            raw = self._sign(key, tx.nonce, PLAIN_TRANSFER_GAS, tx.sender, b"", fees)
            filler = JournalTx("0x" + keccak(raw).hex(), tx.sender, tx.nonce, raw)
            self.journal.acknowledge_signed(filler)
            fillers.append(filler)
        if fillers:  # a filler the node refuses too stays pending and is resent on recovery
            self.rpc.batch([("eth_sendRawTransaction", ["0x" + f.raw.hex()]) for f in fillers])

    def _produce(self, expected: set[str], force: bool = False) -> None:
        """Embedded: mine blocks until every expected transaction is in one, journaling each block.
        Network: nothing to do; validators produce blocks and `confirm` waits for them.

        Blocks are shared (group commit): writers hand their transactions to the node under the
        chain lock, then release it and queue here for it again; whoever gets it first mines
        everything pending, so the writers that queued behind find theirs already journaled in
        a block and return without mining one of their own."""
        if self.node is None or (not expected and not force):
            return
        remaining = set(expected)
        if self._lock_owner == threading.get_ident():  # a multi-step operation: mine now
            while remaining or force:
                self._mine(remaining, force)
                remaining, force = self.journal.still_pending(remaining), False
            return
        while remaining or force:
            with self._mined:
                if self._mining:
                    # another thread of this process is mining: wait for its block, then look
                    # whether it held ours (another process may have mined it too)
                    self._mined.wait(SHARE_WAIT_SECONDS)
                    mining = False
                else:
                    self._mining = mining = True
            if not mining:
                remaining = self.journal.still_pending(remaining)
                continue
            try:
                self._mine(remaining, force)
            finally:
                with self._mined:
                    self._mining = False
                    self._mined.notify_all()
            remaining, force = self.journal.still_pending(remaining), False

    def _mine(self, remaining: set[str], force: bool) -> None:
        """Under the chain lock, mine a block if any of `remaining` is still pending (forced:
        in any case), with every transaction the node holds ready."""
        self._let_senders_in()
        with self.locked():
            remaining = self.journal.still_pending(remaining)
            if not remaining and not force:
                return
            # every journaled pending transaction is in the node's pool (the lock is held), so
            # the pool is looked into only if it holds more: a wallet's transactions
            journal_block = mine_block(self.rpc, self.journal, self.journal.count("pending"))
            if remaining and not journal_block.tx_hashes:
                raise ChainUnavailable(
                    f"{len(remaining)} transactions were not included by the node; "
                    "they stay journaled and will be resent on the next start"
                )
            if self._snapshot_due(journal_block):
                self._snapshot(journal_block.number)

    def _snapshot_due(self, block: JournalBlock) -> bool:
        if self._snapshot_writer is not None and self._snapshot_writer.is_alive():
            return False
        latest = self.journal.latest_snapshot()
        since_block = latest[0] if latest else 0
        if self.snapshot_every is not None and block.number - since_block >= self.snapshot_every:
            return True
        transactions = self.journal.transactions_after(since_block)
        if transactions >= self.snapshot_every_transactions:
            return True
        taken_at = self.journal.snapshot_time(since_block) if latest else None
        if taken_at is None:
            taken_at = float(self.journal.get_meta("genesis_timestamp") or time.time())
        return transactions > 0 and time.time() - taken_at >= SNAPSHOT_EVERY_SECONDS

    def _snapshot(self, block: int) -> None:
        """Dump the node's state at `block` (the caller holds the chain lock, so no block is
        mined meanwhile) and write it in the background: no write waits on the disk."""
        assert self.node is not None
        directory = self.node.dir / "snapshots"
        directory.mkdir(exist_ok=True)
        # 0x + the gzip of the state: written as is, the form anvil_loadState takes back.
        dumped = self.rpc.call("anvil_dumpState")
        self._snapshot_writer = threading.Thread(
            target=self._write_snapshot,
            args=(directory / f"state-{block:012d}.gz", block, bytes.fromhex(dumped[2:])),
            name="amanat-snapshot",
        )
        self._snapshot_writer.start()

    def _write_snapshot(self, target: Path, block: int, compressed: bytes) -> None:
        temporary = target.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(compressed)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        self.journal.record_snapshot(block, str(target))
        for old in self.journal.prune_snapshots(keep=SNAPSHOTS_KEPT):
            Path(old).unlink(missing_ok=True)

    def wait_for_snapshot(self) -> None:
        """Wait until a snapshot being written in the background is on disk."""
        if self._snapshot_writer is not None:
            self._snapshot_writer.join()

    def _refusal(self, error: RpcError, request: TxRequest | None = None) -> AmanatError:
        data = error.data
        reason = None
        if isinstance(data, str) and data.startswith("0x"):
            reason = decode_revert(bytes.fromhex(data[2:]))
        if reason is None:
            message = str(error.error.get("message", ""))
            reason = message.removeprefix("execution reverted: ").removeprefix("execution reverted")
            reason = reason or "the contract refused the call without a reason"
        values = {"action": request.description} if request and request.description else {}
        return TransactionRefused(reason, **values)

    def _replay_failure(self, sender: str, request: TxRequest, receipt: Receipt) -> AmanatError:
        params: dict[str, Any] = {
            "from": sender,
            "data": "0x" + request.data.hex(),
            "gas": _hex(receipt.gas_used * 2),
        }
        if request.to:
            params["to"] = request.to
        try:
            self.rpc.call("eth_call", [params, _hex(receipt.block_number - 1)])
        except RpcError as exc:
            return self._refusal(exc, request)
        return TransactionRefused(
            "transaction reverted on chain", tx_hash=receipt.tx_hash, gas_used=receipt.gas_used
        )


def _signing_key(signer: Signer) -> bytes | DigestSigner:
    """What signs for `signer`: its secret when Amanat holds it, else the signer itself."""
    key = getattr(signer, "key", None)
    return bytes(key) if key is not None else signer  # type: ignore[return-value]


RESTORE_ATTEMPTS = 3


class ReplayDiverged(AmanatError):
    """The node rebuilt a journaled block differently."""


def _node_agrees(rpc: RpcClient, head: JournalBlock | None) -> bool:
    """Whether the node holds the journal's head block (same number, same hash)."""
    if head is None:
        return True
    block = rpc.call("eth_getBlockByNumber", [hex(head.number), False])
    return block is not None and block["hash"] == head.hash


def _restore(node: AnvilNode, journal: Journal) -> None:
    """Start anvil from the last snapshot and replay every later journaled block, same timestamps.

    The node listens while it is rebuilt, so a wallet may send to it meanwhile: such a
    transaction is journaled and set aside (`_set_aside_foreign`), to be resent after the
    replay. A replay that still diverges (a wallet's transaction slipped in just before a block
    was mined) stops the node and starts again; a node is never left running diverged."""
    for attempt in range(1, RESTORE_ATTEMPTS + 1):
        try:
            _rebuild(node, journal)
            return
        except ReplayDiverged:
            _journal_pool_of(node, journal)  # what wallets sent meanwhile is resent later
            node.stop()
            if attempt == RESTORE_ATTEMPTS:
                raise
        except BaseException:
            node.stop()
            raise


def _journal_pool_of(node: AnvilNode, journal: Journal) -> None:
    """Journal, as pending, every transaction in the node's pool that the journal lacks."""
    rpc = RpcClient(node.url, timeout=LOAD_STATE_TIMEOUT_SECONDS)
    journal.record_outside(outside_txs(rpc, journal.unknown(pool_hashes(rpc))))


def _rebuild(node: AnvilNode, journal: Journal) -> None:
    genesis = journal.get_meta("genesis_timestamp")
    if genesis is None:
        genesis = str(int(time.time()))
        journal.set_meta("genesis_timestamp", genesis)
    snapshot = journal.latest_snapshot()
    legacy = snapshot is not None and snapshot[1].endswith(".json")  # uncompressed, older Amanat
    node.start(int(genesis), Path(snapshot[1]) if snapshot and legacy else None)
    rpc = RpcClient(node.url, timeout=LOAD_STATE_TIMEOUT_SECONDS)
    if snapshot and not legacy:
        rpc.call("anvil_loadState", ["0x" + Path(snapshot[1]).read_bytes().hex()])
    archive = Archive.beside(journal)
    archive.fill(rpc, journal, up_to=snapshot[0] if snapshot else 0)
    for block in journal.blocks_after(snapshot[0] if snapshot else 0):
        _replay_block(rpc, journal, block, journal.raw_of(block.tx_hashes))
        if not archive.holds(block):
            archive.record_from(rpc, block)


def _replay_block(rpc: RpcClient, journal: Journal, block: JournalBlock, raws: list[bytes]) -> None:
    """Rebuild one journaled block exactly: same transactions, same order, same timestamp.

    anvil (`--order fifo`) orders a block by when each transaction became ready in its pool, and
    a JSON-RPC batch is not admitted in order, so the transactions are sent as separate requests
    in the block's order (pipelined on one connection). The result is checked against the
    journaled block hash, which covers order, timestamp and state root."""
    _set_aside_foreign(rpc, journal, block, admitted=0)  # e.g. a wallet's, at this block's nonce
    for reply in send_raw_in_order(rpc.url, raws):
        if "error" in reply:  # a wallet's transaction took a nonce of this block meanwhile
            message = str(reply["error"].get("message", reply["error"]))
            if "already" in message.lower():
                continue  # the wallet resent this very transaction: the pool holds it
            raise ReplayDiverged(f"journal replay of block {block.number} failed: {message}")
    _set_aside_foreign(rpc, journal, block, admitted=len(raws))
    rpc.call("evm_mine", [{"timestamp": block.timestamp}])
    mined = rpc.call("eth_getBlockByNumber", ["latest", False])
    if int(mined["number"], 16) != block.number or mined["hash"] != block.hash:
        # what slipped in is journaled before the node is stopped, to be resent after the replay
        journal.record_outside(outside_txs(rpc, journal.unknown(mined["transactions"])))
        order = (
            "same transactions in the same order"
            if tuple(mined["transactions"]) == block.tx_hashes
            else "a different transaction order"
        )
        raise ReplayDiverged(
            f"journal replay diverged at block {block.number}: the node produced block "
            f"{int(mined['number'], 16)} {mined['hash']} ({order}), the journal has {block.hash}"
        )


def _set_aside_foreign(
    rpc: RpcClient, journal: Journal, block: JournalBlock, admitted: int
) -> None:
    """Take out of the pool what a wallet sent during the replay (anything but `block`'s own
    transactions, of which `admitted` were sent), journaling it first as pending so that
    recovery resends it afterwards."""
    status = rpc.call("txpool_status")
    if int(status.get("pending", "0x0"), 16) + int(status.get("queued", "0x0"), 16) <= admitted:
        return
    own = set(block.tx_hashes)
    foreign = [h for h in pool_hashes(rpc) if h not in own]
    journal.record_outside(outside_txs(rpc, journal.unknown(foreign)))
    for tx_hash in foreign:
        rpc.call("anvil_dropTransaction", [tx_hash])


PIPELINE_DEPTH = 200  # requests in flight on one connection: their replies fit socket buffers


def send_raw_in_order(url: str, raws: Sequence[bytes]) -> list[dict[str, Any]]:
    """`eth_sendRawTransaction` for each transaction, as separate requests pipelined on one
    HTTP/1.1 connection: the node reads, admits and answers them one after the other, in
    order, without a round trip between them. Returns the JSON-RPC replies in order."""
    address = urlsplit(url)
    replies: list[dict[str, Any]] = []
    with socket.create_connection(
        (address.hostname, address.port or 80), timeout=LOAD_STATE_TIMEOUT_SECONDS
    ) as sock:
        reader = sock.makefile("rb")
        for start in range(0, len(raws), PIPELINE_DEPTH):
            chunk = raws[start : start + PIPELINE_DEPTH]
            sock.sendall(
                b"".join(
                    _http_post(address.netloc, address.path or "/", start + i, raw)
                    for i, raw in enumerate(chunk)
                )
            )
            replies += [_http_reply(reader) for _ in chunk]
    return replies


def _http_post(host: str, path: str, request_id: int, raw: bytes) -> bytes:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "eth_sendRawTransaction",
            "params": ["0x" + raw.hex()],
        }
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _http_reply(reader: Any) -> dict[str, Any]:
    status = reader.readline()
    if not status.startswith(b"HTTP/1.1 200"):
        raise ChainUnavailable(f"the node answered {status.decode(errors='replace').strip()!r}")
    length = None
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise ChainUnavailable("the node answered without a Content-Length")
    reply: dict[str, Any] = json.loads(reader.read(length))
    return reply


def _receipt(raw: dict[str, Any]) -> Receipt:
    return Receipt(
        tx_hash=raw["transactionHash"],
        status=raw["status"] == "0x1",
        block_number=int(raw["blockNumber"], 16),
        gas_used=int(raw["gasUsed"], 16),
        contract_address=raw.get("contractAddress"),
        logs=raw["logs"],
    )


def state_fingerprint(rpc: RpcClient) -> str:
    """SHA-256 over every account's balance, nonce, code and storage: equal iff the state is equal."""
    state = json.loads(gzip.decompress(bytes.fromhex(rpc.call("anvil_dumpState")[2:])))
    accounts = state["accounts"]
    canonical = json.dumps(
        {
            address.lower(): {
                "balance": account["balance"],
                "nonce": account["nonce"],
                "code": account["code"],
                "storage": {k: v for k, v in sorted(account["storage"].items())},
            }
            for address, account in sorted(accounts.items())
        },
        sort_keys=True,
    )
    return keccak(text=canonical).hex()
