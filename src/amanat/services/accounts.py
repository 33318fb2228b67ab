"""Users, roles, password sign-in (argon2), bearer tokens with expiry, and login throttling."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import Connection, Select, bindparam, case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from amanat.errors import AmanatError, InvalidInput, NotFound
from amanat.services import audit
from amanat.store.db import Store
from amanat.store.models import AccessToken, LoginAttempt, SignInThrottle, User

TOKEN_LIFETIME = timedelta(hours=8)
# Failed sign-ins are counted per (username, address), per address and per username (from any
# address) within a quiet window; past a limit the attempts it counts wait BACKOFF_FIRST, doubling
# per further failure, at most the window. The per-user limit stops guesses spread over many
# addresses; it is higher than the per-address one, so one address alone cannot reach it.
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_FAILURES = 5
ADDRESS_FAILURES = 50
USER_FAILURES = 20
BACKOFF_FIRST = timedelta(seconds=30)
ANY_USER = "*"  # the username of an address's own row (never a valid username)
ANY_ADDRESS = "*"  # the address of a username's own row (never a client address)
_hasher = PasswordHasher()


class Role(StrEnum):
    ISSUER = "issuer"
    APPROVER = "approver"
    REGISTRAR = "registrar"
    VALUER = "valuer"
    AGENT = "agent"
    AUDITOR = "auditor"
    REGULATOR = "regulator"
    INSTITUTION = "institution"


class Unauthenticated(AmanatError):
    rule = "unauthenticated"
    exit_code = 4


class Throttled(AmanatError):
    rule = "throttled"
    exit_code = 4


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the services see it."""

    user_id: int
    username: str
    role: Role
    key_name: str | None
    institution_id: int | None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create_user(
    store: Store,
    username: str,
    password: str,
    role: Role,
    key_name: str | None = None,
    institution_id: int | None = None,
) -> int:
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise InvalidInput(f"username {username!r} must be 1..64 letters, digits, '.', '-' or '_'")
    if len(password) < 10:
        raise InvalidInput("password must be at least 10 characters")
    if role is Role.INSTITUTION and institution_id is None:
        raise InvalidInput("an institution user must belong to an institution")
    with store.session() as session, session.begin():
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise InvalidInput(f"user {username!r} already exists")
        user = User(
            username=username,
            password_hash=_hasher.hash(password),
            role=role.value,
            key_name=key_name,
            institution_id=institution_id,
            active=True,
            created_at=_now(),
        )
        session.add(user)
        session.flush()
        return user.id


def sign_in(
    store: Store, username: str, password: str, source: str, resource: str = "/auth/token"
) -> tuple[str, datetime]:
    """A bearer token and its expiry, for the right password from an address not backing off.

    Each attempt is counted before the password is checked, atomically per (username, address)
    and per address, so concurrent guesses cannot overrun the limit; past it the address waits a
    back-off that doubles per failure. A wrong password from one address never locks the user out
    from another. Unknown users cost the same password check as known ones. The trail records
    each counted attempt (a throttled one is not recorded: the limit bounds the trail), and a
    failed sign-in stays out of the public transparency log."""
    _count_attempt(store, username, source)
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        stored_hash = user.password_hash if user is not None else _unknown_user_hash()
        active_user = user if user is not None and user.active else None
    try:
        ok = _hasher.verify(stored_hash, password) and active_user is not None
    except (VerifyMismatchError, InvalidHashError):
        ok = False
    token = secrets.token_urlsafe(32)
    expires = _now() + TOKEN_LIFETIME
    with store.session() as session, session.begin():
        session.add(LoginAttempt(username=username[:64], source=source, at=_now(), succeeded=ok))
        if ok and active_user is not None:
            _forgive(session, username, source)
            session.add(
                AccessToken(token_hash=_digest(token), user_id=active_user.id, expires_at=expires)
            )
        audit.record(
            session,
            username[:64],
            active_user.role if ok and active_user is not None else "-",
            "POST",
            resource,
            source,
            200 if ok else 401,
            detail={"event": "sign-in"},
            public=ok,
        )
    if not ok:
        raise Unauthenticated("wrong username or password")
    return token, expires


def _unknown_user_hash() -> str:
    """A hash of a random password made by the current hasher, so that an unknown username costs
    the same check as a known one (no enumeration by timing)."""
    cached = _UNKNOWN_USER_HASHES.get(id(_hasher))
    if cached is None:
        cached = _hasher.hash(secrets.token_urlsafe(16))
        _UNKNOWN_USER_HASHES[id(_hasher)] = cached
    return cached


_UNKNOWN_USER_HASHES: dict[int, str] = {}


def _backoff(failures: int, limit: int) -> timedelta:
    """The wait after the `failures`-th counted failure: none below the limit, then doubling."""
    if failures < limit:
        return timedelta(0)
    return min(BACKOFF_FIRST * 2 ** (failures - limit), THROTTLE_WINDOW)


