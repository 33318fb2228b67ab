"""Asset classes, lifecycle statuses and document kinds, numbered as the AssetRegistry stores them."""

from __future__ import annotations

from enum import IntEnum

from amanat.errors import InvalidInput


class _Parsable(IntEnum):
    @classmethod
    def parse(cls, text: str):  # type: ignore[no-untyped-def]
        key = text.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            names = ", ".join(c.name.lower() for c in cls)
            raise InvalidInput(f"unknown {cls.__name__} {text!r} (one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


class AssetClass(_Parsable):
    T_BILL = 1
    BOND = 2
    SUKUK = 3
    EQUITY = 4
    REAL_ESTATE = 5
    COMMODITY_RESERVE = 6


class AssetStatus(_Parsable):
    PROPOSED = 1
    APPROVED = 2
    TOKENIZED = 3
    REDEEMED = 4
    RETIRED = 5


class DocumentKind(_Parsable):
    TITLE_DEED = 1
    VALUATION_REPORT = 2
    LEGAL_AUTHORISATION = 3
    OTHER = 4
