"""The embedded chain's history archive: every block, receipt and log, kept by Amanat, not anvil.

The embedded anvil keeps only its last NODE_KEEPS_BLOCKS blocks' transactions, receipts and logs
(`--transaction-block-keeper`), so that its memory and its state dumps (the snapshots) hold state,
block headers and recent blocks only, whatever the history's length. Every block is archived here
as it is journaled (`producer.record_block`): the block with its transactions, and its receipts,
as the node returned them (each receipt's logs bloom is left out and recomputed from its logs). `HistoryRpc` then
answers block, receipt and log queries for blocks the node no longer holds from this archive, so
that the indexer, `reconcile` and `amanat verify` see the whole history; everything else, and
every recent block, goes to the node. A transaction's block is found through the journal.

The archive is derived from the node, block by block, while the node still holds the block; a
rebuilt node (snapshot + journal replay) re-archives any block the archive lacks as it is
replayed. The archive answers up to a margin below the block it is archived through (every
block up to it is archived); a block journaled but not archived (its worker died in between) is
archived by the next reader or recovery while the node holds it, and once the node pruned it,
reads raise rather than answer it empty.

Nothing archived is served on trust: the node keeps every block's header, and before an archived
block is first served in a process (and again whenever its row changes) its header hash, its
transactions root, its receipts root and logs bloom and every derived field are recomputed from
the archived row (`amanat.domain.blocks`) and compared with the node's header for that number. A
mismatch, or a block missing below the archived-through mark, raises naming the block. Log
queries pick their blocks by the node's header blooms, so a row cannot be hidden either. On a
real network there is no archive: the network's nodes keep their history.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeGuard, TypeVar

from amanat.chain.journal import Journal, JournalBlock
from amanat.chain.node import NODE_KEEPS_BLOCKS
from amanat.chain.rpc import RpcClient, RpcError
from amanat.domain.blocks import block_problem, bloom_may_hold, logs_bloom
from amanat.errors import AmanatError

# The archive answers for blocks at least ARCHIVE_MARGIN below the block it is archived through
# (every block up to it is archived), so it may lag the node by up to that many blocks (the node
# keeps its latest NODE_KEEPS_BLOCKS whole).
ARCHIVE_MARGIN = NODE_KEEPS_BLOCKS // 2
# A reader that finds the archive more than ARCHIVE_LAG blocks behind the journal archives the
# missing blocks itself (a worker died between journaling and archiving) while the node holds them.
ARCHIVE_LAG = ARCHIVE_MARGIN // 2
HISTORY_FILE = "history.sqlite"
T = TypeVar("T")
# node headers asked for in one JSON-RPC batch when authenticating archived blocks
HEADER_BATCH = 500
# a log query reads the node's header blooms this many blocks at a time, keeping none after
LOG_WINDOW = 2_048
# per process, the most blocks remembered as authentic and the most node headers kept
AUTHENTIC_KEPT = 262_144
HEADERS_KEPT = 16_384

SCHEMA = """
CREATE TABLE IF NOT EXISTS block (
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    header BLOB NOT NULL,
    transactions BLOB NOT NULL,
    receipts BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class ArchivedBlock:
    """One archived block, authenticated against the node's header: the block as
    eth_getBlockByNumber(n, true) gave it and its receipts (without logs blooms)."""

    def __init__(self, block: dict[str, Any], receipts: list[dict[str, Any]]) -> None:
        self.block = block
        self.stored_receipts = receipts

    def header(self, full: bool) -> dict[str, Any]:
        """As eth_getBlockByNumber(n, full) gives it."""
        header = dict(self.block)
        if not full:
            header["transactions"] = [t["hash"] for t in self.block["transactions"]]
        return json.loads(json.dumps(header))  # type: ignore[no-any-return]  # callers' own copy

    def receipts(self) -> list[dict[str, Any]]:
        """As eth_getBlockReceipts gives them."""
        receipts = json.loads(json.dumps(self.stored_receipts))
        for receipt in receipts:
            receipt["logsBloom"] = "0x" + logs_bloom(receipt["logs"]).hex()
        return receipts  # type: ignore[no-any-return]


class Archive:
    """The history archive of one data directory (SQLite, WAL): blocks by number and hash."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._db.executescript(SCHEMA)
        # per process: the blocks found authentic (number -> digest of the row checked), and the
        # node's header hash and logs bloom per block number (headers never change)
        self._authentic: _Bounded[bytes] = _Bounded(AUTHENTIC_KEPT)
        self._node_headers: _Bounded[tuple[str, bytes]] = _Bounded(HEADERS_KEPT)

    @classmethod
    def beside(cls, journal: Journal) -> Archive:
        """The archive in the journal's data directory (one per path and process)."""
        path = journal.path.parent / HISTORY_FILE
        with _OPEN_GUARD:
            archive = _OPEN.get(path)
            if archive is None:
                archive = _OPEN[path] = cls(path)
        return archive

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (again after a fork: a server's
        workers never share their parent's)."""
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]  # type: ignore[no-any-return]
        db = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
        db.execute("PRAGMA journal_mode=WAL")
        # a write lost to a power cut is re-archived from the node on its next start
        db.execute("PRAGMA synchronous=NORMAL")
        self._local.held = (os.getpid(), db)
        return db

    # -- writing ------------------------------------------------------------

    def record(self, block: dict[str, Any], receipts: list[dict[str, Any]]) -> None:
        """Archive one block (as eth_getBlockByNumber(n, true) gives it) and its receipts."""
        number = int(block["number"], 16)
        bare = {k: v for k, v in block.items() if k != "transactions"}
        compact = [{k: v for k, v in r.items() if k != "logsBloom"} for r in receipts]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO block (number, hash, header, transactions, receipts)"
                " VALUES (?, ?, ?, ?, ?)",
                (number, block["hash"], _pack(bare), _pack(block["transactions"]), _pack(compact)),
            )
            self._advance()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record_from(self, rpc: RpcClient, block: JournalBlock) -> None:
        """Archive a journaled block from the node, which must still hold it whole."""
        header, receipts = RpcClient.batch(
            rpc,
            [
                ("eth_getBlockByNumber", [hex(block.number), True]),
                ("eth_getBlockReceipts", [hex(block.number)]),
            ],
        )
        for reply in (header, receipts):
            if isinstance(reply, RpcError):
                raise reply
        if (
            header is None
            or header["hash"] != block.hash
            or tuple(t["hash"] for t in header["transactions"]) != block.tx_hashes
            or len(receipts or []) != len(block.tx_hashes)
        ):
            raise AmanatError(
                f"block {block.number} is no longer whole in the node and not in the history "
                f"archive {self.path}: rebuild the node from the journal alone (move the "
                "snapshots aside) to recover it"
            )
        self.record(header, receipts)

    def fill(self, rpc: RpcClient, journal: Journal, up_to: int) -> None:
        """Archive every journaled block the archive lacks after the block it is archived
        through, up to `up_to`, from the node (after an upgrade, archive writes lost to a power
        cut, or a worker that died between journaling a block and archiving it). A block the node
        no longer holds whole raises (`record_from`)."""
        for block in journal.blocks_after(self.through()):
            if block.number > up_to:
                return
            if not self.holds(block):
                self.record_from(rpc, block)

    def _advance(self) -> int:
        """Move the archived-through mark over the blocks archived right after it (inside a
        write transaction); the new mark."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'through'").fetchone()
        through = 0 if row is None else int(row[0])
        for (number,) in self._db.execute(
            "SELECT number FROM block WHERE number > ? ORDER BY number", (through,)
        ):
            if number != through + 1:
                break
            through = number
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('through', ?)", (through,)
        )
        return through

    def holds(self, block: JournalBlock) -> bool:
        """Whether `block` (this very block: same hash) is archived."""
        row = self._db.execute(
            "SELECT hash FROM block WHERE number = ?", (block.number,)
        ).fetchone()
        return row is not None and row[0] == block.hash

    # -- reading ------------------------------------------------------------

    def through(self) -> int:
        """The block the archive is archived through: it holds every block from 1 up to it."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'through'").fetchone()
        if row is not None:
            return int(row[0])
        self._db.execute("BEGIN IMMEDIATE")  # an archive from before the mark: set it once
        try:
            through = self._advance()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return through

    def horizon(self) -> int:
        """Blocks up to this number are answered from the archive (-1: none)."""
        return max(-1, self.through() - ARCHIVE_MARGIN)

    def blocks(self, numbers: Iterable[int], node: RpcClient) -> dict[int, ArchivedBlock]:
        """Blocks `numbers` (each at most the archived-through mark), authenticated against the
        node's headers (`node` is asked as a plain node, not through the archive). Raises,
        naming the block, if one is missing or does not match its header."""
        found: dict[int, ArchivedBlock] = {}
        unchecked: dict[int, tuple[bytes, ArchivedBlock]] = {}
        for number in sorted(set(numbers)):
            row = self._db.execute(
                "SELECT header, transactions, receipts FROM block WHERE number = ?", (number,)
            ).fetchone()
            if row is None:
                raise AmanatError(
                    f"block {number} is missing from the history archive {self.path}, which "
                    f"should hold every block up to {self.through()}: it is not served; "
                    "rebuild the archive (move it and the snapshots aside and restart)"
                )
            digest = hashlib.blake2b(b"".join(row), digest_size=16).digest()
            block: dict[str, Any] = _unpack(row[0])
            block["transactions"] = _unpack(row[1])
            found[number] = archived = ArchivedBlock(block, _unpack(row[2]))
            if self._authentic.get(number) != digest:
                unchecked[number] = (digest, archived)
        headers = self.node_headers(unchecked, node)
        for number, (digest, archived) in unchecked.items():
            problem = block_problem(archived.block, archived.stored_receipts, headers[number][0])
            if problem is not None:
                raise AmanatError(
                    f"block {number} in the history archive {self.path} does not match the "
                    f"node's header for it ({problem}): it is not served; rebuild the archive "
                    "(move it and the snapshots aside and restart)"
                )
            self._authentic.put(number, digest)
        return found

    def node_headers(self, numbers: Iterable[int], node: RpcClient) -> dict[int, tuple[str, bytes]]:
        """The node's header hash and logs bloom of each block of `numbers`."""
        found: dict[int, tuple[str, bytes]] = {}
        wanted = []
        for number in sorted(set(numbers)):
            known = self._node_headers.get(number)
            if known is None:
                wanted.append(number)
            else:
                found[number] = known
        for start in range(0, len(wanted), HEADER_BATCH):
            part = wanted[start : start + HEADER_BATCH]
            replies = RpcClient.batch(
                node, [("eth_getBlockByNumber", [hex(n), False]) for n in part]
            )
            for number, reply in zip(part, replies, strict=True):
                if isinstance(reply, RpcError):
                    raise reply
                if reply is None:
                    raise AmanatError(f"the node holds no header for block {number}")
                found[number] = (reply["hash"], bytes.fromhex(reply["logsBloom"][2:]))
                self._node_headers.put(number, found[number])
        return found

    def header(self, number: int, full: bool, node: RpcClient) -> dict[str, Any]:
        """The block as eth_getBlockByNumber(number, full) gave it: with its transactions'
        hashes, or (`full`) the transactions themselves."""
        return self.blocks([number], node)[number].header(full)

    def transaction(self, number: int, tx_hash: str, node: RpcClient) -> dict[str, Any] | None:
        """A transaction of block `number` as eth_getTransactionByHash gives it."""
        found = [t for t in self.header(number, True, node)["transactions"] if t["hash"] == tx_hash]
        return found[0] if found else None

    def receipts(self, number: int, node: RpcClient) -> list[dict[str, Any]]:
        return self.blocks([number], node)[number].receipts()

    def logs(
        self, query: dict[str, Any], first: int, last: int, node: RpcClient
    ) -> list[dict[str, Any]]:
        """eth_getLogs over archived blocks first..last: `query`'s address (one or a list) and
        topics (per position: None, a topic, or a list of topics), oldest first. The blocks
        read are those whose header bloom (the node's) may hold one of the addresses."""
        address = query.get("address")
        addresses = [address] if isinstance(address, str) else list(address or [])
        wanted = {a.lower() for a in addresses}
        items = [bytes.fromhex(a[2:]) for a in wanted]
        topics = query.get("topics") or []
        found = []
        for start in range(max(first, 1), last + 1, LOG_WINDOW):
            blooms = self.node_headers(range(start, min(start + LOG_WINDOW, last + 1)), node)
            candidates = [
                number
                for number, (_, bloom) in blooms.items()
                if any(bloom) and (not items or any(bloom_may_hold(bloom, i) for i in items))
            ]
            for _, block in sorted(self.blocks(candidates, node).items()):
                for receipt in block.receipts():
                    for log in receipt["logs"]:
                        if wanted and log["address"].lower() not in wanted:
                            continue
                        if _topics_match(topics, log["topics"]):
                            found.append(log)
        return found


