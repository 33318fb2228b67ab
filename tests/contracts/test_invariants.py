"""Stateful property test of AssetToken bookkeeping and compliance against a Python model.

Random sequences of ordinary transfers (direct and through an allowance), mints, burns,
wallet and partial freezes, forced transfers and recoveries with evidence, DvP instructions
that lock units (cancelled by the seller or by governance with evidence), KYC expiry changes
by the registrar and country changes (by governance once the identity holds units), rule
changes, pauses, time passing and under-approved proposals. After every step the token's books
must agree with the model:

* sum of balanceOf over all wallets == totalSupply == sum of identityHolding over identities;
* holderCount == number of identities with a non-zero holding;
* foreignHeld == sum of the holdings of identities whose current country is not domestic
  (a country change re-books the identity at once);
* no holder's balance decreases without its own signature (transfer, allowance it granted)
  or an evidence-backed governance action (burn, forced transfer, recovery);
* an ordinary transfer or mint never leaves the receiving identity above the holding cap;
* enforcement is always possible: governance can cancel a holder's DvP instructions and
  force-transfer every unit it holds (free, frozen or locked), with evidence;
* frozen tokens <= balance; a frozen wallet never loses tokens in an ordinary transfer;
* no wallet holds tokens unless it received them while verified and eligible, or through
  an enforcement action (forced transfer, recovery); an unregistered wallet holds nothing;
* totalSupply <= the asset's authorised maximum;
* every refused transfer or mint is refused for a rule the model sees violated, and every
  transfer the model sees compliant goes through;
* a proposal with fewer approvals than the threshold never executes.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from amanat.domain.identity import InvestorCategory
from amanat.domain.restrictions import REASONS, Restriction
from amanat.domain.rules import BPS, TokenRules

from .anvil_system import AnvilChain, System
from .conftest import AE, BASE_RULES, DAY, EVIDENCE, GB, PK, YEAR, ZERO_ADDRESS, h

R = Restriction
MAX_UINT = 2**256 - 1
AUTHORISED = 4_000
WALLETS = ("b0", "b1", "p", "i", "g", "lon", "r", "out")
IDENTITIES = ("bank", "pension", "insurer", "gulf", "london", "retail")
ALL_CATEGORIES = frozenset(InvestorCategory)

# Initial issues (minted under the base rules before the example's first rule preset).
ALLOCATIONS = (
    {"b0": 600, "p": 500, "g": 200, "i": 300},
    {"b0": 300, "b1": 300, "lon": 400, "i": 100},
    {"p": 1000, "g": 100},
    {"b0": 50, "p": 50, "i": 50, "g": 50, "lon": 50},
)

# Percentages of the sender's balance (the first value is what hypothesis shrinks towards).
PERCENT = st.sampled_from((50, 10, 100, 25, 1, 75, 0, 110))

PRESETS: dict[str, TokenRules] = {
    "base": BASE_RULES,
    "retail-allowed": dataclasses.replace(BASE_RULES, eligible_categories=ALL_CATEGORIES),
    "banks-only": dataclasses.replace(
        BASE_RULES, eligible_categories=frozenset({InvestorCategory.BANK})
    ),
    "foreign-cap": dataclasses.replace(BASE_RULES, foreign_cap_bps=3000),
    "no-foreigners": dataclasses.replace(BASE_RULES, foreign_cap_bps=0),
    "lock-up": BASE_RULES,  # lockup_until is set to "now + 45 s" when chosen
    "few-holders": dataclasses.replace(BASE_RULES, max_holders=3),
    "cap-and-minimum": dataclasses.replace(BASE_RULES, holding_cap=900, minimum_holding=40),
    "deny-gulf": dataclasses.replace(BASE_RULES, country_mode="deny", countries=(AE,)),
    "allow-pk-gb": dataclasses.replace(BASE_RULES, country_mode="allow", countries=(PK, GB)),
    "everything": dataclasses.replace(
        BASE_RULES,
        foreign_cap_bps=5000,
        max_holders=4,
        holding_cap=1500,
        minimum_holding=10,
        country_mode="deny",
        countries=(GB,),
    ),
}


# Outcome counts of the last run (print them with `pytest -s` to judge the coverage).
STATS: collections.Counter[str] = collections.Counter()


def _event(label: str) -> None:
    event(label)
    STATS[label] += 1


@dataclasses.dataclass
class Ident:
    number: int
    country: int
    category: int
    expiry: int


class TokenMachine(RuleBasedStateMachine):
    chain: AnvilChain  # set by the test before the machine is built
    system: System
    spender: str  # every wallet allows it everything (set by the test)

    def __init__(self) -> None:
        super().__init__()
        self._anchor = contextlib.ExitStack()
        self._anchor.enter_context(self.chain.anchor())
        s = self.system
        self.linked_wallets = 0  # wallets the registrar linked in this example
        self.max_units = AUTHORISED
        self.tok = s.token
        self.addr = {
            "b0": s.bank.wallets[0],
            "b1": s.bank.wallets[1],
            "p": s.pension.wallets[0],
            "i": s.insurer.wallets[0],
            "g": s.gulf.wallets[0],
            "lon": s.london.wallets[0],
            "r": s.retail.wallets[0],
            "out": s.outsider,
        }
        sysident = {
            "bank": s.bank,
            "pension": s.pension,
            "insurer": s.insurer,
            "gulf": s.gulf,
            "london": s.london,
            "retail": s.retail,
        }
        expiry = s.idreg.identityOf(s.bank.number).kycExpiry
        self.ident = {
            k: Ident(v.number, v.country, v.category, expiry) for k, v in sysident.items()
        }
        owner = {
            "b0": "bank",
            "b1": "bank",
            "p": "pension",
            "i": "insurer",
            "g": "gulf",
            "lon": "london",
            "r": "retail",
        }
        self.wallet_ident: dict[str, Ident | None] = {
            w: self.ident[owner[w]] if w in owner else None for w in WALLETS
        }
        # token model
        self.rules = BASE_RULES
        self.listed: set[int] = set()
        self.paused = False
        self.balance = dict.fromkeys(WALLETS, 0)
        self.frozen_tokens = dict.fromkeys(WALLETS, 0)
        self.wallet_frozen = dict.fromkeys(WALLETS, False)
        self.booked: dict[str, int] = {}
        self.holding: dict[int, int] = {i.number: 0 for i in self.ident.values()}
        self.booked_foreign: dict[int, bool] = {i.number: False for i in self.ident.values()}
        self.supply = 0
        self.received_ordinarily: set[str] = set()
        self.received_by_enforcement: set[str] = set()
        # DvP instructions still open: id -> (seller, units); units locked per wallet
        self.open_dvps: dict[int, tuple[str, int]] = {}
        self.locked = dict.fromkeys(WALLETS, 0)
        # wallets a step may debit (its signature or an evidence-backed governance action)
        self.debit_allowed: set[str] = set()
        self.last_balance = dict.fromkeys(WALLETS, 0)

    def teardown(self) -> None:
        self._anchor.close()

    # ------------------------------------------------------------------ model

    @property
    def now(self) -> int:
        return self.chain.timestamp

    def verified(self, w: str) -> bool:
        ident = self.wallet_ident[w]
        return ident is not None and ident.expiry > self.now

    def foreign(self, w: str) -> bool:
        ident = self.wallet_ident[w]
        return (ident.country if ident else 0) != self.rules.domestic_country

    def booked_identity(self, w: str) -> int:
        if self.balance[w] > 0:
            return self.booked[w]
        ident = self.wallet_ident[w]
        return ident.number if ident else 0

    def receiver_violations(self, w: str) -> set[R]:
        out = set()
        if not self.verified(w):
            out.add(R.RECEIVER_NOT_VERIFIED)
        ident = self.wallet_ident[w]
        if ident is not None:
            if InvestorCategory(ident.category) not in self.rules.eligible_categories:
                out.add(R.CATEGORY_NOT_ELIGIBLE)
            mode = self.rules.country_mode
            if mode != "none" and (mode == "allow") != (ident.country in self.listed):
                out.add(R.COUNTRY_NOT_ALLOWED)
        return out

    def holding_violations(
        self, sender: str | None, receiver: str, amount: int, supply_after: int
    ) -> set[R]:
        from_id = self.booked_identity(sender) if sender else 0
        to_id = self.booked_identity(receiver)
        if from_id == to_id:
            return set()
        out = set()
        rules = self.rules
        to_held = self.holding.get(to_id, 0)
        to_after = to_held + amount
        from_after = self.holding[from_id] - amount if from_id else 0
        if rules.holding_cap and to_after > rules.holding_cap:
            out.add(R.HOLDING_CAP)
        if rules.minimum_holding and (
            to_after < rules.minimum_holding or 0 < from_after < rules.minimum_holding
        ):
            out.add(R.MINIMUM_HOLDING)
        holders = sum(1 for v in self.holding.values() if v)
        if (
            rules.max_holders
            and to_held == 0
            and (from_id == 0 or from_after != 0)
            and holders + 1 > rules.max_holders
        ):
            out.add(R.MAX_HOLDERS)
        if (
            rules.foreign_cap_bps < BPS
            and amount > 0  # only a move that raises the foreign total is refused
            and self.foreign(receiver)
            and not (sender and self.foreign(sender))
        ):
            foreign_held = sum(v for k, v in self.holding.items() if self.booked_foreign[k])
            if (foreign_held + amount) * BPS > rules.foreign_cap_bps * supply_after:
                out.add(R.FOREIGN_CAP)
        return out

    def foreign_cap_tolerated(
        self, sender: str | None, receiver: str, amount: int, supply_after: int
    ) -> set[R]:
        """FOREIGN_CAP is also expected where the foreign share after re-booking both
        identities would exceed the cap: the token checks the re-booked total, not just
        foreignHeld + amount (regression test in test_asset_token.py)."""
        if (
            self.rules.foreign_cap_bps >= BPS
            or self.wallet_ident[receiver] is None
            or not self.foreign(receiver)
        ):
            return set()
        from_id = self.booked_identity(sender) if sender else 0
        to_id = self.booked_identity(receiver)
        holding, flags = dict(self.holding), dict(self.booked_foreign)
        if from_id != to_id:
            if sender:
                holding[from_id] -= amount
                flags[from_id] = self.foreign(sender)
            holding[to_id] += amount
            flags[to_id] = True
        after = sum(v for k, v in holding.items() if flags[k])
        if after * BPS > self.rules.foreign_cap_bps * supply_after:
            return {R.FOREIGN_CAP}
        return set()

    def transfer_violations(self, sender: str, receiver: str, amount: int) -> set[R]:
        out = set()
        if self.paused:
            out.add(R.PAUSED)
        if not self.verified(sender):
            out.add(R.SENDER_NOT_VERIFIED)
        out |= self.receiver_violations(receiver)
        if self.wallet_frozen[sender]:
            out.add(R.SENDER_FROZEN)
        if self.wallet_frozen[receiver]:
            out.add(R.RECEIVER_FROZEN)
        if amount > self.balance[sender]:
            out.add(R.INSUFFICIENT_BALANCE)
            return out  # the contract stops here; holding arithmetic would be meaningless
        if amount > self.balance[sender] - self.frozen_tokens[sender] - self.locked[sender]:
            out.add(R.TOKENS_FROZEN)
        if self.now < self.rules.lockup_until:
            out.add(R.LOCKED_UP)
        return out | self.holding_violations(sender, receiver, amount, self.supply)

    def mint_violations(self, receiver: str, amount: int) -> set[R]:
        if self.supply + amount > AUTHORISED:
            return {R.AUTHORISATION_CAP}
        out = self.receiver_violations(receiver)
        if self.paused:
            out.add(R.PAUSED)
        if self.wallet_frozen[receiver]:
            out.add(R.RECEIVER_FROZEN)
        if self.wallet_ident[receiver] is None:
            return out
        return out | self.holding_violations(None, receiver, amount, self.supply + amount)

    def rebook(self, number: int, delta: int, wallet: str) -> None:
        self.holding[number] += delta
        self.booked_foreign[number] = self.foreign(wallet)

    def move(self, sender: str | None, receiver: str | None, amount: int) -> None:
        """Mirror of the token's _move: balances, booking and per-identity holdings."""
        from_id = to_id = 0
        if sender is not None:
            from_id = self.booked_identity(sender)
            self.balance[sender] -= amount
            if self.balance[sender] == 0:
                self.booked.pop(sender, None)
        if receiver is not None:
            to_id = self.booked_identity(receiver)
            self.booked[receiver] = to_id
            self.balance[receiver] += amount
        if from_id != to_id:
            if sender is not None:
                self.rebook(from_id, -amount, sender)
            if receiver is not None:
                self.rebook(to_id, amount, receiver)

    def release_frozen(self, w: str, amount: int) -> None:
        free = self.balance[w] - self.frozen_tokens[w] - self.locked[w]
        if amount > free:
            self.frozen_tokens[w] -= amount - free

    def reaches_locked(self, w: str, amount: int) -> bool:
        """Whether taking `amount` from w would need units locked for settlement."""
        return amount > self.balance[w] - self.locked[w]

    def assert_within_cap(self, receiver: str) -> None:
        cap = self.rules.holding_cap
        if cap:
            held = self.holding[self.booked_identity(receiver)]
            assert held <= cap, f"an ordinary movement left {receiver} at {held} over cap {cap}"

    # ------------------------------------------------------------------ rules

    @initialize(alloc=st.sampled_from(ALLOCATIONS), preset=st.sampled_from(list(PRESETS)))
    def setup(self, alloc: dict[str, int], preset: str) -> None:
        """The example's starting point, set by the governance contract's own address: the
        state its proposals would reach in a third of the calls (the rules below go through
        proposals). The allowances and the authorisation are set once by the test."""
        with self.chain.prank(self.system.gov.address):
            self.tok.batchMint([self.addr[k] for k in alloc], list(alloc.values()))
        for k, amount in alloc.items():
            self.supply += amount
            self.move(None, k, amount)
            self.received_ordinarily.add(k)
        self._apply_rules(preset, self._as_governance)

    def _as_governance(self, target: Any, fn_name: str, *args: Any) -> None:
        with self.chain.prank(self.system.gov.address):
            getattr(target, fn_name)(*args)

    def _amount(self, sender: str, pct: int) -> int:
        bal = self.balance[sender]
        return bal * pct // 100 if bal else pct

    @rule(
        sender=st.sampled_from(WALLETS),
        receiver=st.sampled_from(WALLETS),
        pct=PERCENT,
        via_allowance=st.booleans(),
    )
    def transfer(self, sender: str, receiver: str, pct: int, via_allowance: bool) -> None:
        self._transfer(sender, receiver, pct, via_allowance)

    # Two more rules that pick a funded sender weight the run towards transfers that can
    # succeed (hypothesis chooses among rules uniformly).
    @precondition(lambda self: self.supply > 0)
    @rule(
        data=st.data(), receiver=st.sampled_from(WALLETS), pct=PERCENT, via_allowance=st.booleans()
    )
    def transfer_by_holder(self, data, receiver: str, pct: int, via_allowance: bool) -> None:
        sender = data.draw(st.sampled_from([w for w in WALLETS if self.balance[w]]))
        self._transfer(sender, receiver, pct, via_allowance)

    @precondition(lambda self: self.supply > 0)
    @rule(data=st.data(), receiver=st.sampled_from(WALLETS), pct=PERCENT)
    def transfer_by_holder_directly(self, data, receiver: str, pct: int) -> None:
        sender = data.draw(st.sampled_from([w for w in WALLETS if self.balance[w]]))
        self._transfer(sender, receiver, pct, False)

    def _transfer(self, sender: str, receiver: str, pct: int, via_allowance: bool) -> None:
        amount = self._amount(sender, pct)
        src, dst = self.addr[sender], self.addr[receiver]
        expected = self.transfer_violations(sender, receiver, amount)
        tolerated = set()
        if amount <= self.balance[sender]:
            tolerated = self.foreign_cap_tolerated(sender, receiver, amount, self.supply)
        code = R(self.tok.detectTransferRestriction(src, dst, amount))
        frozen_before = {
            w: self.tok.balanceOf(self.addr[w]) for w in WALLETS if self.wallet_frozen[w]
        }

        def call() -> None:
            if via_allowance:
                with self.chain.prank(self.spender):
                    self.tok.transferFrom(src, dst, amount)
            else:
                with self.chain.prank(src):
                    self.tok.transfer(dst, amount)

        _event(f"transfer: {code.name}")
        if code == R.OK:
            assert not expected, f"token allowed a transfer the model refuses: {expected}"
            call()
            assert self.verified(sender) and not self.receiver_violations(receiver)
            assert not self.wallet_frozen[sender] and not self.wallet_frozen[receiver]
            if amount:
                self.received_ordinarily.add(receiver)
            self.debit_allowed.add(sender)  # its own signature (or the allowance it granted)
            self.move(sender, receiver, amount)
            if self.booked_identity(sender) != self.booked_identity(receiver):
                self.assert_within_cap(receiver)
        else:
            assert code in expected | tolerated, f"token refused with {code!r}, model: {expected}"
            with self.chain.reverts(REASONS[code]):
                call()
        for w, before in frozen_before.items():  # a frozen wallet never pays out
            assert self.tok.balanceOf(self.addr[w]) >= before

    @rule(receiver=st.sampled_from(WALLETS), amount=st.sampled_from((100, 300, 20, 700, 1, 45)))
    def mint(self, receiver: str, amount: int) -> None:
        dst = self.addr[receiver]
        expected = self.mint_violations(receiver, amount)
        tolerated = self.foreign_cap_tolerated(None, receiver, amount, self.supply + amount)
        code = R(self.tok.detectMintRestriction(dst, amount))
        _event(f"mint: {code.name}")
        if code == R.OK:
            assert not expected, f"token allowed a mint the model refuses: {expected}"
            self.system.mint(dst, amount)
            self.received_ordinarily.add(receiver)
            self.supply += amount
            self.move(None, receiver, amount)
            self.assert_within_cap(receiver)
        else:
            assert code in expected | tolerated, f"mint refused with {code!r}, model: {expected}"
            with self.chain.reverts(REASONS[code]):
                self.system.mint(dst, amount)

    @rule(wallet=st.sampled_from(WALLETS), pct=PERCENT)
    def burn(self, wallet: str, pct: int) -> None:
        amount = max(1, self._amount(wallet, pct))
        if amount > self.balance[wallet]:
            with self.chain.reverts("insufficient balance"):
                self.system.govern(self.tok, "burn", self.addr[wallet], amount, evidence=EVIDENCE)
            return
        if self.reaches_locked(wallet, amount):
            with self.chain.reverts("tokens are locked for settlement"):
                self.system.govern(self.tok, "burn", self.addr[wallet], amount, evidence=EVIDENCE)
            return
        self.system.govern(self.tok, "burn", self.addr[wallet], amount, evidence=EVIDENCE)
        self.debit_allowed.add(wallet)
        self.release_frozen(wallet, amount)
        self.supply -= amount
        self.move(wallet, None, amount)

    @rule(wallet=st.sampled_from(WALLETS), pct=st.sampled_from((50, 100, 10, 0, 120)))
    def freeze_partial(self, wallet: str, pct: int) -> None:
        free = self.balance[wallet] - self.frozen_tokens[wallet] - self.locked[wallet]
        amount = free * pct // 100
        fn = self.system.govern
        if amount > free:
            with self.chain.reverts("amount exceeds unfrozen balance"):
                fn(self.tok, "freezePartialTokens", self.addr[wallet], amount, evidence=EVIDENCE)
            return
        fn(self.tok, "freezePartialTokens", self.addr[wallet], amount, evidence=EVIDENCE)
        self.frozen_tokens[wallet] += amount

    @rule(wallet=st.sampled_from(WALLETS), pct=st.sampled_from((50, 100, 10, 0)))
    def unfreeze_partial(self, wallet: str, pct: int) -> None:
        amount = self.frozen_tokens[wallet] * pct // 100
        self.system.govern(
            self.tok, "unfreezePartialTokens", self.addr[wallet], amount, evidence=EVIDENCE
        )
        self.frozen_tokens[wallet] -= amount

    @rule(wallet=st.sampled_from(WALLETS), freeze=st.booleans())
    def set_wallet_frozen(self, wallet: str, freeze: bool) -> None:
        self.system.govern(
            self.tok, "setAddressFrozen", self.addr[wallet], freeze, evidence=EVIDENCE
        )
        self.wallet_frozen[wallet] = freeze

    @rule(sender=st.sampled_from(WALLETS), receiver=st.sampled_from(WALLETS), pct=PERCENT)
    def forced_transfer(self, sender: str, receiver: str, pct: int) -> None:
        amount = max(1, self._amount(sender, pct))
        args = (self.tok, "forcedTransfer", self.addr[sender], self.addr[receiver], amount)
        if self.wallet_ident[receiver] is None:
            with self.chain.reverts("receiver is not registered"):
                self.system.govern(*args, evidence=EVIDENCE)
            return
        if amount > self.balance[sender]:
            with self.chain.reverts("insufficient balance"):
                self.system.govern(*args, evidence=EVIDENCE)
            return
        if self.reaches_locked(sender, amount):
            with self.chain.reverts("tokens are locked for settlement"):
                self.system.govern(*args, evidence=EVIDENCE)
            return
        self.system.govern(*args, evidence=EVIDENCE)
        self.debit_allowed.add(sender)
        self.release_frozen(sender, amount)
        self.move(sender, receiver, amount)
        self.received_by_enforcement.add(receiver)

    @rule(lost=st.sampled_from(("b0", "b1")))
    def recovery(self, lost: str) -> None:
        new = "b1" if lost == "b0" else "b0"
        args = (self.tok, "recoveryAddress", self.addr[lost], self.addr[new], ZERO_ADDRESS)
        if self.locked[lost]:
            with self.chain.reverts("lost wallet has units locked for settlement"):
                self.system.govern(*args, evidence=EVIDENCE)
            return
        if self.balance[lost] == 0:
            with self.chain.reverts("lost wallet holds no tokens"):
                self.system.govern(*args, evidence=EVIDENCE)
            return
        self.system.govern(*args, evidence=EVIDENCE)
        self.debit_allowed.add(lost)
        frozen = self.frozen_tokens[lost]
        self.frozen_tokens[lost] = 0
        self.move(lost, new, self.balance[lost])
        self.frozen_tokens[new] += frozen
        self.wallet_frozen[new] = self.wallet_frozen[new] or self.wallet_frozen[lost]
        self.received_by_enforcement.add(new)

    @rule(
        name=st.sampled_from(IDENTITIES),
        country=st.sampled_from((None, AE, PK, GB)),
        expiry=st.sampled_from(("long", "soon", "past")),
    )
    def registrar_update(self, name: str, country: int | None, expiry: str) -> None:
        """KYC renewal by the registrar; a country change of an identity holding units needs
        governance (the registrar alone is refused) and re-books it at once."""
        ident = self.ident[name]
        expiry_at = {"past": self.now, "soon": self.now + 30, "long": self.now + YEAR}[expiry]
        changed = country is not None and country != ident.country
        args = (
            ident.number,
            h(f"kyc {name} {self.now}"),
            country if changed else ident.country,
            ident.category,
            expiry_at,
        )
        # the registrar alone shortens only so many KYC expiries a day (issue 9, review 2)
        quota_used = (
            expiry_at < self.system.idreg.identityOf(ident.number).kycExpiry
            and self.system.idreg.suspensionsLeft() == 0
        )
        if quota_used:
            with (
                self.chain.reverts(
                    "the registrar's suspensions for today are used: governance may suspend more"
                ),
                self.chain.prank(self.system.registrar),
            ):
                self.system.idreg.updateIdentity(*args)
            self.system.govern(self.system.idreg, "updateIdentity", *args)
            _event("identity: suspended by governance beyond the registrar's daily quota")
        elif changed and self.holding[ident.number]:
            with (
                self.chain.reverts(
                    "identity holds units: a change of country or category needs governance"
                ),
                self.chain.prank(self.system.registrar),
            ):
                self.system.idreg.updateIdentity(*args)
            self.system.govern(self.system.idreg, "updateIdentity", *args)
            _event("identity: country changed by governance")
        else:
            with self.chain.prank(self.system.registrar):
                self.system.idreg.updateIdentity(*args)
        ident.country, ident.expiry = args[2], expiry_at
        self.booked_foreign[ident.number] = ident.country != self.rules.domestic_country

    @rule(name=st.sampled_from(IDENTITIES[1:]))
    def registrar_links_a_wallet(self, name: str) -> None:
        """A new, empty wallet linked to an identity: a sole wallet's holding moves into the
        identity's word in the same transaction (issue 14); the books must not change."""
        self.linked_wallets += 1
        extra = self.chain.generate_address(f"extra {name} {self.linked_wallets}")
        with self.chain.prank(self.system.registrar):
            self.system.idreg.linkWallet(self.ident[name].number, extra)
        _event("identity: another wallet linked")

    # ------------------------------------------------------------------ settlement locks

    @rule(seller=st.sampled_from(WALLETS), buyer=st.sampled_from(WALLETS), pct=PERCENT)
    def instruct_dvp(self, seller: str, buyer: str, pct: int) -> None:
        """The seller locks units in a DvP (its own signature); a deadline beyond the governed
        maximum is refused, as is a buyer of its own identity."""
        units = self._amount(seller, pct)
        src, dst = self.addr[seller], self.addr[buyer]
        settlement = self.system.settlement
        if seller != buyer:
            too_late = self.now + 20 * YEAR
            with (
                self.chain.reverts("deadline beyond the maximum settlement period"),
                self.chain.prank(src),
            ):
                settlement.instruct(self.tok.address, dst, max(units, 1), 1, too_late)
        seller_ident, buyer_ident = self.wallet_ident[seller], self.wallet_ident[buyer]
        code = R(self.tok.detectTransferRestriction(src, dst, units))
        with self.chain.prank(src):
            if units == 0 or seller == buyer:
                _event("dvp: refused (no units or same wallet)")
                with self.chain.reverts():
                    settlement.instruct(self.tok.address, dst, units, 1, self.now + DAY)
                return
            if seller_ident is not None and seller_ident is buyer_ident:
                _event("dvp: refused (own identity)")
                with self.chain.reverts("buyer is a wallet of the seller's own identity"):
                    settlement.instruct(self.tok.address, dst, units, 1, self.now + DAY)
                return
            if code != R.OK:
                _event(f"dvp: refused {code.name}")
                with self.chain.reverts(REASONS[code]):
                    settlement.instruct(self.tok.address, dst, units, 1, self.now + DAY)
                return
            iid = self.system.instruct(src, dst, units, 1, self.now + 30 * DAY)
        _event("dvp: units locked")
        self.open_dvps[iid] = (seller, units)
        self.locked[seller] += units

    @precondition(lambda self: self.open_dvps)
    @rule(data=st.data(), by_governance=st.booleans())
    def cancel_dvp(self, data, by_governance: bool) -> None:
        iid = data.draw(st.sampled_from(sorted(self.open_dvps)))
        seller, units = self.open_dvps.pop(iid)
        if by_governance:
            self.system.govern(
                self.system.settlement, "enforceCancel", iid, self.system.terms(iid),
                evidence=EVIDENCE,
            )  # fmt: skip
        else:
            with self.chain.prank(self.addr[seller]):
                self.system.settlement.cancel(iid, self.system.terms(iid))
        self.locked[seller] -= units

    @precondition(lambda self: self.supply > 0)
    @rule(data=st.data())
    def enforcement_is_always_possible(self, data) -> None:
        """Whatever the holder did (locks, freezes, lapsed KYC), governance with evidence can
        cancel its instructions and force-transfer every unit it holds. Tried, then undone."""
        holder = data.draw(st.sampled_from([w for w in WALLETS if self.balance[w]]))
        receiver = next(
            w
            for w in WALLETS
            if self.wallet_ident[w] is not None
            and self.wallet_ident[w] is not self.wallet_ident[holder]
        )
        s = self.system
        with self.chain.anchor():
            for iid, (seller, _) in self.open_dvps.items():
                if seller == holder:
                    s.govern(s.settlement, "enforceCancel", iid, s.terms(iid), evidence=EVIDENCE)
            everything = self.balance[holder]
            s.govern(
                self.tok, "forcedTransfer", self.addr[holder], self.addr[receiver], everything,
                evidence=EVIDENCE,
            )  # fmt: skip
            assert self.tok.balanceOf(self.addr[holder]) == 0
            assert self.tok.settlementLocked(self.addr[holder]) == 0
        _event("enforcement: every unit reached")

    @rule(preset=st.sampled_from([*PRESETS, "toggle-pause"]))
    def change_rules(self, preset: str) -> None:
        _event(f"rules: {preset}")
        if preset == "toggle-pause":
            self.system.govern(self.tok, "unpause" if self.paused else "pause")
            self.paused = not self.paused
            return
        self._apply_rules(preset)

    def _apply_rules(self, preset: str, act: Callable[..., Any] | None = None) -> None:
        """Governance sets the preset's rules (through proposals unless `act` is given)."""
        act = act or self.system.govern
        rules = PRESETS[preset]
        if preset == "lock-up":
            rules = dataclasses.replace(rules, lockup_until=self.now + 45)
        if rules.set_rules_args() != self.rules.set_rules_args():
            act(self.tok, "setRules", *rules.set_rules_args())
        if (rules.holding_cap, rules.minimum_holding) != (
            self.rules.holding_cap,
            self.rules.minimum_holding,
        ):
            act(self.tok, "setHoldingLimits", rules.holding_cap, rules.minimum_holding)
        wanted = set(rules.countries)
        if self.listed - wanted:
            act(self.tok, "setCountriesListed", sorted(self.listed - wanted), False)
        if wanted - self.listed:
            act(self.tok, "setCountriesListed", sorted(wanted - self.listed), True)
        self.rules, self.listed = rules, wanted

    @rule(seconds=st.sampled_from((15, 1, 40, 120)))
    def time_passes(self, seconds: int) -> None:
        self.chain.time_travel(seconds)

    @precondition(lambda self: self.supply > 0)
    @rule(
        kind=st.sampled_from(("mint", "burn", "pause", "forced", "rules", "threshold")),
        proposer=st.integers(0, 2),
    )
    def under_approved_proposal(self, kind: str, proposer: int) -> None:
        s = self.system
        holder = next(w for w in WALLETS if self.balance[w])
        a, b = self.addr[holder], self.addr["p"]
        call = {
            "mint": (self.tok, "mint", b, 1),
            "burn": (self.tok, "burn", a, 1),
            "pause": (self.tok, "unpause" if self.paused else "pause"),
            "forced": (self.tok, "forcedTransfer", a, b, 1),
            "rules": (self.tok, "setRules", 0, 0, 1, 0, 0, PK),
            "threshold": (s.gov, "setThreshold", 1),
        }[kind]
        evidence = EVIDENCE if kind in ("forced", "burn") else b""
        pid = s.propose(*call, evidence=evidence, proposer=proposer)
        for official in range(3):
            with self.chain.reverts("not enough approvals"):
                s.execute(pid, official)
        with self.chain.reverts("official already approved"):
            s.approve(pid, proposer)
        with self.chain.prank(s.officials[proposer]):
            s.gov.cancel(pid)
        assert s.gov.threshold() == 2

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_agree_with_model(self) -> None:
        numbers = [i.number for i in self.ident.values()]
        books = self.system.books([self.addr[w] for w in WALLETS], numbers)
        balances, frozen, flags, holdings = (
            books.balance,
            books.frozen_tokens,
            books.frozen,
            books.holding,
        )
        supply, holders, foreign = books.supply, books.holders, books.foreign
        balance = dict(zip(WALLETS, balances, strict=True))
        holding = dict(zip(numbers, holdings, strict=True))
        # conservation: wallets and identities both add up to the supply
        assert supply == self.supply
        assert sum(balances) == supply
        assert sum(holdings) == supply
        assert balance == self.balance
        assert holding == self.holding
        assert holders == sum(1 for v in holdings if v)
        assert foreign == sum(v for k, v in holding.items() if self.booked_foreign[k])
        domestic = self.rules.domestic_country
        assert foreign == sum(
            holding[i.number] for i in self.ident.values() if i.country != domestic
        ), "foreignHeld is not the holdings of identities whose country is not domestic"
        assert holders == sum(1 for i in self.ident.values() if holding[i.number])
        assert dict(zip(WALLETS, books.locked, strict=True)) == self.locked
        # no balance decreases without the holder's signature or evidence-backed governance
        for w in WALLETS:
            if balance[w] < self.last_balance[w]:
                assert w in self.debit_allowed, f"{w} lost units without authority"
        self.last_balance = dict(balance)
        self.debit_allowed.clear()
        # freezes
        assert dict(zip(WALLETS, frozen, strict=True)) == self.frozen_tokens
        assert all(f <= b for f, b in zip(frozen, balances, strict=True))
        assert dict(zip(WALLETS, flags, strict=True)) == self.wallet_frozen
        assert books.paused == self.paused
        # nobody holds tokens without having received them legitimately
        assert balance["out"] == 0
        for w in WALLETS:
            if balance[w]:
                assert w in self.received_ordinarily or w in self.received_by_enforcement, w
        assert supply <= self.max_units


