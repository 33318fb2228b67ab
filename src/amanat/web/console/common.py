"""What every console page shares: the templates and their filters, the navigation, the page and
error renderers, the route class that turns every failure into a page, the session and CSRF
dependencies, the audited write, and the few lookups several areas use (own wallets, stored
documents, the form options)."""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from amanat.api.problems import status_of
from amanat.domain.money import format_pkr
from amanat.errors import AmanatError, RuleViolation
from amanat.services import access, accounts, audit, distributions, inputs, tokens
from amanat.services.accounts import Principal, Role, Unauthenticated
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform
from amanat.store.models import Document, Institution, Wallet
from amanat.web import session as sessions
from amanat.web.session import PREFIX, Console, LoginRequired

log = logging.getLogger("amanat.web")

# The web package's folder: the console's templates and static files.
WEB = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=WEB / "templates")

# Console users change state one at a time (chain transactions are serialised anyway; this also
# keeps two approvers' clicks on one request from racing in the maker-checker bookkeeping).
_writes = threading.Lock()

HASH = re.compile(r"^0x[0-9a-f]{64}$")


# ------------------------------------------------------------------ templates


def _utc(timestamp: int | None) -> str:
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(text: str | None) -> str:
    if not text:
        return "-"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _percent(rate: str | None, places: int = 2) -> str:
    """A yield kept as a decimal fraction ('0.1195') shown as a percentage ('11.95%')."""
    return "-" if rate is None else f"{Decimal(rate):.{places}%}"


templates.env.filters["utc"] = _utc
templates.env.filters["percent"] = _percent
templates.env.filters["iso"] = _iso
templates.env.filters["num"] = _number
templates.env.filters["pkr"] = lambda minor: "-" if minor is None else format_pkr(minor)


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str


def _nav(who: Principal) -> list[NavItem]:
    items = [
        NavItem(f"{PREFIX}/", "Dashboard"),
        NavItem(f"{PREFIX}/assets", "Assets"),
        NavItem(f"{PREFIX}/institutions", "Institutions"),
        NavItem(f"{PREFIX}/markets", "Markets"),
    ]
    if who.role is Role.INSTITUTION:
        items.append(NavItem(f"{PREFIX}/transfer", "Transfer"))
    else:
        items.append(NavItem(f"{PREFIX}/tokens", "Tokens"))
    if who.role in access.APPROVAL_READERS:
        items.append(NavItem(f"{PREFIX}/approvals", "Approvals"))
        items.append(NavItem(f"{PREFIX}/proposals", "Governance"))
    return items


def _current(request: Request, item: NavItem) -> bool:
    path = request.url.path
    if item.href == f"{PREFIX}/":
        return path in (PREFIX, f"{PREFIX}/")
    return path == item.href or path.startswith(item.href + "/")


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    console: Console | None = getattr(request.state, "console", None)
    who = console.who if console else None
    nav = _nav(who) if who else []
    context.update(
        who=who,
        csrf=console.csrf if console else "",
        nav=[(item, _current(request, item)) for item in nav],
        prefix=PREFIX,
    )
    return templates.TemplateResponse(request, template, context, status_code=status)


def _error_page(request: Request, status: int, rule: str, message: str) -> HTMLResponse:
    titles = {
        400: "The request could not be processed",
        401: "Sign-in needed",
        403: "Not allowed",
        404: "Not found",
        405: "Not allowed here",
        409: "Conflict",
        422: "Refused by a rule",
        429: "Too many attempts",
        503: "The chain is unavailable",
    }
    return page(
        request,
        "error.html",
        status=status,
        title=titles.get(status, "Something went wrong"),
        rule=rule,
        message=message,
        code=status,
    )


# ------------------------------------------------------------ the route class


