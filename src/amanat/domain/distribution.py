"""Distributions (coupons, rent, dividends) to holders of record, summing exactly.

Rule: each holder gets floor(total * balance / supply) minor units; the minor units left over go
one each to the holders with the largest fractional remainders, ties to the lower address. The
payouts therefore sum exactly to the declared total.

"Lower address" and the order of the payout list (and so the leaf indexes of its Merkle tree)
are numeric: addresses compare as 160-bit integers, never as checksummed strings (where
0xBcd4... would sort before 0xa0Ee... because upper case sorts first), so anyone recomputing
the list gets the same payouts and root. A holder whose wallet is frozen is still
allotted its payout, which is held (escrowed) rather than paid, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from amanat.errors import InvalidInput

# What a distribution pays, as the Distributor contract numbers it.
KINDS = {"coupon": 1, "rent": 2, "dividend": 3, "redemption": 4}
PAY_BATCH = 100  # payouts per transaction (the contract's bound)


@dataclass(frozen=True)
class Payout:
    holder: str
    units: int
    amount_minor: int
    held: bool  # frozen at the record date: escrowed, released when unfrozen


def address_order(holder: str) -> int:
    """A holder's address as a number: the order of payouts and of remainder ties."""
    return int(holder, 16)


def distribute(
    total_minor: int, balances: dict[str, int], frozen: frozenset[str] = frozenset()
) -> list[Payout]:
    """Each holder's payout of `total_minor`, in numeric address order, summing exactly."""
    if total_minor < 0:
        raise InvalidInput(f"distribution total {total_minor} is negative")
    holders = sorted((h for h, units in balances.items() if units > 0), key=address_order)
    supply = sum(balances[h] for h in holders)
    if supply == 0:
        raise InvalidInput("no holders of record: nothing to distribute to")
    shares = {h: Fraction(total_minor * balances[h], supply) for h in holders}
    amounts = {h: s.numerator // s.denominator for h, s in shares.items()}
    left = total_minor - sum(amounts.values())
    for holder in sorted(holders, key=lambda h: (-(shares[h] - amounts[h]), address_order(h)))[
        :left
    ]:
        amounts[holder] += 1
    return [Payout(h, balances[h], amounts[h], h in frozen) for h in holders]
