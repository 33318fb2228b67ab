"""PKR amounts as integers in minor units (paisa); Decimal only at the edges, never float."""

from __future__ import annotations

import re
from decimal import Decimal

from amanat.errors import InvalidInput

MINOR_PER_RUPEE = 100


# The largest amount any face accepts, in minor units or units: the API's int64 bound.
MAX_AMOUNT = 2**63 - 1
# Longer than any amount up to MAX_AMOUNT written with commas and decimals.
MAX_WRITTEN = 48
# ASCII digits, optionally grouped by commas in threes, and an optional fraction.
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?")


def parse_amount(
    text: str | int | Decimal,
    *,
    decimals: int = 0,
    what: str = "amount",
    minimum: int = 0,
    maximum: int = MAX_AMOUNT,
) -> int:
    """The one parser of amounts for every face: '1,250,000.50' with `decimals=2` is 125000050.

    Accepts an int, a Decimal, or ASCII digits grouped by commas in threes with at most
    `decimals` fractional digits; refuses signs, exponents, NaN, non-ASCII digits and booleans,
    and any result outside [minimum, maximum] (in minor units)."""
    if isinstance(text, bool):
        raise InvalidInput(f"{what} {text!r} is not a number")
    if isinstance(text, int):
        minor = text * 10**decimals
    else:
        if isinstance(text, Decimal):
            if not text.is_finite():
                raise InvalidInput(f"{what} {text!r} is not a number")
            text = format(text, "f")
        written = text.strip()
        if len(written) > MAX_WRITTEN:
            raise InvalidInput(f"{what} {text[:24]!r}… is too long ({len(written)} characters)")
        match = _AMOUNT.fullmatch(written)
        if match is None:
            raise InvalidInput(
                f"{what} {text!r} is not a number: write digits, e.g. 1,250,000"
                + (f" or 1,250,000.{'5'.ljust(decimals, '0')}" if decimals else "")
            )
        fraction = match.group(1) or ""
        if len(fraction.rstrip("0")) > decimals:
            unit = "a whole number" if decimals == 0 else f"at most {decimals} decimal places"
            raise InvalidInput(f"{what} {text!r} must be {unit}")
        whole = written.split(".")[0].replace(",", "")
        minor = int(whole) * 10**decimals + int((fraction + "0" * decimals)[:decimals] or 0)
    if minor < minimum:
        raise InvalidInput(f"{what} {text!r} is below the minimum {minimum}")
    if minor > maximum:
        raise InvalidInput(f"{what} {text!r} is above the maximum {maximum:,}")
    return minor


def parse_pkr(text: str | int | Decimal) -> int:
    """PKR to paisa: '1,250,000.50' -> 125000050. Refuses fractions of a paisa and negatives."""
    return parse_amount(text, decimals=2, what="amount")


def parse_units(text: str | int, what: str = "units") -> int:
    """A positive whole number of units: '100,000' -> 100000."""
    return parse_amount(text, what=what, minimum=1)


def format_pkr(minor: int) -> str:
    """125000050 -> 'PKR 1,250,000.50'."""
    rupees, paisa = divmod(minor, MINOR_PER_RUPEE)
    return f"PKR {rupees:,}.{paisa:02d}"
