"""Claims: a unique value held by one request while it is under way, across threads and
processes (SQLite and PostgreSQL alike), by a row inserted before the work and deleted after.

Of requests claiming the same value at once, the database's uniqueness lets exactly one insert
its row; the others are refused at once. A claim left by a process that died is taken over once
it is older than `STALE`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, or_
from sqlalchemy.exc import IntegrityError

from amanat.store.db import Store
from amanat.store.models import Claim

STALE = timedelta(minutes=10)


class Taken(Exception):
    """Another request holds one of the values."""


@contextmanager
def holding(store: Store, values: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Hold every (kind, value) for the duration of the block, or raise `Taken`."""
    now = datetime.now(UTC)
    these = or_(*(and_(Claim.kind == kind, Claim.value == value) for kind, value in values))
    try:
        with store.session() as session, session.begin():
            session.execute(delete(Claim).where(these, Claim.at < now - STALE))
            session.add_all(Claim(kind=kind, value=value, at=now) for kind, value in values)
    except IntegrityError:
        raise Taken from None
    try:
        yield
    finally:
        with store.session() as session, session.begin():
            session.execute(delete(Claim).where(these, Claim.at == now))
