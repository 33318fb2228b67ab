"""Distributor: declared distributions proven against a payout Merkle root, pushed in batches or
claimed, paid once, held for frozen / non-receiving wallets, redemptions burning units."""

from __future__ import annotations

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import EVIDENCE, ZERO32, PayoutTree, System, h

COUPON, RENT, DIVIDEND, REDEMPTION = 1, 2, 3, 4


def names(entries) -> list[str]:
    return [type(e).__name__ for e in entries]


def record_block() -> int:
    """A block in the past: the current one, after mining one more."""
    block = boa.env.evm.patch.block_number
    boa.env.time_travel(blocks=1)
    return block


def declare(
    system: System,
    tree: PayoutTree,
    kind: int = COUPON,
    total: int | None = None,
    holder_count: int | None = None,
) -> int:
    rest = (
        tree.record_block,
        tree.total if total is None else total,
        tree.root,
        len(tree.payouts) if holder_count is None else holder_count,
        tree.depth,
    )
    if kind == REDEMPTION:  # cancels units: its own function, with evidence
        system.govern(system.distributor, "declareRedemption", tree.token, *rest, evidence=EVIDENCE)
    else:
        system.govern(system.distributor, "declare", tree.token, kind, *rest)
    return system.distributor.distributionCount()


def pay(system: System, did: int, tree: PayoutTree, indices) -> None:
    with boa.env.prank(system.outsider):  # anyone may push
        system.distributor.pay(did, *tree.batch(indices))


def claim(
    system: System, did: int, tree: PayoutTree, index: int, sender: str | None = None
) -> None:
    p = tree.payouts[index]
    with boa.env.prank(sender or p.holder):
        system.distributor.claim(did, index, p.units, p.amount, tree.proof(index))


@pytest.fixture
def holders(system: System, w) -> dict[str, int]:
    units = {w.b0: 400, w.p: 300, w.i: 200, w.g: 100}
    system.govern(system.token, "batchMint", list(units), list(units.values()))
    system.fund_treasury(1_000_000)
    return units


@pytest.fixture
def coupon(system: System, holders) -> PayoutTree:
    """A coupon of 25 per unit to the four holders of record (depth 2)."""
    return PayoutTree(
        system.token.address, record_block(), [(h_, u, u * 25) for h_, u in holders.items()]
    )


# ---------------------------------------------------------------- the helper itself


def test_payout_tree_helper_matches_the_contract_for_every_shape(system: System, w):
    """Trees of 1..9 payouts at their minimal depth and one deeper: every proof verifies and
    the distribution completes."""
    system.fund_treasury(1_000_000)
    wallets = [w.b0, w.b1, w.p, w.i, w.g, w.lon, w.r, system.issuer, system.valuer]
    for n in range(1, 10):
        for extra in (0, 1):
            rows = [(wallets[k], k + 1, 10 * (k + 1)) for k in range(n)]
            tree = PayoutTree(system.token.address, record_block(), rows)
            tree = PayoutTree(tree.token, tree.record_block, rows, depth=tree.depth + extra)
            did = declare(system, tree)
            assert not any(system.distributor.isPaid(did, k) for k in range(n))
            pay(system, did, tree, reversed(range(n)))
            assert all(system.distributor.isPaid(did, k) for k in range(n))


# ---------------------------------------------------------------- declare


def test_constructor(system: System):
    assert system.distributor.cashToken() == system.cash.address
    assert system.distributor.governance() == system.gov.address
    assert system.distributor.distributionCount() == 0


def test_declare_draws_the_total_from_the_treasury(system: System, coupon):
    did = declare(system, coupon)
    (event,) = system.logs(name="DistributionDeclared")
    assert (event.distributionId, event.token, event.kind, event.recordBlock) == (
        did,
        system.token.address,
        COUPON,
        coupon.record_block,
    )
    assert (event.total, event.root, event.holderCount) == (25_000, coupon.root, 4)
    assert tuple(system.distributor.getDistribution(did)) == (
        system.token.address,
        COUPON,
        coupon.record_block,
        25_000,
        coupon.root,
        4,
        2,
        0,
        0,
        0,
        False,
    )
    assert system.cash.balanceOf(system.distributor.address) == 25_000
    assert system.cash.balanceOf(system.gov.address) == 1_000_000 - 25_000


