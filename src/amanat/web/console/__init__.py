"""Operator console: server-rendered pages over the same services as the JSON API.

Markets pages show auctions (with their bids, allocation preview and settlement), DvP
instructions, distributions with their paid and held totals, and cash balances; settling an
auction, issuing cash, declaring a distribution, releasing a held payout and marking a token
matured are approval requests like any other.

Every page needs a session (see `amanat.web.session`) except the sign-in page. Every state change
is a POST carrying the session's CSRF token, calls the service the API calls, and writes an audit
entry. Errors, refusals and missing permissions render as a readable page, never a traceback.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from amanat.errors import NotFound
from amanat.web.console import approvals, assets, home, institutions, markets, tokens
from amanat.web.console.common import Session, area_router

_fallback = area_router()


@_fallback.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(console: Session, rest: str) -> Response:
    raise NotFound(f"there is no console page /console/{rest}")


router = APIRouter()
for _area in (home, assets, institutions, tokens, approvals, markets):
    router.include_router(_area.router)
router.include_router(_fallback)  # last: it answers every path no page has
