"""Issue 9, on-chain integrity: each finding's attack, tried as the review tried it, now fails.

Finding 1: a settlement lock cannot make units unseizable. Finding 2: nothing that takes,
destroys or redirects a holder's property runs without evidence. Finding 3: identity bookings
stay exact. Finding 4: one publisher key cannot end anchoring. Finding 6: governance edge
cases. Finding 7: inconsistencies. Finding 8: single keys with decisive power.
"""

from __future__ import annotations

from typing import Any

import boa
import pytest

from amanat.domain.governance import ActionType
from amanat.domain.identity import InvestorCategory
from amanat.domain.restrictions import Restriction

from .conftest import (
    AE,
    CONTRACTS_DIR,
    DAY,
    EVIDENCE,
    LIFETIME,
    NO_TERMS,
    PK,
    YEAR,
    ZERO32,
    ZERO_ADDRESS,
    PayoutTree,
    System,
    deploy,
    governance_ctor_args,
    h,
    selector,
)
from .test_distributor import declare, pay, record_block

PROPERTY_RULE = "this action affects a holder's property and requires an evidence hash"
CANCELLED = 4


def names(entries: list[Any]) -> list[str]:
    return [type(e).__name__ for e in entries]


def instruct(system: System, seller: str, buyer: str, units: int, deadline: int) -> int:
    with boa.env.prank(seller):
        return system.settlement.instruct(system.token.address, buyer, units, 1_000, deadline)


# ------------------------------------------------------------- finding 1: settlement locks


def test_a_decades_long_dvp_deadline_is_refused(system: System, w):
    system.mint(w.b0, 1_000)
    with boa.reverts("deadline beyond the maximum settlement period"):
        instruct(system, w.b0, w.p, 1_000, boa.env.timestamp + 30 * YEAR)
    assert system.settlement.maxDeadlineSeconds() == 30 * DAY
    instruct(system, w.b0, w.p, 10, boa.env.timestamp + 30 * DAY)  # the maximum itself


def test_the_maximum_settlement_period_is_governed(system: System, w):
    system.mint(w.b0, 1_000)
    with boa.reverts("caller is not governance"):
        system.settlement.setMaxDeadline(DAY)
    with boa.reverts("maximum settlement period must be 1 second to 365 days"):
        system.govern(system.settlement, "setMaxDeadline", 0)
    system.govern(system.settlement, "setMaxDeadline", DAY)
    (event,) = system.logs(name="MaxDeadlineSet")
    assert event.maxDeadlineSeconds == DAY
    with boa.reverts("deadline beyond the maximum settlement period"):
        instruct(system, w.b0, w.p, 10, boa.env.timestamp + DAY + 1)


def test_an_instruction_to_the_sellers_own_identity_is_refused(system: System, w):
    system.mint(w.b0, 1_000)
    with boa.reverts("buyer is a wallet of the seller's own identity"):
        instruct(system, w.b0, w.b1, 1_000, boa.env.timestamp + DAY)


@pytest.mark.parametrize("affirmed", [False, True])
def test_enforcement_cancels_any_instruction_and_seizes_the_units(system: System, w, affirmed):
    """The attack: lock every unit in a DvP that is never settled. Governance cancels it with
    evidence (both legs released) and the forced transfer reaches every unit."""
    system.mint(w.b0, 1_000)
    system.issue_cash(w.p, 5_000)
    iid = instruct(system, w.b0, w.p, 1_000, boa.env.timestamp + 30 * DAY)
    if affirmed:
        with boa.env.prank(w.p):
            system.settlement.affirm(iid, system.terms(iid))
    with boa.reverts("tokens are locked for settlement"):
        system.govern(system.token, "forcedTransfer", w.b0, w.i, 1_000, evidence=EVIDENCE)
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.settlement, "enforceCancel", iid, system.terms(iid))
    with boa.reverts("caller is not governance"), boa.env.prank(w.p):
        system.settlement.enforceCancel(iid, system.terms(iid))
    system.govern(system.settlement, "enforceCancel", iid, system.terms(iid), evidence=EVIDENCE)
    events = system.logs()
    assert "DvPEnforcementCancelled" in names(events)
    (cancelled,) = [e for e in events if type(e).__name__ == "DvPEnforcementCancelled"]
    assert (cancelled.instructionId, cancelled.seller, cancelled.evidence) == (iid, w.b0, EVIDENCE)
    assert system.settlement.getInstruction(iid).state == CANCELLED
    assert system.token.settlementLocked(w.b0) == 0
    assert system.cash.lockedOf(w.p) == 0
    system.govern(system.token, "forcedTransfer", w.b0, w.i, 1_000, evidence=EVIDENCE)
    assert system.token.balanceOf(w.i) == 1_000


