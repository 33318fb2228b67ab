"""Settlement: secondary DvP (instruct / affirm / settle / cancel / expire), atomic legs."""

from __future__ import annotations

import boa
import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from amanat.domain.identity import InvestorCategory

from .conftest import BASE_RULES, DAY, EVIDENCE, System, deploy

INSTRUCTED, AFFIRMED, SETTLED, CANCELLED, EXPIRED = 1, 2, 3, 4, 5
UNITS, CASH = 100, 25_000


def names(entries) -> list[str]:
    return [type(e).__name__ for e in entries]


@pytest.fixture
def dvp(system: System, w):
    """Seller b0 holds 1,000 units, buyer p holds 100,000 cash."""
    system.mint(w.b0, 1_000)
    system.issue_cash(w.p, 100_000)
    return system.settlement


def instruct(system: System, seller: str, buyer: str, units=UNITS, cash=CASH, deadline=None) -> int:
    deadline = boa.env.timestamp + DAY if deadline is None else deadline
    with boa.env.prank(seller):
        return system.settlement.instruct(system.token.address, buyer, units, cash, deadline)


def affirm(system: System, buyer: str, iid: int) -> None:
    with boa.env.prank(buyer):
        system.settlement.affirm(iid, system.terms(iid))


def legs(system: System, seller: str, buyer: str) -> tuple:
    t, c = system.token, system.cash
    return (
        t.balanceOf(seller),
        t.settlementLocked(seller),
        t.balanceOf(buyer),
        c.balanceOf(buyer),
        c.lockedOf(buyer),
        c.balanceOf(seller),
    )


# ---------------------------------------------------------------- instruct


def test_constructor(system: System):
    assert system.settlement.assetRegistry() == system.areg.address
    assert system.settlement.cashToken() == system.cash.address
    assert system.settlement.instructionCount() == 0


def test_instruct_locks_units(system: System, dvp, w):
    deadline = boa.env.timestamp + DAY
    iid = instruct(system, w.b0, w.p, deadline=deadline)
    (locked, instructed) = dvp.get_logs()
    assert type(locked).__name__ == "SettlementLocked" and locked.amount == UNITS
    assert (instructed.instructionId, instructed.seller, instructed.buyer) == (1, w.b0, w.p)
    assert (instructed.units, instructed.cashAmount, instructed.deadline) == (UNITS, CASH, deadline)
    assert iid == 1 and dvp.instructionCount() == 1
    # only the terms' hash is stored (its low byte holds the state); the event has the terms
    terms = (w.b0, w.p, system.token.address, UNITS, CASH, deadline)
    assert system.terms(iid) == terms
    digest = keccak(abi_encode(["address", "address", "address"] + ["uint256"] * 3, terms))
    assert tuple(dvp.getInstruction(iid)) == (digest[:31] + b"\x00", INSTRUCTED)
    assert system.token.settlementLocked(w.b0) == UNITS
    assert system.token.balanceOf(w.b0) == 1_000
    assert system.token.getFrozenTokens(w.b0) == 0


def test_instruct_refusals(system: System, dvp, w):
    t = system.token.address
    later = boa.env.timestamp + DAY
    with boa.env.prank(w.b0):
        with boa.reverts("units must be positive"):
            dvp.instruct(t, w.p, 0, CASH, later)
        with boa.reverts("cash amount must be positive"):
            dvp.instruct(t, w.p, UNITS, 0, later)
        with boa.reverts("buyer and seller are the same wallet"):
            dvp.instruct(t, w.b0, UNITS, CASH, later)
        with boa.reverts("deadline has passed"):
            dvp.instruct(t, w.p, UNITS, CASH, boa.env.timestamp)
        # the token's rules, with the token's own message
        with boa.reverts("receiver investor category not eligible"):
            dvp.instruct(t, w.r, UNITS, CASH, later)
        with boa.reverts("insufficient balance"):
            dvp.instruct(t, w.p, 1_001, CASH, later)
    with boa.reverts("sender is not a verified institution"), boa.env.prank(w.out):
        dvp.instruct(t, w.p, UNITS, CASH, later)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.reverts("token has matured"), boa.env.prank(w.b0):
        dvp.instruct(t, w.p, UNITS, CASH, later)


def test_instruct_refuses_a_token_the_registry_does_not_list(system: System, dvp, w):
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
    with boa.reverts("not an Amanat asset token"), boa.env.prank(w.b0):
        dvp.instruct(rogue.address, w.p, UNITS, CASH, boa.env.timestamp + DAY)


def test_locked_units_are_not_available_to_a_second_instruction(system: System, dvp, w):
    instruct(system, w.b0, w.p, units=900)
    with boa.reverts("amount exceeds unfrozen balance"):
        instruct(system, w.b0, w.i, units=101)
    instruct(system, w.b0, w.i, units=100)
    assert system.token.settlementLocked(w.b0) == 1_000


# ---------------------------------------------------------------- affirm


