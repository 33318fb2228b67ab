"""A write request's outcome on record before its reply: its result under its idempotency key,
its audit entry and the entry's public leaf, in one transaction.

Concurrent requests of one process are recorded together (`amanat.store.group`, with their
idempotency claims): one statement for their results, one for their audit entries (each chained
to the one before it) and one for their leaves. Each request keeps its own result, entry and
leaf, and returns only once they are committed; a value the database refuses fails only its own
request (the group's items are then written alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from amanat.services import audit, idempotency

if TYPE_CHECKING:
    from amanat.services.platform import Platform

RESULTS_ORDER = 1  # after the claims (`idempotency.CLAIMS_ORDER`) in a group's transaction


@dataclass(frozen=True)
class Outcome:
    """One request's record: its idempotency result (None: sent without a key) and audit entry."""

    completion: idempotency.Completion | None
    entry: audit.Entry


def record(platform: Platform, outcome: Outcome) -> None:
    """Commit a request's outcome, in a group with those of the concurrent requests."""
    platform.store.group.commit(_write, outcome, order=RESULTS_ORDER)


def _write(session: Session, outcomes: list[Outcome]) -> None:
    idempotency.complete_many(session, [o.completion for o in outcomes if o.completion is not None])
    audit.record_many(session, [o.entry for o in outcomes])