def test_declare_refusals(system: System, coupon, w):
    d = system.distributor
    args = [coupon.token, COUPON, coupon.record_block, 25_000, coupon.root, 4, 2]

    def with_(**kw):
        keys = ["token", "kind", "record", "total", "root", "count", "depth"]
        return [kw.get(k, a) for k, a in zip(keys, args, strict=True)]

    with boa.reverts("caller is not governance"), boa.env.prank(w.b0):
        d.declare(*args)
    for kind in (0, 5):
        with boa.reverts("unknown distribution kind"):
            system.govern(d, "declare", *with_(kind=kind))
    with boa.reverts("record block is not in the past"):
        system.govern(d, "declare", *with_(record=boa.env.evm.patch.block_number))
    with boa.reverts("no holders of record"):
        system.govern(d, "declare", *with_(count=0))
    with boa.reverts("tree depth does not fit the holders"):
        system.govern(d, "declare", *with_(count=5))
    with boa.reverts("tree depth does not fit the holders"):
        system.govern(d, "declare", *with_(depth=17, count=1))
    with boa.reverts("payout root is empty"):
        system.govern(d, "declare", *with_(root=ZERO32))
    with boa.reverts("a redemption is declared with declareRedemption"):
        system.govern(d, "declare", *with_(kind=REDEMPTION))
    with boa.reverts("token has not matured"):
        redemption = with_()[:1] + with_()[2:]
        system.govern(d, "declareRedemption", *redemption, evidence=EVIDENCE)
    with boa.reverts("total exceeds 2**112 - 1 minor units"):  # the packed progress word's limit
        system.govern(d, "declare", *with_(total=2**112))
    with boa.reverts("insufficient unlocked cash"):
        system.govern(d, "declare", *with_(total=1_000_001))
    assert d.distributionCount() == 0


def test_declare_with_zero_total_draws_nothing(system: System, w, holders):
    tree = PayoutTree(system.token.address, record_block(), [(w.b0, 400, 0)])
    did = declare(system, tree)
    pay(system, did, tree, [0])
    assert system.cash.balanceOf(system.gov.address) == 1_000_000
    assert names(system.distributor.get_logs()) == ["DistributionCompleted"]


# ---------------------------------------------------------------- pay


def test_pay_in_batches(system: System, coupon, holders, w):
    did = declare(system, coupon)
    pay(system, did, coupon, [2, 0])
    logs = system.distributor.get_logs()
    paid = [e for e in logs if type(e).__name__ == "PayoutPaid"]
    assert [(e.distributionId, e.holder, e.amount, e.units) for e in paid] == [
        (did, w.i, 5_000, 200),
        (did, w.b0, 10_000, 400),
    ]
    assert "DistributionCompleted" not in names(logs)
    assert [system.distributor.isPaid(did, k) for k in range(4)] == [True, False, True, False]
    pay(system, did, coupon, [3, 1])
    (done,) = [
        e for e in system.distributor.get_logs() if type(e).__name__ == "DistributionCompleted"
    ]
    assert (done.distributionId, done.paidTotal, done.heldTotal) == (did, 25_000, 0)
    dist = system.distributor.getDistribution(did)
    assert (dist.paidCount, dist.paidTotal, dist.heldTotal) == (4, 25_000, 0)
    for wallet, units in holders.items():
        assert system.cash.balanceOf(wallet) == units * 25
    assert system.cash.balanceOf(system.distributor.address) == 0


def skipped(system: System) -> list[tuple[int, str, str]]:
    return [
        (e.index, e.holder, e.reason)
        for e in system.distributor.get_logs()
        if type(e).__name__ == "PayoutSkipped"
    ]