def test_affirm_locks_cash(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    (locked, affirmed) = dvp.get_logs()
    assert type(locked).__name__ == "CashLocked" and locked.amount == CASH
    assert (affirmed.instructionId, affirmed.buyer) == (iid, w.p)
    assert dvp.getInstruction(iid).state == AFFIRMED
    assert system.cash.lockedOf(w.p) == CASH


def test_affirm_refusals(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    with boa.reverts("unknown instruction"):
        affirm(system, w.p, 0)
    with boa.reverts("unknown instruction"):
        affirm(system, w.p, iid + 1)
    with boa.reverts("caller is not the buyer"):
        affirm(system, w.b0, iid)
    affirm(system, w.p, iid)
    with boa.reverts("instruction already affirmed"):
        affirm(system, w.p, iid)
    poor = instruct(system, w.b0, w.i)  # the insurer holds no cash
    with boa.reverts("insufficient unlocked cash"):
        affirm(system, w.i, poor)
    late = instruct(system, w.b0, w.g)
    boa.env.time_travel(seconds=DAY + 1)
    with boa.reverts("instruction has expired"):
        affirm(system, w.g, late)
    with boa.env.prank(w.b0):
        dvp.cancel(poor, system.terms(poor))
    with boa.reverts("instruction is no longer open"):
        affirm(system, w.i, poor)


def test_every_step_refuses_terms_other_than_the_instructions(system: System, dvp, w):
    """Only the terms' hash is stored: a buyer affirming for less cash, a party settling a
    larger delivery or to another wallet, or anyone expiring with an earlier deadline is
    refused; the instruction is untouched."""
    iid = instruct(system, w.b0, w.p)
    seller, buyer, token, units, cash, deadline = system.terms(iid)
    altered = [
        (w.i, buyer, token, units, cash, deadline),
        (seller, w.i, token, units, cash, deadline),
        (seller, buyer, w.i, units, cash, deadline),
        (seller, buyer, token, units + 1, cash, deadline),
        (seller, buyer, token, units, cash - 1, deadline),
        (seller, buyer, token, units, cash, deadline - DAY),
    ]
    for terms in altered:
        with boa.reverts("terms do not match the instruction"), boa.env.prank(w.p):
            dvp.affirm(iid, terms)
    affirm(system, w.p, iid)
    wrong = altered[4]
    for fn in ("settle", "cancel", "expire"):
        with boa.reverts("terms do not match the instruction"), boa.env.prank(w.b0):
            getattr(dvp, fn)(iid, wrong)
    assert dvp.getInstruction(iid).state == AFFIRMED
    assert system.cash.lockedOf(w.p) == CASH and system.token.settlementLocked(w.b0) == UNITS


# ---------------------------------------------------------------- settle


@pytest.mark.parametrize("caller", ["seller", "buyer"])
def test_settle_moves_both_legs(system: System, dvp, w, caller):
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    with boa.env.prank(w.b0 if caller == "seller" else w.p):
        dvp.settle(iid, system.terms(iid))
    logs = dvp.get_logs()
    assert names(logs) == [
        "SettlementUnlocked",
        "Transfer",
        "CashUnlocked",
        "Transfer",
        "DvPSettled",
    ]
    settled = logs[-1]
    assert (
        settled.instructionId,
        settled.seller,
        settled.buyer,
        settled.units,
        settled.cashAmount,
    ) == (
        iid,
        w.b0,
        w.p,
        UNITS,
        CASH,
    )
    assert legs(system, w.b0, w.p) == (900, 0, UNITS, 100_000 - CASH, 0, CASH)
    assert dvp.getInstruction(iid).state == SETTLED


def test_settle_refusals(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    with boa.reverts("caller is not a party"), boa.env.prank(w.i):
        dvp.settle(iid, system.terms(iid))
    with boa.reverts("buyer has not affirmed"), boa.env.prank(w.b0):
        dvp.settle(iid, system.terms(iid))
    affirm(system, w.p, iid)
    with boa.reverts("unknown instruction"), boa.env.prank(w.b0):
        dvp.settle(iid + 1, system.terms(iid + 1))
    boa.env.time_travel(seconds=DAY + 1)
    with boa.reverts("instruction has expired"), boa.env.prank(w.b0):
        dvp.settle(iid, system.terms(iid))


def test_settled_instruction_is_closed(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    with boa.env.prank(w.p):
        dvp.settle(iid, system.terms(iid))
    for fn in ("settle", "cancel"):
        with boa.reverts("instruction is no longer open"), boa.env.prank(w.p):
            getattr(dvp, fn)(iid, system.terms(iid))
    boa.env.time_travel(seconds=DAY + 1)
    with boa.reverts("instruction is no longer open"):
        dvp.expire(iid, system.terms(iid))


def _make_buyer_ineligible(system: System, w, how: str) -> str:
    if how == "category":
        system.update_identity(system.pension, category=InvestorCategory.RETAIL)
        return "receiver investor category not eligible"
    if how == "frozen":
        system.govern(system.token, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
        return "receiver wallet is frozen"
    if how == "paused":
        system.govern(system.token, "pause")
        return "token is paused"
    if how == "matured":
        system.govern(system.token, "markMatured", evidence=EVIDENCE)
        return "token has matured"
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["category", "frozen", "paused", "matured"])
def test_settle_is_atomic_when_a_rule_refuses_delivery(system: System, dvp, w, how):
    """A rule refusing the delivery leg at settlement moves nothing; both legs stay locked
    and cancel then releases both."""
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    before = legs(system, w.b0, w.p)
    assert before == (1_000, UNITS, 0, 100_000, CASH, 0)
    message = _make_buyer_ineligible(system, w, how)
    with boa.reverts(message), boa.env.prank(w.b0):
        dvp.settle(iid, system.terms(iid))
    assert legs(system, w.b0, w.p) == before
    assert dvp.getInstruction(iid).state == AFFIRMED
    with boa.env.prank(w.p):
        dvp.cancel(iid, system.terms(iid))
    assert legs(system, w.b0, w.p) == (1_000, 0, 0, 100_000, 0, 0)


def test_settle_is_atomic_when_the_cash_leg_fails(system: System, dvp, w):
    """The delivery leg succeeds but the cash leg is refused (the cash token delisted the DvP
    contract): the delivery is undone with it."""
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    before = legs(system, w.b0, w.p)
    system.govern(system.cash, "setAgent", dvp.address, False, evidence=EVIDENCE)
    with boa.reverts("caller is not a settlement agent"), boa.env.prank(w.p):
        dvp.settle(iid, system.terms(iid))
    assert legs(system, w.b0, w.p) == before
    assert dvp.getInstruction(iid).state == AFFIRMED


# ---------------------------------------------------------------- cancel and expire


@pytest.mark.parametrize("caller", ["seller", "buyer"])
def test_cancel_releases_both_legs(system: System, dvp, w, caller):
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    who = w.b0 if caller == "seller" else w.p
    with boa.env.prank(who):
        dvp.cancel(iid, system.terms(iid))
    logs = dvp.get_logs()
    assert names(logs) == ["SettlementUnlocked", "CashUnlocked", "DvPCancelled"]
    assert (logs[-1].instructionId, logs[-1].by) == (iid, who)
    assert legs(system, w.b0, w.p) == (1_000, 0, 0, 100_000, 0, 0)
    assert dvp.getInstruction(iid).state == CANCELLED
    with boa.reverts("instruction is no longer open"), boa.env.prank(who):
        dvp.cancel(iid, system.terms(iid))


def test_cancel_before_affirmation_releases_the_units_only(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    with boa.env.prank(w.b0):
        dvp.cancel(iid, system.terms(iid))
    assert names(dvp.get_logs()) == ["SettlementUnlocked", "DvPCancelled"]
    assert system.token.settlementLocked(w.b0) == 0


def test_cancel_refusals(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    with boa.reverts("caller is not a party"), boa.env.prank(w.i):
        dvp.cancel(iid, system.terms(iid))
    with boa.reverts("unknown instruction"), boa.env.prank(w.b0):
        dvp.cancel(7, system.terms(7))


def test_expire_releases_both_legs(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    with boa.reverts("deadline has not passed"), boa.env.prank(w.out):
        dvp.expire(iid, system.terms(iid))
    boa.env.time_travel(seconds=DAY + 1)
    with boa.env.prank(w.out):  # anyone
        dvp.expire(iid, system.terms(iid))
    logs = dvp.get_logs()
    assert names(logs) == ["SettlementUnlocked", "CashUnlocked", "DvPExpired"]
    assert logs[-1].instructionId == iid
    assert legs(system, w.b0, w.p) == (1_000, 0, 0, 100_000, 0, 0)
    assert dvp.getInstruction(iid).state == EXPIRED
    with boa.reverts("instruction is no longer open"):
        dvp.expire(iid, system.terms(iid))
    with boa.reverts("unknown instruction"):
        dvp.expire(iid + 1, system.terms(iid + 1))


def test_expire_releases_a_matured_tokens_units(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    boa.env.time_travel(seconds=DAY + 1)
    dvp.expire(iid, system.terms(iid))
    assert system.token.settlementLocked(w.b0) == 0


def test_anyone_may_cancel_once_the_token_has_matured(system: System, dvp, w):
    """A DvP on a matured token can never settle; its locked units must not block redemption."""
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.env.prank(w.out):
        dvp.cancel(iid, system.terms(iid))
    assert legs(system, w.b0, w.p) == (1_000, 0, 0, 100_000, 0, 0)
    assert dvp.getInstruction(iid).state == CANCELLED


def test_delisted_agent_cannot_settle(system: System, dvp, w):
    iid = instruct(system, w.b0, w.p)
    affirm(system, w.p, iid)
    system.govern(system.areg, "setSettlementAgent", dvp.address, False, evidence=EVIDENCE)
    with boa.reverts("caller is not a settlement agent"), boa.env.prank(w.b0):
        dvp.settle(iid, system.terms(iid))
