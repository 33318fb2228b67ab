"""The append-only audit trail of API actions, hash-chained so that a rewritten row is detectable.

Each entry's hash, action, resource and outcome (not the user or any detail) also goes into the
public transparency log in the same transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from amanat.store import log
from amanat.store.models import AuditEntry, AuditState

GENESIS = "0" * 64


def _entry_hash(previous: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous + canonical).encode()).hexdigest()


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
) -> AuditEntry:
    """Append one entry in the caller's transaction.

    The append first increments the one-row `audit_state` counter: concurrent appends from any
    writer (API, console, CLI, background jobs; threads or processes; SQLite or PostgreSQL) wait
    there until the holder commits, so each entry chains to the one committed before it."""
    session.execute(update(AuditState).where(AuditState.id == 1).values(size=AuditState.size + 1))
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    previous = last.entry_hash if last else GENESIS
    at = datetime.now(UTC)
    fields = {
        "at": at.isoformat(),
        "username": username,
        "role": role,
        "action": action,
        "resource": resource,
        "source": source,
        "status": status,
        "approval_ref": approval_ref,
        "detail": detail or {},
    }
    entry = AuditEntry(
        at=at,
        username=username,
        role=role,
        action=action,
        resource=resource,
        source=source,
        status=status,
        approval_ref=approval_ref,
        detail=detail or {},
        previous_hash=previous,
        entry_hash=_entry_hash(previous, fields),
    )
    session.add(entry)
    session.flush()
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
                    "at": fields["at"],
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
