"""Issue 9, second hostile review: the holes found after the first eight findings were closed.

1. A publisher key could anchor `latest + maxTreeGrowth` again and again, and an anchor with
   honest ones on top could only be voided one proposal per anchor. 2. Governed actions that
   still ran without evidence or a guard. 3. Enforcement against thousands of DvP instructions
   needed thousands of proposals. 4. Single registrar-key limits.
"""

from __future__ import annotations

from typing import Any

import boa
import pytest

from .conftest import CONTRACTS_DIR, DAY, EVIDENCE, NO_TERMS, ZERO32, System, h
from .conftest import selector as h_selector

PROPERTY_RULE = "this action affects a holder's property and requires an evidence hash"
TOO_FAST = "tree size grows faster than the publisher may anchor"
CANCELLED = 4


def names(entries: list[Any]) -> list[str]:
    return [type(e).__name__ for e in entries]


# ------------------------------------------------------------- 1: anchoring


@pytest.fixture
def anchor(system: System) -> Any:
    publisher = boa.env.generate_address("publisher")
    contract = boa.load(
        str(CONTRACTS_DIR / "TransparencyAnchor.vy"), system.gov.address, [publisher]
    )
    contract.test_publisher = publisher
    return contract


def test_a_publisher_cannot_keep_jumping_the_tree_size(anchor):
    """The allowance is `maxTreeGrowth` per day, not per anchor: a leaked key that anchors
    `latest + maxTreeGrowth` twice in a row is refused the second time."""
    growth = anchor.maxTreeGrowth()
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(10, h("root 10"), h("head 10"))
        anchor.anchor(growth, h("bogus"), h("bogus"))  # the rest of the day's allowance
        with boa.reverts(TOO_FAST):
            anchor.anchor(growth + growth, h("bogus"), h("bogus"))
        with boa.reverts(TOO_FAST):
            anchor.anchor(growth + 1, h("bogus"), h("bogus"))
        assert anchor.maxAnchorableSize() == growth
        boa.env.time_travel(seconds=DAY // 2)
        assert anchor.maxAnchorableSize() == growth + growth // 2
        boa.env.time_travel(seconds=10 * DAY)  # the allowance refills up to one day's worth
        assert anchor.maxAnchorableSize() == growth + growth
        anchor.anchor(growth + growth, h("root"), h("head"))
    assert anchor.latest()[0] == 2 * growth


def test_governance_voids_every_anchor_above_a_good_head_in_one_proposal(system: System, anchor):
    """A bogus anchor with anchors on top (honest or not) is voided with them in one
    evidence-backed proposal; anchoring resumes from the good head."""
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(10, h("root 10"), h("head 10"))
        anchor.anchor(20, h("bogus root"), h("bogus head"))
        anchor.anchor(25, h("root 25"), h("head 25"))
    with boa.reverts(PROPERTY_RULE):
        system.propose(anchor, "voidAnchorsAbove", 10)
    with boa.reverts("caller is not governance"), boa.env.prank(anchor.test_publisher):
        anchor.voidAnchorsAbove(10)
    with boa.reverts("keep size is not an anchored tree head"):
        system.govern(anchor, "voidAnchorsAbove", 11, evidence=EVIDENCE)
    system.govern(anchor, "voidAnchorsAbove", 10, evidence=EVIDENCE)
    (voided,) = system.logs(name="AnchorsVoided")
    assert (voided.keptSize, voided.voidedUpTo, voided.count, voided.evidence) == (
        10,
        25,
        2,
        EVIDENCE,
    )
    assert anchor.latest() == (10, h("root 10"), h("head 10"))
    assert anchor.anchorAt(20) == (ZERO32, ZERO32, 0)
    assert anchor.anchorAt(25) == (ZERO32, ZERO32, 0)
    assert anchor.anchorCount() == 1
    with boa.reverts("nothing anchored above that size"):
        system.govern(anchor, "voidAnchorsAbove", 10, evidence=EVIDENCE)
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(25, h("root 25"), h("head 25"))  # the honest head, anchored again
    assert anchor.anchorAt(25)[:2] == (h("root 25"), h("head 25"))
    assert anchor.anchorAt(20) == (ZERO32, ZERO32, 0)
    system.govern(anchor, "voidAnchorsAbove", 0, evidence=EVIDENCE)  # everything
    assert anchor.latest() == (0, ZERO32, ZERO32)
    assert anchor.anchorAt(10) == (ZERO32, ZERO32, 0)
    assert anchor.anchorCount() == 0


# ------------------------------------------------------------- 3: many small instructions


def instruct(system: System, seller: str, buyer: str, units: int) -> int:
    with boa.env.prank(seller):
        return system.settlement.instruct(
            system.token.address, buyer, units, 1_000, boa.env.timestamp + DAY
        )


def test_one_proposal_cancels_many_instructions_for_enforcement(system: System, w):
    """The delay attack: many 1-unit instructions, each needing its own proposal. One
    evidence-backed batch cancels them all, skipping any the seller closed meanwhile (so the
    seller cannot make the batch revert), and the forced transfer reaches every unit."""
    system.mint(w.b0, 10)
    system.issue_cash(w.p, 5_000)
    ids = [instruct(system, w.b0, w.p, 1) for _ in range(6)]
    terms = [system.terms(i) for i in ids]
    with boa.env.prank(w.p):
        system.settlement.affirm(ids[1], system.terms(ids[1]))
    assert system.token.settlementLocked(w.b0) == 6
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.settlement, "enforceCancelMany", ids, terms)
    pid = system.propose(system.settlement, "enforceCancelMany", ids, terms, evidence=EVIDENCE)
    system.approve(pid)
    with boa.env.prank(w.b0):
        system.settlement.cancel(ids[2], terms[2])  # the seller closes one first: it is skipped
    with boa.reverts("caller is not governance"), boa.env.prank(w.b0):
        system.settlement.enforceCancelMany(ids, terms)
    system.execute(pid)
    events = system.logs()
    enforced = [e for e in events if type(e).__name__ == "DvPEnforcementCancelled"]
    assert [e.instructionId for e in enforced] == [i for i in ids if i != ids[2]]
    assert {e.evidence for e in enforced} == {EVIDENCE}
    assert names(events).count("DvPCancelled") == 5
    assert {system.settlement.getInstruction(i).state for i in ids} == {CANCELLED}
    assert system.token.settlementLocked(w.b0) == 0
    assert system.cash.lockedOf(w.p) == 0
    system.govern(system.token, "forcedTransfer", w.b0, w.i, 10, evidence=EVIDENCE)
    assert system.token.balanceOf(w.i) == 10


