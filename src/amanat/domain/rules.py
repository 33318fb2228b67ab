"""A token's compliance rules and their packing into AssetToken's two storage words."""

from __future__ import annotations

from dataclasses import dataclass, field

from amanat.domain.identity import DOMESTIC_COUNTRY, InvestorCategory
from amanat.errors import InvalidInput

BPS = 10_000
COUNTRY_MODES = {"none": 0, "allow": 1, "deny": 2}
# A token's maturity (unix seconds, 0 = no fixed maturity) is given at creation in bits
# 160..223 of the rules word; the token keeps it for good (AssetToken.maturity).
MATURITY_SHIFT = 160
MAX_MATURITY = 2**64 - 1


@dataclass(frozen=True)
class TokenRules:
    """What a token lets through. Zero means "no limit" for caps and counts."""

    eligible_categories: frozenset[InvestorCategory] = frozenset(InvestorCategory)
    foreign_cap_bps: int = BPS
    max_holders: int = 0
    lockup_until: int = 0
    country_mode: str = "none"
    countries: tuple[int, ...] = ()
    domestic_country: int = DOMESTIC_COUNTRY
    holding_cap: int = 0
    minimum_holding: int = 0
    paused: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.foreign_cap_bps <= BPS:
            raise InvalidInput(
                f"foreign-ownership cap {self.foreign_cap_bps} bps is outside 0..{BPS}"
            )
        if self.country_mode not in COUNTRY_MODES:
            raise InvalidInput(f"country mode {self.country_mode!r} is not none, allow or deny")
        if not 0 <= self.max_holders < 2**32:
            raise InvalidInput(f"maximum holders {self.max_holders} out of range")
        if self.holding_cap and self.minimum_holding > self.holding_cap:
            raise InvalidInput(
                f"minimum holding {self.minimum_holding} exceeds holding cap {self.holding_cap}"
            )
        for country in self.countries:
            if not 0 < country < 1000:
                raise InvalidInput(f"country code {country} is not an ISO-3166 numeric code")

    @property
    def category_mask(self) -> int:
        mask = 0
        for category in self.eligible_categories:
            mask |= 1 << int(category)
        return mask

    def rules_word(self) -> int:
        return (
            self.category_mask
            | self.foreign_cap_bps << 16
            | self.max_holders << 32
            | self.lockup_until << 64
            | COUNTRY_MODES[self.country_mode] << 128
            | self.domestic_country << 136
        )

    def limits_word(self) -> int:
        return self.holding_cap | self.minimum_holding << 128

    def set_rules_args(self) -> list[int]:
        """Arguments of AssetToken.setRules."""
        return [
            self.category_mask,
            self.foreign_cap_bps,
            self.max_holders,
            self.lockup_until,
            COUNTRY_MODES[self.country_mode],
            self.domestic_country,
        ]

    @classmethod
    def from_words(cls, rules: int, limits: int) -> TokenRules:
        """The rules packed by `rules_word` and `limits_word` (as TokenFactory.createToken
        takes them), without a country list."""
        fields = (
            rules & 0xFFFF,
            rules >> 16 & 0xFFFF,
            rules >> 32 & 0xFFFFFFFF,
            rules >> 64 & 0xFFFFFFFFFFFFFFFF,
            rules >> 128 & 0xFF,
            rules >> 136 & 0xFFFF,
        )
        return cls.from_chain(fields, (limits & (1 << 128) - 1, limits >> 128), (), False)

    @classmethod
    def from_chain(
        cls,
        rules: tuple[int, int, int, int, int, int],
        limits: tuple[int, int],
        countries: tuple[int, ...],
        paused: bool,
    ) -> TokenRules:
        mask, foreign_cap, max_holders, lockup, mode, domestic = rules
        modes = {v: k for k, v in COUNTRY_MODES.items()}
        return cls(
            eligible_categories=frozenset(c for c in InvestorCategory if mask >> int(c) & 1),
            foreign_cap_bps=foreign_cap,
            max_holders=max_holders,
            lockup_until=lockup,
            country_mode=modes[mode],
            countries=countries,
            domestic_country=domestic,
            holding_cap=limits[0],
            minimum_holding=limits[1],
            paused=paused,
        )
