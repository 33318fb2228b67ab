"""Day-count conventions (ISDA 2006 section 4.16, ICMA Rule 251) and business-day adjustment,
as exact fractions.

Conventions that need more than the two dates take them as keywords: ACT/ACT ICMA the
reference (regular coupon) period the dates fall in, 30E/360 ISDA the instrument's maturity
(its last day of February is not moved to the 30th).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction

from amanat.errors import InvalidInput


class DayCount(StrEnum):
    ACT_365_FIXED = "ACT/365F"  # ISDA 4.16(d)
    ACT_360 = "ACT/360"  # ISDA 4.16(e)
    ACT_ACT_ISDA = "ACT/ACT ISDA"  # ISDA 4.16(b)
    ACT_ACT_ICMA = "ACT/ACT ICMA"  # ISDA 4.16(c), ICMA Rule 251: the PIB accrual convention
    THIRTY_360 = "30/360"  # ISDA 4.16(f), "30/360" / "Bond Basis"
    THIRTY_E_360 = "30E/360"  # ISDA 4.16(g), "Eurobond Basis"
    THIRTY_E_360_ISDA = "30E/360 ISDA"  # ISDA 4.16(h)


def year_fraction(
    start: date,
    end: date,
    convention: DayCount,
    *,
    reference_start: date | None = None,
    reference_end: date | None = None,
    maturity: date | None = None,
) -> Fraction:
    """The fraction of a year from `start` to `end` under `convention`.

    ACT/ACT ICMA counts against the reference period [`reference_start`, `reference_end`)
    (the regular coupon period; by default `start` to `end`); 30E/360 ISDA needs `maturity`."""
    if convention is DayCount.ACT_365_FIXED:
        return Fraction((end - start).days, 365)
    if convention is DayCount.ACT_360:
        return Fraction((end - start).days, 360)
    if convention is DayCount.ACT_ACT_ISDA:
        return _act_act_isda(start, end)
    if convention is DayCount.ACT_ACT_ICMA:
        return _act_act_icma(start, end, reference_start or start, reference_end or end)
    if convention is DayCount.THIRTY_E_360:
        return Fraction(days_30e_360(start, end), 360)
    if convention is DayCount.THIRTY_E_360_ISDA:
        if maturity is None:
            raise InvalidInput("30E/360 ISDA needs the instrument's maturity date")
        return Fraction(days_30e_360_isda(start, end, maturity), 360)
    return Fraction(days_30_360(start, end), 360)


def _thirty_360(start: date, end: date, d1: int, d2: int) -> int:
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def days_30_360(start: date, end: date) -> int:
    """ISDA 30/360 (Bond Basis): D1 = 31 -> 30; D2 = 31 -> 30 only if D1 is then 30."""
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and d1 == 30:
        d2 = 30
    return _thirty_360(start, end, d1, d2)


def days_30e_360(start: date, end: date) -> int:
    """30E/360 (Eurobond Basis): a 31st is the 30th, at either end."""
    return _thirty_360(start, end, min(start.day, 30), min(end.day, 30))


def days_30e_360_isda(start: date, end: date, maturity: date) -> int:
    """30E/360 ISDA: a 31st or the last day of February is the 30th, except the last day of
    February when `end` is the maturity date."""
    d1 = 30 if start.day == 31 or _is_last_of_february(start) else start.day
    d2 = end.day
    if d2 == 31 or (_is_last_of_february(end) and end != maturity):
        d2 = 30
    return _thirty_360(start, end, d1, d2)


def _is_last_of_february(day: date) -> bool:
    return day.month == 2 and day.day == _month_length(day.year, 2)


def _act_act_isda(start: date, end: date) -> Fraction:
    """Days in each calendar year over that year's length (365 or 366), summed."""
    if end < start:
        return -_act_act_isda(end, start)
    total = Fraction(0)
    current = start
    while current < end:
        year_end = date(current.year + 1, 1, 1)
        stop = min(end, year_end)
        total += Fraction((stop - current).days, (year_end - date(current.year, 1, 1)).days)
        current = stop
    return total


def _act_act_icma(start: date, end: date, reference_start: date, reference_end: date) -> Fraction:
    """ICMA Rule 251: days over the days of the reference period, times the period's length
    in years; dates outside the period are counted in the notional periods before or after
    it (a long first or last coupon), as QuantLib's ActualActual::ISMA does."""
    if end == start:
        return Fraction(0)
    if end < start:
        return -_act_act_icma(end, start, reference_start, reference_end)
    months = round(12 * (reference_end - reference_start).days / 365)
    if months <= 0:
        raise InvalidInput(
            f"reference period {reference_start} to {reference_end} is shorter than a month"
        )
    period = Fraction(months, 12)
    if end <= reference_end:
        if start >= reference_start:
            return period * Fraction((end - start).days, (reference_end - reference_start).days)
        previous = add_months(reference_start, -months)
        if end > reference_start:
            return _act_act_icma(start, reference_start, previous, reference_start) + (
                _act_act_icma(reference_start, end, reference_start, reference_end)
            )
        return _act_act_icma(start, end, previous, reference_start)
    if start < reference_start:
        raise InvalidInput(
            f"{start} to {end} extends on both sides of the reference period "
            f"{reference_start} to {reference_end}"
        )
    total = _act_act_icma(start, reference_end, reference_start, reference_end)
    step = 0
    while True:
        notional_start = add_months(reference_end, months * step)
        notional_end = add_months(reference_end, months * (step + 1))
        if end < notional_end:
            return total + _act_act_icma(notional_start, end, notional_start, notional_end)
        total += period
        step += 1


class Calendar:
    """Business days: Monday to Friday except listed holidays."""

    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def following(self, day: date) -> date:
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def modified_following(self, day: date) -> date:
        """The next business day, unless that is in the next month: then the previous one."""
        adjusted = self.following(day)
        if adjusted.month != day.month:
            adjusted = day
            while not self.is_business_day(adjusted):
                adjusted -= timedelta(days=1)
        return adjusted


def add_months(day: date, months: int, end_of_month: bool = False) -> date:
    """`day` moved by whole months; the day is clipped to the month's length (or pinned to its
    end when `end_of_month` and `day` is a month end)."""
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    month += 1
    last = _month_length(year, month)
    if end_of_month and day.day == _month_length(day.year, day.month):
        return date(year, month, last)
    return date(year, month, min(day.day, last))


def _month_length(year: int, month: int) -> int:
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return (next_month - timedelta(days=1)).day
