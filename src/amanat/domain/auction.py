"""Primary auction allocation (cut-off, pro rata at the margin), exact integers.

Rules:
- the cut-off is the yield of the marginal accepted bid: a yield some competitive bid was made
  at, with that bid at least partly filled (any other cut-off is refused);
- non-competitive bids are filled first, in full, up to the amount offered (if they alone exceed
  it they are scaled pro rata by the rule below), and pay the weighted-average accepted yield:
  the average of the yields the accepted competitive bids are priced at, weighted by units,
  rounded half-even to a millionth (the cut-off itself in a uniform-price auction);
- competitive bids with a yield below the cut-off are filled in full;
- bids at the cut-off share what is left pro rata to their amounts;
- bids above the cut-off get nothing; the total never exceeds the amount offered.
- pricing: in a uniform-price auction every accepted bid pays the cut-off yield; in a
  multiple-price auction (SBP's T-bills and PIBs) each accepted competitive bid pays its own.
Rounding of a pro-rata share: each bid first gets floor(share); the units left over go one each
to the bids with the largest fractional remainders, ties broken by the earlier commitment (the
lower sequence number the contract gave the sealed bid), never by reveal order.

On chain, bids are sealed as keccak256(abi_encode(auctionId, bidder, units, yieldMicro,
competitive, salt)) with yields in millionths, and each accepted bid pays units x face x price/100
at its allocation yield, rounded half-even to the minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from fractions import Fraction

from amanat.domain.evm import keccak
from amanat.domain.instruments import round_half_even, tbill_price
from amanat.errors import InvalidInput, RuleViolation

YIELD_SCALE = 1_000_000  # on chain, yields are integers in millionths (0.1195 -> 119500)


class Pricing(IntEnum):
    """An auction's pricing method, as the contract stores it."""

    UNIFORM = 1  # every accepted bid pays the cut-off yield
    MULTIPLE = 2  # each accepted competitive bid pays its own yield

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Pricing:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidInput(
                f"pricing {text!r} is not one of: uniform, multiple", pricing=text
            ) from None


@dataclass(frozen=True)
class Bid:
    bidder: str
    amount: int  # units
    yield_rate: Decimal | None  # None: non-competitive
    sequence: int  # commitment order on chain, for tie-breaks

    @property
    def competitive(self) -> bool:
        return self.yield_rate is not None


@dataclass(frozen=True)
class Allocation:
    bid: Bid
    units: int
    yield_rate: Decimal  # the yield this allocation is priced at


