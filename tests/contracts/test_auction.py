"""Auction: sealed-bid primary auctions (announce / commit / reveal / settle / reclaim) with
per-bidder all-or-nothing settlement."""

from __future__ import annotations

import boa
import pytest

from amanat.domain.identity import InvestorCategory

from .conftest import BASE_RULES, DAY, EVIDENCE, PK, ZERO32, System, bid_commitment, deploy, h

FACE = 100  # cash minor units per unit
OFFERED = 500
RECLAIM_AFTER = 7 * DAY
BANK = int(InvestorCategory.BANK)


def names(entries) -> list[str]:
    return [type(e).__name__ for e in entries]


class Auctions:
    """Drives one auction of the pilot token."""

    def __init__(self, system: System, token=None):
        self.s = system
        self.token = token or system.token
        self.a = system.auction
        self.bids: dict[str, tuple] = {}

    def announce(self, offered=OFFERED, face=FACE) -> int:
        now = boa.env.timestamp
        self.close, self.reveal_by, self.settle_on = now + DAY, now + 2 * DAY, now + 3 * DAY
        with boa.env.prank(self.s.issuer):
            self.id = self.a.announce(
                self.token.address, offered, face, self.close, self.reveal_by, self.settle_on
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

    def settle(self, cutoff: int, allocation: dict[str, tuple[int, int]]) -> None:
        bidders = list(allocation)
        self.s.govern(
            self.a,
            "settle",
            self.id,
            cutoff,
            bidders,
            [allocation[b][0] for b in bidders],
            [allocation[b][1] for b in bidders],
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
        0,
        False,
    )
    assert auc.announce() == 2


def test_announce_refusals(system: System, w):
    a, t, now = system.auction, system.token.address, boa.env.timestamp
    with boa.reverts("caller is not an issuer"), boa.env.prank(w.b0):
        a.announce(t, 1, 1, now + 1, now + 2, now + 3)
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
            a.announce(rogue.address, 1, 1, now + 1, now + 2, now + 3)
        with boa.reverts("offered units must be positive"):
            a.announce(t, 0, 1, now + 1, now + 2, now + 3)
        with boa.reverts("face value must be positive"):
            a.announce(t, 1, 0, now + 1, now + 2, now + 3)
        with boa.reverts("close time has passed"):
            a.announce(t, 1, 1, now, now + 2, now + 3)
        with boa.reverts("reveal deadline must be after the close"):
            a.announce(t, 1, 1, now + 2, now + 2, now + 3)
        with boa.reverts("settlement must be after the reveal deadline"):
            a.announce(t, 1, 1, now + 1, now + 3, now + 2)
        a.announce(t, 1, 1, now + 1, now + 2, now + 2)  # settle on the reveal deadline


# ---------------------------------------------------------------- commit


def test_commit_and_replace(auc: Auctions, w):
    auc.commit(w.b0, 300, 120_000)
    (event,) = auc.a.get_logs()
    first = bid_commitment(auc.id, w.b0, 300, 120_000, True, auc.bids[w.b0][3])
    assert (event.auctionId, event.bidder, event.commitment) == (auc.id, w.b0, first)
    auc.commit(w.b0, 250, 121_000)  # a replacement before the close
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
    system.govern(system.token, "markMatured")
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
    (locked, event) = auc.a.get_logs()
    assert type(locked).__name__ == "CashLocked" and locked.amount == 300 * FACE
    assert (event.bidder, event.units, event.yieldMicro, event.competitive, event.lockedCash) == (
        w.b0,
        300,
        120_000,
        True,
        300 * FACE,
    )
    bid = auc.a.getBid(auc.id, w.b0)
    assert (bid.units, bid.yieldMicro, bid.competitive, bid.revealed, bid.lockedCash, bid.done) == (
        300,
        120_000,
        True,
        True,
        300 * FACE,
        False,
    )
    assert system.cash.lockedOf(w.b0) == 300 * FACE
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
        a.settle(revealed.id, 125_000, [], [], [])
    with boa.reverts("unknown auction"):
        system.govern(a, "settle", revealed.id + 1, 0, [], [], [])
    with boa.reverts("allocation must list every revealed bidder"):
        revealed.settle(125_000, {w.b0: (300, 29_400)})
    with boa.reverts("allocation lists differ in length"):
        system.govern(
            a, "settle", revealed.id, 125_000, list(everyone), [300, 200, 0], [1, 1, 0, 0]
        )
    with boa.reverts("bidder listed twice or never revealed"):
        system.govern(a, "settle", revealed.id, 125_000, [w.b0, w.b0, w.g, w.i], [0] * 4, [0] * 4)
    with boa.reverts("bidder listed twice or never revealed"):
        system.govern(a, "settle", revealed.id, 125_000, [w.b0, w.p, w.g, w.lon], [0] * 4, [0] * 4)
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
    system.govern(system.token, "markMatured")
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


def test_at_most_one_hundred_revealed_bids(system: System, auc: Auctions, w):
    bidders = [boa.env.generate_address(f"bidder{i}") for i in range(101)]
    expiry = boa.env.timestamp + 365 * DAY
    with boa.env.prank(system.registrar):
        for i, wallet in enumerate(bidders):
            system.idreg.registerIdentity(h(f"bidder {i}"), PK, BANK, expiry, [wallet])
    for wallet in bidders:
        with boa.env.prank(w.b0):
            system.cash.transfer(wallet, FACE)
        auc.commit(wallet, 1, 120_000)
    auc.to_reveal()
    for wallet in bidders[:100]:
        auc.reveal(wallet)
    with boa.reverts("too many bids"):
        auc.reveal(bidders[100])
