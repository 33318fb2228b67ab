"""Amanat's durable, append-only journal of signed transactions and the blocks that ordered them.

A transaction is acknowledged only once its signed bytes are in the journal (SQLite, WAL,
synchronous=FULL), so an acknowledged transaction survives any crash. Blocks are recorded with
their timestamps so the embedded node can be rebuilt, transaction for transaction, after it dies.
Every transaction of every block is journaled, whoever signed it: a holder's own wallet transfer
is recorded (raw bytes, state 'mined') with the block that included it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tx (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    raw BLOB NOT NULL,
    idempotency_key TEXT UNIQUE,
    acked_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'mined', 'rejected', 'replaced')),
    block INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS tx_pending ON tx (state, seq);
CREATE INDEX IF NOT EXISTS tx_block ON tx (block);
CREATE TABLE IF NOT EXISTS block (
    number INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    hash TEXT NOT NULL,
    tx_hashes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonce (sender TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (
    block INTEGER PRIMARY KEY, path TEXT NOT NULL, created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class JournalTx:
    hash: str
    sender: str
    nonce: int
    raw: bytes
    idempotency_key: str | None = None


@dataclass(frozen=True)
class JournalBlock:
    number: int
    timestamp: int
    hash: str
    tx_hashes: tuple[str, ...]


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection per thread: a sqlite3 connection may not cross threads, and a web
        # server calls the chain from its worker threads. Writers serialise in SQLite itself
        # (BEGIN IMMEDIATE, WAL), exactly as separate Amanat processes do.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_guard = threading.Lock()
        self._db.executescript(SCHEMA)
        _allow_replaced_state(self._db)

    @property
    def _db(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, isolation_level=None, timeout=60.0, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
            with self._connections_guard:
                self._connections.append(db)
        return db

    def close(self) -> None:
        with self._connections_guard:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- meta ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- nonces -------------------------------------------------------------

    def acknowledge(
        self,
        counts: dict[str, int],
        chain_next: dict[str, int],
        sign: Callable[[dict[str, int]], list[JournalTx]],
    ) -> list[JournalTx]:
        """Reserve nonces, sign and durably record transactions in one atomic, synced write.

        `counts` is how many transactions each sender sends; `sign` receives each sender's first
        nonce and returns the signed transactions. When this returns they are acknowledged."""
        now = time.time()
        with self._transaction() as db:
            firsts: dict[str, int] = {}
            for sender, count in counts.items():
                row = db.execute("SELECT next FROM nonce WHERE sender = ?", (sender,)).fetchone()
                firsts[sender] = max(chain_next[sender], row[0] if row else 0)
                db.execute(
                    "INSERT OR REPLACE INTO nonce (sender, next) VALUES (?, ?)",
                    (sender, firsts[sender] + count),
                )
            txs = sign(firsts)
            # a key retried after its transaction was rejected: the rejected one keeps its
            # record (reason, hash) and hands the key to the new attempt
            db.executemany(
                "UPDATE tx SET idempotency_key = NULL, reason = reason || ' (idempotency key '"
                " || idempotency_key || ' retried)' WHERE idempotency_key = ?"
                " AND state = 'rejected'",
                [(t.idempotency_key,) for t in txs if t.idempotency_key],
            )
            db.executemany(
                "INSERT INTO tx (hash, sender, nonce, raw, idempotency_key, acked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(t.hash, t.sender, t.nonce, t.raw, t.idempotency_key, now) for t in txs],
            )
        return txs

    def acknowledge_signed(self, tx: JournalTx) -> None:
        """Durably record a transaction its sender signed itself (a client's), in one synced
        write with the sender's next nonce, so that Amanat never signs over that nonce."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tx (hash, sender, nonce, raw, idempotency_key, acked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (tx.hash, tx.sender, tx.nonce, tx.raw, tx.idempotency_key, time.time()),
            )
            db.execute(
                "INSERT INTO nonce (sender, next) VALUES (?, ?)"
                " ON CONFLICT (sender) DO UPDATE SET next = MAX(next, excluded.next)",
                (tx.sender, tx.nonce + 1),
            )

    def release_nonces(self, sender: str, first: int) -> None:
        """Give back nonces from `first` on (their transactions never reached the node)."""
        with self._transaction() as db:
            db.execute("UPDATE nonce SET next = MIN(next, ?) WHERE sender = ?", (first, sender))

    def known_nonce(self, sender: str) -> int | None:
        row = self._db.execute("SELECT next FROM nonce WHERE sender = ?", (sender,)).fetchone()
        return None if row is None else int(row[0])

    # -- transactions -------------------------------------------------------

    def existing(self, idempotency_keys: Iterable[str]) -> dict[str, str]:
        """Hashes of transactions journaled under these idempotency keys that are pending or
        mined; a key whose transaction the node rejected may be used again (`acknowledge`)."""
        found: dict[str, str] = {}
        for key in idempotency_keys:
            row = self._db.execute(
                "SELECT hash FROM tx WHERE idempotency_key = ? AND state != 'rejected'", (key,)
            ).fetchone()
            if row:
                found[key] = row[0]
        return found

    def reject(self, tx_hash: str, reason: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE tx SET state = 'rejected', reason = ? WHERE hash = ? AND state = 'pending'",
                (reason, tx_hash),
            )

    def mark_mined(self, blocks_by_hash: dict[str, int]) -> None:
        """Record where a network chain included transactions (the embedded chain records whole
        blocks with `record_block`)."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE tx SET state = 'mined', block = ? WHERE hash = ? AND state = 'pending'",
                [(block, tx_hash) for tx_hash, block in blocks_by_hash.items()],
            )

    def replace(self, old_hash: str, new: JournalTx) -> None:
        """Record `new` (same sender and nonce, higher fee) as the replacement of the pending
        `old_hash` in one synced write; the old entry becomes 'replaced' and hands its
        idempotency key to the new one."""
        with self._transaction() as db:
            db.execute(
                "UPDATE tx SET state = 'replaced', reason = ?, idempotency_key = NULL"
                " WHERE hash = ? AND state = 'pending'",
                (f"replaced by {new.hash} (higher fee)", old_hash),
            )
            db.execute(
                "INSERT INTO tx (hash, sender, nonce, raw, idempotency_key, acked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (new.hash, new.sender, new.nonce, new.raw, new.idempotency_key, time.time()),
            )

    def same_nonce(self, tx_hash: str) -> list[str]:
        """Every journaled transaction with the sender and nonce of `tx_hash` (it and its
        replacements, or a wallet's transaction with that nonce), oldest first; at most one of
        them can be mined. (A wallet's sender is journaled as the node reports it, lower-case.)"""
        rows = self._db.execute(
            "SELECT other.hash FROM tx AS this JOIN tx AS other"
            " ON lower(other.sender) = lower(this.sender) AND other.nonce = this.nonce"
            " WHERE this.hash = ? ORDER BY other.seq",
            (tx_hash,),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def settle_nonce(self, tx_hash: str, mined: str | None, block: int | None) -> None:
        """Give every transaction sharing the nonce of `tx_hash` its terminal state: `mined`
        (a journaled hash, in `block`) is mined and the others replaced by it (or, if another's
        request still held its key, failed); with `mined` None the nonce was used by a
        transaction Amanat did not sign and the others failed."""
        family = self.same_nonce(tx_hash)
        with self._transaction() as db:
            for member in family:
                if member == mined:
                    db.execute(
                        "UPDATE tx SET state = 'mined', block = ?, reason = NULL WHERE hash = ?",
                        (block, member),
                    )
                elif mined is not None:
                    # a fee bump handed its key on and is 'replaced'; the entry still holding
                    # its request's key lost the nonce to another transaction (a wallet's): its
                    # request never ran, so it failed and the key may be retried
                    db.execute(
                        "UPDATE tx SET reason = ?, state = CASE WHEN idempotency_key IS NULL"
                        " THEN 'replaced' ELSE 'rejected' END"
                        " WHERE hash = ? AND state IN ('pending', 'replaced')",
                        (f"its nonce was mined in {mined}", member),
                    )
                else:
                    db.execute(
                        "UPDATE tx SET state = 'rejected', reason = ?"
                        " WHERE hash = ? AND state IN ('pending', 'replaced')",
                        (
                            "failed: its nonce was used on chain by a transaction not in the journal",
                            member,
                        ),
                    )

    def pending(self) -> list[JournalTx]:
        rows = self._db.execute(
            "SELECT hash, sender, nonce, raw, idempotency_key FROM tx"
            " WHERE state = 'pending' ORDER BY seq"
        ).fetchall()
        return [JournalTx(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    def raw_of(self, tx_hashes: Iterable[str]) -> list[bytes]:
        out = []
        for tx_hash in tx_hashes:
            row = self._db.execute("SELECT raw FROM tx WHERE hash = ?", (tx_hash,)).fetchone()
            if row is None:
                raise LookupError(f"transaction {tx_hash} is not in the journal")
            out.append(bytes(row[0]))
        return out

    def tx_state(self, tx_hash: str) -> tuple[str, int | None, str | None] | None:
        row = self._db.execute(
            "SELECT state, block, reason FROM tx WHERE hash = ?", (tx_hash,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def blocks_of(self, tx_hashes: Iterable[str]) -> list[int]:
        """The distinct blocks the journal records these transactions in."""
        return sorted(
            {int(b) for b in self._values_for("block", "block IS NOT NULL AND", tx_hashes)}
        )

    def still_pending(self, tx_hashes: Iterable[str]) -> set[str]:
        """Those of `tx_hashes` journaled as pending (not yet in a journaled block)."""
        return {str(h) for h in self._values_for("hash", "state = 'pending' AND", tx_hashes)}

    def _values_for(self, column: str, condition: str, tx_hashes: Iterable[str]) -> set[Any]:
        """`column` of the journaled transactions among `tx_hashes` that meet `condition` (an SQL
        condition ending in AND, or empty), asked 500 hashes at a time."""
        hashes = list(tx_hashes)
        found: set[Any] = set()
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            rows = self._db.execute(
                f"SELECT DISTINCT {column} FROM tx WHERE {condition} hash IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update(row[0] for row in rows)
        return found

    def count(self, state: str | None = None) -> int:
        if state is None:
            return int(self._db.execute("SELECT COUNT(*) FROM tx").fetchone()[0])
        return int(
            self._db.execute("SELECT COUNT(*) FROM tx WHERE state = ?", (state,)).fetchone()[0]
        )

    # -- blocks -------------------------------------------------------------

    def unknown(self, tx_hashes: Iterable[str]) -> list[str]:
        """Those of `tx_hashes` the journal does not hold (e.g. sent by a wallet, not Amanat)."""
        hashes = list(tx_hashes)
        known = self._values_for("hash", "", hashes)
        return [h for h in hashes if h not in known]

    def record_outside(self, txs: Iterable[JournalTx]) -> None:
        """Journal, as pending, transactions Amanat did not sign that the node is about to mine,
        so that a crash between mining and journaling the block cannot lose them."""
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO tx (hash, sender, nonce, raw, idempotency_key, acked_at)"
                " VALUES (?, ?, ?, ?, NULL, ?)",
                [(t.hash, t.sender, t.nonce, t.raw, now) for t in txs],
            )

    def record_block(self, block: JournalBlock, outside: Iterable[JournalTx] = ()) -> None:
        """Record a mined block, and in the same write the transactions in it that Amanat did not
        sign (`outside`, with their raw bytes), so that replay can rebuild the block exactly."""
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO tx (hash, sender, nonce, raw, idempotency_key, acked_at,"
                " state, block) VALUES (?, ?, ?, ?, NULL, ?, 'mined', ?)",
                [(t.hash, t.sender, t.nonce, t.raw, now, block.number) for t in outside],
            )
            db.execute(
                "INSERT INTO block (number, timestamp, hash, tx_hashes) VALUES (?, ?, ?, ?)",
                (block.number, block.timestamp, block.hash, json.dumps(list(block.tx_hashes))),
            )
            db.executemany(
                "UPDATE tx SET state = 'mined', block = ? WHERE hash = ?",
                [(block.number, h) for h in block.tx_hashes],
            )

    def head(self) -> JournalBlock | None:
        row = self._db.execute(
            "SELECT number, timestamp, hash, tx_hashes FROM block ORDER BY number DESC LIMIT 1"
        ).fetchone()
        return (
            None if row is None else JournalBlock(row[0], row[1], row[2], tuple(json.loads(row[3])))
        )

    def blocks_after(self, number: int) -> Iterator[JournalBlock]:
        cursor = self._db.execute(
            "SELECT number, timestamp, hash, tx_hashes FROM block WHERE number > ? ORDER BY number",
            (number,),
        )
        for row in cursor:
            yield JournalBlock(row[0], row[1], row[2], tuple(json.loads(row[3])))

    # -- snapshots ----------------------------------------------------------

    def record_snapshot(self, block: int, path: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO snapshot (block, path, created_at) VALUES (?, ?, ?)",
                (block, path, time.time()),
            )

    def snapshot_time(self, block: int) -> float | None:
        row = self._db.execute(
            "SELECT created_at FROM snapshot WHERE block = ?", (block,)
        ).fetchone()
        return None if row is None else float(row[0])

    def prune_snapshots(self, keep: int) -> list[str]:
        """Forget all but the `keep` latest snapshots; returns the files to delete."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT block, path FROM snapshot ORDER BY block DESC LIMIT -1 OFFSET ?", (keep,)
            ).fetchall()
            db.executemany("DELETE FROM snapshot WHERE block = ?", [(r[0],) for r in rows])
        return [str(r[1]) for r in rows]

    def transactions_after(self, block: int) -> int:
        """How many journaled transactions were mined after `block`."""
        return int(
            self._db.execute("SELECT COUNT(*) FROM tx WHERE block > ?", (block,)).fetchone()[0]
        )

    def latest_snapshot(self) -> tuple[int, str] | None:
        row = self._db.execute(
            "SELECT block, path FROM snapshot ORDER BY block DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))


def _allow_replaced_state(db: sqlite3.Connection) -> None:
    """Journals created before fee replacement existed refuse the 'replaced' state in their CHECK
    constraint: copy their tx table once, atomically, into the current definition."""
    row = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tx'"
    ).fetchone()
    if row is None or "'replaced'" in row[0]:
        return
    create_tx = next(s for s in SCHEMA.split(";") if "CREATE TABLE IF NOT EXISTS tx (" in s)
    columns = "seq, hash, sender, nonce, raw, idempotency_key, acked_at, state, block, reason"
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("ALTER TABLE tx RENAME TO tx_before_replaced")
        db.execute(create_tx)
        db.execute(f"INSERT INTO tx ({columns}) SELECT {columns} FROM tx_before_replaced")
        db.execute("DROP TABLE tx_before_replaced")
        db.execute("CREATE INDEX IF NOT EXISTS tx_pending ON tx (state, seq)")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
