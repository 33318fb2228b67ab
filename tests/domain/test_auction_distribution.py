"""Auction allocation and distributions: exact sums, no over-allocation, nobody paid twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.domain.auction import Bid, Pricing, allocate, pro_rata, valid_cutoffs
from amanat.domain.distribution import distribute
from amanat.errors import InvalidInput, RuleViolation

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


def test_issue_15_cutoff_above_the_marginal_bid_is_refused():
    """Issue 15's case: 100 offered, 80 @ 11.80% and 80 @ 11.85%. A cut-off of 11.95% would
    split them 50/50 pro rata (and charge both 11.95%): refused, naming the cut-offs possible.
    At 11.85% the 11.80% bid fills in full (80) and the 11.85% bid takes the last 20."""
    bids = [Bid("A", 80, Decimal("0.1180"), 1), Bid("B", 80, Decimal("0.1185"), 2)]
    with pytest.raises(RuleViolation, match=r"cut-off 11\.9500% is not the yield of the") as err:
        allocate(100, bids, Decimal("0.1195"))
    assert err.value.rule == "cutoff-not-marginal"
    assert "can be 11.8000%, 11.8500%" in err.value.message
    assert valid_cutoffs(100, bids) == [Decimal("0.1180"), Decimal("0.1185")]
    uniform = {
        a.bid.bidder: (a.units, a.yield_rate) for a in allocate(100, bids, Decimal("0.1185"))
    }
    assert uniform == {"A": (80, Decimal("0.1185")), "B": (20, Decimal("0.1185"))}
    # at 11.80% only A is accepted, 80 of the 100 offered
    assert [(a.bid.bidder, a.units) for a in allocate(100, bids, Decimal("0.1180"))] == [("A", 80)]


def test_a_cutoff_at_which_no_bid_is_filled_is_refused():
    """Non-competitive 60 and A 80 @ 11.80% already take the 100 offered: B's 11.85% cannot be
    the cut-off, since B would get nothing at it."""
    bids = [
        Bid("A", 80, Decimal("0.1180"), 1),
        Bid("B", 80, Decimal("0.1185"), 2),
        Bid("N", 60, None, 3),
    ]
    assert valid_cutoffs(100, bids) == [Decimal("0.1180")]
    with pytest.raises(RuleViolation, match="can be 11.8000%$"):
        allocate(100, bids, Decimal("0.1185"))
    # N 60 first; A takes the 40 left at the cut-off
    placed = {a.bid.bidder: a.units for a in allocate(100, bids, Decimal("0.1180"))}
    assert placed == {"N": 60, "A": 40}


def test_multiple_price_hand_worked():
    """SBP's multiple-price rule, 1,000 offered at a cut-off of 12.00%: N 200 non-competitive;
    A 300 @ 11.50% and B 200 @ 11.80% in full; C 400 and D 200 @ 12.00% share the last 300 pro
    rata (200 and 100); E @ 12.10% gets nothing. A pays 11.50%, B 11.80%, C and D 12.00%; N
    the weighted average of the accepted competitive yields,
    (300 x 11.50% + 200 x 11.80% + 300 x 12.00%) / 800 = 94.10 / 800 = 11.7625%."""
    bids = [
        Bid("A", 300, Decimal("0.1150"), 1),
        Bid("B", 200, Decimal("0.1180"), 2),
        Bid("C", 400, Decimal("0.1200"), 3),
        Bid("D", 200, Decimal("0.1200"), 4),
        Bid("E", 500, Decimal("0.1210"), 5),
        Bid("N", 200, None, 6),
    ]
    placed = {
        a.bid.bidder: (a.units, a.yield_rate) for a in allocate(1000, bids, Decimal("0.12"), False)
    }
    assert placed == {
        "A": (300, Decimal("0.1150")),
        "B": (200, Decimal("0.1180")),
        "C": (200, Decimal("0.1200")),
        "D": (100, Decimal("0.1200")),
        "N": (200, Decimal("0.117625")),
    }
    uniform = {a.bid.bidder: a.yield_rate for a in allocate(1000, bids, Decimal("0.12"), True)}
    assert set(uniform.values()) == {Decimal("0.12")}
    assert Pricing.parse("Multiple") is Pricing.MULTIPLE and Pricing.MULTIPLE.label == "multiple"
    with pytest.raises(InvalidInput, match="pricing 'dutch' is not one of: uniform, multiple"):
        Pricing.parse("dutch")


def test_weighted_average_rounds_half_even_to_a_millionth():
    """(1 x 11.8001% + 1 x 11.8002%) / 2 = 0.1180015 -> 0.118002 (half to even, as on chain);
    (0.118000 + 0.118001) / 2 = 0.1180005 -> 0.118000."""
    for first, second, average in (
        ("0.118001", "0.118002", "0.118002"),
        ("0.118000", "0.118001", "0.118000"),
    ):
        bids = [
            Bid("A", 1, Decimal(first), 1),
            Bid("B", 1, Decimal(second), 2),
            Bid("N", 1, None, 3),
        ]
        placed = {a.bid.bidder: a.yield_rate for a in allocate(3, bids, Decimal(second), False)}
        assert placed["N"] == Decimal(average)


def test_ties_at_the_cutoff_go_by_commitment_order_not_reveal_order():
    """3 offered, two bids of 2 at the cut-off: 1.5 each, the odd unit to the bid committed
    first (sequence 1), though it was revealed second (listed second)."""
    revealed_first = Bid("late-committer", 2, Decimal("0.12"), 2)
    revealed_second = Bid("early-committer", 2, Decimal("0.12"), 1)
    placed = {
        a.bid.bidder: a.units
        for a in allocate(3, [revealed_first, revealed_second], Decimal("0.12"))
    }
    assert placed == {"early-committer": 2, "late-committer": 1}


@settings(max_examples=300, deadline=None)
@given(raw=bids_strategy, offered=st.integers(1, 50_000), cutoff=st.sampled_from(YIELDS))
def test_auction_properties(raw, offered, cutoff):
    bids = _bids(raw)
    valid = valid_cutoffs(offered, bids)
    if not valid and any(b.yield_rate is None for b in bids):
        with pytest.raises(RuleViolation, match="no competitive yield prices them"):
            allocate(offered, bids, cutoff)
        return
    if valid and cutoff not in valid:
        with pytest.raises(RuleViolation):
            allocate(offered, bids, cutoff)
        cutoff = valid[-1]
    allocations = allocate(offered, bids, cutoff)
    accepted_yields = [a.bid.yield_rate for a in allocations if a.bid.competitive]
    if accepted_yields:  # the cut-off is the marginal accepted bid's yield
        assert max(y for y in accepted_yields if y is not None) == cutoff
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


def test_non_competitive_bids_alone_are_priced_at_the_lowest_competitive_yield() -> None:
    """Hostile review: with non-competitive demand taking the whole amount, any cut-off was
    accepted and priced them. 100 offered; A non-competitive 100, B 50 @ 12.00%: the only
    cut-off is 12.00% (B's yield, the best competitive price), and A pays it."""
    bids = [Bid("0xA", 100, None, 1), Bid("0xB", 50, Decimal("0.12"), 2)]
    with pytest.raises(RuleViolation, match="cut-off can be 12.0000%"):
        allocate(100, bids, Decimal("0.99"))
    (a,) = [x for x in allocate(100, bids, Decimal("0.12")) if x.units]
    assert (a.bid.bidder, a.units, a.yield_rate) == ("0xA", 100, Decimal("0.12"))
    with pytest.raises(RuleViolation, match="no competitive yield prices them"):
        allocate(100, [Bid("0xA", 100, None, 1)], Decimal("0.12"))
