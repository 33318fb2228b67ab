"""Idempotency keys: a request runs once per (user, key), across threads and API processes.

The key is claimed before the work by inserting its record as pending: the database's
uniqueness lets exactly one of the requests racing for a key (in any process, SQLite or
PostgreSQL) insert it and run. The others wait for its result and return it as a replay; the
key with another request (method, route, principal, body) is refused as
`idempotency-key-reused`. A refused request gives its claim back, so it may be retried; a claim
left pending by a process that died is taken over after `STALE`. Results are stored encrypted
with the data key (they can hold a sealed bid before it is revealed).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from amanat.errors import Conflict, RuleViolation
from amanat.services.platform import Platform
from amanat.store.models import IdempotencyRecord

Completion = dict[str, Any]  # a result's bound values for `_COMPLETE`

CLAIMS_ORDER = 0  # before the results (`results.RESULTS_ORDER`) in a group's transaction
PENDING = 0  # the status of a claimed key whose request is under way
STALE = timedelta(minutes=10)  # a pending claim this old was left by a process that died
WAIT_SECONDS = 120.0  # how long a replay waits for the first request's result
POLL_SECONDS = 0.02


class IdempotencyKeyReused(RuleViolation):
    """An idempotency key sent again with another request than the one it first answered."""

    def __init__(self, key: str, first: str) -> None:
        super().__init__(
            "idempotency-key-reused",
            f"idempotency key {key!r} was first used for another request ({first}); "
            "a key names one request: send a new key for a new request",
            key=key,
            first_request=first,
        )


class KeyInProgress(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(
            "idempotency-key-in-progress",
            f"the request with idempotency key {key!r} is still under way; retry later for its "
            "result",
            key=key,
        )


def require_data_key(platform: Platform) -> None:
    """Refuse (before anything is done) when results cannot be sealed: no data key."""
    platform.cipher.seal({})


def claim(
    platform: Platform, username: str, key: str, method_path: str, fingerprint: str
) -> Any | None:
    """Claim `key` for this request: None when it is ours to run (then `complete` it in the
    transaction that records its result, or `release` it on refusal); otherwise the first
    request's result, waited for while it is under way."""
    deadline = time.monotonic() + WAIT_SECONDS
    first = True
    while True:
        now = datetime.now(UTC)
        row = {
            "key": key,
            "username": username,
            "method_path": method_path,
            "fingerprint": fingerprint,
            "status": PENDING,
            "body": "",
            "at": now,
        }
        try:
            if first:  # with concurrent requests' claims and results
                platform.store.group.commit(_insert_claims, row, order=CLAIMS_ORDER)
            else:  # waiting for a key under way: tried alone, never failing others' group
                with platform.store.session() as session, session.begin():
                    _insert_claims(session, [row])
            return None
        except IntegrityError:
            first = False
        with platform.store.session() as session:
            record = session.get(IdempotencyRecord, (key, username))
            if record is None:
                continue  # given back meanwhile: claim it again
            # A record stored before fingerprints were kept ("") is matched by method and route.
            reused = record.fingerprint not in ("", fingerprint)
            if record.method_path != method_path or reused:
                raise IdempotencyKeyReused(key, record.method_path)
            if record.status != PENDING:
                return _open_result(platform, record.body)
        with platform.store.session() as session, session.begin():
            session.connection().execute(
                _TAKE_OVER_STALE,
                {"claimed_key": key, "claimed_by": username, "stale_before": now - STALE},
            )
        if time.monotonic() > deadline:
            raise KeyInProgress(key)
        time.sleep(POLL_SECONDS)


def _insert_claims(session: Session, claims: list[dict[str, Any]]) -> None:
    """Insert claims (`amanat.store.group`): a key already claimed fails the group's insert;
    each claim is then inserted alone and only that one fails."""
    session.connection().execute(_CLAIM, claims)


def completion(platform: Platform, username: str, key: str, status: int, body: Any) -> Completion:
    """The claimed key's result, sealed, ready for `complete_many` (sealing is done here, before
    any transaction: it raises for a result that cannot be stored)."""
    return {
        "claimed_key": key,
        "claimed_by": username,
        "result_status": status,
        "result_body": _sealed_result(platform, body),
        "result_at": datetime.now(UTC),
    }


def complete_many(session: Session, completions: list[Completion]) -> None:
    """Store claimed keys' results, in the caller's transaction, in one statement."""
    if completions:
        session.connection().execute(_COMPLETE, completions)


def release(platform: Platform, username: str, key: str) -> None:
    """Give back a claim whose request was refused or failed: it may be retried."""
    with platform.store.session() as session, session.begin():
        session.connection().execute(_RELEASE, {"claimed_key": key, "claimed_by": username})


# The statements of every POST with a key, built once (building and keying them per request cost
# more CPU than executing them). The names of the bound values differ from the columns': an
# UPDATE reserves a column's name for the value it sets.
_CLAIMED = (
    IdempotencyRecord.key == bindparam("claimed_key"),
    IdempotencyRecord.username == bindparam("claimed_by"),
    IdempotencyRecord.status == PENDING,
)
_CLAIM = insert(IdempotencyRecord)
_COMPLETE = (
    update(IdempotencyRecord)
    .where(*_CLAIMED)
    .values(
        status=bindparam("result_status"),
        body=bindparam("result_body"),
        at=bindparam("result_at"),
    )
)
_RELEASE = delete(IdempotencyRecord).where(*_CLAIMED)
_TAKE_OVER_STALE = delete(IdempotencyRecord).where(
    *_CLAIMED, IdempotencyRecord.at < bindparam("stale_before")
)


def _sealed_result(platform: Platform, body: Any) -> str:
    """A stored result, encrypted with the data key: results can carry what must stay secret
    (a sealed bid's units, yield and salt until it is revealed)."""
    plain = json.loads(json.dumps(body, default=str))
    return platform.cipher.seal({"result": plain}).decode()


def _open_result(platform: Platform, stored: str) -> Any:
    if stored.startswith(("{", "[")):  # stored before results were encrypted
        return json.loads(stored)
    return platform.cipher.open(stored.encode())["result"]
