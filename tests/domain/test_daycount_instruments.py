"""Day counts (ISDA 2006 4.16 examples), T-bill and bond arithmetic against hand-worked cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from amanat.domain.daycount import (
    Calendar,
    DayCount,
    add_months,
    days_30_360,
    days_30e_360,
    days_30e_360_isda,
    year_fraction,
)
from amanat.domain.instruments import (
    FixedRateBond,
    IjaraSukuk,
    round_half_even,
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


def test_tbill_tenors_are_the_days_announced():
    # SBP's "3-month" bill of 10 Sep 2020 was an 84-day bill maturing on 3 Dec 2020 (calendar
    # months would give 10 Dec 2020, 91 days).
    assert tbill_maturity(date(2020, 9, 10), 84) == date(2020, 12, 3)
    assert tbill_maturity(date(2026, 11, 26), 28) == date(2026, 12, 24)
    assert tbill_maturity(date(2026, 11, 26), 182) == date(2027, 5, 27)
    assert tbill_maturity(date(2026, 11, 26), 364) == date(2027, 11, 25)
    with pytest.raises(InvalidInput, match="tenor 0 days must be 1 to 366 days"):
        tbill_maturity(date(2026, 11, 25), 0)
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


# ------------------------------------------------------------ reference vectors
# Vectors from QuantLib's test suite, test-suite/daycounters.cpp (lballabio/QuantLib at commit
# 2a13d455048c748b9fb5c2ff3bb4f4cf56dfb9a9): testActualActual (ISDA and ISMA = ICMA cases,
# checked there to 1e-10), testThirty360_EurobondBasis (30E/360), testThirty360_ISDA
# (30E/360 ISDA, with its termination dates) and testActualConsistency (ACT/360). Those come
# from ISDA's "30/360 day count conventions" (2008) and the ISDA/ICMA act/act memo (mktc1198).


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2003, 11, 1), date(2004, 5, 1), "0.497724380567"),
        (date(1999, 2, 1), date(1999, 7, 1), "0.410958904110"),
        (date(1999, 7, 1), date(2000, 7, 1), "1.001377348600"),
        (date(2002, 8, 15), date(2003, 7, 15), "0.915068493151"),
        (date(2003, 7, 15), date(2004, 1, 15), "0.504004790778"),
        (date(1999, 7, 30), date(2000, 1, 30), "0.503892506924"),
        (date(2000, 1, 30), date(2000, 6, 30), "0.415300546448"),
    ],
)
def test_act_act_isda_quantlib_vectors(start, end, expected):
    fraction = year_fraction(start, end, DayCount.ACT_ACT_ISDA)
    assert abs(fraction - Fraction(expected)) < Fraction(1, 10**10)


@pytest.mark.parametrize(
    ("start", "end", "reference_start", "reference_end", "expected"),
    [
        (date(2003, 11, 1), date(2004, 5, 1), date(2003, 11, 1), date(2004, 5, 1), "0.5"),
        # short first period
        (date(1999, 2, 1), date(1999, 7, 1), date(1998, 7, 1), date(1999, 7, 1), "0.410958904110"),
        (date(1999, 7, 1), date(2000, 7, 1), date(1999, 7, 1), date(2000, 7, 1), "1"),
        # long first period
        (
            date(2002, 8, 15),
            date(2003, 7, 15),
            date(2003, 1, 15),
            date(2003, 7, 15),
            "0.915760869565",
        ),
        (date(2003, 7, 15), date(2004, 1, 15), date(2003, 7, 15), date(2004, 1, 15), "0.5"),
        (date(1999, 7, 30), date(2000, 1, 30), date(1999, 7, 30), date(2000, 1, 30), "0.5"),
        # short final period
        (
            date(2000, 1, 30),
            date(2000, 6, 30),
            date(2000, 1, 30),
            date(2000, 7, 30),
            "0.417582417582",
        ),
    ],
)
def test_act_act_icma_quantlib_vectors(start, end, reference_start, reference_end, expected):
    fraction = year_fraction(
        start,
        end,
        DayCount.ACT_ACT_ICMA,
        reference_start=reference_start,
        reference_end=reference_end,
    )
    assert abs(fraction - Fraction(expected)) < Fraction(1, 10**10)


# testThirty360_EurobondBasis, examples 2 and 3
THIRTY_E_360 = [
    (date(2006, 2, 28), date(2006, 8, 31), 182),
    (date(2006, 8, 31), date(2007, 2, 28), 178),
    (date(2007, 8, 31), date(2008, 2, 29), 179),
    (date(2008, 2, 29), date(2008, 8, 31), 181),
    (date(2011, 8, 31), date(2012, 2, 29), 179),
    (date(2006, 1, 31), date(2006, 2, 28), 28),
    (date(2006, 2, 28), date(2006, 3, 3), 5),
    (date(2006, 9, 30), date(2006, 10, 31), 30),
    (date(2007, 8, 31), date(2008, 2, 28), 178),
    (date(2008, 2, 28), date(2008, 8, 31), 182),
    (date(2007, 2, 26), date(2008, 2, 29), 363),
    (date(2008, 2, 29), date(2009, 2, 28), 359),
    (date(2008, 2, 28), date(2008, 3, 31), 32),
]


@pytest.mark.parametrize(("start", "end", "days"), THIRTY_E_360)
def test_30e_360_quantlib_vectors(start, end, days):
    assert days_30e_360(start, end) == days
    assert year_fraction(start, end, DayCount.THIRTY_E_360) == Fraction(days, 360)


# testThirty360_ISDA, examples 2 (maturity 29 Feb 2012) and 3 (maturity 29 Feb 2008)
THIRTY_E_360_ISDA = [
    (date(2006, 2, 28), date(2006, 8, 31), date(2012, 2, 29), 180),
    (date(2006, 8, 31), date(2007, 2, 28), date(2012, 2, 29), 180),
    (date(2007, 8, 31), date(2008, 2, 29), date(2012, 2, 29), 180),
    (date(2008, 2, 29), date(2008, 8, 31), date(2012, 2, 29), 180),
    (date(2011, 8, 31), date(2012, 2, 29), date(2012, 2, 29), 179),
    (date(2006, 1, 31), date(2006, 2, 28), date(2008, 2, 29), 30),
    (date(2006, 2, 28), date(2006, 3, 3), date(2008, 2, 29), 3),
    (date(2006, 2, 14), date(2006, 2, 28), date(2008, 2, 29), 16),
    (date(2006, 10, 31), date(2006, 11, 28), date(2008, 2, 29), 28),
    (date(2007, 8, 31), date(2008, 2, 28), date(2008, 2, 29), 178),
    (date(2008, 2, 28), date(2008, 8, 31), date(2008, 2, 29), 182),
    (date(2007, 2, 28), date(2008, 2, 28), date(2008, 2, 29), 358),
    (date(2007, 2, 28), date(2008, 2, 29), date(2008, 2, 29), 359),
    (date(2008, 2, 29), date(2009, 2, 28), date(2008, 2, 29), 360),
    (date(2008, 2, 29), date(2008, 3, 31), date(2008, 2, 29), 30),
]


@pytest.mark.parametrize(("start", "end", "maturity", "days"), THIRTY_E_360_ISDA)
def test_30e_360_isda_quantlib_vectors(start, end, maturity, days):
    assert days_30e_360_isda(start, end, maturity) == days
    fraction = year_fraction(start, end, DayCount.THIRTY_E_360_ISDA, maturity=maturity)
    assert fraction == Fraction(days, 360)


def test_30e_360_isda_needs_the_maturity():
    with pytest.raises(InvalidInput, match="30E/360 ISDA needs the instrument's maturity"):
        year_fraction(date(2006, 2, 28), date(2006, 3, 3), DayCount.THIRTY_E_360_ISDA)


@pytest.mark.parametrize(
    "end",
    [date(2023, 2, 1), date(2024, 5, 16), date(2026, 12, 19), date(2028, 3, 13), date(2036, 7, 26)],
)
def test_act_360_quantlib_consistency_vectors(end):
    """testActualConsistency: ACT/360 is ACT/365F x 365 / 360, from 12 Jan 2022."""
    start = date(2022, 1, 12)
    act_360 = year_fraction(start, end, DayCount.ACT_360)
    assert act_360 == year_fraction(start, end, DayCount.ACT_365_FIXED) * 365 / 360
    assert act_360 == Fraction((end - start).days, 360)


# -------------------------------------------------------------------- PIBs


def test_fixed_rate_pib_semi_annual_act_act_icma():
    """A 2-year PIB, 12% paid semi-annually, settled 90 days into the 181-day period of
    15 Jan - 15 Jul 2026, at a 12% yield. By hand (SBP's PIB convention):
    accrued = 6 x 90/181 = 2.983425...; the next coupon is 91/181 of a period away and at
    yield = coupon the flows from then on are worth 100 + 6 = 106, so
    dirty = 106 / 1.06^(91/181) = 102.939682...; clean = 99.956257... -> 99.9563."""
    pib = FixedRateBond(
        date(2026, 1, 15), date(2028, 1, 15), Decimal("0.12"), 2, DayCount.ACT_ACT_ICMA
    )
    calendar = Calendar()
    schedule = pib.schedule(calendar)
    face = 100_000_000  # PKR 1,000,000.00 in paisa
    # every coupon is exactly rate / 2, whatever the days in the half-year (181, 184, ...)
    assert [pib.coupon_amount(face, p) for p in schedule] == [6_000_000] * 4
    settle = date(2026, 4, 15)
    assert pib.accrued(face, settle, calendar) == round_half_even(
        Fraction(face) * Fraction(6, 100) * Fraction(90, 181)
    )  # 2,983,425.41... paisa -> 2,983,425
    assert pib.dirty_price(Decimal("0.12"), settle, calendar) == Decimal("102.9397")
    assert pib.clean_price(Decimal("0.12"), settle, calendar) == Decimal("99.9563")
    # on a coupon date at a yield equal to the coupon, a PIB prices at par
    assert pib.clean_price(Decimal("0.12"), date(2026, 7, 15), calendar) == Decimal("100.0000")
    # a short first period accrues against the regular half-year it falls in
    short = FixedRateBond(
        date(2026, 3, 1), date(2028, 1, 15), Decimal("0.12"), 2, DayCount.ACT_ACT_ICMA
    )
    first = short.schedule(calendar)[0]
    assert (first.start, first.end) == (date(2026, 3, 1), date(2026, 7, 15))
    assert short.coupon_amount(face, first) == round_half_even(
        Fraction(face) * Fraction(6, 100) * Fraction(136, 181)
    )


def test_clean_price_is_exact_and_rounded_once():
    """Dirty 101.23376884... less accrued 11.50% x 106/365 x 100 = 3.33972602... is
    97.89404281..., so 97.8940; rounding the dirty price first (101.2338) gave 97.8941."""
    bond = FixedRateBond(
        date(2026, 1, 15), date(2031, 1, 15), Decimal("0.1150"), 2, DayCount.ACT_365_FIXED
    )
    calendar = Calendar()
    assert bond.dirty_price(Decimal("0.1210"), date(2026, 5, 1), calendar) == Decimal("101.2338")
    assert bond.clean_price(Decimal("0.1210"), date(2026, 5, 1), calendar) == Decimal("97.8940")
    assert bond.clean_price(Decimal("0.1300"), date(2026, 5, 4), calendar) == Decimal("94.8437")


def test_pib_coupon_periods_ending_on_a_month_end_are_regular() -> None:
    """Hostile review: a PIB maturing on 30 Mar has coupon dates 30 Sep / 30 Mar. The 30 Sep
    period was measured against a reference start of 31 Mar (the month end before a month
    end), so it counted as irregular and paid rate/2 x (1 + 1/182). Worked by hand: PKR
    100,000 at 12% pays PKR 6,000.00 each half year, and on 29 Sep (183 of 184 days of the
    period 30 Mar - 30 Sep) accrued is 6,000 x 183/184 = PKR 5,967.39."""
    bond = FixedRateBond(
        issue=date(2025, 3, 30),
        maturity=date(2030, 3, 30),
        coupon_rate=Decimal("0.12"),
        frequency=2,
        day_count=DayCount.ACT_ACT_ICMA,
    )
    calendar = Calendar()
    periods = bond.schedule(calendar)
    assert all(bond.coupon_fraction(p) == Fraction(1, 2) for p in periods)
    assert bond.coupon_amount(100_000_00, periods[0]) == 600_000
    assert bond.accrued(100_000_00, date(2025, 9, 29), calendar) == 596_739