# ------------------------------------------------------------- 2: guards of governed actions


def test_actions_on_holder_property_need_evidence_and_agents_must_be_contracts(system: System, w):
    """Marking a token matured (trading stops, only redemption), declaring a redemption (units
    cancelled at the declared price), closing a distribution (unpaid payouts return to the
    treasury), listing a settlement agent or setting the token factory (both gain power over
    holders' units and cash) all need evidence at propose and at execute; an agent and the
    factory must be contracts, never an ordinary key."""
    system.mint(w.b0, 10)
    system.fund_treasury(1_000)
    key = boa.env.generate_address("ordinary key")
    root = h("payout root")
    block = boa.env.evm.patch.block_number
    boa.env.time_travel(blocks=1)
    calls = [
        (system.token, "markMatured", ()),
        (system.distributor, "closeDistribution", (1,)),
        (system.areg, "setSettlementAgent", (system.auction.address, True)),
        (system.areg, "setTokenFactory", (system.factory.address,)),
        (system.distributor, "declareRedemption", (system.token.address, block, 10, root, 1, 0)),
    ]
    for target, fn, args in calls:
        with boa.reverts(PROPERTY_RULE):
            system.propose(target, fn, *args)
    with boa.reverts("settlement agent is not a contract"):
        system.govern(system.areg, "setSettlementAgent", key, True, evidence=EVIDENCE)
    system.govern(system.areg, "setSettlementAgent", key, False, evidence=EVIDENCE)  # delisting
    with boa.reverts("token factory is not a contract"):
        system.govern(system.areg, "setTokenFactory", key, evidence=EVIDENCE)
    with boa.reverts("a redemption is declared with declareRedemption"):
        system.govern(system.distributor, "declare", system.token.address, 4, block, 10, root, 1, 0)
    with boa.reverts("token has not matured"):
        system.govern(system.distributor, "declareRedemption", *calls[-1][2], evidence=EVIDENCE)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    block = boa.env.evm.patch.block_number
    boa.env.time_travel(blocks=1)
    system.govern(
        system.distributor, "declareRedemption", system.token.address, block, 10, root, 1, 0,
        evidence=EVIDENCE,
    )  # fmt: skip
    (declared,) = system.logs(name="DistributionDeclared")
    assert (declared.kind, declared.total) == (4, 10)
    system.govern(system.distributor, "closeDistribution", 1, evidence=EVIDENCE)
    assert system.distributor.getDistribution(1).closed