def pro_rata(amounts: list[int], available: int) -> list[int]:
    """Split `available` units over `amounts` pro rata, exactly (largest remainder)."""
    total = sum(amounts)
    if total <= available:
        return list(amounts)
    shares = [Fraction(a * available, total) for a in amounts]
    floors = [s.numerator // s.denominator for s in shares]
    left = available - sum(floors)
    order = sorted(range(len(amounts)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def valid_cutoffs(offered: int, bids: list[Bid]) -> list[Decimal]:
    """The competitive yields that can be the cut-off: those at which some bid is still (at
    least partly) filled once the non-competitive bids and every lower bid are served. When
    the non-competitive bids alone take the whole amount, no competitive bid is accepted and
    the only cut-off is the lowest competitive yield bid, which prices them (the chain checks
    the same)."""
    demand_below = sum(b.amount for b in bids if not b.competitive)
    rates = sorted({b.yield_rate for b in bids if b.yield_rate is not None})
    if rates and demand_below >= offered:
        return rates[:1]
    valid = []
    for rate in rates:
        if demand_below < offered:
            valid.append(rate)
        demand_below += sum(b.amount for b in bids if b.yield_rate == rate)
    return valid


def check_cutoff(offered: int, bids: list[Bid], cutoff: Decimal) -> None:
    """Refuse a cut-off that is not the yield of the marginal accepted bid, and non-competitive
    bids with no competitive bid to price them."""
    valid = valid_cutoffs(offered, bids)
    if not valid and any(not b.competitive for b in bids):
        raise RuleViolation(
            "no-competitive-price",
            "only non-competitive bids were revealed: no competitive yield prices them",
        )
    if valid and cutoff not in valid:
        choices = ", ".join(f"{rate:.4%}" for rate in valid)
        raise RuleViolation(
            "cutoff-not-marginal",
            f"cut-off {cutoff:.4%} is not the yield of the marginal accepted bid; with these "
            f"bids the cut-off can be {choices}",
            cutoff=str(cutoff),
        )


def allocate(
    offered: int, bids: list[Bid], cutoff: Decimal, uniform_price: bool = True
) -> list[Allocation]:
    """Allocate `offered` units at `cutoff` (which must be the marginal accepted yield). With
    `uniform_price`, every accepted bid pays the cut-off yield; otherwise each competitive bid
    pays its own yield (multiple-price auction)."""
    if offered <= 0:
        raise InvalidInput(f"amount offered must be positive, got {offered}")
    for bid in bids:
        if bid.amount <= 0:
            raise InvalidInput(
                f"bid {bid.sequence} by {bid.bidder} has a non-positive amount {bid.amount}"
            )
    check_cutoff(offered, bids, cutoff)
    non_competitive = sorted((b for b in bids if not b.competitive), key=lambda b: b.sequence)
    competitive = sorted((b for b in bids if b.competitive), key=lambda b: b.sequence)
    nc_units = pro_rata([b.amount for b in non_competitive], offered)
    left = offered - sum(nc_units)
    below = [b for b in competitive if b.yield_rate is not None and b.yield_rate < cutoff]
    at = [b for b in competitive if b.yield_rate == cutoff]
    below_units = pro_rata([b.amount for b in below], left)
    left -= sum(below_units)
    at_units = pro_rata([b.amount for b in at], left)
    accepted = [(b, u) for b, u in zip(below + at, below_units + at_units, strict=True) if u > 0]
    accepted_units = sum(u for _, u in accepted)
    weighted = cutoff
    if accepted_units:
        numerator = Fraction(0)
        for bid, units in accepted:
            priced_at = cutoff if uniform_price else bid.yield_rate
            numerator += Fraction(priced_at or 0) * units
        weighted = from_micro(round_half_even(numerator * YIELD_SCALE / accepted_units))
    allocations = [
        Allocation(b, u, cutoff if uniform_price else b.yield_rate)  # type: ignore[arg-type]
        for b, u in accepted
    ]
    allocations += [
        Allocation(b, u, weighted) for b, u in zip(non_competitive, nc_units, strict=True) if u > 0
    ]
    return allocations


def yield_micro(rate: Decimal) -> int:
    """A yield as the contract stores it: millionths, exactly (0.1195 -> 119500)."""
    scaled = rate * YIELD_SCALE
    if scaled != scaled.to_integral_value() or scaled < 0:
        raise InvalidInput(f"yield {rate} must be non-negative with at most 6 decimal places")
    return int(scaled)


def from_micro(value: int) -> Decimal:
    return Decimal(value) / YIELD_SCALE


def commitment(
    auction_id: int, bidder: str, units: int, micro: int, competitive: bool, salt: bytes
) -> bytes:
    """The sealed-bid hash a bidder commits before the close."""
    from eth_abi import encode  # imported on first use: reading an auction's terms needs none

    return keccak(
        encode(
            ["uint256", "address", "uint256", "uint256", "bool", "bytes32"],
            [auction_id, bidder, units, micro, competitive, salt],
        )
    )


def tbill_payment(units: int, face_minor_per_unit: int, yield_rate: Decimal, days: int) -> int:
    """Cash for `units` of a T-bill bought at `yield_rate` with `days` to maturity, in minor
    units: units x face x price/100, rounded half-even."""
    price = Fraction(tbill_price(yield_rate, days))
    return round_half_even(Fraction(units * face_minor_per_unit) * price / 100)


def parse_yield(text: str) -> Decimal:
    """A yield given as a decimal fraction ('0.1195') or a percentage ('11.95%'), in [0, 100%)
    and in whole millionths, as the contract stores it."""
    raw = text.strip()
    try:
        value = Decimal(raw.removesuffix("%")) / (100 if raw.endswith("%") else 1)
    except InvalidOperation:
        raise InvalidInput(f"yield {text!r} is not a number (e.g. 0.1195 or 11.95%)") from None
    if not value.is_finite() or not 0 <= value < 1:
        raise InvalidInput(f"yield {text!r} must be between 0 and 100%")
    yield_micro(value)
    return value
