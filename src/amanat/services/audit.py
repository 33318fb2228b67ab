"""The append-only audit trail of API actions, hash-chained so that a rewritten row is detectable.

Each entry's hash, action, resource and outcome (not the user or any detail) also goes into the
public transparency log in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, bindparam, insert, select, update
from sqlalchemy.orm import Session

from amanat.store import log
from amanat.store.models import AuditEntry, AuditState

GENESIS = "0" * 64


def _entry_hash(previous: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous + canonical).encode()).hexdigest()


def _hashed_fields(at: datetime, entry: Entry | AuditEntry, detail: Any) -> dict[str, Any]:
    """What an entry's hash covers (with its predecessor's hash), as it is hashed."""
    return {
        "at": at.isoformat(),
        "username": entry.username,
        "role": entry.role,
        "action": entry.action,
        "resource": entry.resource,
        "source": entry.source,
        "status": entry.status,
        "approval_ref": entry.approval_ref,
        "detail": detail,
    }


class Appended(NamedTuple):
    """An appended entry: its id and hash."""

    id: int
    entry_hash: str


@dataclass(frozen=True)
class Entry:
    """What one audit entry records: who, what, from where, with which outcome, under which
    approval; `public`: its hash and what was done also go into the transparency log."""

    username: str
    role: str
    action: str
    resource: str
    source: str
    status: int
    approval_ref: str | None = None
    detail: dict[str, Any] | None = None
    public: bool = True


def record(
    session: Session,
    username: str,
    role: str,
    action: str,
    resource: str,
    source: str,
    status: int,
    approval_ref: str | None = None,
    detail: dict[str, Any] | None = None,
    public: bool = True,
) -> Appended:
    """Append one entry in the caller's transaction (see `record_many`)."""
    entry = Entry(username, role, action, resource, source, status, approval_ref, detail, public)
    return record_many(session, [entry])[0]


def record_many(session: Session, entries: Sequence[Entry]) -> list[Appended]:
    """Append entries in the caller's transaction, each chained to the one before it.

    The append first adds their number to the one-row `audit_state` counter: concurrent appends
    from any writer (API, console, CLI, background jobs; threads or processes; SQLite or
    PostgreSQL) wait there until the holder commits, so each entry chains to the one committed
    before it. The rows are written with Core statements, all entries in one statement and all
    their public leaves in one append (an append is on every API write's path, and concurrent
    requests are recorded together: `amanat.services.results`)."""
    if not entries:
        return []
    connection = session.connection()
    connection.execute(_COUNT_MORE, {"added": len(entries)})
    previous = connection.scalar(_LAST_HASH) or GENESIS
    at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        fields = _hashed_fields(at, entry, entry.detail or {})
        entry_hash = _entry_hash(previous, fields)
        rows.append({**fields, "at": at, "previous_hash": previous, "entry_hash": entry_hash})
        previous = entry_hash
    if len(rows) == 1:
        ids = [connection.execute(_INSERT_ENTRY, rows[0]).scalar_one()]
    else:
        ids = list(connection.execute(_INSERT_ENTRIES, rows).scalars())
    appended = [Appended(i, row["entry_hash"]) for i, row in zip(ids, rows, strict=True)]
    # The public log gets the entry's hash and what was done, never who or any personal data.
    leaves = [
        (
            "audit",
            f"audit:{done.id}",
            {
                "type": "audit",
                "at": at.isoformat(),
                "role": entry.role,
                "action": entry.action,
                "resource": entry.resource,
                "status": entry.status,
                "approval_ref": entry.approval_ref,
                "entry_hash": done.entry_hash,
            },
        )
        for entry, done in zip(entries, appended, strict=True)
        if entry.public
    ]
    if leaves:
        log.append(session, leaves)
    return appended


# The statements of an append, built once (building and keying a statement per call cost an API
# write more CPU than executing it).
_COUNT_MORE = (
    update(AuditState)
    .where(AuditState.id == 1)
    .values(size=AuditState.size + bindparam("added", type_=Integer))
)
_LAST_HASH = select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT_ENTRY = insert(AuditEntry).returning(AuditEntry.id)
_INSERT_ENTRIES = insert(AuditEntry).returning(AuditEntry.id, sort_by_parameter_order=True)


def verify_chain(session: Session) -> list[int]:
    """Ids of entries whose hash does not follow from their content and predecessor."""
    broken = []
    previous = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        # PostgreSQL returns the session's time zone: compare in UTC, as the hash was taken.
        at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        fields = _hashed_fields(at, entry, entry.detail)
        if entry.previous_hash != previous or entry.entry_hash != _entry_hash(previous, fields):
            broken.append(entry.id)
        previous = entry.entry_hash
    return broken
