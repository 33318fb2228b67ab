"""Request dependencies: the platform, the signed-in principal, role checks, idempotency."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from amanat.api.guard import BODY_SHA256
from amanat.errors import RuleViolation
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
        description=(
            "Visible ASCII, at most 128 characters. A replay of the same request returns the "
            "first result; the key with another request is refused (idempotency-key-reused)."
        ),
    ),
]


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


def fingerprint(request: Request, who: Principal) -> str:
    """SHA-256 of what makes a request the same request: method, route, principal and body."""
    body = getattr(request.state, BODY_SHA256, "")
    identity = f"{request.method} {request.url.path}\n{who.username}\n{body}"
    return hashlib.sha256(identity.encode()).hexdigest()


def replay(
    platform: Platform, who: Principal, key: str | None, method_path: str, request_sha256: str
) -> Any | None:
    """The stored result of an earlier request with this key, if any; the same key with
    another request is refused."""
    if key is None:
        return None
    with platform.store.session() as session:
        record = session.get(IdempotencyRecord, (key, who.username))
        if record is None:
            return None
        # A record stored before fingerprints were kept ("") is matched by method and route.
        reused = record.fingerprint not in ("", request_sha256)
        if record.method_path != method_path or reused:
            raise IdempotencyKeyReused(key, record.method_path)
        return _open_result(platform, record.body)


def require_data_key(platform: Platform) -> None:
    """Refuse (before anything is done) when results cannot be sealed: no data key."""
    platform.cipher.seal({})


def _sealed_result(platform: Platform, body: Any) -> str:
    """A stored result, encrypted with the data key: results can carry what must stay secret
    (a sealed bid's units, yield and salt until it is revealed)."""
    plain = json.loads(json.dumps(body, default=str))
    return platform.cipher.seal({"result": plain}).decode()


def _open_result(platform: Platform, stored: str) -> Any:
    if stored.startswith(("{", "[")):  # stored before results were encrypted
        return json.loads(stored)
    return platform.cipher.open(stored.encode())["result"]


def remember(
    platform: Platform,
    who: Principal,
    key: str | None,
    method_path: str,
    request_sha256: str,
    status: int,
    body: Any,
    source: str,
    approval_ref: str | None = None,
) -> None:
    """Store a POST's result under its idempotency key and audit it, in one transaction."""
    with platform.store.session() as session, session.begin():
        if key is not None and session.get(IdempotencyRecord, (key, who.username)) is None:
            session.add(
                IdempotencyRecord(
                    key=key,
                    username=who.username,
                    method_path=method_path,
                    fingerprint=request_sha256,
                    status=status,
                    body=_sealed_result(platform, body),
                    at=platform.clock.wall_time(),
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
