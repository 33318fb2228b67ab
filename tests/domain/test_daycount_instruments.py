"""Day counts (ISDA 2006 4.16 examples), T-bill and bond arithmetic against hand-worked cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from amanat.domain.daycount import Calendar, DayCount, add_months, days_30_360, year_fraction
from amanat.domain.instruments import (
    FixedRateBond,
    IjaraSukuk,
    tbill_maturity,
    tbill_price,
    tbill_yield,
)
from amanat.errors import InvalidInput


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2007, 1, 15), date(2007, 1, 30), 15),
        (date(2007, 1, 15), date(2007, 2, 15), 30),
        (date(2007, 1, 15), date(2007, 7, 15), 180),
        (date(2007, 9, 30), date(2008, 3, 31), 180),  # D1 = 30, so D2 31 -> 30
        (date(2007, 9, 30), date(2007, 10, 31), 30),
        (date(2007, 9, 30), date(2008, 9, 30), 360),
        (date(2007, 1, 15), date(2008, 1, 31), 376),  # D1 = 15: D2 stays 31
        (date(2007, 1, 31), date(2007, 2, 28), 28),  # D1 31 -> 30
        (date(2007, 2, 28), date(2007, 3, 31), 33),  # D1 = 28: D2 stays 31 (Bond Basis)
        (date(2006, 8, 31), date(2007, 2, 28), 178),
    ],
)
def test_30_360_bond_basis(start, end, days):
    assert days_30_360(start, end) == days
    assert year_fraction(start, end, DayCount.THIRTY_360) == Fraction(days, 360)


def test_act_365_fixed_ignores_leap_years():
    assert year_fraction(date(2007, 1, 1), date(2008, 1, 1), DayCount.ACT_365_FIXED) == 1
    assert year_fraction(date(2008, 1, 1), date(2009, 1, 1), DayCount.ACT_365_FIXED) == Fraction(
        366, 365
    )


def test_business_day_adjustment():
    calendar = Calendar(holidays=[date(2027, 2, 5)])  # a Friday holiday
    assert calendar.following(date(2027, 2, 6)) == date(2027, 2, 8)  # Saturday -> Monday
    assert calendar.modified_following(date(2027, 2, 5)) == date(2027, 2, 8)
    # Modified following stays in the month: Sat 2027-07-31 -> Fri 2027-07-30
    assert calendar.modified_following(date(2027, 7, 31)) == date(2027, 7, 30)
    assert add_months(date(2026, 8, 31), 6, end_of_month=True) == date(2027, 2, 28)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_tbill_price_hand_worked():
    # 100 / (1 + 0.12 * 91 / 365) = 100 / 1.029917808... = 97.0951...
    assert tbill_price(Decimal("0.12"), 91) == Decimal("97.0951")
    # 100 / (1 + 0.2 * 182/365) = 100 / 1.0997260274 = 90.9317...
    assert tbill_price(Decimal("0.20"), 182) == Decimal("90.9317")
    assert tbill_price(Decimal("0"), 91) == Decimal("100.0000")


@pytest.mark.parametrize("days", [91, 182, 364])
@pytest.mark.parametrize("rate", ["0.05", "0.1175", "0.2199"])
def test_tbill_yield_round_trips_within_price_rounding(rate, days):
    price = tbill_price(Decimal(rate), days)
    recovered = tbill_yield(price, days)
    # a 0.00005 price rounding moves the yield by at most ~0.0002 at 91 days
    assert abs(recovered - Decimal(rate)) < Decimal("0.0003")


def test_tbill_tenors_and_refusals():
    calendar = Calendar()
    assert tbill_maturity(date(2026, 11, 25), 3, calendar) == date(2027, 2, 25)
    with pytest.raises(InvalidInput, match="tenor 4 months"):
        tbill_maturity(date(2026, 11, 25), 4, calendar)
    with pytest.raises(InvalidInput, match="days to maturity"):
        tbill_price(Decimal("0.1"), 0)


def test_bond_schedule_coupons_and_prices():
    bond = FixedRateBond(
        date(2026, 1, 15), date(2031, 1, 15), Decimal("0.12"), 2, DayCount.THIRTY_360
    )
    calendar = Calendar()
    schedule = bond.schedule(calendar)
    assert len(schedule) == 10
    assert schedule[0].start == date(2026, 1, 15) and schedule[0].end == date(2026, 7, 15)
    assert schedule[-1].end == date(2031, 1, 15)
    # 2027-01-15 is a Friday; 2028-01-15 a Saturday -> paid Monday 2028-01-17
    assert schedule[3].payment == date(2028, 1, 17)
    face = 100_000_000  # PKR 1,000,000.00 in paisa
    assert all(bond.coupon_amount(face, p) == 6_000_000 for p in schedule)
    assert bond.accrued(face, date(2026, 4, 15), calendar) == 3_000_000  # 90/360 * 12%
    # At a yield equal to the coupon, on a coupon date, the bond prices at par.
    assert bond.dirty_price(Decimal("0.12"), date(2026, 7, 15), calendar) == Decimal("100.0000")
    dirty = bond.dirty_price(Decimal("0.12"), date(2026, 4, 15), calendar)
    clean = bond.clean_price(Decimal("0.12"), date(2026, 4, 15), calendar)
    assert dirty - clean == Decimal("3.0000")
    assert bond.dirty_price(Decimal("0.14"), date(2026, 7, 15), calendar) < Decimal("100")


def test_bond_short_first_period_act_365():
    bond = FixedRateBond(
        date(2026, 3, 1), date(2027, 7, 15), Decimal("0.10"), 2, DayCount.ACT_365_FIXED
    )
    schedule = bond.schedule(Calendar())
    assert schedule[0].start == date(2026, 3, 1) and schedule[0].end == date(2026, 7, 15)
    days = (date(2026, 7, 15) - date(2026, 3, 1)).days
    assert bond.coupon_amount(365_000, schedule[0]) == round(
        365_000 * Fraction(1, 10) * Fraction(days, 365)
    )


def test_ijara_sukuk_rent_schedule_ends_with_the_principal():
    sukuk = IjaraSukuk(date(2026, 1, 15), date(2029, 1, 15), Decimal("0.1050"))
    payments = sukuk.rental_schedule(100_000_00, Calendar())
    assert len(payments) == 6
    assert [p.principal_minor for p in payments] == [0, 0, 0, 0, 0, 100_000_00]
    # 15 Jan - 15 Jul 2026 is 181 days: 100,000.00 x 10.50% x 181/365 = 5,206.85 (half-even)
    assert payments[0].rent_minor == 520_685
    assert payments[-1].total_minor == payments[-1].rent_minor + 100_000_00
    assert all(p.rent_minor > 0 for p in payments)
