"""Follow the chain from the deployment block and decode every Amanat event into the store.

- Resumable and idempotent: each batch of blocks is written in one database transaction together
  with the new cursor, so a crash repeats a batch whole or not at all.
- Reorganisation-safe: blocks are indexed only `confirmations` deep, and the hash of every indexed
  block that carried events (and of the cursor block) is kept; if the chain no longer has that
  hash, the index is rolled back to the last block both agree on and re-read.
- Holdings are kept as balance ranges [from_block, to_block), so the cap table as of any block is
  one range query.
- Every event is also appended to the transparency log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from amanat.chain.abi import Event, checksum, interface
from amanat.chain.client import Chain
from amanat.chain.deploy import Manifest
from amanat.errors import AmanatError
from amanat.store import log as transparency_log
from amanat.store.db import Store
from amanat.store.models import ChainEvent, Holding, IndexedBlock, IndexerState, Token

CURSOR = "chain"
INDEXER_LOCK_KEY = 0x696E6478  # PostgreSQL advisory lock id ("indx")
MAX_INDEXED_AMOUNT = 2**63 - 1
ZERO = "0x0000000000000000000000000000000000000000"
KINDS = (
    "Governance",
    "IdentityRegistry",
    "AssetRegistry",
    "TokenFactory",
    "CashToken",
    "Settlement",
    "Auction",
    "Distributor",
)
WALLET_FIELDS = (
    "userAddress",
    "wallet",
    "lostWallet",
    "official",
    "registrar",
    "account",
    "holder",
    "bidder",
    "seller",
)


@dataclass
class _Open:
    """The current holding row of (token, holder): its id once stored, balance and start block."""

    id: int | None
    balance: int
    from_block: int


def jsonable(value: Any) -> Any:
    """An event argument as stored (and logged): bytes as 0x-hex, tuples as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _log_item(row: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A chain event as a transparency-log entry: everything decoded, nothing off chain."""
    payload = {"type": "chain_event", **{k: v for k, v in row.items() if k != "wallet"}}
    return "chain_event", f"chain:{row['block']}:{row['log_index']}", payload


class Indexer:
    def __init__(
        self, chain: Chain, manifest: Manifest, store: Store, confirmations: int = 0
    ) -> None:
        self.chain = chain
        self.manifest = manifest
        self.store = store
        self.confirmations = confirmations
        self._kinds = {manifest.address(k).lower(): k for k in KINDS}
        self._topics: dict[str, dict[bytes, Event]] = {
            kind: interface(kind).events_by_topic for kind in (*KINDS, "AssetToken")
        }

    # ---------------------------------------------------------------- public

    def cursor(self, session: Session) -> int:
        state = session.get(IndexerState, CURSOR)
        return state.block if state else self.manifest.deployed_block - 1

    def sync(self, span: int = 2000) -> int:
        """Index everything up to the confirmed head; returns the number of events indexed."""
        total = 0
        while True:
            blocks, events = self.run_once(span)
            total += events
            if blocks == 0:
                return total

    def run_once(self, span: int = 2000) -> tuple[int, int]:
        """Index the next batch of at most `span` blocks. Returns (blocks, events) indexed."""
        with self.store.session() as session, session.begin():
            self._one_writer(session)
            self._undo_reorganisation(session)
            start = self.cursor(session) + 1
            end = min(self.chain.block_number() - self.confirmations, start + span - 1)
            if end < start:
                return 0, 0
            logs = self.chain.get_logs([], None, from_block=start, to_block=end)
            events = self._index(session, logs, start, end)
            self._set_cursor(session, end)
            return end - start + 1, events

    # ------------------------------------------------------------- internals

    def _one_writer(self, session: Session) -> None:
        """Serialise indexers (serve's thread, `log publish`, a reconciliation) on one store:
        each waits here for the one indexing to commit, then reads the cursor it left, so two
        never index the same blocks. PostgreSQL: a transaction-scoped advisory lock; SQLite:
        a write to the cursor row, which takes the database's write lock at once."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INDEXER_LOCK_KEY})
        else:
            session.execute(
                update(IndexerState)
                .where(IndexerState.name == CURSOR)
                .values(block=IndexerState.block)
            )

    def _set_cursor(self, session: Session, block: int) -> None:
        state = session.get(IndexerState, CURSOR)
        if state is None:
            session.add(IndexerState(name=CURSOR, block=block))
        else:
            state.block = block
        header = self.chain.rpc.call("eth_getBlockByNumber", [hex(block), False])
        session.merge(
            IndexedBlock(number=block, hash=header["hash"], timestamp=int(header["timestamp"], 16))
        )

    def _undo_reorganisation(self, session: Session) -> None:
        rows = session.execute(
            select(IndexedBlock.number, IndexedBlock.hash)
            .order_by(IndexedBlock.number.desc())
            .limit(256)
        ).all()
        if not rows:
            return
        replies = self.chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n, _ in rows])
        agreed = None
        for (number, block_hash), reply in zip(rows, replies, strict=True):
            if isinstance(reply, dict) and reply["hash"] == block_hash:
                agreed = number
                break
        if agreed == rows[0][0]:
            return
        if agreed is None:
            raise AmanatError(
                "chain reorganised deeper than the last 256 indexed blocks: reindex from scratch"
            )
        session.execute(delete(ChainEvent).where(ChainEvent.block > agreed))
        session.execute(delete(Holding).where(Holding.from_block > agreed))
        session.execute(update(Holding).where(Holding.to_block > agreed).values(to_block=None))
        session.execute(delete(Token).where(Token.created_block > agreed))
        session.execute(delete(IndexedBlock).where(IndexedBlock.number > agreed))
        session.get(IndexerState, CURSOR).block = agreed  # type: ignore[union-attr]
        # The transparency log never forgets: it records the rollback, then the events re-read.
        transparency_log.append(
            session,
            [
                (
                    "reorganisation",
                    f"chain:{agreed}",
                    {"type": "reorganisation", "kept_block": agreed},
                )
            ],
        )

    def _index(self, session: Session, logs: list[dict[str, Any]], start: int, end: int) -> int:
        tokens = {t.address.lower(): t.asset_id for t in session.scalars(select(Token))}
        blocks_with_logs = sorted({int(log["blockNumber"], 16) for log in logs})
        headers = self.chain.rpc.batch(
            [("eth_getBlockByNumber", [hex(n), False]) for n in blocks_with_logs]
        )
        timestamps = {
            n: int(h["timestamp"], 16) for n, h in zip(blocks_with_logs, headers, strict=True)
        }
        event_rows: list[dict[str, Any]] = []
        holdings = _Holdings(session)
        # A token's constructor logs its rules before the factory logs TokenCreated in the same
        # transaction: learn the batch's new tokens first so that none of their events is skipped.
        factory = self.manifest.address("TokenFactory").lower()
        created = self._topics["TokenFactory"]
        for log in logs:
            if log["address"].lower() == factory and log["topics"]:
                event = created.get(bytes.fromhex(log["topics"][0][2:]))
                if event is not None and event.name == "TokenCreated":
                    raw_topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
                    args = event.decode(raw_topics, bytes.fromhex(log["data"][2:]))
                    tokens[args["token"].lower()] = args["assetId"]
        for log in logs:
            contract = checksum(log["address"])
            address = contract.lower()
            kind = self._kinds.get(address) or ("AssetToken" if address in tokens else None)
            if kind is None:
                continue
            topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            event = self._topics[kind].get(topics[0]) if topics else None
            if event is None:
                continue
            args = event.decode(topics, bytes.fromhex(log["data"][2:]))
            block = int(log["blockNumber"], 16)
            asset_id = args.get("assetId") if kind != "AssetToken" else tokens[address]
            if kind == "TokenFactory" and event.name == "TokenCreated":
                token = args["token"]
                session.add(
                    Token(
                        address=token,
                        asset_id=args["assetId"],
                        symbol=args["symbol"],
                        name=args["name"],
                        created_block=block,
                    )
                )
            if kind == "AssetToken" and event.name == "Transfer":
                amount = args["value"]
                if amount > MAX_INDEXED_AMOUNT:
                    raise AmanatError(
                        f"transfer of {amount} units exceeds what the index stores (2^63-1)"
                    )
                if args["sender"] != ZERO:
                    holdings.change(contract, args["sender"], -amount, block)
                if args["receiver"] != ZERO:
                    holdings.change(contract, args["receiver"], amount, block)
            wallet = next((args[f] for f in WALLET_FIELDS if isinstance(args.get(f), str)), None)
            event_rows.append(
                {
                    "block": block,
                    "log_index": int(log["logIndex"], 16),
                    "tx_hash": log["transactionHash"],
                    "contract": contract,
                    "contract_kind": kind,
                    "event": event.name,
                    "asset_id": asset_id,
                    "wallet": wallet,
                    "timestamp": timestamps[block],
                    "args": {k: jsonable(v) for k, v in args.items()},
                }
            )
        connection = session.connection()
        if event_rows:
            connection.execute(insert(ChainEvent.__table__), event_rows)  # type: ignore[arg-type]
            transparency_log.append(session, [_log_item(row) for row in event_rows])
        holdings.flush()
        # The batch's blocks are all above the cursor: new rows, except the end block, which
        # _set_cursor writes.
        block_rows = [
            {"number": n, "hash": h["hash"], "timestamp": timestamps[n]}
            for n, h in zip(blocks_with_logs, headers, strict=True)
            if n != end
        ]
        if block_rows:
            connection.execute(insert(IndexedBlock.__table__), block_rows)  # type: ignore[arg-type]
        return len(event_rows)


