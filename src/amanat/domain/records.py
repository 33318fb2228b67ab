"""Unpacking of the IdentityRegistry's packed wallet record (see contracts/IdentityRegistry.vy)."""

from __future__ import annotations

from dataclasses import dataclass

from amanat.domain.identity import InvestorCategory


@dataclass(frozen=True)
class WalletRecord:
    identity_number: int
    country: int
    category: InvestorCategory
    kyc_expiry: int

    @property
    def registered(self) -> bool:
        return self.identity_number != 0

    @classmethod
    def unpack(cls, word: int) -> WalletRecord:
        category = (word >> 80) & 0xFF
        return cls(
            identity_number=(word >> 88) & (2**39 - 1),  # bit 127: the sole-wallet flag
            country=(word >> 64) & 0xFFFF,
            category=InvestorCategory(category)
            if category < len(InvestorCategory)
            else InvestorCategory.BANK,
            kyc_expiry=word & (2**64 - 1),
        )