# ------------------------------------------------------------- finding 2: evidence rule


def test_burn_and_mint_cannot_move_property_without_evidence(system: System, w):
    """The attack: a governed burn of the victim then a mint to the beneficiary, no evidence."""
    system.mint(w.b0, 100)
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.token, "burn", w.b0, 100)
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.token, "batchBurn", [w.b0], [100])
    system.govern(system.token, "burn", w.b0, 40, evidence=EVIDENCE)
    (action,) = system.logs(name="EnforcementAction")
    assert (action.kind, action.wallet, action.amount, action.evidence) == (7, w.b0, 40, EVIDENCE)


def test_burn_of_a_fully_frozen_wallet_needs_evidence(system: System, w):
    system.mint(w.b0, 100)
    system.govern(system.token, "freezePartialTokens", w.b0, 100, evidence=EVIDENCE)
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.token, "burn", w.b0, 100)


def test_withdrawal_of_an_institutions_cash_needs_evidence(system: System, w):
    system.issue_cash(w.b0, 1_000)
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.cash, "withdrawCash", w.b0, 1_000, h("withdrawal"))
    system.govern(system.cash, "withdrawCash", w.b0, 1_000, h("withdrawal"), evidence=EVIDENCE)
    assert system.cash.balanceOf(w.b0) == 0


