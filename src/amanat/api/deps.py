"""Request dependencies: the platform, the signed-in principal, role checks, idempotency."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from amanat.api.guard import BODY_SHA256
from amanat.services import accounts, audit, idempotency, results
from amanat.services.accounts import Principal, Role, Unauthenticated
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform


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


def reader(
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """Who reads a public route: None for the public; a bearer token must still be valid."""
    if credentials is None:
        return None
    return principal(platform, credentials)


ReaderDep = Annotated[Principal | None, Depends(reader)]


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


IDEMPOTENCY_KEY = "Idempotency-Key"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_KEY,
        min_length=1,
        max_length=128,
        pattern=r"^[!-~]+$",
        description=(
            "Visible ASCII, at most 128 characters. A replay of the same request returns the "
            "first result; the key with another request is refused (idempotency-key-reused)."
        ),
    ),
]


def fingerprint(request: Request, who: Principal) -> str:
    """SHA-256 of what makes a request the same request: method, route, principal and body."""
    body = getattr(request.state, BODY_SHA256, "")
    identity = f"{request.method} {request.url.path}\n{who.username}\n{body}"
    return hashlib.sha256(identity.encode()).hexdigest()


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
    """Store a POST's result under its claimed idempotency key and audit it, in one
    transaction (shared with concurrent requests': `amanat.services.results`)."""
    method, path = method_path.split(" ", 1)
    results.record(
        platform,
        results.Outcome(
            None
            if key is None
            else idempotency.completion(platform, who.username, key, status, body),
            audit.Entry(
                who.username,
                who.role.value,
                method,
                path,
                source,
                status,
                approval_ref,
                {"idempotency_key": key},
            ),
        ),
    )