class _Bounded(Generic[T]):
    """A thread-safe map from block numbers that forgets its oldest entries past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[int, T] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, number: int) -> T | None:
        with self._guard:
            return self._items.get(number)

    def put(self, number: int, value: T) -> None:
        with self._guard:
            self._items[number] = value
            self._items.move_to_end(number)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


_OPEN: dict[Path, Archive] = {}
_OPEN_GUARD = threading.Lock()


def _topics_match(wanted: list[Any], topics: list[str]) -> bool:
    for position, choice in enumerate(wanted):
        if choice is None:
            continue
        options = [choice] if isinstance(choice, str) else choice
        if not options:
            continue
        if position >= len(topics) or topics[position].lower() not in {o.lower() for o in options}:
            return False
    return True


# the calls the archive may answer; every other call goes to the node as it is
HISTORY_METHODS = frozenset(
    {
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getBlockReceipts",
        "eth_getTransactionReceipt",
        "eth_getTransactionByHash",
        "eth_getLogs",
    }
)


class _ToNode:
    """A call (or the part of an eth_getLogs call) the node answers, and what completes the
    node's answer (the archive's part of a log query's range)."""

    def __init__(
        self, method: str, params: list[Any], complete: Callable[[Any], Any] | None = None
    ) -> None:
        self.method = method
        self.params = params
        self.complete = complete