def _held_payout(system: System, w) -> int:
    """A coupon of 10 per unit; the pension fund's 30 is held (its wallet is frozen)."""
    system.govern(system.token, "batchMint", [w.b0, w.p], [10, 3])
    system.fund_treasury(1_000)
    system.govern(system.token, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
    tree = PayoutTree(system.token.address, record_block(), [(w.b0, 10, 100), (w.p, 3, 30)])
    did = declare(system, tree)
    pay(system, did, tree, [0, 1])
    assert system.distributor.held(did, w.p) == 30
    return did


def test_a_held_payout_goes_to_anyone_but_its_holder_only_with_evidence(system: System, w):
    did = _held_payout(system, w)
    with boa.reverts(PROPERTY_RULE):
        system.propose(system.distributor, "redirectHeld", did, w.p, w.i)
    with boa.reverts("receiver is the holder: use releaseHeld"):
        system.govern(system.distributor, "redirectHeld", did, w.p, w.p, evidence=EVIDENCE)
    system.govern(system.distributor, "redirectHeld", did, w.p, w.i, evidence=EVIDENCE)
    (event,) = system.logs(name="HeldPayoutRedirected")
    assert (event.holder, event.receiver, event.amount, event.evidence) == (w.p, w.i, 30, EVIDENCE)
    assert system.cash.balanceOf(w.i) == 30


def test_a_held_payout_is_released_to_its_holder_without_evidence(system: System, w):
    did = _held_payout(system, w)
    system.govern(system.token, "setAddressFrozen", w.p, False, evidence=EVIDENCE)
    system.govern(system.distributor, "releaseHeld", did, w.p)
    assert system.cash.balanceOf(w.p) == 30


def test_evidence_is_checked_again_at_execute(system: System, w):
    """A proposal made while its function needed no evidence cannot run once the table says
    it affects a holder's property."""
    system.mint(w.b0, 10)
    burn = selector("burn(address,uint256)")
    system.govern(system.gov, "setActionType", burn, int(ActionType.BURN), False)
    pid = system.propose(system.token, "burn", w.b0, 10)
    system.approve(pid)
    system.govern(system.gov, "setActionType", burn, int(ActionType.BURN), True)
    with boa.reverts(PROPERTY_RULE):
        system.execute(pid)
    assert system.token.balanceOf(w.b0) == 10


@pytest.mark.parametrize(
    ("target", "signature", "args", "message"),
    [
        ("token", "burn(address,uint256)", ("b0", 1), "enforcement action requires an evidence hash"),
        ("cash", "withdrawCash(address,uint256,bytes32)", ("b0", 1, h("w")),
         "withdrawal requires an evidence hash"),
        ("settlement", "enforceCancel(uint256,(address,address,address,uint256,uint256,uint256))", (1, NO_TERMS),
         "enforcement action requires an evidence hash"),
    ],
)  # fmt: skip
def test_targets_refuse_without_evidence_even_if_the_table_is_changed(
    system: System, w, target, signature, args, message
):
    """Defence in depth: each target checks the executing proposal's evidence itself."""
    system.mint(w.b0, 10)
    system.issue_cash(w.b0, 10)
    instruct(system, w.b0, w.p, 5, boa.env.timestamp + DAY)
    system.govern(system.gov, "setActionType", selector(signature), int(ActionType.MINT), False)
    contract = getattr(system, target)
    args = tuple(w.b0 if a == "b0" else a for a in args)
    with boa.reverts(message):
        system.govern(contract, signature.split("(")[0], *args)


# ------------------------------------------------------------- finding 3: identity bookings


def test_a_wallet_holding_units_cannot_be_relinked(system: System, w):
    """The attack: re-link a holding wallet to another identity so its units are classified by
    the new identity's country and a self-transfer re-books them past the caps."""
    system.mint(w.b1, 700)
    other = system.onboard("shell", AE, InvestorCategory.FOREIGN_INSTITUTION)
    holds = "wallet holds units: recover them to another wallet of its identity first"
    with boa.reverts(holds), boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(w.b1)
    with boa.reverts("wallet already linked to an identity"), boa.env.prank(system.registrar):
        system.idreg.linkWallet(other.number, w.b1)
    assert system.token.identityHolding(system.bank.number) == 700
    assert system.idreg.identityNumberOf(w.b1) == system.bank.number


def test_a_country_change_rebooks_the_foreign_total_in_the_same_transaction(system: System, w):
    """Real foreign ownership 30 % under a 20 % cap was possible; now the total is exact at once
    and a re-domiciled holder can still sell to a domestic buyer above the cap."""
    system.mint(w.p, 300)
    system.mint(w.b0, 700)
    system.set_rules(foreign_cap_bps=2000)
    needs_governance = "identity holds units: a change of country or category needs governance"
    with boa.reverts(needs_governance), boa.env.prank(system.registrar):
        system.idreg.updateIdentity(
            system.pension.number, h("kyc"), AE, 2, boa.env.timestamp + YEAR
        )
    system.govern(
        system.idreg, "updateIdentity", system.pension.number, h("kyc"), AE,
        int(InvestorCategory.PENSION_FUND), boa.env.timestamp + YEAR,
    )  # fmt: skip
    (rebooked,) = system.logs(name="IdentityRebooked")
    assert (rebooked.identityNumber, rebooked.holding, rebooked.foreign) == (
        system.pension.number,
        300,
        True,
    )
    assert system.token.foreignHeld() == 300  # 30 % over the 20 % cap, counted exactly
    system.assert_refused(w.b0, w.p, 1, Restriction.FOREIGN_CAP)
    system.transfer(w.p, w.b0, 100)  # lowers foreign ownership: allowed
    assert system.token.foreignHeld() == 200


def test_a_sole_wallets_holding_moves_to_its_identity_when_a_second_wallet_is_linked(
    system: System, w
):
    """An identity with one wallet has its holding booked as that wallet's balance (issue 14:
    a new holder writes one word). Linking a second wallet moves the holding into the identity's
    word in the same transaction, so the holding cap, the holder count and the foreign total
    stay exact across both wallets; the registrar alone still may not re-domicile it."""
    gulf = system.gulf.number
    system.mint(w.g, 200)
    system.mint(w.p, 300)
    token, registry = system.token, system.idreg
    assert registry.soleWalletOf(gulf) == w.g
    assert registry.soleWalletOf(system.bank.number) == ZERO_ADDRESS  # two wallets
    assert (token.identityHolding(gulf), token.holderCount(), token.foreignHeld()) == (200, 2, 200)

    def redomicile() -> None:
        category = int(InvestorCategory.FOREIGN_INSTITUTION)
        needs = "identity holds units: a change of country or category needs governance"
        with boa.reverts(needs), boa.env.prank(system.registrar):
            registry.updateIdentity(gulf, h("kyc"), PK, category, boa.env.timestamp + YEAR)

    redomicile()  # the sole wallet's balance is the identity's holding
    second = boa.env.generate_address("gulf second wallet")
    with boa.env.prank(system.registrar):
        registry.linkWallet(gulf, second)
    assert registry.soleWalletOf(gulf) == ZERO_ADDRESS
    assert registry.identityNumberOf(w.g) == registry.identityNumberOf(second) == gulf
    assert (token.identityHolding(gulf), token.holderCount(), token.foreignHeld()) == (200, 2, 200)
    system.set_rules(holding_cap=250)
    system.assert_refused(w.p, second, 100, Restriction.HOLDING_CAP)  # 200 + 100 for the identity
    system.transfer(w.g, second, 150)  # within the identity: nothing re-booked
    system.transfer(w.p, second, 50)
    assert (token.identityHolding(gulf), token.holderCount(), token.foreignHeld()) == (250, 2, 250)
    redomicile()
    system.govern(token, "setHoldingLimits", 0, 0)
    system.transfer(w.g, w.p, 50)
    system.transfer(second, w.p, 150)
    assert (token.identityHolding(gulf), token.holderCount(), token.foreignHeld()) == (50, 2, 50)
    system.transfer(second, w.p, 50)
    assert (token.identityHolding(gulf), token.holderCount(), token.foreignHeld()) == (0, 1, 0)
    assert token.identityHolding(system.pension.number) == 500 == token.balanceOf(w.p)


def test_the_domestic_country_cannot_change_once_units_are_issued(system: System, w):
    system.mint(w.b0, 10)
    with boa.reverts("domestic country cannot change once units are issued"):
        system.govern(system.token, "setRules", 0xFFFE, 10_000, 0, 0, 0, AE)
    system.govern(system.token, "setRules", 0xFFFE, 10_000, 0, 0, 0, PK)


def test_registrar_alone_may_renew_kyc_of_a_holder_and_reclassify_an_empty_identity(
    system: System, w
):
    """Finding 8: the registrar's single key keeps routine KYC work; value-bearing changes need
    governance."""
    system.mint(w.p, 10)
    with boa.env.prank(system.registrar):
        system.idreg.updateIdentity(
            system.pension.number, h("renewed"), PK, int(InvestorCategory.PENSION_FUND),
            boa.env.timestamp + 2 * YEAR,
        )  # fmt: skip
        system.idreg.updateIdentity(
            system.insurer.number, h("moved"), AE, int(InvestorCategory.FOREIGN_INSTITUTION),
            boa.env.timestamp + YEAR,
        )  # fmt: skip
    assert system.idreg.identityOf(system.insurer.number).country == AE


# ------------------------------------------------------------- finding 4: anchoring


@pytest.fixture
def anchor(system: System) -> Any:
    publisher = boa.env.generate_address("publisher")
    contract = boa.load(
        str(CONTRACTS_DIR / "TransparencyAnchor.vy"), system.gov.address, [publisher]
    )
    contract.test_publisher = publisher
    return contract


def test_one_publisher_key_cannot_end_anchoring(anchor):
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(10, h("root 10"), h("head 10"))
        with boa.reverts("tree size grows faster than the publisher may anchor"):
            anchor.anchor(2**256 - 1, h("bogus"), h("bogus"))
        anchor.anchor(anchor.maxAnchorableSize(), h("root"), h("head"))
    assert anchor.latest()[0] == anchor.maxTreeGrowth()
    assert anchor.maxTreeGrowth() == 1_000_000


def test_governance_voids_a_bogus_anchor_with_evidence_and_anchoring_resumes(
    system: System, anchor
):
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(10, h("root 10"), h("head 10"))
        anchor.anchor(900_000, h("bogus root"), h("bogus head"))  # pre-anchored future size
    with boa.reverts(PROPERTY_RULE):
        system.propose(anchor, "voidAnchorsAbove", 10)
    with boa.reverts("caller is not governance"), boa.env.prank(anchor.test_publisher):
        anchor.voidAnchorsAbove(10)
    system.govern(anchor, "voidAnchorsAbove", 10, evidence=EVIDENCE)
    (voided,) = system.logs(name="AnchorsVoided")
    assert (voided.keptSize, voided.voidedUpTo, voided.evidence) == (10, 900_000, EVIDENCE)
    assert anchor.latest() == (10, h("root 10"), h("head 10"))
    assert anchor.anchorAt(900_000) == (ZERO32, ZERO32, 0)
    assert anchor.anchorCount() == 1
    with boa.env.prank(anchor.test_publisher):
        anchor.anchor(12, h("root 12"), h("head 12"))
    assert anchor.latest()[0] == 12
    system.govern(anchor, "setMaxTreeGrowth", 5)
    with (
        boa.reverts("tree size grows faster than the publisher may anchor"),
        boa.env.prank(anchor.test_publisher),
    ):
        anchor.anchor(18, h("r"), h("h"))


# ------------------------------------------------------------- finding 6: governance


def test_the_timelock_restarts_when_the_threshold_is_reached_again(system: System, w):
    system.govern(system.gov, "setTimelock", int(ActionType.MINT), 3_600)
    pid = system.propose(system.token, "mint", w.b0, 10)
    system.approve(pid, 1)  # 2 of 2: timelock starts
    system.govern(system.gov, "setOfficial", system.officials[1], False)  # drops to 1 of 2
    boa.env.time_travel(seconds=3_600)
    system.approve(pid, 2)  # reaches the threshold again: the timelock restarts
    assert system.gov.getProposal(pid).readyAt == boa.env.timestamp + 3_600
    with boa.reverts("timelock has not passed"):
        system.execute(pid, 2)
    boa.env.time_travel(seconds=3_600)
    system.execute(pid, 2)
    assert system.token.balanceOf(w.b0) == 10


def test_a_raised_threshold_restarts_a_running_timelock(system: System, w):
    system.govern(system.gov, "setTimelock", int(ActionType.MINT), 3_600)
    pid = system.propose(system.token, "mint", w.b0, 10)
    system.approve(pid, 1)
    boa.env.time_travel(seconds=3_000)
    system.govern(system.gov, "setThreshold", 3)
    system.approve(pid, 2)  # 3 of 3: the timelock starts again from now
    boa.env.time_travel(seconds=600)
    with boa.reverts("timelock has not passed"):
        system.execute(pid, 2)
    boa.env.time_travel(seconds=3_000)
    system.execute(pid, 2)


def test_a_removed_and_readded_officials_old_approval_does_not_count(system: System, w):
    pid = system.propose(system.token, "mint", w.b0, 10)
    system.approve(pid, 2)
    system.govern(system.gov, "setOfficial", system.officials[2], False)
    system.govern(system.gov, "setOfficial", system.officials[2], True)
    with boa.reverts("not enough approvals"):
        system.execute(pid, 0)
    system.approve(pid, 2)  # approves again in its new membership
    system.execute(pid, 0)
    assert system.token.balanceOf(w.b0) == 10


def test_officials_are_capped_at_the_approvals_capacity(system: System, deployers):
    officials = [boa.env.generate_address(f"o{i}") for i in range(32)]
    gov = deploy(deployers["Governance"], **governance_ctor_args(officials, 1))
    calldata = gov.setOfficial.prepare_calldata(boa.env.generate_address("o33"), True)
    with boa.env.prank(officials[0]):
        pid = gov.propose(gov.address, calldata, ZERO32, LIFETIME)
        with boa.reverts("more officials than approvals can hold (32)"):
            gov.execute(pid, gov.address, calldata, ZERO32)
    assert gov.officialCount() == 32


# ------------------------------------------------------------- finding 7: inconsistencies


def test_governance_mint_respects_pause_and_a_frozen_receiver(system: System, w):
    system.govern(system.token, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
    assert system.token.detectMintRestriction(w.p, 10) == Restriction.RECEIVER_FROZEN
    with boa.reverts("receiver wallet is frozen"):
        system.mint(w.p, 10)
    system.govern(system.token, "pause")
    assert system.token.detectMintRestriction(w.b0, 10) == Restriction.PAUSED
    with boa.reverts("token is paused"):
        system.mint(w.b0, 10)
    assert system.token.totalSupply() == 0


def test_recovery_logs_the_new_wallets_frozen_state(system: System, w):
    system.mint(w.b0, 100)
    system.govern(system.token, "freezePartialTokens", w.b0, 30, evidence=EVIDENCE)
    system.govern(system.token, "setAddressFrozen", w.b0, True, evidence=EVIDENCE)
    new = boa.env.generate_address("recovered")
    with boa.env.prank(system.registrar):
        system.idreg.linkWallet(system.bank.number, new)
    system.govern(system.token, "recoveryAddress", w.b0, new, ZERO_ADDRESS, evidence=EVIDENCE)
    events = system.logs()
    frozen = [(e.userAddress, e.isFrozen) for e in events if type(e).__name__ == "AddressFrozen"]
    tokens_frozen = [
        (e.userAddress, e.amount) for e in events if type(e).__name__ == "TokensFrozen"
    ]
    unfrozen = [(e.userAddress, e.amount) for e in events if type(e).__name__ == "TokensUnfrozen"]
    assert frozen == [(new, True)]
    assert tokens_frozen == [(new, 30)]
    assert unfrozen == [(w.b0, 30)]
    assert system.token.isFrozen(new) and system.token.getFrozenTokens(new) == 30
