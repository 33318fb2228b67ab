"""Instrument arithmetic, exact: T-bill discount pricing and fixed-rate bond schedules and prices.

Rates and prices are `Decimal` at the edges and `Fraction` inside, so nothing is lost to binary
floating point. Prices per 100 of face value are rounded to 4 decimal places, half-even, once,
when returned (a clean price is the exact dirty price less the exact accrued interest, then
rounded); cash amounts are integers in minor units (paisa), rounded half-even.

T-bill tenors are whole days as the auction announces them (SBP: 28, 84, 182, 364 ...), not
calendar months. Fixed-rate PIBs pay semi-annual coupons of rate / 2 and accrue ACT/ACT ICMA
(days elapsed over the days of the coupon period), priced at a yield compounded semi-annually
with the first period's fraction in the same ACT/ACT days, as SBP publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from amanat.domain.daycount import Calendar, DayCount, add_months, year_fraction
from amanat.errors import InvalidInput

PRICE_PLACES = Decimal("0.0001")
SBP_TBILL_TENORS_DAYS = (28, 84, 182, 364)  # the tenors SBP announces today; others are allowed
MAX_TBILL_TENOR_DAYS = 366


def _dec(value: Fraction, places: Decimal = PRICE_PLACES) -> Decimal:
    """`value` rounded half-even to `places` (the division carries 60 significant digits)."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return exact.quantize(places, ROUND_HALF_EVEN)


