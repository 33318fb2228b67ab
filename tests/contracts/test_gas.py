"""Indicative gas figures from titanoboa (py-evm): execution gas of the call, measured with
cold storage and accounts as in a fresh transaction, plus the 21,000 intrinsic gas and calldata
gas (refunds are not deducted). `bench/gas.py` measures the real figures from
anvil receipts; these guard against regressions and compare push payouts with claims.

Run with `-s` to print the table."""

from __future__ import annotations

import contextlib

import boa
import pytest
from eth.db.backends.memory import MemoryDB
from eth.db.journal import JournalDB

from amanat.domain.identity import InvestorCategory

from .conftest import COUNTRY_CODES, DAY, PK, PayoutTree, System

TRANSFER_GOAL = 70_000
# Issue 14's token and identity figures (the same as bench/gas.py's anvil receipts, see cold()).
# Before: onboarding 190,541, transfer to a new holder 105,593, between holders 68,416.
# Goals: onboarding <= 80,000 (reached: 79,984), new holder <= 90,000 (reached: 81,750, was
# 103,592: a sole wallet's balance is its identity's holding, so a new holder writes one new
# word, not two: bench/README.md), between holders towards 60,000 and never above 68,416
# (reached 61,649). The ceilings are the figures reached, so that a change raising one fails here.
ONBOARD_GOAL = 80_000
TRANSFER_NEW_HOLDER_GOAL = 90_000
TRANSFER_NEW_HOLDER_CEILING = 81_750
TRANSFER_EXISTING_CEILING = 61_649
PROPOSE_GOAL = 120_000
APPROVE_GOAL = 60_000


def tx_gas(contract, calldata: bytes) -> int:
    """Gas of a transaction that made the contract's last call: intrinsic + calldata + execution."""
    data = sum(4 if b == 0 else 16 for b in calldata)
    return 21_000 + data + contract._computation.get_gas_used()


@contextlib.contextmanager
def cold():
    """Run a call as a fresh transaction would: every account and storage slot cold (EIP-2929),
    and every slot's original value (EIP-2200) its value when the call starts. boa keeps
    py-evm's access journal and the original values of earlier calls (it never ends a
    transaction): swap in an empty access journal and answer original-value reads with the
    value at the slot's first such read in this call (taken before the call's first write to
    it), then put both back, so boa's anchors (journal checkpoints) keep working. Without the
    second part a rewritten slot costs 100 gas instead of 2,900, as it does on a real node."""
    db = boa.env.evm.vm.state._account_db
    saved = db._journal_accessed_state
    db._journal_accessed_state = JournalDB(MemoryDB())
    read = db.get_storage
    originals: dict[tuple[bytes, int], int] = {}

    def get_storage(address: bytes, slot: int, from_journal: bool = True) -> int:
        if from_journal:
            return read(address, slot)
        return originals.setdefault((address, slot), read(address, slot))

    db.get_storage = get_storage
    try:
        yield
    finally:
        del db.get_storage
        db._journal_accessed_state = saved


def measure(contract, fn: str, *args, sender: str) -> int:
    calldata = getattr(contract, fn).prepare_calldata(*args)
    with cold(), boa.env.prank(sender):
        getattr(contract, fn)(*args)
    return tx_gas(contract, calldata)


@pytest.fixture
def exact_gas():
    """Measure with py-evm's full account journal (fast mode off)."""
    boa.env.enable_fast_mode(False)
    yield
    boa.env.enable_fast_mode(True)


def report(label: str, gas: int) -> None:
    print(f"\n{label:<48} {gas:>10,}")


@pytest.mark.parametrize("ruled", ["base-rules", "bench-rules"])
def test_transfer_to_an_existing_holder(system: System, w, exact_gas, ruled):
    """Domestic bank to domestic pension fund, both already holders. `bench-rules` are the
    rules bench/gas.py uses (every rule on: allow-list, foreign cap, max holders, caps,
    minimum, lock-up passed)."""
    if ruled == "bench-rules":
        _bench_rules(system)
    system.govern(system.token, "batchMint", [w.b0, w.p], [1_000, 1_000])
    measure(system.token, "transfer", w.p, 1, sender=w.b0)  # not the first transfer
    gas = measure(system.token, "transfer", w.p, 10, sender=w.b0)
    report(f"AssetToken.transfer (existing holder, {ruled})", gas)
    assert gas <= TRANSFER_GOAL


def _bench_rules(system: System) -> None:
    system.set_rules(
        foreign_cap_bps=4_900,
        max_holders=1_000,
        lockup_until=boa.env.timestamp + 1,
        country_mode="allow",
        countries=tuple(COUNTRY_CODES[c] for c in ("PK", "AE", "SA", "QA")),
        holding_cap=5_000_000,
        minimum_holding=100,
    )
    boa.env.time_travel(seconds=2)