@pytest.fixture(autouse=True)
def _isolate() -> None:
    """This module runs on anvil, not titanoboa: no titanoboa deployment (conftest's _isolate)."""


@pytest.fixture(scope="module")
def chain():
    chain = AnvilChain()
    try:
        yield chain
    finally:
        chain.close()


def test_token_state_machine(chain: AnvilChain) -> None:
    """Deterministic by default (CI): 5,000 examples of 10 steps (issue 9), invariants after
    every step. AMANAT_INVARIANT_EXAMPLES / _STEPS run longer and AMANAT_INVARIANT_RANDOM=1
    explores fresh sequences.

    Runs on anvil (revm), not titanoboa (py-evm): same rules, invariants and model, on the
    project's compiled artifacts (tests/contracts/anvil_system.py). An example is ~44 JSON-RPC
    calls: ~22 transactions (a governed step is three), ~18 views, the books in one lens call
    (anvil_system.BOOKS_SOURCE), `evm_snapshot`/`evm_revert` around it; set up through the
    governance contract's address (impersonated). Measured on the shared 2-core machine (load
    5-12, so upper bounds), CPU of this process plus anvil's per example: 92.7 ms before
    (anvil 53, Python 39; HTTP, full block history, eth_abi everywhere), ~36 ms with anvil's
    history pruned, IPC and cached encodings, ~45 ms once every transaction is mined by an
    explicit `evm_mine` (eth_sendTransactionSync timed out about once in 5,000 examples under
    load). 5,000 examples: 232 CPU s and 392 s wall with pytest's start (2,000 took 199 CPU s
    and 446 s wall before); titanoboa was ~0.33-0.49 s per example.

    Can it still fail (checked by hand at 5,000 examples, not committed): with the
    evidence-backed forced transfer no longer counted as an authorised debit in the model, it
    fails in the first examples ("p lost units without authority", shrunk to setup + one
    forced transfer; 29 s); with AssetToken's detectTransferRestriction letting a frozen
    sender through, it fails after ~90 s ("token allowed a transfer the model refuses:
    SENDER_FROZEN", shrunk to setup, freeze b0, transfer from b0)."""
    s = System(chain)
    s.govern(s.areg, "setAuthorisation", s.asset_id, "Act XII", h("act xii"), AUTHORISED)
    assert s.areg.mintingTerms(s.asset_id) == (3, AUTHORISED)
    spender = chain.generate_address("spender")
    others = (s.pension, s.insurer, s.gulf, s.london, s.retail)
    for wallet in (*s.bank.wallets, *(i.wallets[0] for i in others), s.outsider):
        with chain.prank(wallet):
            s.token.approve(spender, MAX_UINT)
    TokenMachine.chain, TokenMachine.system, TokenMachine.spender = chain, s, spender
    STATS.clear()
    run_state_machine_as_test(
        TokenMachine,
        settings=settings(
            max_examples=int(os.environ.get("AMANAT_INVARIANT_EXAMPLES", "5000")),
            stateful_step_count=int(os.environ.get("AMANAT_INVARIANT_STEPS", "10")),
            deadline=None,
            database=None,
            derandomize=os.environ.get("AMANAT_INVARIANT_RANDOM") != "1",
            suppress_health_check=list(HealthCheck),
        ),
    )
    print("\n".join(f"{count:5d}  {label}" for label, count in sorted(STATS.items())))