def test_double_payment_is_skipped_in_a_batch_and_refused_to_a_claim(system: System, coupon, w):
    did = declare(system, coupon)
    pay(system, did, coupon, [0])
    pay(system, did, coupon, [0])
    assert skipped(system) == [(0, w.b0, "payout already made")]
    pay(system, did, coupon, [1, 1])  # twice in one batch: paid once
    assert skipped(system) == [(1, w.p, "payout already made")]
    assert system.cash.balanceOf(w.b0) == 10_000 and system.cash.balanceOf(w.p) == 7_500
    assert system.distributor.getDistribution(did).paidCount == 2
    with boa.reverts("payout already made"):
        claim(system, did, coupon, 0)


def test_a_row_claimed_first_does_not_revert_the_batch(system: System, coupon, w):
    """Finding 7: a holder who claimed first no longer reverts the paying agent's batch."""
    did = declare(system, coupon)
    claim(system, did, coupon, 1)
    pay(system, did, coupon, [0, 1, 2, 3])
    assert skipped(system) == [(1, w.p, "payout already made")]
    dist = system.distributor.getDistribution(did)
    assert (dist.paidCount, dist.paidTotal) == (4, coupon.total)
    assert system.cash.balanceOf(w.p) == 7_500


def test_forged_payouts_refused(system: System, coupon, w):
    did = declare(system, coupon)
    idx, holders_, units, amounts, proofs = coupon.batch([1])
    forgeries = {
        "amount": (idx, holders_, units, [amounts[0] + 1], proofs),
        "units": (idx, holders_, [units[0] + 1], amounts, proofs),
        "holder": (idx, [w.lon], units, amounts, proofs),
        "index": ([2], holders_, units, amounts, coupon.proof(2)),
        "proof": (idx, holders_, units, amounts, [h("forged")] + proofs[1:]),
        "another's proof": (idx, holders_, units, amounts, coupon.proof(0)),
    }
    for batch in forgeries.values():
        with boa.reverts("payout is not in the declared list"), boa.env.prank(w.out):
            system.distributor.pay(did, *batch)
    # a padding leaf (zero) cannot be proven either: its index is beyond the list
    other = PayoutTree(
        coupon.token,
        coupon.record_block,
        [(p.holder, p.units, p.amount) for p in coupon.payouts[:3]],
    )
    did3 = declare(system, other)
    with boa.reverts("payout index out of range"), boa.env.prank(w.out):
        system.distributor.pay(did3, [3], ["0x" + "00" * 20], [0], [0], other.proof(3))
    # a leaf of another distribution (other record block) does not prove
    stale = PayoutTree(
        coupon.token,
        coupon.record_block - 1,
        [(p.holder, p.units, p.amount) for p in coupon.payouts],
    )
    with boa.reverts("payout is not in the declared list"):
        pay(system, did, stale, [0])


def test_pay_refusals(system: System, coupon, w):
    did = declare(system, coupon)
    idx, holders_, units, amounts, proofs = coupon.batch([0, 1])
    d = system.distributor
    with boa.reverts("unknown distribution"):
        d.pay(did + 1, idx, holders_, units, amounts, proofs)
    with boa.reverts("unknown distribution"):
        d.pay(0, idx, holders_, units, amounts, proofs)
    with boa.reverts("payout lists differ in length"):
        d.pay(did, idx, holders_[:1], units, amounts, proofs)
    with boa.reverts("payout lists differ in length"):
        d.pay(did, idx, holders_, units, amounts[:1], proofs)
    with boa.reverts("proofs do not match the tree depth"):
        d.pay(did, idx, holders_, units, amounts, proofs[:-1])
    with boa.reverts("payout index out of range"):
        d.pay(did, [4], [w.b0], [1], [1], [ZERO32, ZERO32])


def test_totals_must_sum_exactly(system: System, coupon):
    """A list summing to less than the declared total cannot complete (its final batch is
    refused); one summing to more is refused as soon as it goes over."""
    short = declare(system, coupon, total=25_001)
    pay(system, short, coupon, [0, 1, 2])
    with boa.reverts("payouts do not sum to the declared total"):
        pay(system, short, coupon, [3])
    over = declare(system, coupon, total=24_999)
    pay(system, over, coupon, [0, 1])
    with boa.reverts("payouts exceed the declared total"):
        pay(system, over, coupon, [2, 3])


