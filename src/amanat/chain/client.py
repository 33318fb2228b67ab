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
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rlp
from eth_utils import keccak

from amanat.chain.abi import decode_revert
from amanat.chain.journal import Journal, JournalBlock, JournalTx
from amanat.chain.node import AnvilNode
from amanat.chain.rpc import RpcClient, RpcError
from amanat.chain.signing import sign_legacy
from amanat.errors import AmanatError, ChainUnavailable, InvalidInput, RuleViolation

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

GAS_MARGIN_NUMERATOR = 5  # estimated gas * 5/4, plus a fixed allowance
GAS_MARGIN_FIXED = 20_000
SNAPSHOT_EVERY_BLOCKS = 1000
RECEIPT_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class TxRequest:
    """A transaction Amanat wants sent: target, call data, optional gas and idempotency key."""

    to: str | None
    data: bytes
    gas: int | None = None
    idempotency_key: str | None = None
    description: str = ""


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
        snapshot_every: int = SNAPSHOT_EVERY_BLOCKS,
    ) -> None:
        self.rpc = rpc
        self.snapshot_every = snapshot_every
        self.journal = journal
        self.node = node
        self._lock_path = lock_path
        self._lock_depth = 0
        self._lock_fd: int | None = None
        self._thread_lock = threading.RLock()  # threads of this process, before the file lock
        self.chain_id = int(rpc.call("eth_chainId"), 16)
        # Permissioned chains run at zero gas price (anvil --base-fee 0, Besu min-gas-price 0);
        # on the embedded chain institutions' wallets therefore need no funding.
        self.gas_price = 0 if node is not None else int(rpc.call("eth_gasPrice"), 16)

    # ------------------------------------------------------------ opening

    @classmethod
    def embedded(
        cls, data_dir: Path, start: bool = True, snapshot_every: int = SNAPSHOT_EVERY_BLOCKS
    ) -> Chain:
        """The embedded anvil chain under `data_dir`, started and made consistent with the journal."""
        node = AnvilNode(data_dir)
        journal = Journal(data_dir / "journal.sqlite")
        lock_path = data_dir / "chain.lock"
        with _file_lock(lock_path):
            if node.status().running:
                pass
            elif start:
                _restore(node, journal)
            else:
                raise ChainUnavailable("the embedded node is not running: `amanat node start`")
        chain = cls(RpcClient(node.url), journal, lock_path, node, snapshot_every)
        chain.recover()
        return chain

    @classmethod
    def network(cls, rpc_url: str, data_dir: Path) -> Chain:
        """Any EVM JSON-RPC network (e.g. Besu QBFT); the journal lives in `data_dir`."""
        rpc = RpcClient(rpc_url)
        if not rpc.is_up():
            raise ChainUnavailable(f"cannot reach the chain at {rpc_url}")
        chain = cls(rpc, Journal(data_dir / "journal.sqlite"), data_dir / "chain.lock", None)
        chain.recover()
        return chain

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise block production across Amanat processes sharing this data directory,
        and across the threads of this one (a web server's workers)."""
        with self._thread_lock:
            if self._lock_depth == 0:
                self._lock_fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    # ------------------------------------------------------------- reading

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def block_timestamp(self, block: int | str = "latest") -> int:
        tag = _hex(block) if isinstance(block, int) else block
        return int(self.rpc.call("eth_getBlockByNumber", [tag, False])["timestamp"], 16)

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
            result = self.rpc.call("eth_call", [params, tag])
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
        query: dict[str, Any] = {
            "topics": topics or [],
            "fromBlock": _hex(from_block),
            "toBlock": _hex(to_block) if isinstance(to_block, int) else to_block,
        }
        if addresses:  # no addresses: every contract's logs
            query["address"] = list(addresses)
        return list(self.rpc.call("eth_getLogs", [query]))

    # ------------------------------------------------------------- writing

    def transact(
        self, signer: LocalAccount, requests: Sequence[TxRequest], check: bool = True
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

    def submit(self, signer: LocalAccount, requests: Sequence[TxRequest]) -> list[str]:
        """Sign and durably journal `requests` from one signer; see `submit_batch`."""
        return self.submit_batch([(signer, request) for request in requests])

    def submit_batch(self, items: Sequence[tuple[LocalAccount, TxRequest]]) -> list[str]:
        """Sign and durably journal the transactions, then hand them to the node.

        Returns their hashes: from this point they are acknowledged and will be mined even if
        this process or the node dies. A request whose idempotency key was seen before returns
        the earlier transaction's hash and is not sent again. Each sender's transactions keep
        their order; all of them go into as few blocks as the node allows.
        """
        with self.locked():
            known = self.journal.existing(r.idempotency_key for _, r in items if r.idempotency_key)
            self._check_replays(known, [r for _, r in items])
            fresh = [
                (signer, str(signer.address), request)
                for signer, request in items
                if request.idempotency_key not in known
            ]
            gases = self._gas_limits([(sender, request) for _, sender, request in fresh])
            counts: dict[str, int] = {}
            for _, sender, _ in fresh:
                counts[sender] = counts.get(sender, 0) + 1
            pending_nonces = self._batch_checked(
                [("eth_getTransactionCount", [sender, "pending"]) for sender in counts]
            )
            chain_next = {s: int(n, 16) for s, n in zip(counts, pending_nonces, strict=True)}

            def sign(firsts: dict[str, int]) -> list[JournalTx]:
                next_nonce = dict(firsts)
                signed = []
                for (signer, sender, request), gas in zip(fresh, gases, strict=True):
                    raw = sign_legacy(
                        bytes(signer.key),
                        nonce=next_nonce[sender],
                        gas_price=self.gas_price,
                        gas=gas,
                        to=bytes.fromhex(request.to[2:]) if request.to else None,
                        value=0,
                        data=request.data,
                        chain_id=self.chain_id,
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

            signed = self.journal.acknowledge(counts, chain_next, sign) if fresh else []
            if signed:
                self._send(signed)
                self._produce({t.hash for t in signed})
        fresh_hashes = iter(t.hash for t in signed)
        return [
            known[r.idempotency_key] if r.idempotency_key in known else next(fresh_hashes)
            for _, r in items
        ]

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
            fields = rlp.decode(raw)
            to = "0x" + bytes(fields[3]).hex() if fields[3] else None
            if (to or "").lower() != (request.to or "").lower() or bytes(fields[5]) != request.data:
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
        blocks = self.journal.blocks_of(wanted) if len(wanted) > 1 else []
        for block_receipts in self._batch_checked(
            [("eth_getBlockReceipts", [_hex(number)]) for number in blocks]
        ):
            for raw in block_receipts or []:
                if raw["transactionHash"] in wanted:
                    results[raw["transactionHash"]] = raw
        while len(results) < len(wanted):
            missing = [h for h in tx_hashes if h not in results]
            replies = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in missing])
            for tx_hash, reply in zip(missing, replies, strict=True):
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
            time.sleep(0.2)
        receipts = [_receipt(results[h]) for h in tx_hashes]
        if self.node is None:
            self.journal.mark_mined({r.tx_hash: r.block_number for r in receipts})
        return receipts

    # ------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Bring the journal and the chain into agreement after any crash.

        Blocks the node produced but the journal missed are adopted; a node that lost blocks is
        rebuilt from snapshot + journal; acknowledged transactions not yet mined are resent.
        """
        with self.locked():
            journal_head = self.journal.head()
            known = journal_head.number if journal_head else 0
            head = self.block_number()
            if self.node is not None and head < known:
                self.node.stop()
                _restore(self.node, self.journal)
                head = self.block_number()
            if self.node is not None:
                for number in range(known + 1, head + 1):
                    block = self.rpc.call("eth_getBlockByNumber", [_hex(number), False])
                    self.journal.record_block(_journal_block(block))
            pending = self.journal.pending()
            if pending and self.node is None:
                replies = self.rpc.batch([("eth_getTransactionReceipt", [t.hash]) for t in pending])
                included = {
                    t.hash: int(r["blockNumber"], 16)
                    for t, r in zip(pending, replies, strict=True)
                    if isinstance(r, dict)
                }
                self.journal.mark_mined(included)
                pending = [t for t in pending if t.hash not in included]
            if pending:
                self._send(pending, resend=True)
                self._produce({t.hash for t in pending})

    def advance_time(self, seconds: int) -> int:
        """Embedded only: move the chain's clock `seconds` past the latest block and mine a block
        there (e.g. past a timelock or to maturity). Returns the new block timestamp."""
        if self.node is None:
            raise AmanatError("the chain clock can only be advanced on the embedded chain")
        if seconds < 0:
            raise AmanatError("the chain clock only moves forward")
        with self.locked():
            target = self.block_timestamp() + seconds
            offset = int(self.journal.get_meta("clock_offset") or 0)
            self.journal.set_meta("clock_offset", str(max(offset, target - int(time.time()))))
            self._produce(set(), force=True)
        return self.block_timestamp()

    # ------------------------------------------------------------ internals

    def _gas_limits(self, items: Sequence[tuple[str, TxRequest]]) -> list[int]:
        """Each request's own gas limit, or the node's estimate plus a margin. A call the chain
        would refuse fails its estimate, so it is reported here and nothing is sent."""
        to_estimate = [(sender, r) for sender, r in items if r.gas is None]
        calls = []
        for sender, request in to_estimate:
            params: dict[str, Any] = {"from": sender, "data": "0x" + request.data.hex()}
            if request.to:
                params["to"] = request.to
            calls.append(("eth_estimateGas", [params]))
        by_request: dict[int, int] = {}
        for (_, request), estimate in zip(to_estimate, self.rpc.batch(calls), strict=True):
            if isinstance(estimate, RpcError):
                raise self._refusal(estimate, request)
            gas = int(estimate, 16)
            by_request[id(request)] = gas * GAS_MARGIN_NUMERATOR // 4 + GAS_MARGIN_FIXED
        return [r.gas if r.gas is not None else by_request[id(r)] for _, r in items]

    def _send(self, txs: Sequence[JournalTx], resend: bool = False) -> None:
        replies = self.rpc.batch([("eth_sendRawTransaction", ["0x" + t.raw.hex()]) for t in txs])
        refused: list[tuple[JournalTx, str]] = []
        for tx, reply in zip(txs, replies, strict=True):
            if isinstance(reply, RpcError):
                message = str(reply.error.get("message", ""))
                if "already" in message.lower() or (resend and "nonce too low" in message.lower()):
                    continue  # the node has it, or has already mined it
                refused.append((tx, message))
        if refused:
            first_bad = min(tx.nonce for tx, _ in refused)
            sender = refused[0][0].sender
            for tx in txs:
                if tx.sender == sender and tx.nonce >= first_bad:
                    self.journal.reject(tx.hash, "node refused the transaction")
                    if self.node is not None:
                        self.rpc.call("anvil_dropTransaction", [tx.hash])
            self.journal.release_nonces(sender, first_bad)
            raise ChainUnavailable(f"the node refused a transaction: {refused[0][1]}")

    def _produce(self, expected: set[str], force: bool = False) -> None:
        """Embedded: mine blocks until every expected transaction is in one, journaling each block.
        Network: nothing to do; validators produce blocks and `confirm` waits for them."""
        if self.node is None or (not expected and not force):
            return
        remaining = set(expected)
        while remaining or force:
            force = False
            head = self.journal.head()
            offset = int(self.journal.get_meta("clock_offset") or 0)
            timestamp = max(head.timestamp if head else 0, int(time.time()) + offset)
            self.rpc.call("evm_mine", [{"timestamp": timestamp}])
            block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
            journal_block = _journal_block(block)
            self.journal.record_block(journal_block)
            included = remaining & set(journal_block.tx_hashes)
            if remaining and not included:
                raise ChainUnavailable(
                    f"{len(remaining)} transactions were not included by the node; "
                    "they stay journaled and will be resent on the next start"
                )
            remaining -= included
            if journal_block.number % self.snapshot_every == 0:
                self._snapshot(journal_block.number)

    def _snapshot(self, block: int) -> None:
        assert self.node is not None
        directory = self.node.dir / "snapshots"
        directory.mkdir(exist_ok=True)
        state = gzip.decompress(bytes.fromhex(self.rpc.call("anvil_dumpState")[2:]))
        target = directory / f"state-{block:012d}.json"
        temporary = target.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(state)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        self.journal.record_snapshot(block, str(target))

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


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _restore(node: AnvilNode, journal: Journal) -> None:
    """Start anvil from the last snapshot and replay every later journaled block, same timestamps."""
    genesis = journal.get_meta("genesis_timestamp")
    if genesis is None:
        genesis = str(int(time.time()))
        journal.set_meta("genesis_timestamp", genesis)
    snapshot = journal.latest_snapshot()
    node.start(int(genesis), Path(snapshot[1]) if snapshot else None)
    rpc = RpcClient(node.url)
    for block in journal.blocks_after(snapshot[0] if snapshot else 0):
        raws = journal.raw_of(block.tx_hashes)
        for reply in rpc.batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws]):
            if isinstance(reply, RpcError):
                raise AmanatError(f"journal replay of block {block.number} failed: {reply.message}")
        rpc.call("evm_mine", [{"timestamp": block.timestamp}])
        mined = rpc.call("eth_getBlockByNumber", ["latest", False])
        if (
            int(mined["number"], 16) != block.number
            or tuple(mined["transactions"]) != block.tx_hashes
        ):
            raise AmanatError(
                f"journal replay diverged at block {block.number}: the node produced a different block"
            )


def _journal_block(block: dict[str, Any]) -> JournalBlock:
    return JournalBlock(
        number=int(block["number"], 16),
        timestamp=int(block["timestamp"], 16),
        hash=block["hash"],
        tx_hashes=tuple(block["transactions"]),
    )


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
