"""Console sessions: the bearer token in an HttpOnly cookie, CSRF tokens, response hardening.

The session cookie holds the bearer token that `accounts.sign_in` issued, so the console and the
API share one notion of a signed-in user (expiry, sign-out, deactivation). Every form carries a
CSRF token derived from the session token (HMAC), so it is per session, needs no server-side
state and cannot be computed without the HttpOnly cookie. The sign-in form, which has no session
yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from amanat.services.accounts import Principal, Role
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform

PREFIX = "/console"
SESSION_COOKIE = "amanat_console"
LOGIN_COOKIE = "amanat_console_login"
LOGIN_PATH = f"{PREFIX}/login"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class LoginRequired(Exception):
    """No valid session: the wrapper redirects to the sign-in page, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"amanat-console-csrf", hashlib.sha256).hexdigest()


def same(submitted: Any, expected: str) -> bool:
    return isinstance(submitted, str) and hmac.compare_digest(submitted, expected)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Console:
    """The signed-in user of one console request."""

    request: Request
    platform: Platform
    who: Principal
    token: str

    @property
    def csrf(self) -> str:
        return csrf_for(self.token)

    @property
    def source(self) -> str:
        return source_of(self.request)

    def require(self, *roles: Role, what: str) -> None:
        """403 unless the user has one of `roles`."""
        if self.who.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(
                f"{a(self.who.role)} may not {what} (allowed: {allowed})",
                role=self.who.role.value,
            )

    def refuse(self, *roles: Role, what: str) -> None:
        """403 if the user has one of `roles`."""
        if self.who.role in roles:
            raise Forbidden(f"{a(self.who.role)} may not {what}", role=self.who.role.value)


def a(role: Role) -> str:
    """'an issuer', 'a registrar'."""
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def source_of(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def check_origin(request: Request) -> None:
    """Refuse a form posted from another origin (a second line behind the CSRF token)."""
    origin = request.headers.get("origin")
    if origin is None:  # not sent by every client; the CSRF token still applies
        return
    # Hosts are compared, not schemes: behind a TLS-terminating proxy the server sees http.
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise Forbidden(
            f"this form was sent from {origin[:100]}, not from the console ({host[:100]})",
            origin=origin[:100],
        )


def safe_next(path: str | None) -> str:
    """A post-sign-in destination inside the console (never another site)."""
    if (
        path
        and path.startswith(PREFIX)
        and not path.startswith("//")
        and "\\" not in path
        and "//" not in path
        and not path.startswith(LOGIN_PATH)
    ):
        return path
    return f"{PREFIX}/"


def set_session(response: Response, request: Request, token: str, expires: datetime) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def set_login_nonce(response: Response, request: Request, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def harden(response: Response, cacheable: bool = False) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "public, max-age=3600" if cacheable else "no-store")
    return response