def test_onboarding_and_transfer_gas(system: System, w, exact_gas):
    """Issue 14's figures with every rule on (bench/gas.py's rules): onboarding one investor
    (`registerIdentity` with one wallet, for a bank and a pension fund: category 0 is no longer
    cheaper), a transfer to that new holder (one new word: its wallet's, whose balance is the
    holding of an identity with a sole wallet), and a transfer between existing holders, which
    may never cost more than before."""
    _bench_rules(system)
    system.govern(system.token, "batchMint", [w.b0, w.p], [100_000, 100_000])
    measure(system.token, "transfer", w.p, 100, sender=w.b0)  # not the first transfer
    expiry = boa.env.timestamp + 365 * DAY
    onboard = []
    for i, category in enumerate((InvestorCategory.BANK, InvestorCategory.PENSION_FUND)):
        wallet = boa.env.generate_address(f"newcomer{i}")
        args = (f"kyc newcomer {i}".encode().ljust(32, b"."), PK, int(category), expiry, [wallet])
        onboard.append(measure(system.idreg, "registerIdentity", *args, sender=system.registrar))
    newcomer = system.idreg.walletsOfIdentity(system.idreg.identityCount())[0]
    new_holder = measure(system.token, "transfer", newcomer, 1_000, sender=w.b0)
    existing = measure(system.token, "transfer", w.p, 100, sender=w.b0)
    assert system.token.balanceOf(newcomer) == 1_000
    for label, gas in (
        ("IdentityRegistry.registerIdentity (bank)", onboard[0]),
        ("IdentityRegistry.registerIdentity (pension fund)", onboard[1]),
        ("AssetToken.transfer (new holder, bench-rules)", new_holder),
        ("AssetToken.transfer (existing holder, bench-rules)", existing),
    ):
        report(label, gas)
    assert max(onboard) <= ONBOARD_GOAL
    assert new_holder <= TRANSFER_NEW_HOLDER_GOAL
    assert new_holder <= TRANSFER_NEW_HOLDER_CEILING
    assert existing <= TRANSFER_EXISTING_CEILING


def test_governance_gas(system: System, w, exact_gas):
    """Propose a mint (the proposer's approval counted) and approve it to the 2-of-3 threshold,
    which starts the timelock: issue 14's goals, the call stored as a hash and passed at
    execution (OpenZeppelin Governor's design)."""
    minted = system.token.balanceOf(w.b0)
    calldata = system.token.mint.prepare_calldata(w.b0, 10)
    args = (system.token.address, calldata, b"\x00" * 32, 7 * DAY)
    system.remember_call(*args[:3])
    propose = measure(system.gov, "propose", *args, sender=system.officials[0])
    pid = system.gov.proposalCount()
    approve = measure(system.gov, "approve", pid, sender=system.officials[1])
    report("Governance.propose (mint)", propose)
    report("Governance.approve (reaches the threshold)", approve)
    system.execute(pid)
    assert system.token.balanceOf(w.b0) == minted + 10
    assert propose <= PROPOSE_GOAL
    assert approve <= APPROVE_GOAL


def test_dvp_gas(system: System, w, exact_gas):
    system.govern(system.token, "batchMint", [w.b0, w.p], [1_000, 1_000])
    system.issue_cash(w.p, 1_000_000)
    system.issue_cash(w.b0, 1)
    dvp = system.settlement
    deadline = boa.env.timestamp + DAY
    instruct = measure(
        dvp, "instruct", system.token.address, w.p, 100, 25_000, deadline, sender=w.b0
    )
    iid = dvp.instructionCount()
    affirm = measure(dvp, "affirm", iid, system.terms(iid), sender=w.p)
    settle = measure(dvp, "settle", iid, system.terms(iid), sender=w.p)
    report("Settlement.instruct", instruct)
    report("Settlement.affirm", affirm)
    report("Settlement.settle", settle)
    report("DvP total (three transactions)", instruct + affirm + settle)
    assert settle < 200_000


def _payees(system: System, count: int) -> list[str]:
    wallets = [boa.env.generate_address(f"payee{i}") for i in range(count)]
    expiry = boa.env.timestamp + 365 * DAY
    with boa.env.prank(system.registrar):
        for i, wallet in enumerate(wallets):
            kyc = (i + 1).to_bytes(32, "big")
            system.idreg.registerIdentity(kyc, PK, int(InvestorCategory.BANK), expiry, [wallet])
    return wallets


