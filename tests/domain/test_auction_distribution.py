"""Auction allocation and distributions: exact sums, no over-allocation, nobody paid twice."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.domain.auction import Bid, allocate, pro_rata
from amanat.domain.distribution import distribute

YIELDS = [
    Decimal("0.1100"),
    Decimal("0.1150"),
    Decimal("0.1175"),
    Decimal("0.1200"),
    Decimal("0.1250"),
]

bids_strategy = st.lists(
    st.tuples(st.integers(1, 10_000), st.one_of(st.none(), st.sampled_from(YIELDS))),
    min_size=1,
    max_size=30,
)


def _bids(raw):
    return [Bid(f"bidder-{i}", amount, y, i) for i, (amount, y) in enumerate(raw)]


def test_hand_worked_auction():
    bids = [
        Bid("A", 400, Decimal("0.1150"), 0),
        Bid("B", 300, Decimal("0.1175"), 1),
        Bid("C", 300, Decimal("0.1175"), 2),
        Bid("D", 500, Decimal("0.1200"), 3),
        Bid("N", 100, None, 4),
    ]
    allocations = {a.bid.bidder: a for a in allocate(1000, bids, Decimal("0.1175"))}
    # N 100 first; A 400 in full; B and C share 500 pro rata: 250 each; D above cut-off: nothing.
    assert {k: a.units for k, a in allocations.items()} == {"N": 100, "A": 400, "B": 250, "C": 250}
    # Uniform price: every accepted bid, and so their weighted average, is at the cut-off.
    assert allocations["N"].yield_rate == Decimal("0.1175")
    assert allocations["A"].yield_rate == Decimal("0.1175")
    # Multiple price: each pays its own yield; non-competitive the weighted average accepted
    # yield, (400 x 11.50% + 500 x 11.75%) / 900.
    multiple = {a.bid.bidder: a for a in allocate(1000, bids, Decimal("0.1175"), False)}
    assert multiple["A"].yield_rate == Decimal("0.1150")
    assert multiple["N"].yield_rate == Decimal("0.116389")


def test_pro_rata_largest_remainder_tie_goes_to_earlier_bid():
    assert pro_rata([1, 1, 1], 2) == [1, 1, 0]
    assert pro_rata([3, 3, 4], 5) == [2, 1, 2]  # shares 1.5, 1.5, 2.0: one unit left -> first


@settings(max_examples=300, deadline=None)
@given(raw=bids_strategy, offered=st.integers(1, 50_000), cutoff=st.sampled_from(YIELDS))
def test_auction_properties(raw, offered, cutoff):
    bids = _bids(raw)
    allocations = allocate(offered, bids, cutoff)
    by_bid = {a.bid.sequence: a.units for a in allocations}
    total = sum(by_bid.values())
    assert total <= offered  # never over-allocates
    assert all(0 < by_bid[s] <= b.amount for b in bids if (s := b.sequence) in by_bid)
    assert all(b.yield_rate is None or b.yield_rate <= cutoff for b in bids if b.sequence in by_bid)
    non_competitive = sum(b.amount for b in bids if b.yield_rate is None)
    below = [b for b in bids if b.yield_rate is not None and b.yield_rate < cutoff]
    at_or_below = sum(b.amount for b in bids if b.yield_rate is not None and b.yield_rate <= cutoff)
    # Exact: everything demanded at or below the cut-off is served up to the amount offered.
    assert total == min(offered, non_competitive + at_or_below)
    if non_competitive + sum(b.amount for b in below) <= offered:
        assert all(
            by_bid.get(b.sequence) == b.amount for b in below
        )  # no bid below cut-off unfilled


@settings(max_examples=300, deadline=None)
@given(
    balances=st.dictionaries(
        st.text("0123456789abcdef", min_size=4, max_size=8), st.integers(0, 10**9), min_size=1
    ),
    total=st.integers(0, 10**12),
)
def test_distribution_sums_exactly_and_pays_each_holder_once(balances, total):
    if sum(balances.values()) == 0:
        return
    payouts = distribute(total, balances, frozenset(list(balances)[:1]))
    assert sum(p.amount_minor for p in payouts) == total
    holders = [p.holder for p in payouts]
    assert len(holders) == len(set(holders))
    supply = sum(balances.values())
    for payout in payouts:
        exact = total * payout.units / supply
        assert abs(payout.amount_minor - exact) < 1 + 1e-9
    frozen_holder = list(balances)[0]
    if balances[frozen_holder] > 0:
        assert next(p for p in payouts if p.holder == frozen_holder).held


def test_distribution_orders_holders_numerically_by_address():
    """0xa0Ee... is numerically below 0xBcd4..., though "B" < "a" as checksummed text: the
    payout list and the leftover minor unit follow the numeric order. 100 over three equal
    holders: 33 each, and the one unit left goes to the numerically lowest address."""
    lower = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
    higher = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
    highest = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    payouts = distribute(100, {highest: 5, higher: 5, lower: 5})
    assert [p.holder for p in payouts] == [lower, higher, highest]
    assert [p.amount_minor for p in payouts] == [34, 33, 33]