class _Holdings:
    """Batches holding-range changes: closes the open row and opens a new one per change."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.open: dict[tuple[str, str], _Open] = {}
        self.loaded: set[str] = set()
        self.new_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.closes: list[dict[str, Any]] = []

    def _current(self, token: str, holder: str) -> _Open | None:
        if token not in self.loaded:  # one query per token and batch, not one per holder
            self.loaded.add(token)
            rows = self.session.execute(
                select(Holding.id, Holding.holder, Holding.balance, Holding.from_block).where(
                    Holding.token == token, Holding.to_block.is_(None)
                )
            )
            for row in rows:
                self.open.setdefault(
                    (token, row.holder), _Open(row.id, row.balance, row.from_block)
                )
        return self.open.get((token, holder))

    def change(self, token: str, holder: str, delta: int, block: int) -> None:
        key = (token, holder)
        current = self._current(token, holder)
        balance = (current.balance if current else 0) + delta
        pending = self.new_rows.setdefault(key, [])
        if current is not None and current.from_block == block:
            current.balance = balance  # several changes in one block: one range
            if current.id is None:
                pending[-1]["balance"] = balance
            else:
                self.closes.append({"row_id": current.id, "balance": balance, "to_block": None})
            return
        if current is not None:
            if current.id is None:
                pending[-1]["to_block"] = block
            else:
                self.closes.append(
                    {"row_id": current.id, "balance": current.balance, "to_block": block}
                )
        pending.append(
            {
                "token": token,
                "holder": holder,
                "balance": balance,
                "from_block": block,
                "to_block": None,
            }
        )
        self.open[key] = _Open(None, balance, block)

    def flush(self) -> None:
        if self.closes:
            table = Holding.__table__
            assert isinstance(table, Table)
            self.session.connection().execute(
                table.update()
                .where(table.c.id == bindparam("row_id"))
                .values(balance=bindparam("balance"), to_block=bindparam("to_block")),
                self.closes,
            )
        rows = [row for pending in self.new_rows.values() for row in pending]
        if rows:
            self.session.connection().execute(insert(Holding.__table__), rows)  # type: ignore[arg-type]