@pytest.mark.parametrize(
    "recipients_hold_cash", [False, True], ids=["new-cash-holders", "existing-cash-holders"]
)
def test_push_payout_vs_claim_per_holder(system: System, exact_gas, recipients_hold_cash):
    """A batch of 100 pushed payouts in a depth-14 tree (up to 16,384 holders), per holder,
    against one holder claiming its own payout from the same tree."""
    payees = _payees(system, 101)
    if recipients_hold_cash:
        for wallet in payees:
            system.issue_cash(wallet, 1)
    system.fund_treasury(10**12)
    block = boa.env.evm.patch.block_number
    boa.env.time_travel(blocks=1)
    tree = PayoutTree(system.token.address, block, [(p, 1_000, 25_000) for p in payees], depth=12)
    system.govern(
        system.distributor, "declare", tree.token, 1, block, tree.total, tree.root, len(payees), 12
    )
    did = system.distributor.distributionCount()
    batch = tree.batch(range(100))
    pay = measure(system.distributor, "pay", did, *batch, sender=system.outsider)
    p = tree.payouts[100]
    claim = measure(
        system.distributor, "claim", did, 100, p.units, p.amount, tree.proof(100), sender=p.holder
    )
    kind = "existing" if recipients_hold_cash else "new"
    report(f"Distributor.pay 100 @ depth 14 ({kind} cash holders)", pay)
    report("  per holder", pay // 100)
    report(f"Distributor.claim @ depth 12 ({kind} cash holder)", claim)
    assert pay // 100 < claim


DVP_INSTRUCT_GOAL = 150_000
CLAIM_GOAL = 80_000
# Today's affirm and settle (titanoboa, before issue 14's DvP change) with a small margin: they
# must not rise.
DVP_AFFIRM_CEILING = 50_000
DVP_SETTLE_CEILING = 116_000  # titanoboa now charges rewritten slots as a node does (2,900)


def test_dvp_instruct_gas_goal(system: System, w, exact_gas):
    """Issue 14's goal for the seller's instruction (only the terms' hash and a state word are
    stored; the event carries the terms); the buyer's affirm and the settlement do not rise."""
    system.govern(system.token, "batchMint", [w.b0, w.p], [1_000, 1_000])
    system.issue_cash(w.p, 1_000_000)
    system.issue_cash(w.b0, 1)
    dvp = system.settlement
    deadline = boa.env.timestamp + DAY
    instruct = measure(
        dvp, "instruct", system.token.address, w.p, 100, 25_000, deadline, sender=w.b0
    )
    report("Settlement.instruct", instruct)
    assert instruct <= DVP_INSTRUCT_GOAL
    iid = dvp.instructionCount()
    terms = (w.b0, w.p, system.token.address, 100, 25_000, deadline)
    affirm = measure(dvp, "affirm", iid, terms, sender=w.p)
    settle = measure(dvp, "settle", iid, terms, sender=w.p)
    report("Settlement.affirm", affirm)
    report("Settlement.settle", settle)
    assert system.token.balanceOf(w.p) == 1_100
    assert affirm <= DVP_AFFIRM_CEILING
    assert settle <= DVP_SETTLE_CEILING


def test_claim_gas_goal(system: System, exact_gas):
    """Issue 14's goal for a holder's claim at depth 14 (8,193 to 16,384 holders, the issue's
    10,000; each level costs ~730), the holder already holding cash, another payout of the same
    distribution already made (the steady state: the claimed-bitmap word and the progress word
    exist). 81,047 before the cash token asked the registry before the agent flag for a
    receiver (bench/README.md)."""
    payees = _payees(system, 3)
    for wallet in payees:
        system.issue_cash(wallet, 1)
    system.fund_treasury(10**9)
    block = boa.env.evm.patch.block_number
    boa.env.time_travel(blocks=1)
    tree = PayoutTree(system.token.address, block, [(p, 1_000, 25_000) for p in payees], depth=14)
    system.govern(
        system.distributor, "declare", tree.token, 1, block, tree.total, tree.root, len(payees), 14
    )
    did = system.distributor.distributionCount()
    first, second = tree.payouts[0], tree.payouts[1]
    measure(system.distributor, "claim", did, 0, 1_000, 25_000, tree.proof(0), sender=first.holder)
    claim = measure(
        system.distributor, "claim", did, 1, 1_000, 25_000, tree.proof(1), sender=second.holder
    )
    report("Distributor.claim @ depth 14 (existing cash holder)", claim)
    assert system.cash.balanceOf(second.holder) == 25_001
    assert claim <= CLAIM_GOAL
