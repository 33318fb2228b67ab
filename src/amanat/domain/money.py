"""PKR amounts as integers in minor units (paisa); Decimal only at the edges, never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from amanat.errors import InvalidInput

MINOR_PER_RUPEE = 100


def parse_pkr(text: str | int | Decimal) -> int:
    """'1,250,000.50' -> 125000050 paisa. Refuses fractions of a paisa and negatives."""
    try:
        value = Decimal(str(text).replace(",", "").strip())
    except InvalidOperation:
        raise InvalidInput(f"amount {text!r} is not a number") from None
    if not value.is_finite():
        raise InvalidInput(f"amount {text!r} is not a finite number")
    minor = value * MINOR_PER_RUPEE
    if minor != minor.to_integral_value():
        raise InvalidInput(f"amount {text!r} has fractions of a paisa")
    if minor < 0:
        raise InvalidInput(f"amount {text!r} is negative")
    return int(minor)


def format_pkr(minor: int) -> str:
    """125000050 -> 'PKR 1,250,000.50'."""
    rupees, paisa = divmod(minor, MINOR_PER_RUPEE)
    return f"PKR {rupees:,}.{paisa:02d}"
