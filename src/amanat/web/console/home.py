"""Console sign-in and sign-out, the static files and the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from amanat.api.problems import status_of
from amanat.errors import AmanatError, NotFound
from amanat.services import access, accounts, approvals, tokens
from amanat.services.accounts import Principal, Role, Unauthenticated
from amanat.services.platform import Platform
from amanat.store.models import Institution
from amanat.web import session as sessions
from amanat.web.console.common import (
    WEB,
    Posted,
    Session,
    area_router,
    own_wallets,
    page,
    platform_of,
    record_audit,
    redirect,
)
from amanat.web.session import PREFIX

STATIC = {
    path.name: path
    for path in (WEB / "static").iterdir()
    if path.is_file() and path.suffix in (".css", ".svg")
}
MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

router = area_router()

# -------------------------------------------------------------------- sign-in


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    token = request.cookies.get(sessions.SESSION_COOKIE)
    if token:
        try:
            accounts.authenticate(platform_of(request).store, token)
            return redirect(sessions.safe_next(next))
        except Unauthenticated:
            pass
    return _login_page(request, next, None, 200)


def _login_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    nonce = request.cookies.get(sessions.LOGIN_COOKIE) or sessions.new_nonce()
    response = page(
        request,
        "login.html",
        status=status,
        next=sessions.safe_next(next_path),
        login_csrf=nonce,
        error=error,
    )
    sessions.set_login_nonce(response, request, nonce)
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    sessions.check_origin(request)
    expected = request.cookies.get(sessions.LOGIN_COOKIE)
    if not expected or not sessions.same(csrf, expected):
        return _login_page(
            request,
            next,
            "The sign-in form expired or did not come from this console; please try again.",
            403,
        )
    if not username or not password:
        return _login_page(request, next, "Enter your username and password.", 400)
    platform = platform_of(request)
    try:
        token, expires = accounts.sign_in(
            platform.store, username, password, sessions.source_of(request), request.url.path
        )
    except Unauthenticated:
        return _login_page(request, next, "Wrong username or password.", 401)
    except AmanatError as exc:  # throttled
        return _login_page(request, next, exc.message, status_of(exc))
    previous = request.cookies.get(sessions.SESSION_COOKIE)
    if previous:  # signing in again ends the session this browser had
        accounts.sign_out(platform.store, previous)
    response = redirect(sessions.safe_next(next))
    sessions.set_session(response, request, token, expires)
    return response


@router.post("/logout")
def logout(request: Request, console: Posted) -> Response:
    record_audit(console, request.url.path, 303, detail={"event": "sign-out"})
    accounts.sign_out(console.platform.store, console.token)
    response = redirect(sessions.LOGIN_PATH)
    sessions.clear_session(response, request)
    return response


# -------------------------------------------------------------------- static


@router.get("/static/{name}")
def static(name: str) -> Response:
    path = STATIC.get(name)
    if path is None:
        raise NotFound(f"no static file {name!r}")
    return Response(path.read_bytes(), media_type=MEDIA_TYPES[path.suffix])


# ----------------------------------------------------------------- dashboard


@router.get("")
def console_root() -> Response:
    return redirect(f"{PREFIX}/")


@router.get("/")
def dashboard(request: Request, console: Session) -> Response:
    platform = console.platform
    requests = approvals.list_requests(platform)
    by_status: dict[str, int] = {}
    for item in requests:
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    all_tokens = tokens.all_tokens(platform)
    positions = []
    if console.who.role is Role.INSTITUTION:
        for wallet in own_wallets(platform, console.who):
            for token in all_tokens:
                balance = token.read("balanceOf", wallet)
                if balance:
                    positions.append(
                        {
                            "symbol": token.read("symbol"),
                            "name": token.read("name"),
                            "wallet": wallet,
                            "balance": balance,
                        }
                    )
    counts = {
        "assets": platform.contract("AssetRegistry").read("assetCount"),
        "tokens": len(all_tokens),
        "institutions": platform.contract("IdentityRegistry").read("identityCount"),
        "pending": by_status.get("pending-approvals", 0),
        "waiting": by_status.get("waiting-timelock", 0),
        "executed": by_status.get("executed", 0),
    }
    return page(
        request,
        "dashboard.html",
        counts=counts,
        may_read_approvals=console.who.role in access.APPROVAL_READERS,
        positions=positions,
        block=platform.chain.block_number(),
        chain_time=platform.clock.chain_time(),
        institution=_institution_name(platform, console.who),
    )


def _institution_name(platform: Platform, who: Principal) -> str | None:
    if who.institution_id is None:
        return None
    with platform.store.session() as session:
        return session.scalar(
            select(Institution.legal_name).where(Institution.id == who.institution_id)
        )
