"""Request dependencies: the platform, the signed-in principal, role checks, idempotency."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from amanat.errors import InvalidInput
from amanat.services import accounts, audit
from amanat.services.accounts import Principal, Role, Unauthenticated
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform
from amanat.store.models import IdempotencyRecord


def platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(platform)]


# Declares the bearer scheme in the OpenAPI; the check itself (and its 401) is `principal`'s.
_bearer = HTTPBearer(auto_error=False, description="A token from POST /auth/token")


def principal(
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise Unauthenticated("sign in: send Authorization: Bearer <token> from POST /auth/token")
    return accounts.authenticate(platform.store, credentials.credentials.strip())


PrincipalDep = Annotated[Principal, Depends(principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (403 otherwise)."""

    def check(who: PrincipalDep) -> Principal:
        if who.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(
                f"a {who.role.value} may not do this (allowed: {allowed})", role=who.role.value
            )
        return who

    return check


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[!-~]+$",
        description="Visible ASCII, at most 128 characters. Replays return the first result.",
    ),
]

# Appends to the hash-chained audit trail are serialised within the process (the database
# serialises them across processes: see audit.record).
AUDIT_LOCK = threading.Lock()


def replay(platform: Platform, who: Principal, key: str | None, method_path: str) -> Any | None:
    """The stored result of an earlier request with this key, if any."""
    if key is None:
        return None
    with platform.store.session() as session:
        record = session.get(IdempotencyRecord, (key, who.username))
        if record is None:
            return None
        if record.method_path != method_path:
            raise InvalidInput(f"idempotency key {key!r} was used for {record.method_path}")
        return json.loads(record.body)


def remember(
    platform: Platform,
    who: Principal,
    key: str | None,
    method_path: str,
    status: int,
    body: Any,
    source: str,
    approval_ref: str | None = None,
) -> None:
    """Store a POST's result under its idempotency key and audit it, in one transaction."""
    with AUDIT_LOCK, platform.store.session() as session, session.begin():
        if key is not None and session.get(IdempotencyRecord, (key, who.username)) is None:
            session.add(
                IdempotencyRecord(
                    key=key,
                    username=who.username,
                    method_path=method_path,
                    status=status,
                    body=json.dumps(body, default=str),
                    at=datetime.now(UTC),
                )
            )
        audit.record(
            session,
            who.username,
            who.role.value,
            method_path.split(" ")[0],
            method_path.split(" ", 1)[1],
            source,
            status,
            approval_ref,
            {"idempotency_key": key},
        )