def _count_attempt(store: Store, username: str, source: str) -> None:
    """Count one attempt for (username, address), for the address and for the username, in one
    transaction that holds the three rows; refuse (and count nothing) while any is backing off.
    A success is forgiven afterwards (`_forgive`)."""
    now = _now()
    name = username[:64]
    counters = (
        (name, source, THROTTLE_FAILURES, f"{username!r} from {source}"),
        (ANY_USER, source, ADDRESS_FAILURES, source),
        (name, ANY_ADDRESS, USER_FAILURES, f"{username!r} from any address"),
    )
    with store.session() as session, session.begin():
        for who, where, limit, scope in counters:
            row = _increment(session, who, where, now)
            blocked_until = row.blocked_until and _aware(row.blocked_until)
            if blocked_until and blocked_until > now:  # the transaction rolls back: not counted
                wait = max(1, int((blocked_until - now).total_seconds() + 0.999))
                raise Throttled(
                    f"too many failed sign-ins for {scope}; try again in {wait} seconds",
                    retry_after=wait,
                )
            backoff = _backoff(row.failures, limit)
            row.blocked_until = now + backoff if backoff else None


def _increment(session: Session, username: str, source: str, now: datetime) -> SignInThrottle:
    """The throttle row with one more failure (restarting after a quiet window), locked until
    the transaction ends: the increment is one statement, so concurrent attempts queue on it."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    stale = SignInThrottle.last_failure < now - THROTTLE_WINDOW
    statement = insert(SignInThrottle).values(
        username=username, source=source, failures=1, last_failure=now, blocked_until=None
    )
    statement = statement.on_conflict_do_update(
        index_elements=["username", "source"],
        set_={
            "failures": case((stale, 1), else_=SignInThrottle.failures + 1),
            "last_failure": now,
            "blocked_until": case((stale, None), else_=SignInThrottle.blocked_until),
        },
    )
    session.execute(statement)
    row = session.get(SignInThrottle, (username, source), populate_existing=True)
    assert row is not None
    return row


def _forgive(session: Session, username: str, source: str) -> None:
    """A right password clears the user's count from this address and takes back its attempt
    from the address's count and from the user's count from any address."""
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.username == username[:64], SignInThrottle.source == source
        )
    )
    for who, where in ((ANY_USER, source), (username[:64], ANY_ADDRESS)):
        session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.username == who, SignInThrottle.source == where)
            .values(failures=SignInThrottle.failures - 1)
        )


# A bearer token's expiry and its user, by the token's SHA-256.
_TOKEN_QUERY = (
    select(
        AccessToken.expires_at,
        User.id,
        User.username,
        User.role,
        User.key_name,
        User.institution_id,
        User.active,
    )
    .join(User, User.id == AccessToken.user_id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


def authenticate(store: Store, token: str, connection: Connection | None = None) -> Principal:
    """The principal of a live bearer token, checked against the database on every call (a
    signed-out token or a deactivated user is refused at once). One Core query, no ORM unit of
    work: it is on every authenticated request's path. `connection`: reuse one already open."""
    if connection is None:
        with store.engine.connect() as opened:
            return authenticate(store, token, opened)
    return principal_of(connection.execute(_TOKEN_QUERY, token_check_parameters(token)).first())


def token_check_reading(column: ColumnElement[Any]) -> Select[Any]:
    """The bearer check's statement reading `column` too (an uncorrelated scalar subquery, its
    value last in the row): the check and that read in one round trip and one snapshot. Build it
    once; run it with `token_check_parameters` and give its row to `principal_of`."""
    return _TOKEN_QUERY.add_columns(column)


def token_check_parameters(token: str) -> dict[str, str]:
    """The bound values of the bearer check's statement for `token` (only its digest is stored)."""
    return {"token_hash": _digest(token)}


def principal_of(row: Sequence[Any] | None) -> Principal:
    """The principal of the bearer check's row (None: no such token), checked as `authenticate`
    checks it: Unauthenticated if the token expired or its user is deactivated."""
    if row is None:
        raise Unauthenticated("unknown bearer token")
    expires_at, user_id, username, role, key_name, institution_id, active = row[:7]
    if _aware(expires_at) <= _now():
        raise Unauthenticated("bearer token expired; sign in again")
    if not active:
        raise Unauthenticated("user is deactivated")
    return Principal(user_id, username, Role(role), key_name, institution_id)


def sign_out(store: Store, token: str) -> None:
    with store.session() as session, session.begin():
        access = session.get(AccessToken, _digest(token))
        if access is not None:
            session.delete(access)


def revoke(store: Store, who: Principal, token: str, source: str, resource: str) -> None:
    """End one of `who`'s own bearer tokens (another user's token is left alone, and the answer
    is the same either way, so it tells nothing about other users' tokens); audited."""
    with store.session() as session, session.begin():
        ended = session.execute(
            delete(AccessToken).where(
                AccessToken.token_hash == _digest(token), AccessToken.user_id == who.user_id
            )
        )
        audit.record(
            session,
            who.username,
            who.role.value,
            "POST",
            resource,
            source,
            204,
            detail={"event": "sign-out", "ended": bool(ended.rowcount)},  # type: ignore[attr-defined]
        )


def get_user(store: Store, username: str) -> Principal:
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        return Principal(
            user.id, user.username, Role(user.role), user.key_name, user.institution_id
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