def test_a_cash_agent_is_a_contract_listed_on_evidence(system: System, w):
    """A cash agent can lock and move any institution's PKRT: listing one needs evidence, as a
    settlement agent does, and it must be a contract, never an ordinary key; delisting is
    always possible."""
    key = boa.env.generate_address("ordinary key")
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.cash, "setAgent", system.settlement.address, True)
    with boa.reverts("cash agent is not a contract"):
        system.govern(system.cash, "setAgent", key, True, evidence=EVIDENCE)
    assert not system.cash.isAgent(key)
    system.govern(system.cash, "setAgent", system.settlement.address, False, evidence=EVIDENCE)
    system.govern(system.cash, "setAgent", system.settlement.address, True, evidence=EVIDENCE)
    assert system.cash.isAgent(system.settlement.address)


@pytest.mark.parametrize(
    ("target", "signature", "args", "message"),
    [
        ("distributor", "closeDistribution(uint256)", (1,),
         "closing a distribution requires an evidence hash"),
        ("distributor", "declareRedemption(address,uint256,uint256,bytes32,uint256,uint256)",
         ("token", 1, 10, h("root"), 1, 0), "declaring a redemption requires an evidence hash"),
        ("settlement", "enforceCancelMany(uint256[],(address,address,address,uint256,uint256,uint256)[])",
         ([1], [NO_TERMS]),
         "enforcement action requires an evidence hash"),
    ],
)  # fmt: skip
def test_targets_refuse_without_evidence_even_if_the_table_is_changed(
    system: System, w, target, signature, args, message
):
    """Defence in depth: the Distributor and Settlement check the executing proposal's
    evidence themselves."""
    system.govern(system.gov, "setActionType", h_selector(signature), 13, False)
    args = tuple(system.token.address if a == "token" else a for a in args)
    with boa.reverts(message):
        system.govern(getattr(system, target), signature.split("(")[0], *args)


# ------------------------------------------------------------- 4: single registrar key


def test_the_registrar_alone_suspends_only_a_few_identities_a_day(system: System, w):
    """A leaked registrar key cannot suspend every institution's KYC at once: shortening a KYC
    expiry is limited per day (renewals are not); governance may suspend beyond it."""
    assert system.idreg.maxSuspensionsPerDay() == 10
    system.govern(system.idreg, "setMaxSuspensionsPerDay", 2)
    (event,) = system.logs(name="MaxSuspensionsPerDaySet")
    assert event.maxSuspensionsPerDay == 2
    with boa.reverts("caller is not governance"), boa.env.prank(system.registrar):
        system.idreg.setMaxSuspensionsPerDay(100)
    now = boa.env.timestamp
    idents = [system.bank, system.pension, system.insurer]
    for ident in idents[:2]:
        system.update_identity(ident, expiry=now)
    assert system.idreg.suspensionsLeft() == 0
    with boa.reverts("the registrar's suspensions for today are used: governance may suspend more"):
        system.update_identity(idents[2], expiry=now)
    system.update_identity(idents[0], expiry=now + 365 * DAY)  # a renewal is not a suspension
    args = (idents[2].number, h("kyc suspended"), idents[2].country, idents[2].category, now)
    system.govern(system.idreg, "updateIdentity", *args)
    assert system.idreg.identityOf(idents[2].number).kycExpiry == now
    boa.env.time_travel(seconds=DAY)
    assert system.idreg.suspensionsLeft() == 2
    system.update_identity(system.gulf, expiry=boa.env.timestamp)
    assert system.idreg.suspensionsLeft() == 1
