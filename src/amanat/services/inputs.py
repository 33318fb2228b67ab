"""Input rules every face applies through the services: names a person can read as written,
addresses with a valid EIP-55 checksum, whole-number amounts."""

from __future__ import annotations

import unicodedata
from typing import Any

from amanat.domain.evm import to_checksum_address
from amanat.domain.money import MAX_AMOUNT, parse_units
from amanat.errors import InvalidInput, NotFound

# Control (Cc: C0 and C1), format (Cf: bidi overrides and isolates, zero-width joiners and
# spaces, the BOM), line and paragraph separators, surrogates, private use, unassigned.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
# The largest amount of minor units the store and the API carry (a signed 64-bit integer).
# The largest row id (a signed 32-bit integer): a larger one names nothing.
MAX_ID = 2**31 - 1


def display_name(value: str, field: str = "name") -> str:
    """A name shown to others (an institution, an asset): no character that hides, reorders or
    disguises text, so that two names that look alike are alike."""
    for position, char in enumerate(value):
        if unicodedata.category(char) in _HIDDEN_CATEGORIES:
            raise InvalidInput(
                f"{field} has the invisible or control character U+{ord(char):04X} "
                f"({unicodedata.name(char, 'unnamed')}) at position {position}: "
                "names may carry only visible characters and spaces",
                field=field,
            )
    if value != value.strip() or not value:
        raise InvalidInput(f"{field} must not be empty or start or end with a space", field=field)
    return value


def checksummed(value: str) -> str:
    """The EIP-55 form of an address; a mixed-case address must already carry its checksum
    (all lower or all upper case carries none)."""
    from eth_utils import is_hex_address

    if not is_hex_address(value):
        raise InvalidInput(f"{value!r} is not a 20-byte hex address (0x and 40 hex digits)")
    checksum = to_checksum_address(value)
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and value != checksum:
        raise InvalidInput(
            f"address {value} has a wrong EIP-55 checksum (mistyped?); expected {checksum}",
            address=value,
        )
    return checksum


def whole_amount(value: Any, field: str = "amount") -> int:
    """A positive whole number of units, read by the one amount parser
    (`domain.money.parse_units`): a JSON integer or digits grouped by commas in threes; never a
    boolean, a fraction, an exponent or a non-ASCII digit."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{field} must be a whole number of units, got {value!r}", field=field)
    try:
        return parse_units(value, what=field)
    except InvalidInput as refused:
        raise InvalidInput(
            f"{field} must be a whole number of units from 1 to {MAX_AMOUNT:,}: {refused.message}",
            field=field,
        ) from None


def known_id(value: int, what: str) -> int:
    """A row id that can exist; a larger or non-positive one is simply not found."""
    if not 0 < value <= MAX_ID:
        raise NotFound(f"no {what} {value}", id=str(value))
    return value
