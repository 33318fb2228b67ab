"""Console pages of the markets: cash balances, auctions (bids, allocation preview, settlement
filed as an approval request), DvP instructions and distributions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from amanat.api.problems import status_of
from amanat.api.routes_markets import auction_results
from amanat.domain.auction import parse_yield
from amanat.errors import AmanatError
from amanat.services import (
    access,
    approvals,
    auctions,
    cash,
    distributions,
    dvp,
    identities,
    public,
)
from amanat.services.access import ALLOCATION_READERS
from amanat.services.accounts import Principal
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform
from amanat.store.models import Institution, Wallet
from amanat.web.console.common import (
    Posted,
    Session,
    act,
    area_router,
    explain,
    page,
    positive,
    redirect,
)
from amanat.web.session import PREFIX, Console

router = area_router()

# ------------------------------------------------------------------- markets


def _cash_rows(platform: Platform, who: Principal) -> list[dict[str, Any]]:
    """Cash balances: an institution's own wallets; for staff every institution and the
    treasury."""
    scope = access.scope_of(platform, who)
    with platform.store.session() as session:
        query = select(Wallet.address, Institution.legal_name).join(
            Institution, Institution.id == Wallet.institution_id
        )
        if scope is not None:
            query = query.where(Wallet.address.in_(scope.wallets))
        owners = [(row.address, row.legal_name) for row in session.execute(query)]
    if scope is None:
        owners.append((platform.manifest.address("Governance"), "Treasury (Governance)"))
    return [
        {"name": name, **cash.balance(platform, wallet)}
        for wallet, name in sorted(owners, key=lambda o: o[1])
    ]


@router.get("/markets")
def markets(request: Request, console: Session) -> Response:
    platform = console.platform
    who = console.who
    instructions = dvp.list_instructions(platform)
    scope = access.scope_of(platform, who)
    if scope is not None:
        instructions = [i for i in instructions if {i["seller"], i["buyer"]} & scope.wallets]
    for row in instructions:
        row["seller_name"] = identities.name_of(platform, row["seller"])
        row["buyer_name"] = identities.name_of(platform, row["buyer"])
    auction_rows = auctions.list_auctions(platform)
    for row in auction_rows:
        row["symbol"] = platform.token(row["token"]).read("symbol")
    return page(
        request,
        "markets.html",
        supply=cash.supply(platform),
        auctions=auction_rows,
        instructions=instructions,
        distributions=[
            public.distribution(d, who) for d in distributions.list_distributions(platform)
        ],
        balances=_cash_rows(platform, who),
        chain_time=platform.clock.chain_time(),
    )


def _party_name(console: Console, wallet: str) -> str:
    """The name behind a wallet, for those the policy lets see it; others read "another party"."""
    if access.may_see_party(console.platform, console.who, wallet):
        return identities.name_of(console.platform, wallet)
    return "another party"


def _auction_page(
    request: Request,
    console: Console,
    auction_id: int,
    cutoff: str = "",
    days: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    platform = console.platform
    shown = auctions.show(platform, auction_id)
    bids, outcome = auction_results(shown)
    for row in bids:
        row["name"] = _party_name(console, row["bidder"])
    preview = None
    may_preview = console.who.role in ALLOCATION_READERS and not shown["settled"]
    if may_preview and cutoff and days and error is None:
        try:
            rows = auctions.allocation(
                platform, auction_id, parse_yield(cutoff), positive(days, "days")
            )
            preview = [{**r, "name": _party_name(console, r["bidder"])} for r in rows]
        except Forbidden:
            raise
        except AmanatError as exc:
            error, status = explain(exc), status_of(exc)
    return page(
        request,
        "auction.html",
        status=status,
        auction=shown,
        symbol=platform.token(shown["token"]).read("symbol"),
        bids=bids,
        outcome=outcome,
        preview=preview,
        may_preview=may_preview,
        may_settle=may_preview and console.who.role in approvals.KINDS["settle_auction"].makers,
        cutoff=cutoff,
        days=days,
        error=error,
        chain_time=platform.clock.chain_time(),
    )


@router.get("/markets/auctions/{auction_id}")
def auction_detail(
    request: Request, console: Session, auction_id: int, cutoff: str = "", days: str = ""
) -> Response:
    return _auction_page(request, console, auction_id, cutoff[:16], days[:8])


@router.post("/markets/auctions/{auction_id}/settle")
def auction_settle(
    request: Request,
    console: Posted,
    auction_id: int,
    cutoff: Annotated[str, Form(max_length=16)] = "",
    days: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """File the auction's settlement at a cut-off as an approval request."""
    params = {"auction": auction_id, "cutoff": cutoff.strip(), "days": 0}
    try:
        params["days"] = positive(days, "days to maturity")
        created = act(
            console,
            lambda: approvals.create(console.platform, console.who, "settle_auction", params, None),
            detail={"kind": "settle_auction", "params": params},
        )
    except Forbidden:
        raise
    except AmanatError as exc:
        return _auction_page(
            request, console, auction_id, cutoff, days, explain(exc), status_of(exc)
        )
    return redirect(f"{PREFIX}/approvals?done=filed&request_id={created['id']}")
