"""An asset's value history: valuer reports accepted on chain, and for debt instruments (T-bills,
bonds, sukuk) market marks read from the index: each settled auction's cut-off and each day's
settled secondary DvPs (`amanat.domain.valuation` does the arithmetic).

The latest entry is the asset's current value. A valuer report values the whole asset (the
units outstanding carry their share of it); a market mark prices one unit (the units
outstanding are valued at that price). A mark is the price on its own date, not rolled forward:
an auction's on its settlement date, over its tenor; a day's DvPs on that day, over the days
left to the maturity the auction's tenor gives.

Disclosure (docs/public-data.md): everyone sees an auction's mark (its cut-off is a published
result) and the source of every mark by auction, instruction and block, never a party. A day's
DvP price is the terms two parties agreed: the public and institutions see it only when that
day's trades involve at least `DEFAULT_THRESHOLD` institutions and no party can subtract its own
trades to learn the terms of fewer others (`valuation.day_publishable`); staff see every mark.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from amanat.domain.assets import AssetClass
from amanat.domain.auction import from_micro
from amanat.domain.disclosure import DEFAULT_THRESHOLD
from amanat.domain.valuation import (
    Mark,
    SettledBid,
    auction_mark,
    day_publishable,
    maturity_of,
    trade_mark,
)
from amanat.indexer import queries
from amanat.services import public
from amanat.services.accounts import Principal
from amanat.services.platform import Platform
from amanat.store.models import ChainEvent

DEBT_CLASSES = frozenset({AssetClass.T_BILL.label, AssetClass.BOND.label, AssetClass.SUKUK.label})
MARKET_EVENTS = ("AuctionAnnounced", "AuctionSettled", "BidSettled", "DvPSettled")


def _day(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, UTC).date()


def history(
    platform: Platform, asset: dict[str, Any], supply: int, who: Principal | None
) -> dict[str, Any]:
    """`asset` (as `assets.show` gives it, with `supply` units outstanding) valued: every entry
    `who` may read, oldest first, and the current value (the latest entry) of the units
    outstanding."""
    entries = [_report(asset, v) for v in asset["valuations"] if v["accepted"]]
    if asset["token"] and asset["class"] in DEBT_CLASSES:
        with platform.store.session() as session:
            market = _market(platform, session, asset["token"])
        staff = public.sees_register(who)
        entries += [m for m in market if staff or m["public"]]
    # by date; on one date a report before a market mark, and the report the registry holds
    # current (the latest accepted of the latest date) after the other reports
    current_report = asset.get("current_valuation")
    entries.sort(
        key=lambda e: (
            e["date"],
            e["source"] != "valuer_report",
            e["index"] == current_report,
            e["block"] or 0,
        )
    )
    marks: list[Mark | None] = [e.pop("_mark", None) for e in entries]
    for entry in entries:
        del entry["index"]
    current = None
    if entries:
        latest, mark = entries[-1], marks[-1]
        if mark is None:  # a report values the authorised units
            outstanding = latest["value_minor"] * supply // asset["authorisation"]["max_units"]
        else:
            outstanding = mark.value_minor(supply)
        current = {
            "source": latest["source"],
            "date": latest["date"],
            "reference": latest["reference"],
            "units_outstanding": supply,
            "value_outstanding_minor": outstanding,
        }
    return {"asset": asset["id"], "current": current, "items": entries}


def _report(asset: dict[str, Any], valuation: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": "valuer_report",
        "index": valuation["index"],
        "date": valuation["date"],
        "block": None,
        "reference": f"valuer report {valuation['report_sha256'][:18]}…",
        "auction": None,
        "instructions": [],
        "report_sha256": valuation["report_sha256"],
        "yield": None,
        "price_per_100": None,
        "days_to_maturity": None,
        "units": asset["authorisation"]["max_units"],
        "value_minor": valuation["amount_minor"],
        "public": True,
    }


def _entry(
    mark: Mark, source: str, reference: str, units: int, public_mark: bool, **source_ids: Any
) -> dict[str, Any]:
    price = mark.price_per_100()
    return {
        "source": source,
        "index": None,
        "date": _day(mark.timestamp).isoformat(),
        "block": mark.block,
        "reference": reference,
        "auction": source_ids.get("auction"),
        "instructions": source_ids.get("instructions", []),
        "report_sha256": None,
        "yield": None if mark.yield_rate is None else str(mark.yield_rate),
        "price_per_100": None if price is None else str(price),
        "days_to_maturity": mark.days_to_maturity,
        "units": units,
        "value_minor": mark.value_minor(units),
        "public": public_mark,
        "_mark": mark,
    }


def _market(platform: Platform, session: Session, token: str) -> list[dict[str, Any]]:
    """The token's market marks from the index, oldest first."""
    markets = [platform.manifest.address(kind) for kind in ("Auction", "Settlement")]
    rows = session.scalars(
        select(ChainEvent)
        .where(ChainEvent.contract.in_(markets), ChainEvent.event.in_(MARKET_EVENTS))
        .order_by(ChainEvent.block, ChainEvent.log_index)
    )
    mine = token.lower()
    announced: dict[int, ChainEvent] = {}
    settled: dict[int, ChainEvent] = {}
    bids: dict[int, list[SettledBid]] = defaultdict(list)
    trades: list[ChainEvent] = []
    for e in rows:
        if e.event == "DvPSettled":
            if str(e.args["token"]).lower() == mine:
                trades.append(e)
            continue
        auction_id = int(e.args["auctionId"])
        if e.event == "AuctionAnnounced":
            if str(e.args["token"]).lower() == mine:
                announced[auction_id] = e
        elif auction_id in announced and e.event == "AuctionSettled":
            settled[auction_id] = e
        elif auction_id in announced:
            bids[auction_id].append(
                SettledBid(
                    int(e.args["units"]),
                    from_micro(int(e.args["yieldMicro"])),
                    int(e.args["payment"]),
                )
            )
    marks: list[dict[str, Any]] = []
    face: int | None = None
    maturity: date | None = None
    for auction_id, done in settled.items():
        if not bids[auction_id]:  # nothing was issued: no price was paid
            continue
        terms = announced[auction_id].args
        face = int(terms["faceMinorPerUnit"])
        cutoff = from_micro(int(done.args["cutoffYieldMicro"]))
        issued = int(terms["settlementDate"])  # the auction's price is for this date
        mark = auction_mark(issued, done.block, face, cutoff, bids[auction_id])
        maturity = maturity_of(_day(issued), mark) or maturity
        reference = f"auction {auction_id}: cut-off {cutoff:.4%}"
        units = _supply(session, token, done.block)
        marks.append(_entry(mark, "auction", reference, units, True, auction=auction_id))
    by_day: dict[date, list[ChainEvent]] = defaultdict(list)
    for e in trades:
        by_day[_day(e.timestamp)].append(e)
    institution = _institutions(platform, session)
    for day, group in by_day.items():
        mark = trade_mark(
            (
                (e.timestamp, e.block, int(e.args["units"]), int(e.args["cashAmount"]))
                for e in group
            ),
            face,
            maturity,
            day,
        )
        ids = [int(e.args["instructionId"]) for e in group]
        pairs = [(institution(e.args["seller"], e), institution(e.args["buyer"], e)) for e in group]
        reference = "secondary DvP " + ", ".join(f"#{i}" for i in ids)
        if mark.yield_rate is not None:
            reference += f": yield {mark.yield_rate:.4%}"
        marks.append(
            _entry(
                mark,
                "secondary_dvp",
                reference,
                _supply(session, token, mark.block),
                day_publishable(pairs, DEFAULT_THRESHOLD),
                instructions=ids,
            )
        )
    return marks


def _supply(session: Session, token: str, block: int) -> int:
    return sum(balance for _holder, balance in queries.cap_table(session, token, block))


def _institutions(platform: Platform, session: Session) -> Callable[[str, ChainEvent], Any]:
    """Who `wallet` traded for in `trade`: the identity it was linked to when the trade settled
    (its last `WalletLinked` before it), read from the index, so that a wallet unlinked since,
    or unlinked and re-linked to another identity, still counts for the institution it traded
    for; a wallet never linked counts alone."""
    links: dict[str, list[tuple[tuple[int, int], int]]] = defaultdict(list)
    for e in session.scalars(
        select(ChainEvent)
        .where(
            ChainEvent.contract == platform.manifest.address("IdentityRegistry"),
            ChainEvent.event == "WalletLinked",
        )
        .order_by(ChainEvent.block, ChainEvent.log_index)
    ):
        links[str(e.args["wallet"]).lower()].append(
            ((e.block, e.log_index), int(e.args["identityNumber"]))
        )

    def institution(wallet: str, trade: ChainEvent) -> Any:
        history = links.get(str(wallet).lower(), [])
        at = bisect_right(history, ((trade.block, trade.log_index), float("inf")))
        return history[at - 1][1] if at else str(wallet).lower()

    return institution