# ---------------------------------------------------------------- claim


def test_claim(system: System, coupon, w):
    did = declare(system, coupon)
    claim(system, did, coupon, 1)
    (paid,) = [e for e in system.distributor.get_logs() if type(e).__name__ == "PayoutPaid"]
    assert (type(paid).__name__, paid.holder, paid.amount, paid.units) == (
        "PayoutPaid",
        w.p,
        7_500,
        300,
    )
    assert system.cash.balanceOf(w.p) == 7_500
    assert system.distributor.getDistribution(did).paidCount == 1
    pay(system, did, coupon, [1])
    assert system.distributor.getDistribution(did).paidCount == 1  # skipped, not paid twice


def test_claim_refusals(system: System, coupon, w):
    did = declare(system, coupon)
    with boa.reverts("payout is not in the declared list"):
        claim(system, did, coupon, 1, sender=w.b0)  # someone else's payout
    p = coupon.payouts[1]
    with boa.reverts("proof does not match the tree depth"), boa.env.prank(w.p):
        system.distributor.claim(did, 1, p.units, p.amount, coupon.proof(1)[:1])
    with boa.reverts("unknown distribution"), boa.env.prank(w.p):
        system.distributor.claim(did + 1, 1, p.units, p.amount, coupon.proof(1))


def test_last_claim_completes(system: System, coupon):
    did = declare(system, coupon)
    pay(system, did, coupon, [0, 1, 2])
    claim(system, did, coupon, 3)
    assert names(system.distributor.get_logs())[-2:] == ["PayoutPaid", "DistributionCompleted"]


# ---------------------------------------------------------------- held payouts


