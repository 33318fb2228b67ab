"""Payout Merkle trees (as the Distributor checks them), sealed-bid commitments and bid payments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.domain.auction import commitment, tbill_payment, yield_micro
from amanat.domain.distribution import Payout, distribute
from amanat.domain.payouts import PayoutTree, verify_proof
from amanat.errors import InvalidInput

TOKEN = "0x" + "ab" * 20
HOLDERS = ["0x" + f"{i:040x}" for i in range(1, 40)]


def _payouts(n: int) -> list[Payout]:
    return distribute(1_000_003, {h: 10 + i for i, h in enumerate(HOLDERS[:n])})


def test_leaf_is_the_abi_encoding_the_contract_hashes():
    tree = PayoutTree(TOKEN, 77, _payouts(3))
    leaf = tree.leaves[1]
    expected = keccak(
        encode(
            ["address", "uint256", "uint256", "address", "uint256", "uint256"],
            [TOKEN, 77, 1, leaf.holder, leaf.units, leaf.amount],
        )
    )
    assert leaf.hash(TOKEN, 77) == expected


def test_single_payout_tree_is_its_leaf():
    tree = PayoutTree(TOKEN, 5, _payouts(1))
    assert tree.depth == 0
    assert tree.root == tree.leaves[0].hash(TOKEN, 5)
    assert tree.proof(0) == []


def test_three_payouts_pad_to_four_with_a_zero_leaf():
    tree = PayoutTree(TOKEN, 5, _payouts(3))
    a, b, c = (leaf.hash(TOKEN, 5) for leaf in tree.leaves)
    assert tree.depth == 2
    assert tree.root == keccak(keccak(a + b) + keccak(c + b"\x00" * 32))
    assert tree.proof(2) == [b"\x00" * 32, keccak(a + b)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 39), record_block=st.integers(0, 10**9))
def test_every_proof_verifies_and_any_change_fails(n, record_block):
    tree = PayoutTree(TOKEN, record_block, _payouts(n))
    for leaf in tree.leaves:
        proof = tree.proof(leaf.index)
        assert len(proof) == tree.depth
        assert verify_proof(tree.root, leaf.hash(TOKEN, record_block), leaf.index, proof)
        forged = leaf.__class__(leaf.index, leaf.holder, leaf.units, leaf.amount + 1)
        assert not verify_proof(tree.root, forged.hash(TOKEN, record_block), leaf.index, proof)
        other_snapshot = leaf.hash(TOKEN, record_block + 1)
        assert not verify_proof(tree.root, other_snapshot, leaf.index, proof)
        if tree.depth:
            assert not verify_proof(
                tree.root, leaf.hash(TOKEN, record_block), leaf.index ^ 1, proof
            )


def test_proof_index_outside_the_list_is_refused():
    tree = PayoutTree(TOKEN, 1, _payouts(4))
    with pytest.raises(InvalidInput, match="outside 0..3"):
        tree.proof(4)


def test_empty_payout_list_is_refused():
    with pytest.raises(InvalidInput, match="at least one payout"):
        PayoutTree(TOKEN, 1, [])


def test_yield_micro_is_exact():
    assert yield_micro(Decimal("0.1195")) == 119_500
    assert yield_micro(Decimal("0.119222")) == 119_222
    with pytest.raises(InvalidInput, match="at most 6 decimal places"):
        yield_micro(Decimal("0.1195001"))
    with pytest.raises(InvalidInput, match="non-negative"):
        yield_micro(Decimal("-0.01"))


def test_commitment_matches_the_contract_encoding():
    salt = bytes(range(32))
    bidder = "0x" + "12" * 20
    expected = keccak(
        encode(
            ["uint256", "address", "uint256", "uint256", "bool", "bytes32"],
            [3, bidder, 1000, 119_500, True, salt],
        )
    )
    assert commitment(3, bidder, 1000, 119_500, True, salt) == expected
    assert commitment(3, bidder, 1000, 119_500, False, salt) != expected


def test_tbill_payment_hand_worked():
    # 250,000 units of PKR 100 at 11.95% for 91 days: price 100 / (1 + 0.1195 * 91/365)
    # = 97.1069 per 100 (4 places), so 250,000 x 10,000 paisa x 0.971069 = 2,427,672,500 paisa.
    assert tbill_payment(250_000, 100_00, Decimal("0.1195"), 91) == 2_427_672_500
    # Half a paisa rounds to even: 1 unit of 1 paisa face at price 50.0000 pays 0.5 -> 0.
    assert tbill_payment(1, 1, Decimal("1.00"), 365) == 0
    assert tbill_payment(3, 1, Decimal("1.00"), 365) == 2  # 1.5 -> 2