class ConsoleRoute(APIRoute):
    """Renders every failure of a console route as a page, and hardens every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired as exc:
                target = f"{sessions.LOGIN_PATH}?next={quote(exc.next_path, safe='/')}"
                response = RedirectResponse(target, status_code=303)
                sessions.clear_session(response, request)
            except AmanatError as exc:
                response = _error_page(request, status_of(exc), exc.rule, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": [], "msg": "invalid request"}
                where = ".".join(
                    str(p) for p in first.get("loc", []) if p not in ("body", "query", "path")
                )
                response = _error_page(
                    request, 400, "invalid-input", f"{where}: {first.get('msg')}"
                )
            except StarletteHTTPException as exc:
                response = _error_page(request, exc.status_code, "http-error", str(exc.detail))
            except Exception:
                reference = secrets.token_hex(6)
                log.exception("console error %s on %s %s", reference, request.method, request.url)
                response = _error_page(
                    request,
                    500,
                    "internal-error",
                    f"An unexpected error occurred (reference {reference}); nothing more is "
                    "shown here. The operators can find the details in the server log.",
                )
            static = request.url.path.startswith(f"{PREFIX}/static/")
            return sessions.harden(response, cacheable=static and response.status_code == 200)

        return console_handler


def area_router() -> APIRouter:
    """A router for one area's pages: under /console, outside the API schema, every failure
    rendered as a page (ConsoleRoute)."""
    return APIRouter(prefix=PREFIX, include_in_schema=False, route_class=ConsoleRoute)


# ---------------------------------------------------------------- dependencies


def platform_of(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


def signed_in(request: Request) -> Console:
    token = request.cookies.get(sessions.SESSION_COOKIE)
    here = request.url.path if request.method == "GET" else f"{PREFIX}/"
    if not token:
        raise LoginRequired(here)
    platform = platform_of(request)
    try:
        who = accounts.authenticate(platform.store, token)
    except Unauthenticated:
        raise LoginRequired(here) from None
    console = Console(request, platform, who, token)
    request.state.console = console
    return console


async def posted(request: Request, console: Annotated[Console, Depends(signed_in)]) -> Console:
    """A signed-in form submission: same origin and this session's CSRF token."""
    sessions.check_origin(request)
    form = await request.form()
    if not sessions.same(form.get("csrf"), console.csrf):
        raise Forbidden(
            "the form's security token does not match your session (it may be stale, or it was "
            "not sent from this console); reload the page and try again",
        )
    return console


Session = Annotated[Console, Depends(signed_in)]
Posted = Annotated[Console, Depends(posted)]


def record_audit(
    console: Console,
    resource: str,
    status: int,
    approval_ref: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    with console.platform.store.session() as session, session.begin():
        audit.record(
            session,
            console.who.username,
            console.who.role.value,
            console.request.method,
            resource,
            console.source,
            status,
            approval_ref,
            {"via": "console", **(detail or {})},
        )


def act(
    console: Console,
    action: Callable[[], Any],
    approval_ref: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Any:
    """Run a state change under the write lock and audit it, whether it succeeds or is refused."""
    resource = console.request.url.path
    with _writes:
        try:
            result = action()
        except AmanatError as exc:
            record_audit(
                console,
                resource,
                status_of(exc),
                approval_ref,
                {**(detail or {}), "refused": exc.rule, "message": exc.message[:500]},
            )
            raise
    record_audit(console, resource, 303, approval_ref, detail)
    return result


def explain(error: AmanatError) -> str:
    """An error for a form: the readable message, and the rule that refused it."""
    if isinstance(error, RuleViolation):
        return f"{error.message} (rule: {error.rule})"
    return error.message


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ------------------------------------------------------------ shared lookups


def positive(text: str, what: str) -> int:
    """A whole number typed in a form (thousands separators allowed), by the services' rule."""
    return inputs.whole_amount(text.strip(), what)


def own_wallets(platform: Platform, who: Principal) -> list[str]:
    if who.institution_id is None:
        return []
    with platform.store.session() as session:
        return list(
            session.scalars(
                select(Wallet.address).where(Wallet.institution_id == who.institution_id)
            )
        )


def stored_documents(platform: Platform, hashes: list[str]) -> set[str]:
    """Which of these 0x-hashes have their document kept by the platform."""
    wanted = {h.lower() for h in hashes if h and HASH.match(h.lower())}
    if not wanted:
        return set()
    with platform.store.session() as session:
        found = set(session.scalars(select(Document.sha256).where(Document.sha256.in_(wanted))))
    folder = platform.settings.data_dir / "documents"
    found |= {h for h in wanted if (folder / h[2:]).is_file()}
    return found


def can_read_documents(who: Principal) -> bool:
    return who.role in access.DOCUMENT_READERS


def form_options(platform: Platform) -> dict[str, Any]:
    with platform.store.session() as session:
        wallets = [
            {"address": row.address, "name": row.legal_name}
            for row in session.execute(
                select(Wallet.address, Institution.legal_name)
                .join(Institution, Institution.id == Wallet.institution_id)
                .order_by(Institution.legal_name, Wallet.address)
            )
        ]
    token_options = [
        {"address": t.address, "symbol": t.read("symbol"), "name": t.read("name")}
        for t in tokens.all_tokens(platform)
    ]
    return {
        "tokens": token_options,
        "wallets": wallets,
        "treasury": platform.manifest.address("Governance"),
        "distribution_kinds": list(distributions.KINDS),
    }
