"""CashToken: the tokenized-PKR cash leg (issuance, ERC-20 between institutions, agent locks)."""

from __future__ import annotations

import boa
import pytest

from .conftest import EVIDENCE, YEAR, ZERO32, ZERO_ADDRESS, System, deploy, h

MAX_UINT = 2**256 - 1


def names(entries) -> list[str]:
    return [type(e).__name__ for e in entries]


# ---------------------------------------------------------------- construction and views


def test_constructor_wiring(system: System):
    cash = system.cash
    assert cash.name() == "Pakistan Rupee Deposit Token"
    assert cash.symbol() == "PKRT"
    assert cash.decimals() == 2
    assert cash.identityRegistry() == system.idreg.address
    assert cash.governance() == system.gov.address
    assert cash.totalSupply() == 0
    for agent in system.agents:
        assert cash.isAgent(agent) is True
    assert cash.allowance(system.gov.address, system.distributor.address) == MAX_UINT
    assert cash.allowance(system.gov.address, system.auction.address) == 0


def test_constructor_refuses_zero_governance(system: System):
    with boa.reverts("governance is the zero address"):
        deploy(system.d["CashToken"], name="x", symbol="x", decimals=2, governance=ZERO_ADDRESS)


def test_constructor_without_treasury_spender(system: System):
    cash = deploy(system.d["CashToken"], name="x", symbol="x", governance=system.gov.address)
    assert cash.allowance(system.gov.address, ZERO_ADDRESS) == 0


def test_may_hold(system: System, w):
    cash = system.cash
    assert cash.mayHold(system.gov.address) is True
    assert cash.mayHold(system.settlement.address) is True
    assert cash.mayHold(w.b0) is True
    assert cash.mayHold(w.r) is True  # retail is a verified institution for cash
    assert cash.mayHold(w.out) is False
    boa.env.time_travel(seconds=YEAR + 1)  # KYC expired
    assert cash.mayHold(w.b0) is False
    assert cash.mayHold(system.gov.address) is True


# ---------------------------------------------------------------- issue and withdraw


def test_issue_cash(system: System, w):
    system.issue_cash(w.b0, 5_000)
    assert system.cash.balanceOf(w.b0) == 5_000
    assert system.cash.totalSupply() == 5_000
    assert names(system.logs(name="CashIssued")) == ["CashIssued"]
    (issued,) = system.logs(name="CashIssued")
    assert issued.receiver == w.b0 and issued.amount == 5_000
    assert issued.depositReference == h(f"deposit {w.b0} 5000")


def test_issue_cash_to_treasury(system: System):
    system.fund_treasury(1_000)
    assert system.cash.balanceOf(system.gov.address) == 1_000


def test_issue_cash_refusals(system: System, w):
    with boa.reverts("caller is not governance"), boa.env.prank(w.b0):
        system.cash.issueCash(w.b0, 1, h("d"))
    with boa.reverts("amount must be positive"):
        system.govern(system.cash, "issueCash", w.b0, 0, h("d"))
    with boa.reverts("deposit reference is empty"):
        system.govern(system.cash, "issueCash", w.b0, 1, ZERO32)
    with boa.reverts("receiver is not a verified institution"):
        system.govern(system.cash, "issueCash", w.out, 1, h("d"))
    system.govern(system.cash, "issueCash", w.b0, 2**128 - 1, h("d"))
    with boa.reverts("supply too large"):
        system.govern(system.cash, "issueCash", w.p, 1, h("d"))


def test_withdraw_cash(system: System, w):
    system.issue_cash(w.b0, 5_000)
    system.govern(system.cash, "withdrawCash", w.b0, 2_000, h("withdrawal"), evidence=EVIDENCE)
    assert system.cash.balanceOf(w.b0) == 3_000
    assert system.cash.totalSupply() == 3_000
    (event,) = system.logs(name="CashWithdrawn")
    assert (event.wallet, event.amount, event.withdrawalReference) == (w.b0, 2_000, h("withdrawal"))


