"""Investor categories and ISO-3166 numeric countries as the IdentityRegistry stores them."""

from __future__ import annotations

from enum import IntEnum

from amanat.errors import InvalidInput


class InvestorCategory(IntEnum):
    """Category bit positions used in the IdentityRegistry and in token eligibility masks."""

    BANK = 0
    INSURER = 1
    PENSION_FUND = 2
    MUTUAL_FUND = 3
    GOVERNMENT_ENTITY = 4
    FOREIGN_INSTITUTION = 5
    RETAIL = 6
    BROKER_DEALER = 7

    @classmethod
    def parse(cls, text: str) -> InvestorCategory:
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            names = ", ".join(c.name.lower() for c in cls)
            raise InvalidInput(f"unknown investor category {text!r} (one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


# ISO-3166 numeric codes of countries the pilot deals with; any 1..999 code is accepted.
COUNTRY_CODES: dict[str, int] = {
    "PK": 586,
    "AE": 784,
    "SA": 682,
    "QA": 634,
    "GB": 826,
    "US": 840,
    "CN": 156,
    "TR": 792,
    "MY": 458,
    "SG": 702,
    "DE": 276,
    "KP": 408,
    "IR": 364,
}
COUNTRY_ALPHA2 = {code: alpha2 for alpha2, code in COUNTRY_CODES.items()}
DOMESTIC_COUNTRY = COUNTRY_CODES["PK"]


def parse_country(text: str | int) -> int:
    """An ISO-3166 numeric code from a number ("586") or a known alpha-2 code ("PK")."""
    if isinstance(text, int) or str(text).strip().isdigit():
        code = int(text)
        if not 0 < code < 1000:
            raise InvalidInput(f"country code {code} is not an ISO-3166 numeric code (1..999)")
        return code
    alpha2 = str(text).strip().upper()
    if alpha2 not in COUNTRY_CODES:
        raise InvalidInput(
            f"unknown country {text!r}: give the ISO-3166 numeric code or one of "
            + ", ".join(sorted(COUNTRY_CODES))
        )
    return COUNTRY_CODES[alpha2]


def country_label(code: int) -> str:
    alpha2 = COUNTRY_ALPHA2.get(code)
    return f"{alpha2} ({code})" if alpha2 else str(code)
