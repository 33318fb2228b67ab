"""Auction: sealed-bid primary auctions (announce / commit with a deposit / reveal / settle /
reclaim) with per-bidder all-or-nothing settlement, uniform or multiple price."""

from __future__ import annotations

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amanat.domain.auction import (
    Bid,
    allocate,
    from_micro,
    tbill_payment,
    valid_cutoffs,
    yield_micro,
)
from amanat.domain.identity import InvestorCategory

from .conftest import BASE_RULES, DAY, EVIDENCE, PK, ZERO32, System, bid_commitment, deploy, h

FACE = 100  # cash minor units per unit
OFFERED = 500
DEPOSIT = 500  # cash minor units paid in with each sealed bid
UNIFORM, MULTIPLE = 1, 2
RECLAIM_AFTER = 7 * DAY
BANK = int(InvestorCategory.BANK)


def names(entries) -> list[str]:
    return [type(e).__name__ for e in entries]


def named(entries, name: str) -> list:
    return [e for e in entries if type(e).__name__ == name]


class Auctions:
    """Drives one auction of the pilot token."""

    def __init__(self, system: System, token=None):
        self.s = system
        self.token = token or system.token
        self.a = system.auction
        self.bids: dict[str, tuple] = {}

    def announce(self, offered=OFFERED, face=FACE, pricing=UNIFORM, deposit=DEPOSIT) -> int:
        now = boa.env.timestamp
        self.close, self.reveal_by, self.settle_on = now + DAY, now + 2 * DAY, now + 3 * DAY
        self.pricing = pricing
        with boa.env.prank(self.s.issuer):
            self.id = self.a.announce(
                self.token.address,
                offered,
                face,
                self.close,
                self.reveal_by,
                self.settle_on,
                pricing,
                deposit,
            )
        return self.id

    def commit(self, bidder: str, units: int, yield_micro: int, competitive: bool = True) -> None:
        salt = h(f"salt {bidder} {units} {yield_micro}")
        self.bids[bidder] = (units, yield_micro, competitive, salt)
        with boa.env.prank(bidder):
            self.a.commit(
                self.id, bid_commitment(self.id, bidder, units, yield_micro, competitive, salt)
            )

    def to_reveal(self) -> None:
        boa.env.time_travel(seconds=self.close - boa.env.timestamp)

    def reveal(self, bidder: str) -> None:
        with boa.env.prank(bidder):
            self.a.reveal(self.id, *self.bids[bidder])

    def to_settlement(self) -> None:
        boa.env.time_travel(seconds=max(0, self.settle_on - boa.env.timestamp))

    def settle(self, cutoff: int, allocation: dict[str, tuple[int, ...]]) -> None:
        """allocation: bidder -> (units, payment) priced at the cut-off, or (units, payment,
        yield)."""
        bidders = list(allocation)
        rows = [allocation[b] for b in bidders]
        self.s.govern(
            self.a,
            "settle",
            self.id,
            cutoff,
            bidders,
            [r[0] for r in rows],
            [r[2] if len(r) > 2 else (cutoff if r[0] else 0) for r in rows],
            [r[1] for r in rows],
        )


@pytest.fixture
def auc(system: System, w) -> Auctions:
    for wallet in (w.b0, w.p, w.i, w.g):
        system.issue_cash(wallet, 100_000)
    a = Auctions(system)
    a.announce()
    return a


@pytest.fixture
def revealed(auc: Auctions, w) -> Auctions:
    """b0 300 @ 12.00%, p 200 @ 12.50%, g 150 @ 13.00%, i 100 non-competitive; all revealed."""
    auc.commit(w.b0, 300, 120_000)
    auc.commit(w.p, 200, 125_000)
    auc.commit(w.g, 150, 130_000)
    auc.commit(w.i, 100, 0, competitive=False)
    auc.to_reveal()
    for b in (w.b0, w.p, w.g, w.i):
        auc.reveal(b)
    auc.to_settlement()
    return auc


# ---------------------------------------------------------------- announce


def test_constructor(system: System):
    a = system.auction
    assert (a.assetRegistry(), a.cashToken(), a.governance()) == (
        system.areg.address,
        system.cash.address,
        system.gov.address,
    )


def test_announce(system: System, auc: Auctions):
    (event,) = auc.a.get_logs()
    assert (event.auctionId, event.token, event.offeredUnits, event.faceMinorPerUnit) == (
        1,
        system.token.address,
        OFFERED,
        FACE,
    )
    assert (event.pricing, event.depositMinor) == (UNIFORM, DEPOSIT)
    assert (event.closeTime, event.revealDeadline, event.settlementDate, event.issuer) == (
        auc.close,
        auc.reveal_by,
        auc.settle_on,
        system.issuer,
    )
    assert auc.a.auctionCount() == 1
    assert tuple(auc.a.getAuction(1)) == (
        system.token.address,
        OFFERED,
        FACE,
        auc.close,
        auc.reveal_by,
        auc.settle_on,
        UNIFORM,
        DEPOSIT,
        0,
        0,
        0,
        False,
    )
    assert auc.announce(pricing=MULTIPLE) == 2
    assert auc.a.getAuction(2).pricing == MULTIPLE


