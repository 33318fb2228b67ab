"""The append-only audit trail of API actions, hash-chained so that a rewritten row is detectable.

Each entry's hash, action, resource and outcome (not the user or any detail) also goes into the
public transparency log in the same transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from amanat.store import log
from amanat.store.models import AuditEntry, AuditState

GENESIS = "0" * 64


def _entry_hash(previous: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous + canonical).encode()).hexdigest()


class Appended(NamedTuple):
    """An appended entry: its id and hash."""

    id: int
    entry_hash: str


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
    """Append one entry in the caller's transaction.

    The append first increments the one-row `audit_state` counter: concurrent appends from any
    writer (API, console, CLI, background jobs; threads or processes; SQLite or PostgreSQL) wait
    there until the holder commits, so each entry chains to the one committed before it. The
    rows are written with Core statements (an append is on every API write's path)."""
    connection = session.connection()
    connection.execute(_COUNT_ONE_MORE)
    previous = connection.scalar(_LAST_HASH) or GENESIS
    at = datetime.now(UTC)
    values = {
        "at": at,
        "username": username,
        "role": role,
        "action": action,
        "resource": resource,
        "source": source,
        "status": status,
        "approval_ref": approval_ref,
        "detail": detail or {},
    }
    entry_hash = _entry_hash(previous, {**values, "at": at.isoformat()})
    entry_id = connection.execute(
        _INSERT_ENTRY,
        {**values, "previous_hash": previous, "entry_hash": entry_hash},
    ).scalar_one()
    entry = Appended(entry_id, entry_hash)
    if not public:
        return entry
    # The public log gets the entry's hash and what was done, never who or any personal data.
    log.append(
        session,
        [
            (
                "audit",
                f"audit:{entry.id}",
                {
                    "type": "audit",
                    "at": at.isoformat(),
                    "role": role,
                    "action": action,
                    "resource": resource,
                    "status": status,
                    "approval_ref": approval_ref,
                    "entry_hash": entry.entry_hash,
                },
            )
        ],
    )
    return entry


# The statements of an append, built once (building and keying a statement per call cost an API
# write more CPU than executing it).
_COUNT_ONE_MORE = update(AuditState).where(AuditState.id == 1).values(size=AuditState.size + 1)
_LAST_HASH = select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT_ENTRY = insert(AuditEntry).returning(AuditEntry.id)


def verify_chain(session: Session) -> list[int]:
    """Ids of entries whose hash does not follow from their content and predecessor."""
    broken = []
    previous = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        # PostgreSQL returns the session's time zone: compare in UTC, as the hash was taken.
        at = entry.at.astimezone(UTC) if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        fields = {
            "at": at.isoformat(),
            "username": entry.username,
            "role": entry.role,
            "action": entry.action,
            "resource": entry.resource,
            "source": entry.source,
            "status": entry.status,
            "approval_ref": entry.approval_ref,
            "detail": entry.detail,
        }
        if entry.previous_hash != previous or entry.entry_hash != _entry_hash(previous, fields):
            broken.append(entry.id)
        previous = entry.entry_hash
    return broken