def test_frozen_holders_payout_is_held_and_released(system: System, coupon, w):
    system.govern(system.token, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
    did = declare(system, coupon)
    pay(system, did, coupon, [0, 1, 2, 3])
    held = [e for e in system.distributor.get_logs() if type(e).__name__ == "PayoutHeld"]
    assert [(e.holder, e.amount, e.units) for e in held] == [(w.p, 7_500, 300)]
    assert system.distributor.held(did, w.p) == 7_500
    assert system.cash.balanceOf(w.p) == 0
    dist = system.distributor.getDistribution(did)
    assert (dist.paidCount, dist.paidTotal, dist.heldTotal) == (4, 17_500, 7_500)
    assert system.cash.balanceOf(system.distributor.address) == 7_500

    with boa.reverts("caller is not governance"), boa.env.prank(w.p):
        system.distributor.releaseHeld(did, w.p)
    with boa.reverts("nothing held for this holder"):
        system.govern(system.distributor, "releaseHeld", did, w.b0)
    system.govern(system.token, "setAddressFrozen", w.p, False, evidence=EVIDENCE)
    system.govern(system.distributor, "releaseHeld", did, w.p)
    (event,) = system.logs(name="HeldPayoutReleased")
    assert (event.distributionId, event.holder, event.receiver, event.amount) == (
        did,
        w.p,
        w.p,
        7_500,
    )
    assert system.cash.balanceOf(w.p) == 7_500
    dist = system.distributor.getDistribution(did)
    assert (dist.paidTotal, dist.heldTotal) == (25_000, 0)
    with boa.reverts("nothing held for this holder"):
        system.govern(system.distributor, "releaseHeld", did, w.p)


def test_payout_held_when_holder_may_not_receive_cash(system: System, coupon, w):
    """KYC lapsed: the cash transfer fails, the payout is held, the batch goes on; later paid
    to the holder's recovery wallet (another wallet of the same identity)."""
    system.update_identity(system.pension, expiry=boa.env.timestamp + 1)
    boa.env.time_travel(seconds=2)
    did = declare(system, coupon)
    claim(system, did, coupon, 1)  # the holder's own claim is held as well
    assert system.distributor.held(did, w.p) == 7_500
    pay(system, did, coupon, [0, 2, 3])
    with boa.reverts("receiver is not a verified institution"):
        system.govern(system.distributor, "releaseHeld", did, w.p)
    system.govern(system.distributor, "redirectHeld", did, w.p, w.b1, evidence=EVIDENCE)
    assert system.cash.balanceOf(w.b1) == 7_500


# ---------------------------------------------------------------- redemption


def test_redemption_burns_units_and_pays_cash(system: System, holders, w):
    system.govern(system.token, "setAddressFrozen", w.g, True, evidence=EVIDENCE)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    tree = PayoutTree(
        system.token.address, record_block(), [(h_, u, u * 1_000) for h_, u in holders.items()]
    )
    did = declare(system, tree, kind=REDEMPTION)
    pay(system, did, tree, [0, 1])
    assert system.token.balanceOf(w.b0) == 0 and system.cash.balanceOf(w.b0) == 400_000
    assert system.token.totalSupply() == 300
    pay(system, did, tree, [2])
    claim(system, did, tree, 3, sender=w.g)  # frozen: units cancelled, cash held
    assert system.token.balanceOf(w.g) == 0
    assert system.distributor.held(did, w.g) == 100_000
    assert system.token.totalSupply() == 0
    assert system.distributor.getDistribution(did).paidCount == 4


def test_redemption_is_atomic(system: System, holders, w):
    """Units that cannot be cancelled (governance burned some after the record block) refuse
    that payout (skipped and logged in a batch, refused to a claim): no cash moves for it, and
    the rest of the batch is paid."""
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    tree = PayoutTree(
        system.token.address, record_block(), [(h_, u, u * 1_000) for h_, u in holders.items()]
    )
    did = declare(system, tree, kind=REDEMPTION)
    system.govern(system.token, "burn", w.b0, 100, evidence=EVIDENCE)
    with boa.reverts("insufficient balance"):
        claim(system, did, tree, 0)
    pay(system, did, tree, [0, 1, 2, 3])  # the others redeem
    assert skipped(system) == [(0, w.b0, "units can no longer be redeemed")]
    assert system.cash.balanceOf(w.b0) == 0
    assert system.token.balanceOf(w.b0) == 300
    assert not system.distributor.isPaid(did, 0)
    assert system.distributor.getDistribution(did).paidCount == 3
    assert system.token.balanceOf(w.p) == 0


# ---------------------------------------------------------------- property


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_batches_pay_each_once_and_end_at_the_total(system: System, w, data):
    wallets = [w.b0, w.b1, w.p, w.i, w.g, w.lon]
    with boa.env.anchor():
        system.fund_treasury(10**9)
        n = data.draw(st.integers(1, 11), label="payouts")
        rows = [
            (
                data.draw(st.sampled_from(wallets)),
                data.draw(st.integers(0, 10**6)),
                data.draw(st.integers(0, 10**6)),
            )
            for _ in range(n)
        ]
        tree = PayoutTree(system.token.address, record_block(), rows)
        did = declare(system, tree)
        order = data.draw(st.permutations(range(n)), label="order")
        paid: set[int] = set()
        pos = 0
        while pos < n:
            size = data.draw(st.integers(1, n - pos))
            batch = list(order[pos : pos + size])
            if data.draw(st.booleans(), label="replay a paid payout") and paid:
                replay = data.draw(st.sampled_from(sorted(paid)))
                with boa.env.anchor():  # a paid row in a batch is skipped, the rest is paid
                    pay(system, did, tree, batch + [replay])
                    assert skipped(system)[-1][0] == replay
                    assert system.distributor.getDistribution(did).paidCount == len(paid) + size
            if size == 1 and data.draw(st.booleans(), label="claim"):
                claim(system, did, tree, batch[0])
            else:
                pay(system, did, tree, batch)
            paid.update(batch)
            pos += size
            dist = system.distributor.getDistribution(did)
            assert dist.paidCount == len(paid)
            assert dist.paidTotal == sum(tree.payouts[k].amount for k in paid)
        assert system.distributor.getDistribution(did).paidTotal == tree.total
        assert system.cash.balanceOf(system.distributor.address) == 0
        expected: dict[str, int] = {}
        for holder, _, amount in rows:
            expected[holder] = expected.get(holder, 0) + amount
        for holder, amount in expected.items():
            assert system.cash.balanceOf(holder) == amount


def test_redemption_of_partly_frozen_units_holds_the_cash(system: System, holders, w):
    """Units frozen by governance (a court order) are cancelled at redemption; their cash is
    held for governance to release, not paid out free of the order. A coupon is paid as usual."""
    system.govern(system.token, "freezePartialTokens", w.p, 100, evidence=EVIDENCE)
    coupon = PayoutTree(system.token.address, record_block(), [(w.p, 300, 7_500)])
    coupon_id = declare(system, coupon)
    claim(system, coupon_id, coupon, 0)
    assert system.cash.balanceOf(w.p) == 7_500
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    tree = PayoutTree(system.token.address, record_block(), [(w.p, 300, 300_000)])
    did = declare(system, tree, kind=REDEMPTION)
    claim(system, did, tree, 0)
    assert system.token.balanceOf(w.p) == 0
    assert system.distributor.held(did, w.p) == 300_000
    assert system.cash.balanceOf(w.p) == 7_500
    system.govern(system.distributor, "releaseHeld", did, w.p)
    assert system.cash.balanceOf(w.p) == 307_500


# ---------------------------------------------------------------- closing, maturity


def test_close_returns_the_unpaid_rest_and_keeps_held_payouts(system: System, coupon, w):
    """A list that can never complete (it sums to less than its total) is closed by governance:
    what was neither paid nor held goes back to the treasury, held payouts stay releasable."""
    system.govern(system.token, "setAddressFrozen", w.g, True, evidence=EVIDENCE)
    did = declare(system, coupon, total=25_001)
    pay(system, did, coupon, [0, 3])  # b0 paid 10,000; g (frozen) held 2,500
    treasury = system.cash.balanceOf(system.gov.address)
    with boa.reverts("caller is not governance"):
        system.distributor.closeDistribution(did)
    system.govern(system.distributor, "closeDistribution", did, evidence=EVIDENCE)
    assert system.cash.balanceOf(system.gov.address) == treasury + 25_001 - 10_000 - 2_500
    (closed,) = system.logs(name="DistributionClosed")
    assert (closed.distributionId, closed.returned) == (did, 25_001 - 10_000 - 2_500)
    assert system.distributor.getDistribution(did).closed
    with boa.reverts("distribution is closed"):
        pay(system, did, coupon, [1])
    with boa.reverts("distribution is closed"):
        claim(system, did, coupon, 2)
    system.govern(system.distributor, "redirectHeld", did, w.g, w.b0, evidence=EVIDENCE)
    assert system.distributor.held(did, w.g) == 0


def test_a_complete_or_closed_distribution_cannot_be_closed(system: System, coupon):
    did = declare(system, coupon)
    pay(system, did, coupon, [0, 1, 2, 3])
    with boa.reverts("distribution is complete"):
        system.govern(system.distributor, "closeDistribution", did, evidence=EVIDENCE)
    other = declare(system, coupon)
    system.govern(system.distributor, "closeDistribution", other, evidence=EVIDENCE)
    with boa.reverts("distribution is closed"):
        system.govern(system.distributor, "closeDistribution", other, evidence=EVIDENCE)


def test_redemption_record_block_must_not_precede_maturity(system: System, holders):
    before = record_block()
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    assert system.token.maturedBlock() > before
    early = PayoutTree(system.token.address, before, [(h_, u, u) for h_, u in holders.items()])
    with boa.reverts("record block is before maturity"):
        declare(system, early, kind=REDEMPTION)
    late = PayoutTree(
        system.token.address, record_block(), [(h_, u, u) for h_, u in holders.items()]
    )
    declare(system, late, kind=REDEMPTION)
