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
replayed. On a real network there is no archive: the network's nodes keep their history.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from pathlib import Path
from typing import Any

from amanat.chain.journal import Journal, JournalBlock
from amanat.chain.node import NODE_KEEPS_BLOCKS
from amanat.chain.rpc import RpcClient, RpcError
from amanat.domain.evm import keccak
from amanat.errors import AmanatError

# The archive answers for blocks at least ARCHIVE_MARGIN below its own latest block, so it may
# lag the node by up to that many blocks (the node keeps its latest NODE_KEEPS_BLOCKS whole).
ARCHIVE_MARGIN = NODE_KEEPS_BLOCKS // 2
HISTORY_FILE = "history.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS block (
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    header BLOB NOT NULL,
    transactions BLOB NOT NULL,
    receipts BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS block_hash ON block (hash);
CREATE TABLE IF NOT EXISTS log_address (
    address TEXT NOT NULL, block INTEGER NOT NULL, PRIMARY KEY (address, block)
) WITHOUT ROWID;
"""


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def logs_bloom(logs: list[dict[str, Any]]) -> str:
    """The 2048-bit bloom filter of `logs` (Ethereum yellow paper, section 4.3.1)."""
    bloom = 0
    for log in logs:
        for item in [log["address"], *log["topics"]]:
            digest = keccak(bytes.fromhex(item[2:]))
            for i in (0, 2, 4):
                bloom |= 1 << (int.from_bytes(digest[i : i + 2], "big") & 2047)
    return "0x" + bloom.to_bytes(256, "big").hex()


class Archive:
    """The history archive of one data directory (SQLite, WAL): blocks by number and hash."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._db.executescript(SCHEMA)

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
        addresses = {log["address"].lower() for r in receipts for log in r["logs"]}
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO block (number, hash, header, transactions, receipts)"
                " VALUES (?, ?, ?, ?, ?)",
                (number, block["hash"], _pack(bare), _pack(block["transactions"]), _pack(compact)),
            )
            self._db.execute("DELETE FROM log_address WHERE block = ?", (number,))
            self._db.executemany(
                "INSERT INTO log_address (address, block) VALUES (?, ?)",
                [(address, number) for address in addresses],
            )
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
        """Archive the journaled blocks after the archive's latest, up to `up_to`, from the node
        (after an upgrade, or archive writes lost to a power cut)."""
        for block in journal.blocks_after(self.head()):
            if block.number > up_to:
                return
            self.record_from(rpc, block)

    def holds(self, block: JournalBlock) -> bool:
        """Whether `block` (this very block: same hash) is archived."""
        row = self._db.execute(
            "SELECT hash FROM block WHERE number = ?", (block.number,)
        ).fetchone()
        return row is not None and row[0] == block.hash

    # -- reading ------------------------------------------------------------

    def head(self) -> int:
        """The latest archived block, 0 if none."""
        row = self._db.execute("SELECT MAX(number) FROM block").fetchone()
        return int(row[0] or 0)

    def horizon(self) -> int:
        """Blocks up to this number are answered from the archive (-1: none)."""
        head = self._db.execute("SELECT MAX(number) FROM block").fetchone()[0]
        return -1 if head is None else int(head) - ARCHIVE_MARGIN

    def header(self, number: int, full: bool = False) -> dict[str, Any] | None:
        """The block as eth_getBlockByNumber(number, full) gave it: with its transactions'
        hashes, or (`full`) the transactions themselves."""
        row = self._db.execute(
            "SELECT header, transactions FROM block WHERE number = ?", (number,)
        ).fetchone()
        if row is None:
            return None
        header: dict[str, Any] = _unpack(row[0])
        transactions = _unpack(row[1])
        header["transactions"] = transactions if full else [t["hash"] for t in transactions]
        return header

    def transaction(self, number: int, tx_hash: str) -> dict[str, Any] | None:
        """A transaction of block `number` as eth_getTransactionByHash gives it."""
        block = self.header(number, full=True)
        found = [t for t in (block or {}).get("transactions", []) if t["hash"] == tx_hash]
        return found[0] if found else None

    def number_of(self, block_hash: str) -> int | None:
        row = self._db.execute(
            "SELECT number FROM block WHERE hash = ?", (block_hash.lower(),)
        ).fetchone()
        return None if row is None else int(row[0])

    def receipts(self, number: int) -> list[dict[str, Any]] | None:
        row = self._db.execute("SELECT receipts FROM block WHERE number = ?", (number,)).fetchone()
        if row is None:
            return None
        receipts: list[dict[str, Any]] = _unpack(row[0])
        for receipt in receipts:
            receipt["logsBloom"] = logs_bloom(receipt["logs"])
        return receipts

    def logs(self, query: dict[str, Any], first: int, last: int) -> list[dict[str, Any]]:
        """eth_getLogs over archived blocks first..last: `query`'s address (one or a list) and
        topics (per position: None, a topic, or a list of topics), oldest first."""
        address = query.get("address")
        addresses = [address] if isinstance(address, str) else list(address or [])
        wanted = {a.lower() for a in addresses}
        if wanted:
            marks = ",".join("?" * len(wanted))
            rows = self._db.execute(
                f"SELECT DISTINCT block FROM log_address WHERE address IN ({marks})"
                " AND block BETWEEN ? AND ? ORDER BY block",
                (*wanted, first, last),
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT DISTINCT block FROM log_address WHERE block BETWEEN ? AND ? ORDER BY block",
                (first, last),
            ).fetchall()
        topics = query.get("topics") or []
        found = []
        for (number,) in rows:
            for receipt in self.receipts(number) or []:
                for log in receipt["logs"]:
                    if wanted and log["address"].lower() not in wanted:
                        continue
                    if _topics_match(topics, log["topics"]):
                        found.append(log)
        return found


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