def test_withdraw_cash_refusals(system: System, w):
    system.issue_cash(w.b0, 5_000)
    with boa.reverts("caller is not governance"), boa.env.prank(w.b0):
        system.cash.withdrawCash(w.b0, 1, h("w"))
    with boa.reverts("amount must be positive"):
        system.govern(system.cash, "withdrawCash", w.b0, 0, h("w"), evidence=EVIDENCE)
    with boa.reverts("withdrawal reference is empty"):
        system.govern(system.cash, "withdrawCash", w.b0, 1, ZERO32, evidence=EVIDENCE)
    with boa.env.prank(system.settlement.address):
        system.cash.lock(w.b0, 4_000)
    with boa.reverts("insufficient unlocked cash"):
        system.govern(system.cash, "withdrawCash", w.b0, 1_001, h("w"), evidence=EVIDENCE)
    system.govern(system.cash, "withdrawCash", w.b0, 1_000, h("w"), evidence=EVIDENCE)


# ---------------------------------------------------------------- ERC-20


def test_transfer(system: System, w):
    system.issue_cash(w.b0, 5_000)
    with boa.env.prank(w.b0):
        assert system.cash.transfer(w.p, 1_500) is True
    (event,) = system.cash.get_logs()
    assert (event.sender, event.receiver, event.value) == (w.b0, w.p, 1_500)
    assert system.cash.balanceOf(w.b0) == 3_500
    assert system.cash.balanceOf(w.p) == 1_500


def test_transfer_refusals(system: System, w):
    system.issue_cash(w.b0, 5_000)
    with boa.reverts("receiver is not a verified institution"), boa.env.prank(w.b0):
        system.cash.transfer(w.out, 1)
    with boa.reverts("insufficient unlocked cash"), boa.env.prank(w.b0):
        system.cash.transfer(w.p, 5_001)
    with boa.env.prank(system.auction.address):
        system.cash.lock(w.b0, 4_000)
    with boa.reverts("insufficient unlocked cash"), boa.env.prank(w.b0):
        system.cash.transfer(w.p, 1_001)
    boa.env.time_travel(seconds=YEAR + 1)
    with boa.reverts("sender is not a verified institution"), boa.env.prank(w.b0):
        system.cash.transfer(w.p, 1)


def test_approve_and_transfer_from(system: System, w):
    system.issue_cash(w.b0, 5_000)
    with boa.env.prank(w.b0):
        assert system.cash.approve(w.i, 2_000) is True
    (event,) = system.cash.get_logs()
    assert (event.owner, event.spender, event.value) == (w.b0, w.i, 2_000)
    with boa.env.prank(w.i):
        assert system.cash.transferFrom(w.b0, w.p, 1_500) is True
    assert system.cash.allowance(w.b0, w.i) == 500
    assert system.cash.balanceOf(w.p) == 1_500
    with boa.reverts("insufficient allowance"), boa.env.prank(w.i):
        system.cash.transferFrom(w.b0, w.p, 501)
    with boa.reverts("receiver is not a verified institution"), boa.env.prank(w.i):
        system.cash.transferFrom(w.b0, w.out, 500)


def test_infinite_allowance_is_not_spent(system: System, w):
    system.issue_cash(w.b0, 5_000)
    with boa.env.prank(w.b0):
        system.cash.approve(w.i, MAX_UINT)
    with boa.env.prank(w.i):
        system.cash.transferFrom(w.b0, w.p, 1_000)
    assert system.cash.allowance(w.b0, w.i) == MAX_UINT


# ---------------------------------------------------------------- agents


def test_set_agent(system: System, w):
    system.govern(system.cash, "setAgent", system.distributor.address, True, evidence=EVIDENCE)
    assert system.cash.isAgent(system.distributor.address) is True
    system.govern(system.cash, "setAgent", system.settlement.address, False, evidence=EVIDENCE)
    assert system.cash.isAgent(system.settlement.address) is False
    with boa.reverts("caller is not governance"), boa.env.prank(w.b0):
        system.cash.setAgent(w.b0, True)


AGENT_CALLS = [
    ("lock", lambda w: (w.b0, 1)),
    ("unlock", lambda w: (w.b0, 1)),
    ("settleLocked", lambda w: (w.b0, w.p, 1)),
]


@pytest.mark.parametrize(("fn", "args"), AGENT_CALLS, ids=[c[0] for c in AGENT_CALLS])
def test_agent_functions_refuse_others(system: System, w, fn, args):
    with boa.reverts("caller is not a settlement agent"), boa.env.prank(w.b0):
        getattr(system.cash, fn)(*args(w))


