"""The one parser of amounts (issue: one amount syntax for the CLI, the API and the console):
grouped or plain ASCII digits, a bounded number of decimals, never a float, an exponent, a sign,
a boolean or a non-ASCII digit; and PKR formatting round-trips through it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amanat.domain.money import MAX_AMOUNT, format_pkr, parse_amount, parse_pkr, parse_units
from amanat.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "paisa"),
    [
        ("1,250,000.50", 125_000_050),
        ("50,000,000", 5_000_000_000),
        ("1250000.5", 125_000_050),
        ("0.01", 1),
        ("7", 700),
        (7, 700),
        (Decimal("12.30"), 1_230),
        ("1.500", 150),  # trailing zeros are not fractions of a paisa
        (" 100 ", 10_000),
    ],
)
def test_pkr_accepted(text: str | int | Decimal, paisa: int) -> None:
    assert parse_pkr(text) == paisa


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1e999", "is not a number"),
        ("NaN", "is not a number"),
        (Decimal("Infinity"), "is not a number"),
        ("²", "is not a number"),  # int('²') once gave the console a 500
        ("١٢", "is not a number"),  # Arabic-Indic digits: one syntax, ASCII
        ("-5", "is not a number"),
        ("+5", "is not a number"),
        ("1,00", "is not a number"),  # commas group in threes
        ("12,3456", "is not a number"),
        ("", "is not a number"),
        (True, "is not a number"),  # JSON true is not amount 1
        ("1.001", "at most 2 decimal places"),
        (str(MAX_AMOUNT), "above the maximum"),
        (-1, "below the minimum"),
        ("9" * 5000, "is too long (5000 characters)"),  # never int()'s digit limit, a ValueError
    ],
)
def test_pkr_refused_with_the_value(text: object, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_pkr(text)  # type: ignore[arg-type]
    assert words in refused.value.message
    assert repr(text)[:20] in refused.value.message


def test_units_are_whole_and_positive() -> None:
    assert parse_units("100,000") == 100_000
    assert parse_units(5) == 5
    with pytest.raises(InvalidInput, match=r"units '1\.5' must be a whole number"):
        parse_units("1.5")
    with pytest.raises(InvalidInput, match="below the minimum 1"):
        parse_units("0")
    assert parse_amount(str(MAX_AMOUNT)) == MAX_AMOUNT


@given(st.integers(min_value=0, max_value=MAX_AMOUNT // 100))
def test_formatted_pkr_parses_back(paisa: int) -> None:
    assert parse_pkr(format_pkr(paisa).removeprefix("PKR ")) == paisa