class HistoryRpc(RpcClient):
    """The embedded node's JSON-RPC, with the history it no longer holds served from the
    archive: eth_getBlockByNumber / eth_getBlockByHash, eth_getTransactionByHash,
    eth_getBlockReceipts, eth_getTransactionReceipt and eth_getLogs. Callers see one chain."""

    def __init__(self, url: str, journal: Journal, **options: Any) -> None:
        super().__init__(url, **options)
        self.journal = journal
        self.archive = Archive.beside(journal)

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        if method not in HISTORY_METHODS:
            return super().call(method, params)
        routed = self._route(method, params or [], self._horizon())
        if not isinstance(routed, _ToNode):
            return routed
        answer = super().call(routed.method, routed.params)
        return answer if routed.complete is None else routed.complete(answer)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if not any(method in HISTORY_METHODS for method, _ in calls):
            return super().batch(calls)
        horizon = self._horizon()
        routed = [self._route(method, params, horizon) for method, params in calls]
        to_node = [r for r in routed if isinstance(r, _ToNode)]
        answers = iter(super().batch([(r.method, r.params) for r in to_node]) if to_node else [])
        results: list[Any] = []
        for item in routed:
            if not isinstance(item, _ToNode):
                results.append(item)
                continue
            answer = next(answers)
            if item.complete is not None and not isinstance(answer, RpcError):
                answer = item.complete(answer)
            results.append(answer)
        return results

    def _horizon(self) -> int:
        """The archive's horizon, once every journaled block the node may have pruned (older
        than the latest ARCHIVE_LAG) is archived: a block a worker journaled but did not archive
        is archived now, while the node holds it, or the read raises; the node would answer it
        empty."""
        head = self.journal.head()
        if head is not None and self.archive.through() < head.number - ARCHIVE_LAG:
            self.archive.fill(self, self.journal, up_to=head.number)
        return self.archive.horizon()

    def _route(self, method: str, params: list[Any], horizon: int) -> Any:
        """The archive's answer, or what to ask the node."""
        if horizon < 0:
            return _ToNode(method, params)
        if method == "eth_getBlockByNumber" and len(params) == 2:
            number = _number(params[0])
            if _archived(number, horizon):
                return self.archive.header(number, bool(params[1]), self)
        elif method == "eth_getBlockByHash" and len(params) == 2:
            # the node keeps every header: it says which block the hash names

            def from_archive(answer: dict[str, Any] | None) -> Any:
                number = None if answer is None else int(answer["number"], 16)
                if not _archived(number, horizon):
                    return answer
                return self.archive.header(number, bool(params[1]), self)

            return _ToNode(method, params, from_archive)
        elif method == "eth_getBlockReceipts" and params:
            number = _number(params[0])
            if _archived(number, horizon):
                return self.archive.receipts(number, self)
        elif method == "eth_getTransactionReceipt" and params:
            state = self.journal.tx_state(params[0])
            if state is not None and state[1] is not None and state[1] <= horizon:
                for receipt in self.archive.receipts(state[1], self):
                    if receipt["transactionHash"] == params[0]:
                        return receipt
        elif method == "eth_getTransactionByHash" and params:
            state = self.journal.tx_state(params[0])
            if state is not None and state[1] is not None and state[1] <= horizon:
                found = self.archive.transaction(state[1], params[0], self)
                if found is not None:
                    return found
        elif method == "eth_getLogs" and params and "blockHash" not in params[0]:
            return self._logs(params[0], horizon)
        return _ToNode(method, params)

    def _logs(self, query: dict[str, Any], horizon: int) -> Any:
        """A log query over the archive and the node: the node is asked first (for the blocks
        after `horizon`) and the archive afterwards, up to its horizon then; blocks mined during
        a long archive scan cannot move the node's window past the node's part."""
        first = _number(query.get("fromBlock", "latest"))  # JSON-RPC's default: "latest"
        last = _number(query.get("toBlock", "latest"))
        if first is None or first > horizon:
            return _ToNode("eth_getLogs", [query])
        if last is not None and last <= horizon:
            return self.archive.logs(query, first, last, self)

        def complete(from_node: list[dict[str, Any]]) -> list[dict[str, Any]]:
            through = self._horizon() if last is None else min(self._horizon(), last)
            newer = [log for log in from_node if int(log["blockNumber"], 16) > through]
            return self.archive.logs(query, first, through, self) + newer

        return _ToNode("eth_getLogs", [{**query, "fromBlock": hex(horizon + 1)}], complete)


def _archived(number: int | None, horizon: int) -> TypeGuard[int]:
    """Whether the archive answers for block `number`: blocks 1 to the horizon. The genesis
    block holds no transaction, so the node, which keeps every header, answers it whole."""
    return number is not None and 1 <= number <= horizon


def _number(tag: Any) -> int | None:
    """A block tag's number, if it names a fixed block."""
    if tag == "earliest":
        return 0
    if isinstance(tag, str) and tag.startswith("0x"):
        return int(tag, 16)
    if isinstance(tag, int):
        return tag
    return None
