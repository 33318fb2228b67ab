"""Users, roles, password sign-in (argon2), bearer tokens with expiry, and login throttling."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import func, select

from amanat.errors import AmanatError, InvalidInput, NotFound
from amanat.store.db import Store
from amanat.store.models import AccessToken, LoginAttempt, User

TOKEN_LIFETIME = timedelta(hours=8)
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_FAILURES = 5
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


def sign_in(store: Store, username: str, password: str, source: str) -> tuple[str, datetime]:
    """A bearer token and its expiry; refuses after too many recent failures."""
    with store.session() as session, session.begin():
        since = _now() - THROTTLE_WINDOW
        failures = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.username == username,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.at >= since,
            )
        )
        if failures is not None and failures >= THROTTLE_FAILURES:
            raise Throttled(
                f"too many failed sign-ins for {username!r}: {failures} in the last "
                f"{THROTTLE_WINDOW.seconds // 60} minutes; try again later"
            )
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        ok = False
        if user is not None:
            try:
                ok = _hasher.verify(user.password_hash, password)
            except (VerifyMismatchError, InvalidHashError):
                ok = False
        session.add(LoginAttempt(username=username, source=source, at=_now(), succeeded=ok))
        token = secrets.token_urlsafe(32)
        expires = _now() + TOKEN_LIFETIME
        if ok and user is not None:
            session.add(AccessToken(token_hash=_digest(token), user_id=user.id, expires_at=expires))
    # Refused only after the transaction commits: the failed attempt must count for throttling.
    if not ok:
        raise Unauthenticated("wrong username or password")
    return token, expires


def authenticate(store: Store, token: str) -> Principal:
    with store.session() as session:
        row = session.execute(
            select(AccessToken, User)
            .join(User, User.id == AccessToken.user_id)
            .where(AccessToken.token_hash == _digest(token))
        ).first()
        if row is None:
            raise Unauthenticated("unknown bearer token")
        access, user = row
        if _aware(access.expires_at) <= _now():
            raise Unauthenticated("bearer token expired; sign in again")
        if not user.active:
            raise Unauthenticated("user is deactivated")
        return Principal(
            user.id, user.username, Role(user.role), user.key_name, user.institution_id
        )


def sign_out(store: Store, token: str) -> None:
    with store.session() as session, session.begin():
        access = session.get(AccessToken, _digest(token))
        if access is not None:
            session.delete(access)


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
