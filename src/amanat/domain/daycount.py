"""Day-count conventions (ISDA 2006 section 4.16) and business-day adjustment, as exact fractions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction


class DayCount(StrEnum):
    ACT_365_FIXED = "ACT/365F"  # ISDA 4.16(d)
    THIRTY_360 = "30/360"  # ISDA 4.16(f), "30/360" / "Bond Basis"


def year_fraction(start: date, end: date, convention: DayCount) -> Fraction:
    """The fraction of a year from `start` to `end` under `convention`."""
    if convention is DayCount.ACT_365_FIXED:
        return Fraction((end - start).days, 365)
    return Fraction(days_30_360(start, end), 360)


def days_30_360(start: date, end: date) -> int:
    """ISDA 30/360 (Bond Basis): D1 = 31 -> 30; D2 = 31 -> 30 only if D1 is then 30."""
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


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
