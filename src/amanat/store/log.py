"""Appending to the transparency log, in the caller's database transaction.

An entry exists exactly when what it records was committed (the indexer's batch of chain events,
an audit-trail append). Indexes come from the one-row `log_state` counter, incremented before
anything else is read: concurrent appends (threads or processes, SQLite or PostgreSQL) wait for
each other there, so indexes follow commit order with no gap and no duplicate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.orm import Session

from amanat.domain import merkle
from amanat.domain.transparency import canonical_json
from amanat.store.models import LogEntry, LogState


def append(session: Session, items: list[tuple[str, str, dict[str, Any]]]) -> int:
    """Append (kind, source reference, JSON payload) entries; the payload becomes the leaf as
    canonical JSON. Returns the index of the first. Core statements: an append is on every
    API write's path (its audit entry)."""
    if not items:
        return size(session)
    leaves = [canonical_json(payload) for _kind, _source, payload in items]
    connection = session.connection()
    connection.execute(_GROW, {"added": len(items)})
    first = int(connection.scalar(_SIZE) or 0) - len(items)
    now = datetime.now(UTC)
    connection.execute(
        _INSERT_ENTRY,
        [
            {
                "index": first + i,
                "kind": kind,
                "source": source[:200],
                "leaf": leaf,
                "leaf_hash": merkle.leaf_hash(leaf),
                "created_at": now,
            }
            for i, ((kind, source, _payload), leaf) in enumerate(zip(items, leaves, strict=True))
        ],
    )
    return first


# The statements of an append, built once (it is on every API write's path).
_GROW = (
    update(LogState)
    .where(LogState.id == 1)
    .values(size=LogState.size + bindparam("added", type_=Integer))
)
_SIZE = select(LogState.size).where(LogState.id == 1)
_INSERT_ENTRY = insert(LogEntry)


def size(session: Session) -> int:
    """The number of entries committed (and appended by this transaction)."""
    return int(session.scalar(_SIZE) or 0)
