"""Market marks, worked by hand: an auction's cut-off priced over the tenor its payments imply,
the fallbacks when they imply none, and a day's DvP prices with their yield, rounded once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from amanat.domain.auction import tbill_payment
from amanat.domain.instruments import tbill_yield
from amanat.domain.valuation import (
    SettledBid,
    auction_mark,
    day_publishable,
    maturity_of,
    tbill_tenors,
    trade_mark,
)
from amanat.errors import InvalidInput

FACE = 100_00  # PKR 100 a unit, in paisa


def _bid(units: int, rate: str, days: int = 91) -> SettledBid:
    return SettledBid(units, Decimal(rate), tbill_payment(units, FACE, Decimal(rate), days))


def test_an_auction_is_marked_at_its_cutoff_over_the_tenor_its_payments_imply() -> None:
    # multiple price: 250,000 at 11.90%, 150,000 at the 11.95% cut-off, a non-competitive bid
    # at the weighted average; all paid over 91 days
    bids = [_bid(250_000, "0.1190"), _bid(150_000, "0.1195"), _bid(50_000, "0.119187")]
    assert tbill_tenors(FACE, bids) == [91]
    mark = auction_mark(1_800_000_000, 7, FACE, Decimal("0.1195"), bids)
    # 100 / (1 + 0.1195 x 91/365) = 100 / 1.0297931507 = 97.10688..., SBP's 4 places: 97.1069
    assert mark.price_per_100() == Decimal("97.1069") and mark.days_to_maturity == 91
    assert mark.per_unit == Fraction(971069, 100)  # paisa a unit
    assert mark.value_minor(500_000) == 4_855_345_000  # PKR 48,553,450.00
    assert maturity_of(date(2027, 3, 4), mark) == date(2027, 6, 3)


def test_payments_no_tenor_explains_are_marked_by_what_the_cutoff_bids_paid() -> None:
    # paid by another rule: 97.10 a unit at the cut-off, whatever the days
    bids = [SettledBid(1_000, Decimal("0.1195"), 9_710_000), _bid(500, "0.1190")]
    assert tbill_tenors(FACE, bids) == []
    mark = auction_mark(0, 1, FACE, Decimal("0.1195"), bids)
    assert mark.per_unit == 9_710 and mark.days_to_maturity is None
    assert mark.price_per_100() == Decimal("97.1000")
    # at a 0% cut-off every tenor gives par: the price is known, the tenor is not
    par = auction_mark(0, 1, FACE, Decimal(0), [_bid(1_000, "0")])
    assert par.price_per_100() == Decimal("100.0000") and par.days_to_maturity is None
    with pytest.raises(InvalidInput, match="no settled bid"):
        auction_mark(0, 1, FACE, Decimal("0.1195"), [])


def test_a_days_trades_are_one_volume_weighted_price_rounded_once() -> None:
    # two trades on one day: 10 units for PKR 971.06 and 10 for PKR 971.07
    mark = trade_mark(
        [(100, 5, 10, 97_106), (200, 6, 10, 97_107)], FACE, date(2027, 6, 3), date(2027, 3, 5)
    )
    assert mark.per_unit == Fraction(194_213, 20) and (mark.block, mark.timestamp) == (6, 200)
    # 3 units: 29,131.95 paisa, rounded once to 29,132 (a price rounded first gives 29,133)
    assert mark.value_minor(3) == 29_132
    assert mark.days_to_maturity == 90
    assert mark.yield_rate == tbill_yield(Fraction(194_213, 20) * 100 / FACE, 90)
    assert mark.price_per_100() == Decimal("97.1065")
    # no known maturity or face: a price a unit, no yield
    bare = trade_mark([(100, 5, 4, 400_00)], None, None, date(2027, 3, 5))
    assert bare.per_unit == 100_00 and bare.yield_rate is None and bare.price_per_100() is None


def test_a_days_dvp_price_is_public_only_if_no_party_can_subtract_its_way_to_two_others() -> None:
    """Three institutions are not enough when one of them can take its own trades out of the
    day's total and be left with a trade of two others: A and B's large trade plus a one-unit
    trade between C and D is A and B's price to 4 places, and C knows the rest."""
    big, tiny = (1, 10, 1_000_000, 971_069 * 10_000), (2, 11, 1, 9_999)
    mark = trade_mark([big, tiny], FACE, date(2027, 3, 1), date(2026, 12, 2))
    assert mark.price_per_100() == trade_mark([big], FACE, None, date(2026, 12, 2)).price_per_100()
    assert not day_publishable([("A", "B"), ("C", "D")], 3)
    assert not day_publishable([("A", "B"), ("B", "C")], 3)  # A learns B and C's terms
    assert not day_publishable([("A", "B"), ("B", "C"), ("C", "A")], 3)
    assert not day_publishable([("A", "B")], 3)
    assert day_publishable([("A", "B"), ("A", "C"), ("A", "D")], 3)  # B sees A, C and D's sum
    assert day_publishable([("A", "B"), ("C", "D"), ("E", "F")], 3)