def test_announce_refusals(system: System, w):
    a, t, now = system.auction, system.token.address, boa.env.timestamp
    with boa.reverts("caller is not an issuer"), boa.env.prank(w.b0):
        a.announce(t, 1, 1, now + 1, now + 2, now + 3, UNIFORM, DEPOSIT)
    rogue = deploy(
        system.d["AssetToken"],
        name="Rogue",
        symbol="R",
        assetId=system.asset_id,
        identityRegistry=system.idreg.address,
        assetRegistry=system.areg.address,
        governance=system.gov.address,
        rules=BASE_RULES.rules_word(),
    )
    with boa.env.prank(system.issuer):
        with boa.reverts("not an Amanat asset token"):
            a.announce(rogue.address, 1, 1, now + 1, now + 2, now + 3, UNIFORM, DEPOSIT)
        with boa.reverts("offered units must be positive"):
            a.announce(t, 0, 1, now + 1, now + 2, now + 3, UNIFORM, DEPOSIT)
        with boa.reverts("face value must be positive"):
            a.announce(t, 1, 0, now + 1, now + 2, now + 3, UNIFORM, DEPOSIT)
        with boa.reverts("close time has passed"):
            a.announce(t, 1, 1, now, now + 2, now + 3, UNIFORM, DEPOSIT)
        with boa.reverts("reveal deadline must be after the close"):
            a.announce(t, 1, 1, now + 2, now + 2, now + 3, UNIFORM, DEPOSIT)
        with boa.reverts("settlement must be after the reveal deadline"):
            a.announce(t, 1, 1, now + 1, now + 3, now + 2, UNIFORM, DEPOSIT)
        with boa.reverts("pricing must be 1 (uniform) or 2 (multiple)"):
            a.announce(t, 1, 1, now + 1, now + 2, now + 3, 0, DEPOSIT)
        with boa.reverts("pricing must be 1 (uniform) or 2 (multiple)"):
            a.announce(t, 1, 1, now + 1, now + 2, now + 3, 3, DEPOSIT)
        with boa.reverts("a sealed bid needs a deposit"):
            a.announce(t, 1, 1, now + 1, now + 2, now + 3, UNIFORM, 0)
        # settlement strictly after the reveal deadline
        a.announce(t, 1, 1, now + 1, now + 2, now + 3, MULTIPLE, DEPOSIT)


# ---------------------------------------------------------------- commit


def test_commit_and_replace(system: System, auc: Auctions, w):
    auc.commit(w.b0, 300, 120_000)
    (event,) = named(auc.a.get_logs(), "BidCommitted")
    first = bid_commitment(auc.id, w.b0, 300, 120_000, True, auc.bids[w.b0][3])
    assert (event.auctionId, event.bidder, event.commitment, event.sequence) == (
        auc.id,
        w.b0,
        first,
        1,
    )
    assert (event.identityNumber, event.deposit) == (system.bank.number, DEPOSIT)
    assert system.cash.balanceOf(w.b0) == 100_000 - DEPOSIT
    assert system.cash.balanceOf(auc.a.address) == DEPOSIT
    auc.commit(w.b0, 250, 121_000)  # a replacement before the close: no second deposit
    (event,) = named(auc.a.get_logs(), "BidCommitted")
    assert (event.sequence, event.deposit) == (2, 0)
    assert system.cash.balanceOf(w.b0) == 100_000 - DEPOSIT
    assert auc.a.getBid(auc.id, w.b0).commitment != first
    auc.to_reveal()
    auc.reveal(w.b0)
    assert auc.a.getBid(auc.id, w.b0).units == 250