class _ToNode:
    """A call (or the part of an eth_getLogs call) the node answers, plus what the archive
    answered for the rest of its range."""

    def __init__(self, method: str, params: list[Any], archived: list[Any] | None = None) -> None:
        self.method = method
        self.params = params
        self.archived = archived


class HistoryRpc(RpcClient):
    """The embedded node's JSON-RPC, with the history it no longer holds served from the
    archive: eth_getBlockByNumber / eth_getBlockByHash, eth_getTransactionByHash,
    eth_getBlockReceipts, eth_getTransactionReceipt and eth_getLogs. Callers see one chain."""

    def __init__(self, url: str, journal: Journal, **options: Any) -> None:
        super().__init__(url, **options)
        self.journal = journal
        self.archive = Archive.beside(journal)

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        routed = self._route(method, params or [], self.archive.horizon())
        if not isinstance(routed, _ToNode):
            return routed
        answer = super().call(routed.method, routed.params)
        return answer if routed.archived is None else routed.archived + answer

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        horizon = self.archive.horizon()
        routed = [self._route(method, params, horizon) for method, params in calls]
        to_node = [r for r in routed if isinstance(r, _ToNode)]
        answers = iter(super().batch([(r.method, r.params) for r in to_node]) if to_node else [])
        results: list[Any] = []
        for item in routed:
            if not isinstance(item, _ToNode):
                results.append(item)
                continue
            answer = next(answers)
            if item.archived is not None and not isinstance(answer, RpcError):
                answer = item.archived + answer
            results.append(answer)
        return results

    def _route(self, method: str, params: list[Any], horizon: int) -> Any:
        """The archive's answer, or what to ask the node."""
        if horizon < 0:
            return _ToNode(method, params)
        if method == "eth_getBlockByNumber" and len(params) == 2:
            number = _number(params[0])
            if number is not None and number <= horizon:
                header = self.archive.header(number, full=bool(params[1]))
                if header is not None:
                    return header
        elif method == "eth_getBlockByHash" and len(params) == 2:
            number = self.archive.number_of(params[0])
            if number is not None and number <= horizon:
                return self.archive.header(number, full=bool(params[1]))
        elif method == "eth_getBlockReceipts" and params:
            number = _number(params[0])
            if number is not None and number <= horizon:
                receipts = self.archive.receipts(number)
                if receipts is not None:
                    return receipts
        elif method == "eth_getTransactionReceipt" and params:
            state = self.journal.tx_state(params[0])
            if state is not None and state[1] is not None and state[1] <= horizon:
                for receipt in self.archive.receipts(state[1]) or []:
                    if receipt["transactionHash"] == params[0]:
                        return receipt
        elif method == "eth_getTransactionByHash" and params:
            state = self.journal.tx_state(params[0])
            if state is not None and state[1] is not None and state[1] <= horizon:
                found = self.archive.transaction(state[1], params[0])
                if found is not None:
                    return found
        elif method == "eth_getLogs" and params and "blockHash" not in params[0]:
            return self._logs(params[0], horizon)
        return _ToNode(method, params)

    def _logs(self, query: dict[str, Any], horizon: int) -> Any:
        first = _number(query.get("fromBlock", "0x0"))
        last = _number(query.get("toBlock", "latest"))
        if first is None or first > horizon:
            return _ToNode("eth_getLogs", [query])
        if last is not None and last <= horizon:
            return self.archive.logs(query, first, last)
        archived = self.archive.logs(query, first, horizon)
        return _ToNode("eth_getLogs", [{**query, "fromBlock": hex(horizon + 1)}], archived)


def _number(tag: Any) -> int | None:
    """A block tag's number, if it names a fixed block."""
    if tag == "earliest":
        return 0
    if isinstance(tag, str) and tag.startswith("0x"):
        return int(tag, 16)
    if isinstance(tag, int):
        return tag
    return None
