"""Payout lists of a distribution and their Merkle tree, as the Distributor contract checks them.

Leaf = keccak256(abi_encode(token, recordBlock, index, holder, units, amount)): bound to the
snapshot of holders it was computed from. The tree is a perfect
binary tree of 2**depth leaves (the payouts, then zero leaves), and a node is keccak256(left ++
right). A proof is the `depth` sibling hashes from leaf to root; bit k of the index says whether
the running hash is the right child at level k.
"""

from __future__ import annotations

from dataclasses import dataclass

from amanat.domain.distribution import Payout
from amanat.domain.evm import keccak
from amanat.errors import InvalidInput

ZERO_LEAF = b"\x00" * 32
MAX_DEPTH = 16  # the contract's bound: 65,536 payouts per distribution


@dataclass(frozen=True)
class PayoutLeaf:
    index: int
    holder: str
    units: int
    amount: int

    def hash(self, token: str, record_block: int) -> bytes:
        # abi_encode of six static words, written out (eth-abi takes ~1 ms per leaf).
        return keccak(
            _address_word(token)
            + record_block.to_bytes(32, "big")
            + self.index.to_bytes(32, "big")
            + _address_word(self.holder)
            + self.units.to_bytes(32, "big")
            + self.amount.to_bytes(32, "big")
        )


def _address_word(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise InvalidInput(f"{address!r} is not a 20-byte address")
    return bytes(12) + raw


class PayoutTree:
    """The Merkle tree over one distribution's payout list."""

    def __init__(self, token: str, record_block: int, payouts: list[Payout]) -> None:
        if not payouts:
            raise InvalidInput("a distribution needs at least one payout")
        self.token = token
        self.record_block = record_block
        self.leaves = [
            PayoutLeaf(i, p.holder, p.units, p.amount_minor) for i, p in enumerate(payouts)
        ]
        self.depth = max(0, (len(payouts) - 1).bit_length())
        if self.depth > MAX_DEPTH:
            raise InvalidInput(
                f"{len(payouts)} payouts exceed the {2**MAX_DEPTH} one distribution can hold"
            )
        level = [leaf.hash(token, record_block) for leaf in self.leaves]
        level += [ZERO_LEAF] * (2**self.depth - len(level))
        self.levels = [level]
        while len(level) > 1:
            level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes of leaf `index`, leaf level first."""
        if not 0 <= index < len(self.leaves):
            raise InvalidInput(f"payout index {index} is outside 0..{len(self.leaves) - 1}")
        return [self.levels[k][(index >> k) ^ 1] for k in range(self.depth)]


def verify_proof(root: bytes, leaf_hash: bytes, index: int, proof: list[bytes]) -> bool:
    node = leaf_hash
    for level, sibling in enumerate(proof):
        node = keccak(node + sibling) if (index >> level) & 1 == 0 else keccak(sibling + node)
    return node == root
