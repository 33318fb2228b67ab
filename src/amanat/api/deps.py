"""Request dependencies: the platform, the signed-in principal, role checks, idempotency."""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from amanat.api.guard import BODY_SHA256
from amanat.services import accounts, audit, idempotency
from amanat.services.accounts import Principal, Role, Unauthenticated
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform
from amanat.store.db import Store


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
    """Store a POST's result under its claimed idempotency key and audit it, committed before
    this returns.

    Concurrent POSTs of this process are group-committed: the first to arrive writes the
    results and audit entries of every request waiting at that moment in one transaction (each
    still its own idempotency record, its own hash-chained audit entry and its own log leaf), so
    that N concurrent writes take the audit trail's lock and commit once instead of N times. If
    that transaction fails, each request of the group is written again in a transaction of its
    own, so that no request's failure (a result that cannot be stored) affects another's."""
    with _groups_guard:
        group = _groups.setdefault(platform.store, _GroupCommit())
    group.run(_Remembered(platform, who, key, method_path, status, body, source, approval_ref))


@dataclass
class _Remembered:
    platform: Platform
    who: Principal
    key: str | None
    method_path: str
    status: int
    body: Any
    source: str
    approval_ref: str | None
    done: bool = False
    error: BaseException | None = None

    def write(self, session: Session) -> None:
        if self.key is not None:
            idempotency.complete(
                session, self.platform, self.who.username, self.key, self.status, self.body
            )
        method, path = self.method_path.split(" ", 1)
        audit.record(
            session,
            self.who.username,
            self.who.role.value,
            method,
            path,
            self.source,
            self.status,
            self.approval_ref,
            {"idempotency_key": self.key},
        )


class _GroupCommit:
    """Leader-follower group commit of `_Remembered` writes (see `remember`)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: list[_Remembered] = []
        self._writing = False

    def run(self, item: _Remembered) -> None:
        with self._changed:
            self._pending.append(item)
            while self._writing and not item.done:
                self._changed.wait()
            if not item.done:  # no one is writing: write everything pending, this one included
                self._writing = True
                group, self._pending = self._pending, []
        if not item.done:
            try:
                _write_group(group)
            finally:
                with self._changed:
                    for written in group:
                        written.done = True
                    self._writing = False
                    self._changed.notify_all()
        if item.error is not None:
            raise item.error


def _write_group(group: list[_Remembered]) -> None:
    """One transaction for the group; if it fails, one transaction per request."""
    store = group[0].platform.store
    if len(group) > 1:
        try:
            with store.session() as session, session.begin():
                for item in group:
                    item.write(session)
            return
        except Exception:  # noqa: BLE001 - written again one by one: each gets its own outcome
            pass
    for item in group:
        try:
            with store.session() as session, session.begin():
                item.write(session)
        except BaseException as error:  # noqa: BLE001 - raised in the request that owns it
            item.error = error


_groups: weakref.WeakKeyDictionary[Store, _GroupCommit] = weakref.WeakKeyDictionary()
_groups_guard = threading.Lock()