def round_half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder > Fraction(1, 2) or (remainder == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


# ------------------------------------------------------------------ T-bills


def tbill_price(yield_rate: Decimal, days: int) -> Decimal:
    """Price per 100: 100 / (1 + y * d / 365) (ACT/365), y as a decimal (0.12 = 12%)."""
    if days <= 0:
        raise InvalidInput(f"days to maturity must be positive, got {days}")
    if yield_rate <= -1:
        raise InvalidInput(f"yield {yield_rate} is not a rate above -100%")
    return _dec(Fraction(100) / (1 + Fraction(yield_rate) * Fraction(days, 365)))


def tbill_yield(price: Decimal | Fraction, days: int) -> Decimal:
    """Yield (decimal, 8 places) from a price per 100 (exact: a `Fraction` is not rounded
    first): (100 / P - 1) * 365 / d."""
    if days <= 0 or price <= 0:
        raise InvalidInput(f"price {price} and days {days} must be positive")
    return _dec((Fraction(100) / Fraction(price) - 1) * Fraction(365, days), Decimal("0.00000001"))


def tbill_maturity(issue: date, tenor_days: int) -> date:
    """The maturity of a T-bill issued on `issue` with a tenor of `tenor_days` as announced
    (an 84-day bill issued 10 Sep 2020 matures 3 Dec 2020): the announced days are the days
    priced, so the date is not moved by calendar months or business days."""
    if not 1 <= tenor_days <= MAX_TBILL_TENOR_DAYS:
        raise InvalidInput(
            f"T-bill tenor {tenor_days} days must be 1 to {MAX_TBILL_TENOR_DAYS} days "
            f"(SBP announces {', '.join(map(str, SBP_TBILL_TENORS_DAYS))})"
        )
    return issue + timedelta(days=tenor_days)


# -------------------------------------------------------------------- bonds

# Conventions under which a regular coupon is exactly rate / frequency.
FIXED_REGULAR_COUPON = frozenset({DayCount.THIRTY_360, DayCount.ACT_ACT_ICMA})


@dataclass(frozen=True)
class CouponPeriod:
    start: date  # unadjusted accrual start
    end: date  # unadjusted accrual end
    payment: date  # business-day adjusted payment date


@dataclass(frozen=True)
class FixedRateBond:
    issue: date
    maturity: date
    coupon_rate: Decimal  # annual, decimal
    frequency: int = 2  # coupons a year
    day_count: DayCount = DayCount.ACT_365_FIXED

    def __post_init__(self) -> None:
        if self.maturity <= self.issue:
            raise InvalidInput(f"maturity {self.maturity} is not after issue {self.issue}")
        if 12 % self.frequency:
            raise InvalidInput(f"coupon frequency {self.frequency} does not divide 12 months")
        if self.coupon_rate < 0:
            raise InvalidInput(f"coupon rate {self.coupon_rate} is negative")

    def schedule(self, calendar: Calendar) -> list[CouponPeriod]:
        """Coupon periods rolled back from maturity (a short first period if needed),
        payment dates adjusted modified-following."""
        step = 12 // self.frequency
        ends: list[date] = []
        count = 0
        current = self.maturity
        while current > self.issue:
            ends.append(current)
            count += 1
            current = add_months(self.maturity, -step * count, end_of_month=True)
        ends.reverse()
        starts = [self.issue, *ends[:-1]]
        return [
            CouponPeriod(s, e, calendar.modified_following(e))
            for s, e in zip(starts, ends, strict=True)
        ]

    def reference_start(self, end: date) -> date:
        """The regular period's start for a coupon date `end`: the schedule date before it,
        rolled from maturity as `schedule` rolls (so a 30 Sep coupon of a bond maturing on
        30 Mar starts on 30 Mar, not on the month end 31 Mar)."""
        step = 12 // self.frequency
        count = 0
        while add_months(self.maturity, -step * count, end_of_month=True) > end:
            count += 1
        return add_months(self.maturity, -step * (count + 1), end_of_month=True)

    def fraction(self, start: date, end: date, period: CouponPeriod) -> Fraction:
        """Year fraction from `start` to `end` inside coupon `period`, under the bond's day
        count: ACT/ACT ICMA against the regular period ending at the period's end."""
        return year_fraction(
            start,
            end,
            self.day_count,
            reference_start=self.reference_start(period.end),
            reference_end=period.end,
            maturity=self.maturity,
        )

    def coupon_fraction(self, period: CouponPeriod) -> Fraction:
        """The share of the annual rate paid for a period: 1/frequency for a regular period
        under 30/360 and ACT/ACT ICMA, the year fraction otherwise and for irregular periods."""
        regular = self.reference_start(period.end) == period.start
        if regular and self.day_count in FIXED_REGULAR_COUPON:
            return Fraction(1, self.frequency)
        return self.fraction(period.start, period.end, period)

    def coupon_amount(self, face_minor: int, period: CouponPeriod) -> int:
        """Coupon on `face_minor` for one period, in minor units, half-even."""
        return round_half_even(
            face_minor * Fraction(self.coupon_rate) * self.coupon_fraction(period)
        )

    def accrued(self, face_minor: int, settlement: date, calendar: Calendar) -> int:
        """Accrued interest at `settlement`, in minor units (half-even)."""
        return round_half_even(face_minor * self._accrued_fraction(settlement, calendar))

    def _accrued_fraction(self, settlement: date, calendar: Calendar) -> Fraction:
        """Accrued interest per unit of face at `settlement`, exact."""
        for period in self.schedule(calendar):
            if period.start <= settlement < period.end:
                elapsed = self.fraction(period.start, settlement, period)
                return Fraction(self.coupon_rate) * elapsed
        return Fraction(0)

    def dirty_price(self, yield_rate: Decimal, settlement: date, calendar: Calendar) -> Decimal:
        """Price per 100 including accrued: remaining cash flows discounted at `yield_rate`
        compounded `frequency` times a year, fractional first period by the day count."""
        return _dec(self._dirty(yield_rate, settlement, calendar))

    def _dirty(self, yield_rate: Decimal, settlement: date, calendar: Calendar) -> Fraction:
        periods = [p for p in self.schedule(calendar) if p.end > settlement]
        if not periods:
            raise InvalidInput(f"settlement {settlement} is on or after maturity {self.maturity}")
        per = 1 + Fraction(yield_rate) / self.frequency
        first = periods[0]
        to_next = self.fraction(settlement, first.end, first) / self.fraction(
            first.start, first.end, first
        )
        total = Fraction(0)
        for index, period in enumerate(periods):
            cash = 100 * Fraction(self.coupon_rate) * self.coupon_fraction(period)
            if period is periods[-1]:
                cash += 100
            exponent = to_next + index
            total += cash / _power(per, exponent)
        return total

    def clean_price(self, yield_rate: Decimal, settlement: date, calendar: Calendar) -> Decimal:
        """Price per 100 without accrued interest: the exact dirty price less the exact accrued
        interest, rounded once."""
        dirty = self._dirty(yield_rate, settlement, calendar)
        return _dec(dirty - 100 * self._accrued_fraction(settlement, calendar))


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    """base ** exponent for a fractional exponent, exact in the integer part and to 40
    significant digits in the fractional part (Decimal context)."""
    whole = exponent.numerator // exponent.denominator
    rest = exponent - whole
    result = base**whole
    if rest:
        with localcontext() as ctx:
            ctx.prec = 40
            value = (Decimal(base.numerator) / Decimal(base.denominator)) ** (
                Decimal(rest.numerator) / Decimal(rest.denominator)
            )
        result *= Fraction(value)
    return result


# ------------------------------------------------------------- Ijara sukuk


@dataclass(frozen=True)
class RentalPayment:
    period: CouponPeriod
    rent_minor: int
    principal_minor: int  # the return of principal, on the last payment only

    @property
    def total_minor(self) -> int:
        return self.rent_minor + self.principal_minor


@dataclass(frozen=True)
class IjaraSukuk:
    """An Ijara sukuk: holders own the usufruct of an underlying public asset and receive its
    rent on a schedule; at maturity the state buys the asset back at the face value. Rent accrues
    like a fixed coupon (rental rate on face, per period by the day count)."""

    issue: date
    maturity: date
    rental_rate: Decimal  # annual, decimal
    frequency: int = 2
    day_count: DayCount = DayCount.ACT_365_FIXED

    def _lease(self) -> FixedRateBond:
        return FixedRateBond(
            self.issue, self.maturity, self.rental_rate, self.frequency, self.day_count
        )

    def rental_schedule(self, face_minor: int, calendar: Calendar) -> list[RentalPayment]:
        """Each rental payment on `face_minor` of sukuk, the last with the principal returned."""
        lease = self._lease()
        periods = lease.schedule(calendar)
        return [
            RentalPayment(
                period,
                lease.coupon_amount(face_minor, period),
                face_minor if period is periods[-1] else 0,
            )
            for period in periods
        ]
