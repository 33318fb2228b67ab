"""Market marks of debt instruments, exact: a primary auction's cut-off and secondary DvP prices.

A mark is a price per unit in minor units (paisa), kept as an exact `Fraction`; values are that
price times a number of units, rounded half-even once, at the end.

- An auction is priced as it was settled: a T-bill's discount price per 100 at the cut-off yield
  over its tenor (`instruments.tbill_price`, ACT/365, 4 places as SBP publishes it). The tenor
  is not on chain: it is the number of days under which every settled bid's payment is the
  payment `tbill_payment` gives for its units and yield (`tbill_tenors`). When no tenor, or
  tenors giving different cut-off prices, explain the payments, the cut-off is priced by what
  the bids settled at the cut-off paid per unit.
- Secondary DvPs are marked per UTC day: the day's cash over the day's units (a volume-weighted
  price). With a known maturity, a T-bill's price gives its yield over the days left.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from amanat.domain.auction import tbill_payment
from amanat.domain.instruments import (
    MAX_TBILL_TENOR_DAYS,
    round_half_even,
    tbill_price,
    tbill_yield,
)
from amanat.errors import InvalidInput

PRICE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class SettledBid:
    units: int
    yield_rate: Decimal
    payment_minor: int


@dataclass(frozen=True)
class Mark:
    """A market price of one unit, observed at `timestamp` (block `block`)."""

    timestamp: int
    block: int
    per_unit: Fraction  # minor units per unit, exact
    face_minor_per_unit: int | None
    yield_rate: Decimal | None  # the instrument's yield at that price, when known
    days_to_maturity: int | None

    def value_minor(self, units: int) -> int:
        """`units` at this price, in minor units, rounded half-even once."""
        return round_half_even(units * self.per_unit)

    def price_per_100(self) -> Decimal | None:
        """The price per 100 of face value, 4 places (None when the face is unknown)."""
        if not self.face_minor_per_unit:
            return None
        scaled = round_half_even(self.per_unit * 100 * 10_000 / self.face_minor_per_unit)
        return (Decimal(scaled) / 10_000).quantize(PRICE_PLACES)


def tbill_tenors(
    face_minor_per_unit: int,
    settled: Sequence[SettledBid],
    longest: int = MAX_TBILL_TENOR_DAYS,
) -> list[int]:
    """Every tenor in days (1 to `longest`) under which each settled bid paid exactly
    `tbill_payment(units, face, its yield, days)`; empty when none does."""
    if not settled:
        return []
    ordered = sorted(settled, key=lambda b: -b.units)  # the largest bid tells days apart best
    return [
        days
        for days in range(1, longest + 1)
        if all(
            tbill_payment(b.units, face_minor_per_unit, b.yield_rate, days) == b.payment_minor
            for b in ordered
        )
    ]


def auction_mark(
    timestamp: int,  # the auction's settlement date
    block: int,
    face_minor_per_unit: int,
    cutoff: Decimal,
    settled: Sequence[SettledBid],
) -> Mark:
    """The mark an auction's settlement gives: its cut-off priced over its tenor (recovered from
    the payments), or else the price per unit paid by the bids settled at the cut-off. An
    auction that issued nothing observed no price: it gives no mark."""
    if not settled:
        raise InvalidInput("an auction with no settled bid paid no price to mark")
    tenors = tbill_tenors(face_minor_per_unit, settled)
    prices = {tbill_price(cutoff, days) for days in tenors}
    if len(prices) == 1:
        (price,) = prices
        days = tenors[0] if len(tenors) == 1 else None
        return Mark(
            timestamp,
            block,
            Fraction(price) * face_minor_per_unit / 100,
            face_minor_per_unit,
            cutoff,
            days,
        )
    at_cutoff = [b for b in settled if b.yield_rate == cutoff] or list(settled)
    per_unit = Fraction(sum(b.payment_minor for b in at_cutoff), sum(b.units for b in at_cutoff))
    return Mark(timestamp, block, per_unit, face_minor_per_unit, cutoff, None)


def maturity_of(issue: date, mark: Mark) -> date | None:
    """The maturity an auction mark implies (issue date plus its tenor), if the tenor is known."""
    if mark.days_to_maturity is None:
        return None
    return date.fromordinal(issue.toordinal() + mark.days_to_maturity)


def trade_mark(
    trades: Iterable[tuple[int, int, int, int]],
    face_minor_per_unit: int | None,
    maturity: date | None,
    on: date,
) -> Mark:
    """One day's secondary trades (timestamp, block, units, cash in minor units) as a mark: the
    day's cash over its units; a T-bill's yield over the days from `on` to `maturity`."""
    rows = list(trades)
    units = sum(r[2] for r in rows)
    per_unit = Fraction(sum(r[3] for r in rows), units)
    days = (maturity - on).days if maturity is not None else None
    rate = None
    if days is not None and days > 0 and face_minor_per_unit:
        rate = tbill_yield(per_unit * 100 / face_minor_per_unit, days)
    last = max(rows, key=lambda r: r[1])
    return Mark(
        last[0],
        last[1],
        per_unit,
        face_minor_per_unit,
        rate,
        days if days is not None and days > 0 else None,
    )


def day_publishable(trades: Sequence[tuple[Hashable, Hashable]], threshold: int) -> bool:
    """Whether a day's DvP mark (its cash over its units) may be published, each trade given as
    its seller's and buyer's institutions: at least `threshold` institutions traded, and none
    of them, knowing its own trades, can subtract them from the published total to learn the
    terms of trades among fewer than `threshold` others (for each institution, the trades it
    is not a party to involve no institution or at least `threshold`). Without the second rule
    one party's trade with anyone, even of one unit, would publish the price two others agreed,
    and the exact price (the value of the units outstanding gives it) their units and cash."""
    involved = {party for pair in trades for party in pair}
    if len(involved) < threshold:
        return False
    for party in involved:
        others = {other for pair in trades if party not in pair for other in pair}
        if 0 < len(others) < threshold:
            return False
    return True