def test_commit_refusals(system: System, auc: Auctions, w):
    with boa.env.prank(w.b0):
        with boa.reverts("unknown auction"):
            auc.a.commit(0, h("c"))
        with boa.reverts("unknown auction"):
            auc.a.commit(auc.id + 1, h("c"))
        with boa.reverts("commitment is empty"):
            auc.a.commit(auc.id, ZERO32)
    # eligibility under the security's rules, with the rule's own message
    with boa.reverts("receiver investor category not eligible"), boa.env.prank(w.r):
        auc.a.commit(auc.id, h("c"))
    with boa.reverts("receiver is not a verified institution"), boa.env.prank(w.out):
        auc.a.commit(auc.id, h("c"))
    system.govern(system.token, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
    with boa.reverts("receiver wallet is frozen"), boa.env.prank(w.p):
        auc.a.commit(auc.id, h("c"))
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.reverts("token has matured"), boa.env.prank(w.b0):
        auc.a.commit(auc.id, h("c"))
    auc.to_reveal()
    with boa.reverts("auction is closed"), boa.env.prank(w.b0):
        auc.a.commit(auc.id, h("c"))


# ---------------------------------------------------------------- reveal


def test_reveal_locks_face_value(system: System, auc: Auctions, w):
    auc.commit(w.b0, 300, 120_000)
    auc.to_reveal()
    auc.reveal(w.b0)
    logs = auc.a.get_logs()
    assert names(logs) == ["Transfer", "DepositReturned", "CashLocked", "BidRevealed"]
    (returned,) = named(logs, "DepositReturned")
    assert (returned.bidder, returned.amount) == (w.b0, DEPOSIT)
    (locked,) = named(logs, "CashLocked")
    assert locked.amount == 300 * FACE
    (event,) = named(logs, "BidRevealed")
    assert (event.bidder, event.units, event.yieldMicro, event.competitive, event.lockedCash) == (
        w.b0,
        300,
        120_000,
        True,
        300 * FACE,
    )
    assert event.sequence == 1
    bid = auc.a.getBid(auc.id, w.b0)
    assert (bid.units, bid.yieldMicro, bid.competitive, bid.revealed, bid.lockedCash, bid.done) == (
        300,
        120_000,
        True,
        True,
        300 * FACE,
        False,
    )
    assert bid.depositHeld == 0
    assert system.cash.lockedOf(w.b0) == 300 * FACE
    assert system.cash.balanceOf(w.b0) == 100_000  # the deposit is back
    assert system.cash.balanceOf(auc.a.address) == 0
    assert auc.a.getAuction(auc.id).revealedCount == 1


def test_reveal_refusals(system: System, auc: Auctions, w):
    auc.commit(w.b0, 300, 120_000)
    auc.commit(w.p, 2_000, 0, competitive=False)  # face 200,000 > its 100,000 cash
    units, y, comp, salt = auc.bids[w.b0]
    with boa.env.prank(w.b0):
        with boa.reverts("auction has not closed"):
            auc.a.reveal(auc.id, units, y, comp, salt)
        auc.to_reveal()
        with boa.reverts("unknown auction"):
            auc.a.reveal(auc.id + 1, units, y, comp, salt)
        with boa.reverts("units must be positive"):
            auc.a.reveal(auc.id, 0, y, comp, salt)
        with boa.reverts("a non-competitive bid has no yield"):
            auc.a.reveal(auc.id, units, y, False, salt)
        with boa.reverts("bid does not match its commitment"):
            auc.a.reveal(auc.id, units + 1, y, comp, salt)
        with boa.reverts("bid does not match its commitment"):
            auc.a.reveal(auc.id, units, y - 1, comp, salt)
        with boa.reverts("bid does not match its commitment"):
            auc.a.reveal(auc.id, units, y, comp, h("wrong salt"))
        auc.a.reveal(auc.id, units, y, comp, salt)
        with boa.reverts("bid already revealed"):
            auc.a.reveal(auc.id, units, y, comp, salt)
    with boa.reverts("no sealed bid from this wallet"), boa.env.prank(w.i):
        auc.a.reveal(auc.id, units, y, comp, salt)
    with boa.reverts("insufficient unlocked cash"):
        auc.reveal(w.p)
    boa.env.time_travel(seconds=auc.reveal_by - boa.env.timestamp + 1)
    with boa.reverts("reveal deadline has passed"):
        auc.reveal(w.p)


def test_commitment_is_bound_to_the_bidder(auc: Auctions, w):
    """Copying another bidder's commitment does not let you reveal its bid."""
    auc.commit(w.b0, 300, 120_000)
    with boa.env.prank(w.p):
        auc.a.commit(auc.id, auc.a.getBid(auc.id, w.b0).commitment)
    auc.to_reveal()
    with boa.reverts("bid does not match its commitment"), boa.env.prank(w.p):
        auc.a.reveal(auc.id, *auc.bids[w.b0])


# ---------------------------------------------------------------- settle


def test_settle(system: System, revealed: Auctions, w):
    """Cut-off 12.50%: b0 in full at 98.0, p in full at 97.5, i non-competitive 100 at 97.8,
    g above the cut-off gets nothing."""
    revealed.settle(
        125_000, {w.b0: (300, 300 * 98), w.p: (200, 200 * 97 + 100), w.g: (0, 0), w.i: (0, 0)}
    )
    settled = system.logs(name="BidSettled")
    assert [(e.bidder, e.units, e.payment) for e in settled] == [
        (w.b0, 300, 29_400),
        (w.p, 200, 19_500),
    ]
    (released_g, released_i) = system.logs(name="BidReleased")
    assert (released_g.bidder, released_g.cash, released_i.bidder) == (w.g, 150 * FACE, w.i)
    (done,) = system.logs(name="AuctionSettled")
    assert (done.auctionId, done.cutoffYieldMicro, done.issuedUnits, done.proceeds) == (
        revealed.id,
        125_000,
        500,
        48_900,
    )
    t, c = system.token, system.cash
    assert (t.balanceOf(w.b0), t.balanceOf(w.p), t.balanceOf(w.g), t.totalSupply()) == (
        300,
        200,
        0,
        500,
    )
    assert c.balanceOf(system.gov.address) == 48_900
    assert (c.balanceOf(w.b0), c.lockedOf(w.b0)) == (100_000 - 29_400, 0)
    assert (c.balanceOf(w.p), c.lockedOf(w.p)) == (100_000 - 19_500, 0)
    assert (c.balanceOf(w.g), c.lockedOf(w.g)) == (100_000, 0)
    assert (c.balanceOf(w.i), c.lockedOf(w.i)) == (100_000, 0)
    assert revealed.a.getAuction(revealed.id).settled is True
    assert revealed.a.getBid(revealed.id, w.b0).done is True
    with boa.reverts("auction already settled"):
        revealed.settle(125_000, {})


def test_non_competitive_bid_is_allocated_whatever_the_cutoff(system: System, revealed, w):
    revealed.settle(120_000, {w.b0: (300, 29_400), w.i: (100, 9_800), w.p: (0, 0), w.g: (0, 0)})
    assert system.token.balanceOf(w.i) == 100


@pytest.mark.parametrize("how", ["frozen", "category", "kyc"])
def test_one_bidders_failed_leg_refuses_only_that_bidder(system: System, revealed, w, how):
    """Per-bidder all or nothing: p's leg fails at settlement; its cash is unlocked and the
    reason logged; the others settle."""
    if how == "frozen":
        system.govern(system.token, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
        reason = "receiver wallet is frozen"
    elif how == "category":
        system.update_identity(system.pension, category=InvestorCategory.RETAIL)
        reason = "receiver investor category not eligible"
    else:
        system.update_identity(system.pension, expiry=boa.env.timestamp + 1)
        boa.env.time_travel(seconds=2)
        reason = "receiver is not a verified institution"
    revealed.settle(125_000, {w.b0: (300, 29_400), w.p: (200, 19_500), w.g: (0, 0), w.i: (0, 0)})
    (refused,) = system.logs(name="BidRefused")
    assert (refused.auctionId, refused.bidder, refused.units) == (revealed.id, w.p, 200)
    assert reason.encode() in refused.reason
    assert [e.bidder for e in system.logs(name="BidSettled")] == [w.b0]
    (done,) = system.logs(name="AuctionSettled")
    assert (done.issuedUnits, done.proceeds) == (300, 29_400)
    assert system.token.balanceOf(w.p) == 0
    assert (system.cash.balanceOf(w.p), system.cash.lockedOf(w.p)) == (100_000, 0)
    assert system.token.balanceOf(w.b0) == 300


def test_bid_over_the_authorisation_is_refused_alone(system: System, w):
    """The statutory cap is a per-bidder refusal too (a mint over the cap fails its leg)."""
    aid = system.register_asset(legal_id="PK-TBILL-91D", max_units=400, asset_class=1)
    system.govern(system.areg, "setStatus", aid, 2)
    token = system.create_token(aid, name="T-bill 91D", symbol="TB91")
    for wallet in (w.b0, w.p):
        system.issue_cash(wallet, 100_000)
    auc = Auctions(system, token)
    auc.announce(offered=500)
    auc.commit(w.b0, 300, 120_000)
    auc.commit(w.p, 200, 120_000)
    auc.to_reveal()
    auc.reveal(w.b0)
    auc.reveal(w.p)
    auc.to_settlement()
    auc.settle(120_000, {w.b0: (300, 29_400), w.p: (200, 19_600)})
    (refused,) = system.logs(name="BidRefused")
    assert refused.bidder == w.p and b"mint exceeds the statutory authorisation" in refused.reason
    assert token.totalSupply() == 300
    assert system.cash.lockedOf(w.p) == 0


def test_settle_refusals(system: System, revealed: Auctions, w):
    a = revealed.a
    everyone = {w.b0: (300, 29_400), w.p: (200, 19_500), w.g: (0, 0), w.i: (0, 0)}
    with boa.reverts("caller is not governance"), boa.env.prank(system.issuer):
        a.settle(revealed.id, 125_000, [], [], [], [])
    with boa.reverts("unknown auction"):
        system.govern(a, "settle", revealed.id + 1, 0, [], [], [], [])
    with boa.reverts("allocation must list every revealed bidder"):
        revealed.settle(125_000, {w.b0: (300, 29_400)})
    with boa.reverts("allocation lists differ in length"):
        system.govern(
            a, "settle", revealed.id, 125_000, list(everyone), [300, 200, 0], [0] * 4, [1, 1, 0, 0]
        )
    with boa.reverts("allocation lists differ in length"):
        system.govern(a, "settle", revealed.id, 125_000, list(everyone), [0] * 4, [0], [0] * 4)
    with boa.reverts("bidder listed twice or never revealed"):
        system.govern(
            a, "settle", revealed.id, 125_000, [w.b0, w.b0, w.g, w.i], [0] * 4, [0] * 4, [0] * 4
        )
    with boa.reverts("bidder listed twice or never revealed"):
        system.govern(
            a, "settle", revealed.id, 125_000, [w.b0, w.p, w.g, w.lon], [0] * 4, [0] * 4, [0] * 4
        )
    with boa.reverts("allocation exceeds the bid"):
        revealed.settle(125_000, {**everyone, w.b0: (301, 29_400)})
    with boa.reverts("bid above the cut-off allocated"):
        revealed.settle(125_000, {**everyone, w.g: (1, 98)})
    with boa.reverts("payment above face value"):
        revealed.settle(125_000, {**everyone, w.b0: (300, 300 * FACE + 1)})
    with boa.reverts("allocated units need a payment"):
        revealed.settle(125_000, {**everyone, w.b0: (300, 0)})
    with boa.reverts("allocation exceeds the units offered"):
        revealed.settle(130_000, {**everyone, w.g: (150, 15_000)})  # 300+200+150 > 500
    # nothing was settled by the refused attempts
    assert system.token.totalSupply() == 0
    assert system.cash.lockedOf(w.b0) == 300 * FACE
    revealed.settle(125_000, everyone)


def test_settle_before_the_settlement_date_refused(auc: Auctions, w):
    auc.commit(w.b0, 300, 120_000)
    auc.to_reveal()
    auc.reveal(w.b0)
    with boa.reverts("settlement date not reached"):
        auc.settle(120_000, {w.b0: (300, 29_400)})


def test_settle_bid_is_internal(system: System, w):
    with boa.reverts("internal settlement step"), boa.env.prank(w.b0):
        system.auction.settleBid(system.token.address, w.b0, 1, 0, 0)
    with boa.reverts("function is not a governed action"):
        system.govern(system.auction, "settleBid", system.token.address, w.b0, 1, 0, 0)


def test_settlement_of_a_matured_token_refuses_every_bid(system: System, revealed, w):
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    revealed.settle(125_000, {w.b0: (300, 29_400), w.p: (200, 19_500), w.g: (0, 0), w.i: (0, 0)})
    refused = system.logs(name="BidRefused")
    assert [e.bidder for e in refused] == [w.b0, w.p]
    assert all(b"token has matured" in e.reason for e in refused)
    assert system.cash.lockedOf(w.b0) == 0


# ---------------------------------------------------------------- reclaim


def test_reclaim(system: System, revealed: Auctions, w):
    a = revealed.a
    with boa.reverts("auction may still settle"), boa.env.prank(w.b0):
        a.reclaim(revealed.id)
    boa.env.time_travel(seconds=RECLAIM_AFTER + 1)
    with boa.env.prank(w.b0):
        a.reclaim(revealed.id)
    (unlocked, released) = a.get_logs()
    assert type(unlocked).__name__ == "CashUnlocked"
    assert (released.bidder, released.cash) == (w.b0, 300 * FACE)
    assert system.cash.lockedOf(w.b0) == 0
    with boa.reverts("no locked bid from this wallet"), boa.env.prank(w.b0):
        a.reclaim(revealed.id)
    with boa.reverts("no locked bid from this wallet"), boa.env.prank(w.lon):
        a.reclaim(revealed.id)
    with boa.reverts("unknown auction"), boa.env.prank(w.p):
        a.reclaim(revealed.id + 1)


def test_no_settlement_once_bidders_may_reclaim(system: System, revealed: Auctions, w):
    """Settlement and reclaim never overlap: after the seven-day window the auction lapses, so
    a bidder's reclaim cannot leave a settlement that must list it."""
    boa.env.time_travel(seconds=RECLAIM_AFTER + 1)
    with boa.env.prank(w.b0):
        revealed.a.reclaim(revealed.id)
    with boa.reverts("settlement window has passed: bidders may reclaim"):
        revealed.settle(125_000, {w.p: (200, 19_500), w.g: (0, 0), w.i: (0, 0)})


def test_reclaim_after_settlement_refused(system: System, revealed: Auctions, w):
    revealed.settle(125_000, {w.b0: (300, 29_400), w.p: (200, 19_500), w.g: (0, 0), w.i: (0, 0)})
    boa.env.time_travel(seconds=RECLAIM_AFTER + 1)
    with boa.reverts("auction already settled"), boa.env.prank(w.g):
        revealed.a.reclaim(revealed.id)


def test_at_most_one_hundred_sealed_bids_taken_at_commit(system: System, auc: Auctions, w):
    """The bid slots are taken at commit, one per institution with its deposit, so every
    sealed bid can be revealed: the 101st institution is refused at commit, never a
    committed bidder at reveal."""
    bidders = [boa.env.generate_address(f"bidder{i}") for i in range(101)]
    expiry = boa.env.timestamp + 365 * DAY
    with boa.env.prank(system.registrar):
        for i, wallet in enumerate(bidders):
            system.idreg.registerIdentity(h(f"bidder {i}"), PK, BANK, expiry, [wallet])
    for wallet in bidders:
        with boa.env.prank(w.b0):
            system.cash.transfer(wallet, FACE + DEPOSIT)
    for wallet in bidders[:100]:
        auc.commit(wallet, 1, 120_000)
    with boa.reverts("all bid slots of this auction are taken"):
        auc.commit(bidders[100], 1, 120_000)
    auc.commit(bidders[0], 1, 119_000)  # a replacement takes no new slot
    auc.to_reveal()
    for wallet in bidders[:100]:
        auc.reveal(wallet)
    assert auc.a.getAuction(auc.id).revealedCount == 100


# ------------------------------------------- deposits, one sealed bid per institution


def test_one_sealed_bid_per_institution(system: System, auc: Auctions, w):
    """A bank cannot hold sealed bids from two wallets and reveal only the one that suits it
    after reading the others' reveals: its second wallet is refused at commit."""
    auc.commit(w.b0, 300, 120_000)
    with boa.reverts("this institution already has a sealed bid in this auction"):
        auc.commit(w.b1, 300, 125_000)
    assert auc.a.bidderOfIdentity(auc.id, system.bank.number) == w.b0
    auc.commit(w.b0, 300, 121_000)  # the same wallet may still replace its bid
    assert auc.a.getAuction(auc.id).committedCount == 1
    # another auction is another slot
    system.issue_cash(w.b1, DEPOSIT)
    other = Auctions(system)
    other.announce()
    other.commit(w.b1, 10, 120_000)


def test_unrevealed_deposit_is_forfeited_to_the_treasury(system: System, auc: Auctions, w):
    """Not revealing costs the deposit: anyone may send it to the treasury after the reveal
    deadline; a revealed bid's deposit came back at reveal."""
    treasury = system.gov.address
    auc.commit(w.b0, 300, 120_000)
    auc.commit(w.p, 200, 125_000)
    assert system.cash.balanceOf(auc.a.address) == 2 * DEPOSIT
    auc.to_reveal()
    auc.reveal(w.p)
    with boa.reverts("bids may still be revealed"), boa.env.prank(w.lon):
        auc.a.forfeitDeposit(auc.id, w.b0)
    boa.env.time_travel(seconds=auc.reveal_by - boa.env.timestamp + 1)
    before = system.cash.balanceOf(treasury)
    with boa.env.prank(w.lon):
        auc.a.forfeitDeposit(auc.id, w.b0)
    (event,) = named(auc.a.get_logs(), "DepositForfeited")
    assert (event.auctionId, event.bidder, event.amount, event.treasury) == (
        auc.id,
        w.b0,
        DEPOSIT,
        treasury,
    )
    assert system.cash.balanceOf(treasury) == before + DEPOSIT
    assert system.cash.balanceOf(w.b0) == 100_000 - DEPOSIT
    assert system.cash.balanceOf(auc.a.address) == 0
    with boa.reverts("no unrevealed deposit from this wallet"), boa.env.prank(w.lon):
        auc.a.forfeitDeposit(auc.id, w.b0)
    with boa.reverts("no unrevealed deposit from this wallet"), boa.env.prank(w.lon):
        auc.a.forfeitDeposit(auc.id, w.p)


def test_settlement_forfeits_every_unrevealed_deposit(system: System, auc: Auctions, w):
    auc.commit(w.b0, 300, 120_000)
    auc.commit(w.i, 100, 0, competitive=False)
    auc.commit(w.g, 150, 130_000)
    auc.to_reveal()
    auc.reveal(w.b0)
    auc.to_settlement()
    before = system.cash.balanceOf(system.gov.address)
    auc.settle(120_000, {w.b0: (300, 29_400)})
    forfeited = system.logs(name="DepositForfeited")
    assert sorted((e.bidder, e.amount) for e in forfeited) == sorted(
        [(w.i, DEPOSIT), (w.g, DEPOSIT)]
    )
    assert system.cash.balanceOf(system.gov.address) == before + 2 * DEPOSIT + 29_400
    assert system.cash.balanceOf(auc.a.address) == 0


def test_commit_without_the_deposit_is_refused(system: System, auc: Auctions, w):
    with boa.env.prank(w.i):
        system.cash.transfer(w.p, 100_000 - DEPOSIT + 1)
    with boa.reverts("insufficient unlocked cash"):
        auc.commit(w.i, 1, 120_000)


# ------------------------------------------------ cut-off and pricing at settlement


def _two_bids(system: System, w, pricing: int) -> Auctions:
    """Issue 15's case: 100 units offered; b0 80 @ 11.80%, p 80 @ 11.85% (committed in that
    order), i 40 non-competitive."""
    for wallet in (w.b0, w.p, w.i):
        system.issue_cash(wallet, 100_000)
    auc = Auctions(system)
    auc.announce(offered=100, pricing=pricing)
    auc.commit(w.b0, 80, 118_000)
    auc.commit(w.p, 80, 118_500)
    auc.commit(w.i, 40, 0, competitive=False)
    auc.to_reveal()
    for wallet in (w.i, w.p, w.b0):
        auc.reveal(wallet)
    auc.to_settlement()
    return auc


def test_cutoff_must_be_the_marginal_accepted_yield(system: System, w):
    """100 offered, non-competitive 40 first; 60 left for b0 80 @ 11.80% and p 80 @ 11.85%:
    b0 takes 60 at the margin, so the cut-off is 11.80% and p gets nothing. A cut-off of
    11.95% (no bid there) or 11.85% (p's yield, yet p unfilled) is refused, as is splitting
    two bids below the cut-off pro rata."""
    auc = _two_bids(system, w, UNIFORM)
    with boa.reverts("cut-off is not the yield of the marginal accepted bid"):
        auc.settle(119_500, {w.i: (40, 3_900), w.p: (30, 2_900), w.b0: (30, 2_900)})
    with boa.reverts("cut-off is not the yield of the marginal accepted bid"):
        auc.settle(118_500, {w.i: (40, 3_900), w.p: (0, 0), w.b0: (60, 5_900)})
    with boa.reverts("a bid below the cut-off must be filled in full"):
        auc.settle(118_500, {w.i: (40, 3_900), w.p: (30, 2_900), w.b0: (30, 2_900)})
    with boa.reverts("bid above the cut-off allocated"):
        auc.settle(118_000, {w.i: (40, 3_900), w.p: (1, 99), w.b0: (59, 5_800)})
    auc.settle(118_000, {w.i: (40, 3_900), w.p: (0, 0), w.b0: (60, 5_900)})
    assert [(e.bidder, e.units, e.yieldMicro) for e in system.logs(name="BidSettled")] == [
        (w.i, 40, 118_000),
        (w.b0, 60, 118_000),
    ]


def test_a_bid_below_the_cutoff_fills_in_full_while_one_at_it_is_filled(system: System, w):
    """Without the non-competitive bid filled, 100 go to b0 80 in full (11.80%) and p 20 at
    the cut-off 11.85%; b0 cut to 50 while p gets 50 is refused."""
    auc = _two_bids(system, w, UNIFORM)
    with boa.reverts("a bid below the cut-off must be filled in full"):
        auc.settle(118_500, {w.i: (0, 0), w.p: (50, 4_900), w.b0: (50, 4_900)})
    auc.settle(118_500, {w.i: (0, 0), w.p: (20, 1_960), w.b0: (80, 7_850)})
    assert system.token.balanceOf(w.b0) == 80


def test_uniform_price_allocations_are_priced_at_the_cutoff(system: System, w):
    auc = _two_bids(system, w, UNIFORM)
    with boa.reverts("uniform price: every allocation is priced at the cut-off"):
        auc.settle(118_000, {w.i: (40, 3_900), w.p: (0, 0), w.b0: (60, 5_900, 117_000)})
    with boa.reverts("an unallocated bid has no yield"):
        auc.settle(118_000, {w.i: (40, 3_900), w.p: (0, 0, 118_500), w.b0: (60, 5_900)})


def test_multiple_price_each_bid_at_its_own_yield(system: System, w):
    """Multiple price, worked by hand: 140 offered; i 40 non-competitive first, b0 80 @ 11.80%
    in full, p the last 20 at the cut-off 11.85%. Competitive bids pay their own yields; i
    pays the weighted average accepted yield (80 x 118,000 + 20 x 118,500) / 100 = 118,100
    millionths."""
    for wallet in (w.b0, w.p, w.i):
        system.issue_cash(wallet, 100_000)
    auc = Auctions(system)
    auc.announce(offered=140, pricing=MULTIPLE)
    auc.commit(w.b0, 80, 118_000)
    auc.commit(w.p, 80, 118_500)
    auc.commit(w.i, 40, 0, competitive=False)
    auc.to_reveal()
    for wallet in (w.b0, w.p, w.i):
        auc.reveal(wallet)
    auc.to_settlement()
    right = {w.b0: (80, 7_850, 118_000), w.p: (20, 1_960, 118_500), w.i: (40, 3_920, 118_100)}
    with boa.reverts("multiple price: a competitive bid is priced at its own yield"):
        auc.settle(118_500, {**right, w.b0: (80, 7_850, 118_500)})
    with boa.reverts(
        "multiple price: a non-competitive bid is priced at the weighted average accepted yield"
    ):
        auc.settle(118_500, {**right, w.i: (40, 3_920, 118_500)})
    auc.settle(118_500, right)
    settled = {e.bidder: e.yieldMicro for e in system.logs(name="BidSettled")}
    assert settled == {w.b0: 118_000, w.p: 118_500, w.i: 118_100}


def test_weighted_average_yield_rounds_half_even(system: System, w):
    """One unit each at two yields, one non-competitive unit: (118,001 + 118,002) / 2 =
    118,001.5 -> 118,002 and (118,000 + 118,001) / 2 = 118,000.5 -> 118,000 (half to even)."""
    for pair, average in (((118_001, 118_002), 118_002), ((118_000, 118_001), 118_000)):
        for wallet in (w.b0, w.p, w.i):
            system.issue_cash(wallet, 10_000)
        auc = Auctions(system)
        auc.announce(offered=3, pricing=MULTIPLE)
        auc.commit(w.b0, 1, pair[0])
        auc.commit(w.p, 1, pair[1])
        auc.commit(w.i, 1, 0, competitive=False)
        auc.to_reveal()
        for wallet in (w.b0, w.p, w.i):
            auc.reveal(wallet)
        auc.to_settlement()
        with boa.reverts(
            "multiple price: a non-competitive bid is priced at the weighted average accepted yield"
        ):
            auc.settle(
                pair[1],
                {w.b0: (1, 98, pair[0]), w.p: (1, 98, pair[1]), w.i: (1, 98, average + 1)},
            )
        auc.settle(pair[1], {w.b0: (1, 98, pair[0]), w.p: (1, 98, pair[1]), w.i: (1, 98, average)})


def empty_cash(system: System, wallet: str, other: str) -> None:
    """The wallet's holder moves all its cash to another wallet of its identity."""
    with boa.env.prank(wallet):
        system.cash.transfer(other, system.cash.balanceOf(wallet))


def test_a_relinked_wallet_cannot_take_a_second_slot(system: System, auc: Auctions, w):
    """A wallet re-linked to another identity after committing cannot commit again under the
    new identity (its first deposit would be lost track of)."""
    auc.commit(w.b0, 300, 120_000)
    empty_cash(system, w.b0, w.b1)  # a wallet holding cash cannot be unlinked
    with boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(w.b0)
        system.idreg.linkWallet(system.pension.number, w.b0)
    with boa.reverts("this wallet has a sealed bid for another identity"):
        auc.commit(w.b0, 300, 121_000)


# --------------------------------------- the chain accepts what the domain allocates

YIELD_CHOICES = [117_500, 118_000, 118_500, 119_000]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    raw=st.lists(
        st.tuples(st.integers(1, 300), st.one_of(st.none(), st.sampled_from(YIELD_CHOICES))),
        min_size=1,
        max_size=4,
    ),
    offered=st.integers(1, 600),
    pricing=st.sampled_from([UNIFORM, MULTIPLE]),
    pick=st.integers(0, 10),
)
def test_every_allocation_the_domain_computes_settles_on_chain(
    system: System, w, raw, offered, pricing, pick
):
    """Off chain and on chain agree: for random bids, any cut-off the domain accepts gives an
    allocation (units, yields by the pricing method, payments) the contract settles."""
    wallets = [w.b0, w.p, w.i, w.g]
    with boa.env.anchor():
        for wallet in wallets:
            system.issue_cash(wallet, 100_000)
        auc = Auctions(system)
        auc.announce(offered=offered, pricing=pricing)
        for wallet, (units, rate) in zip(wallets, raw, strict=False):
            auc.commit(wallet, units, rate or 0, competitive=rate is not None)
        auc.to_reveal()
        for wallet in reversed(list(auc.bids)):  # reveal order differs from commitment order
            auc.reveal(wallet)
        auc.to_settlement()
        bids = [
            Bid(wallet, units, None if rate is None else from_micro(rate), sequence)
            for sequence, (wallet, (units, rate)) in enumerate(
                zip(wallets, raw, strict=False), start=1
            )
        ]
        choices = valid_cutoffs(offered, bids)
        if not choices:  # only non-competitive bids: nothing prices them, nothing is allocated
            return
        cutoff = choices[pick % len(choices)]
        placed = {a.bid.bidder: a for a in allocate(offered, bids, cutoff, pricing == UNIFORM)}
        allocation = {}
        for bid in bids:
            chosen = placed.get(bid.bidder)
            if chosen is None:
                allocation[bid.bidder] = (0, 0, 0)
            else:
                payment = tbill_payment(chosen.units, FACE, chosen.yield_rate, 91)
                allocation[bid.bidder] = (chosen.units, payment, yield_micro(chosen.yield_rate))
        auc.settle(yield_micro(cutoff), allocation)
        issued = sum(e.units for e in system.logs(name="BidSettled"))
        assert issued == sum(units for units, _, _ in allocation.values()) <= offered


# ------------------------------------------------- review findings (hostile review of issue 9.5/15)


def test_settlement_must_come_after_the_reveal_deadline(system: System, w):
    """A settlement date equal to the reveal deadline let governance settle (taking deposits)
    in the second a bid could still be revealed, whose cash then stayed locked for good."""
    a, t, now = system.auction, system.token.address, boa.env.timestamp
    with boa.reverts("settlement must be after the reveal deadline"), boa.env.prank(system.issuer):
        a.announce(t, 500, FACE, now + DAY, now + 2 * DAY, now + 2 * DAY, UNIFORM, DEPOSIT)


def test_a_wallet_relinked_after_its_sealed_bid_cannot_reveal(system: System, auc: Auctions, w):
    """A bank's wallet re-linked to the pension fund after committing would give the pension
    fund two live sealed bids to choose from: the moved wallet's bid can no longer be revealed
    (its deposit is forfeited)."""
    auc.commit(w.b0, 300, 120_000)
    empty_cash(system, w.b0, w.b1)  # a wallet holding cash cannot be unlinked
    with boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(w.b0)
        system.idreg.linkWallet(system.pension.number, w.b0)
    auc.commit(w.p, 200, 130_000)
    auc.to_reveal()
    with boa.reverts("wallet was re-linked to another institution since its sealed bid"):
        auc.reveal(w.b0)
    auc.reveal(w.p)
    assert auc.a.getAuction(auc.id).revealedCount == 1


def test_non_competitive_bids_alone_are_priced_at_the_lowest_competitive_yield(
    system: System, w
):
    """When non-competitive demand takes the whole amount no competitive bid is accepted:
    governance may not name any cut-off it likes to price them."""
    for wallet in (w.b0, w.i):
        system.issue_cash(wallet, 100_000)
    a = Auctions(system)
    a.announce(offered=100)
    a.commit(w.i, 100, 0, competitive=False)
    a.commit(w.b0, 50, 120_000)
    a.to_reveal()
    a.reveal(w.i)
    a.reveal(w.b0)
    a.to_settlement()
    with boa.reverts("with no competitive bid accepted the cut-off is the lowest competitive yield"):
        a.settle(990_000, {w.i: (100, 5_000), w.b0: (0, 0)})
    a.settle(120_000, {w.i: (100, 9_700), w.b0: (0, 0)})
    assert system.token.balanceOf(w.i) == 100