def test_lock_unlock_settle_locked(system: System, w):
    cash = system.cash
    agent = system.settlement.address
    system.issue_cash(w.b0, 5_000)
    with boa.env.prank(agent):
        cash.lock(w.b0, 3_000)
    (event,) = cash.get_logs()
    assert (event.wallet, event.agent, event.amount) == (w.b0, agent, 3_000)
    assert (cash.balanceOf(w.b0), cash.lockedOf(w.b0)) == (5_000, 3_000)
    with boa.env.prank(agent):
        cash.unlock(w.b0, 1_000)
    (event,) = cash.get_logs()
    assert type(event).__name__ == "CashUnlocked" and event.amount == 1_000
    assert cash.lockedOf(w.b0) == 2_000
    with boa.env.prank(agent):
        cash.settleLocked(w.b0, w.p, 2_000)
    assert names(cash.get_logs()) == ["CashUnlocked", "Transfer"]
    assert (cash.balanceOf(w.b0), cash.lockedOf(w.b0), cash.balanceOf(w.p)) == (3_000, 0, 2_000)


def test_lock_refusals(system: System, w):
    cash = system.cash
    agent = system.settlement.address
    system.issue_cash(w.b0, 5_000)
    with boa.reverts("amount must be positive"), boa.env.prank(agent):
        cash.lock(w.b0, 0)
    with boa.reverts("insufficient unlocked cash"), boa.env.prank(agent):
        cash.lock(w.b0, 5_001)
    with boa.env.prank(agent):
        cash.lock(w.b0, 5_000)
    with boa.reverts("insufficient unlocked cash"), boa.env.prank(agent):
        cash.lock(w.b0, 1)
    with boa.reverts("amount exceeds cash locked for settlement"), boa.env.prank(agent):
        cash.unlock(w.b0, 5_001)
    with boa.reverts("amount exceeds cash locked for settlement"), boa.env.prank(agent):
        cash.settleLocked(w.b0, w.p, 5_001)
    with boa.reverts("receiver is not a verified institution"), boa.env.prank(agent):
        cash.settleLocked(w.b0, w.out, 5_000)


# ---------------------------------------------------------------- key lifecycle


def test_a_wallet_holding_cash_stays_linked_until_governance_recovers_its_cash(system: System, w):
    """A wallet holding cash cannot be unlinked (its cash would be stranded: an unlinked wallet
    may neither send nor receive); a lost key's cash is recovered by an evidence-backed
    proposal to a wallet of the same identity, locked cash excepted. Then it can be unlinked."""
    cash = system.cash
    system.issue_cash(w.b0, 5_000)
    with (
        boa.env.prank(system.registrar),
        boa.reverts("wallet holds cash: recover it to another wallet of its identity first"),
    ):
        system.idreg.unlinkWallet(w.b0)
    new = boa.env.generate_address()
    with boa.env.prank(system.registrar):
        system.idreg.linkWallet(system.bank.number, new)
    with boa.reverts("this action affects a holder's property and requires an evidence hash"):
        system.propose(cash, "recoveryAddress", w.b0, new, ZERO_ADDRESS)
    with boa.reverts("new wallet belongs to another identity"):
        system.govern(cash, "recoveryAddress", w.b0, w.p, ZERO_ADDRESS, evidence=EVIDENCE)
    with boa.env.prank(system.settlement.address):
        cash.lock(w.b0, 1_000)
    with boa.reverts("lost wallet has cash locked for settlement"):
        system.govern(cash, "recoveryAddress", w.b0, new, ZERO_ADDRESS, evidence=EVIDENCE)
    with boa.env.prank(system.settlement.address):
        cash.unlock(w.b0, 1_000)
    system.govern(cash, "recoveryAddress", w.b0, new, ZERO_ADDRESS, evidence=EVIDENCE)
    entries = [e for e in system.logs() if type(e).__name__ in ("Transfer", "CashRecovered")]
    assert names(entries) == ["Transfer", "CashRecovered"]
    recovered = entries[1]
    assert (recovered.lostWallet, recovered.newWallet, recovered.amount) == (w.b0, new, 5_000)
    assert recovered.evidence == EVIDENCE
    assert (cash.balanceOf(w.b0), cash.balanceOf(new), cash.totalSupply()) == (0, 5_000, 5_000)
    with boa.reverts("lost wallet holds no cash"):
        system.govern(cash, "recoveryAddress", w.b0, new, ZERO_ADDRESS, evidence=EVIDENCE)
    with boa.env.prank(system.registrar):
        system.idreg.unlinkWallet(w.b0)
    assert cash.mayHold(w.b0) is False
