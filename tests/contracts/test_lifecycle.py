"""Issue 4 changes to AssetToken and AssetRegistry: settlement-agent operations and locked
units, maturity, commodity reserve attestations capping minting, sukuk underlying assets."""

from __future__ import annotations

import boa
import pytest

from amanat.domain.assets import AssetClass, AssetStatus
from amanat.domain.restrictions import REASONS, Restriction
from amanat.errors import InvalidInput
from amanat.services.tokens import tokenize_args

from .conftest import BASE_RULES, DAY, EVIDENCE, MAX_UNITS, ZERO32, ZERO_ADDRESS, System, deploy, h

PROPOSED, APPROVED, TOKENIZED, REDEEMED, RETIRED = (int(s) for s in AssetStatus)
SUKUK, COMMODITY, REAL_ESTATE = (
    int(AssetClass.SUKUK),
    int(AssetClass.COMMODITY_RESERVE),
    int(AssetClass.REAL_ESTATE),
)


def names(entries) -> list[str]:
    return [type(e).__name__ for e in entries]


@pytest.fixture
def agent(system: System) -> str:
    """Any listed settlement agent may call the token's agent functions."""
    return system.settlement.address


def lock(system: System, agent: str, wallet: str, amount: int) -> None:
    with boa.env.prank(agent):
        system.token.settlementLock(wallet, amount)


# ---------------------------------------------------------------- registry roles


def test_constructor_roles(system: System):
    assert system.areg.isReserveAuditor(system.auditor) is True
    for a in system.agents:
        assert system.areg.isSettlementAgent(a) is True
    assert system.areg.isSettlementAgent(system.auditor) is False


@pytest.mark.parametrize("fn", ["setReserveAuditor", "setSettlementAgent"])
def test_role_setters(system: System, w, fn):
    getter = {"setReserveAuditor": "isReserveAuditor", "setSettlementAgent": "isSettlementAgent"}[
        fn
    ]
    # an agent moves holders' units: a contract, listed with evidence
    who, evidence = (
        (system.factory.address, EVIDENCE) if fn == "setSettlementAgent" else (w.out, b"")
    )
    system.govern(system.areg, fn, who, True, evidence=evidence)
    assert getattr(system.areg, getter)(who) is True
    system.govern(system.areg, fn, who, False, evidence=evidence)
    assert getattr(system.areg, getter)(who) is False
    with boa.reverts("caller is not governance"), boa.env.prank(w.out):
        getattr(system.areg, fn)(w.out, True)


# ---------------------------------------------------------------- agent functions on the token


AGENT_CALLS = [
    ("settlementLock", ("b0", 1)),
    ("settlementUnlock", ("b0", 1)),
    ("settlementTransfer", ("b0", "p", 1)),
    ("settlementMint", ("b0", 1)),
    ("redeem", ("b0", 1)),
]


@pytest.mark.parametrize(("fn", "args"), AGENT_CALLS, ids=[c[0] for c in AGENT_CALLS])
def test_agent_functions_refuse_non_agents(system: System, w, fn, args):
    resolved = [getattr(w, a) if isinstance(a, str) else a for a in args]
    for caller in (w.b0, system.gov.address, system.cash.address):
        with boa.reverts("caller is not a settlement agent"), boa.env.prank(caller):
            getattr(system.token, fn)(*resolved)


def test_settlement_lock_and_unlock(system: System, agent, w):
    system.mint(w.b0, 100)
    lock(system, agent, w.b0, 60)
    (event,) = system.token.get_logs()
    assert (type(event).__name__, event.wallet, event.agent, event.amount) == (
        "SettlementLocked",
        w.b0,
        agent,
        60,
    )
    assert system.token.settlementLocked(w.b0) == 60
    assert system.token.getFrozenTokens(w.b0) == 0
    assert system.token.balanceOf(w.b0) == 100
    with boa.env.prank(agent):
        system.token.settlementUnlock(w.b0, 20)
    (event,) = system.token.get_logs()
    assert (type(event).__name__, event.amount) == ("SettlementUnlocked", 20)
    assert system.token.settlementLocked(w.b0) == 40


def test_settlement_lock_refusals(system: System, agent, w):
    system.mint(w.b0, 100)
    system.govern(system.token, "freezePartialTokens", w.b0, 30, evidence=EVIDENCE)
    with boa.reverts("amount must be positive"):
        lock(system, agent, w.b0, 0)
    with boa.reverts("amount exceeds available balance"):
        lock(system, agent, w.b0, 71)  # 30 of 100 are frozen by governance
    lock(system, agent, w.b0, 70)
    with boa.reverts("amount exceeds available balance"):
        lock(system, agent, w.b0, 1)
    with boa.reverts("amount exceeds units locked for settlement"), boa.env.prank(agent):
        system.token.settlementUnlock(w.b0, 71)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.env.prank(agent):
        system.token.settlementUnlock(w.b0, 70)
    with boa.reverts("token has matured"):
        lock(system, agent, w.b0, 1)


def test_settlement_transfer_checks_every_rule(system: System, agent, w):
    system.mint(w.b0, 100)
    lock(system, agent, w.b0, 50)
    with boa.reverts("receiver investor category not eligible"), boa.env.prank(agent):
        system.token.settlementTransfer(w.b0, w.r, 50)
    with boa.reverts("amount exceeds units locked for settlement"), boa.env.prank(agent):
        system.token.settlementTransfer(w.b0, w.p, 51)
    with boa.env.prank(agent):
        system.token.settlementTransfer(w.b0, w.p, 50)
    assert names(system.token.get_logs()) == ["SettlementUnlocked", "Transfer"]
    assert (system.token.balanceOf(w.b0), system.token.balanceOf(w.p)) == (50, 50)
    assert system.token.settlementLocked(w.b0) == 0


def test_settlement_mint_checks_every_rule(system: System, agent, w):
    with boa.env.prank(agent):
        system.token.settlementMint(w.p, 10)
    assert system.token.balanceOf(w.p) == 10
    with boa.reverts("receiver investor category not eligible"), boa.env.prank(agent):
        system.token.settlementMint(w.r, 10)
    with boa.reverts("mint exceeds the statutory authorisation"), boa.env.prank(agent):
        system.token.settlementMint(w.p, MAX_UNITS)
    with boa.reverts("amount must be positive"), boa.env.prank(agent):
        system.token.settlementMint(w.p, 0)


# ---------------------------------------------------------------- locked units are untouchable


@pytest.fixture
def locked(system: System, agent, w):
    """b0 holds 100, 30 frozen by governance and 50 locked for settlement; 20 free."""
    system.mint(w.b0, 100)
    system.govern(system.token, "freezePartialTokens", w.b0, 30, evidence=EVIDENCE)
    lock(system, agent, w.b0, 50)
    assert system.token.getFrozenTokens(w.b0) == 30
    return w.b0


def test_locked_units_cannot_be_transferred(system: System, locked, w):
    system.assert_refused(locked, w.p, 21, Restriction.TOKENS_FROZEN)
    system.transfer(locked, w.p, 20)


def test_locked_units_cannot_be_burned(system: System, locked, w):
    with boa.reverts("tokens are locked for settlement"):
        system.govern(system.token, "burn", locked, 51, evidence=EVIDENCE)
    system.govern(
        system.token, "burn", locked, 50, evidence=EVIDENCE
    )  # the free 20 and the frozen 30
    assert system.token.balanceOf(locked) == 50
    assert system.token.getFrozenTokens(locked) == 0
    assert system.token.settlementLocked(locked) == 50


def test_locked_units_cannot_be_forced(system: System, locked, w):
    with boa.reverts("tokens are locked for settlement"):
        system.govern(system.token, "forcedTransfer", locked, w.p, 51, evidence=EVIDENCE)
    system.govern(system.token, "forcedTransfer", locked, w.p, 50, evidence=EVIDENCE)
    assert system.token.settlementLocked(locked) == 50


def test_locked_units_cannot_be_unfrozen_by_governance(system: System, locked):
    with boa.reverts("amount exceeds frozen tokens"):
        system.govern(system.token, "unfreezePartialTokens", locked, 31, evidence=EVIDENCE)
    system.govern(system.token, "unfreezePartialTokens", locked, 30, evidence=EVIDENCE)
    assert system.token.getFrozenTokens(locked) == 0
    assert system.token.settlementLocked(locked) == 50


def test_recovery_refused_while_units_are_locked(system: System, agent, locked, w):
    with boa.reverts("lost wallet has units locked for settlement"):
        system.govern(
            system.token, "recoveryAddress", locked, w.b1, ZERO_ADDRESS, evidence=EVIDENCE
        )
    with boa.env.prank(agent):
        system.token.settlementUnlock(locked, 50)
    system.govern(system.token, "recoveryAddress", locked, w.b1, ZERO_ADDRESS, evidence=EVIDENCE)
    assert system.token.balanceOf(w.b1) == 100


# ---------------------------------------------------------------- maturity


def test_mark_matured(system: System, w):
    system.mint(w.b0, 100)
    assert system.token.matured() is False
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    (event,) = system.logs(name="Matured")
    assert event.maturedAt == boa.env.timestamp
    assert system.token.matured() is True
    assert system.token.paused() is False
    with boa.reverts("token already matured or maturity date not reached"):
        system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.reverts("caller is not governance (agent)"), boa.env.prank(w.b0):
        system.token.markMatured()


def test_mark_matured_waits_for_the_maturity_stored_at_creation(system: System, w):
    """Issue 9: markMatured had no date check. The maturity date rides in the rules word the
    token is created with, survives rule changes and holds markMatured back until it."""
    asset = system.register_asset(legal_id="PK-GIS-2031")
    system.govern(system.areg, "setStatus", asset, 2)
    maturity = boa.env.timestamp + 90 * DAY
    with pytest.raises(InvalidInput, match="maturity 18446744073709551616 is not a unix time"):
        tokenize_args(asset, "Pakistan GIS 2031", "PGIS31", 0, BASE_RULES, 2**64)
    args = tokenize_args(asset, "Pakistan GIS 2031", "PGIS31", 0, BASE_RULES, maturity)
    system.govern(system.factory, "createToken", *args)  # as amanat proposes it
    token = system.d["AssetToken"].at(system.factory.tokenOf(asset))
    assert token.maturity() == maturity
    system.govern(token, "setRules", *BASE_RULES.set_rules_args())
    system.govern(token, "pause")
    assert (token.maturity(), token.paused()) == (maturity, True)
    boa.env.time_travel(seconds=maturity - boa.env.timestamp - 2)
    with boa.reverts("token already matured or maturity date not reached"):
        system.govern(token, "markMatured", evidence=EVIDENCE)
    assert token.matured() is False
    boa.env.time_travel(seconds=maturity - boa.env.timestamp)
    system.govern(token, "markMatured", evidence=EVIDENCE)
    assert (token.matured(), token.maturity()) == (True, maturity)
    assert system.token.maturity() == 0  # no fixed maturity: governance decides


def test_matured_token_refuses_transfers_and_mints(system: System, agent, w):
    system.mint(w.b0, 100)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    assert system.token.detectTransferRestriction(w.b0, w.p, 1) == 17
    assert system.token.messageForTransferRestriction(17) == "token has matured"
    assert REASONS[Restriction(17)] == "token has matured"
    system.assert_refused(w.b0, w.p, 1, Restriction(17))
    assert system.token.detectMintRestriction(w.p, 1) == 17
    with boa.reverts("token has matured"):
        system.mint(w.p, 1)
    with boa.reverts("token has matured"), boa.env.prank(agent):
        system.token.settlementMint(w.p, 1)
    # unpausing or changing the rules does not clear maturity
    system.govern(system.token, "pause")
    system.govern(system.token, "unpause")
    system.set_rules(lockup_until=0)
    assert system.token.matured() is True
    system.assert_refused(w.b0, w.p, 1, Restriction(17))


def test_redeem(system: System, w):
    distributor = system.distributor.address
    system.mint(w.b0, 100)
    system.govern(system.token, "freezePartialTokens", w.b0, 30, evidence=EVIDENCE)
    with boa.reverts("token has not matured"), boa.env.prank(distributor):
        system.token.redeem(w.b0, 10)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.env.prank(distributor):
        system.token.redeem(w.b0, 100)  # frozen units are redeemed too
    logs = system.token.get_logs()
    assert names(logs)[-1] == "Redeemed"
    assert (logs[-1].wallet, logs[-1].agent, logs[-1].amount) == (w.b0, distributor, 100)
    assert system.token.balanceOf(w.b0) == 0
    assert system.token.totalSupply() == 0
    with boa.reverts("amount must be positive"), boa.env.prank(distributor):
        system.token.redeem(w.b0, 0)
    with boa.reverts("insufficient balance"), boa.env.prank(distributor):
        system.token.redeem(w.b0, 1)


def test_redeem_cannot_consume_locked_units(system: System, agent, w):
    system.mint(w.b0, 100)
    lock(system, agent, w.b0, 40)
    system.govern(system.token, "markMatured", evidence=EVIDENCE)
    with boa.reverts("tokens are locked for settlement"), boa.env.prank(agent):
        system.token.redeem(w.b0, 100)
    with boa.env.prank(agent):
        system.token.redeem(w.b0, 60)
    assert system.token.balanceOf(w.b0) == 40


# ---------------------------------------------------------------- commodity reserves


@pytest.fixture
def commodity(system: System):
    aid = system.register_asset(legal_id="PK-GOLD-VAULT-1", max_units=10_000, asset_class=COMMODITY)
    system.govern(system.areg, "setStatus", aid, APPROVED)
    token = system.create_token(aid, name="State Gold Reserve", symbol="SGOLD")
    return aid, token


def test_attest_reserve(system: System, commodity):
    aid, _ = commodity
    with boa.env.prank(system.auditor):
        assert system.areg.attestReserve(aid, 4_000, h("vault report Q1")) == 0
    (event,) = system.areg.get_logs()
    assert (event.assetId, event.index, event.quantity, event.auditor, event.reportHash) == (
        aid,
        0,
        4_000,
        system.auditor,
        h("vault report Q1"),
    )
    with boa.env.prank(system.auditor):
        assert system.areg.attestReserve(aid, 3_500, h("vault report Q2")) == 1
    assert system.areg.attestationCount(aid) == 2
    assert system.areg.attestedReserve(aid) == 3_500
    first = system.areg.getAttestation(aid, 0)
    assert tuple(first) == (4_000, system.auditor, h("vault report Q1"), first.attestedAt)
    assert system.areg.mintingTerms(aid) == (TOKENIZED, 3_500)


def test_attest_reserve_refusals(system: System, commodity, w):
    aid, _ = commodity
    with boa.reverts("caller is not a reserve auditor"), boa.env.prank(w.out):
        system.areg.attestReserve(aid, 1, h("r"))
    with boa.env.prank(system.auditor):
        with boa.reverts("unknown asset"):
            system.areg.attestReserve(aid + 1, 1, h("r"))
        with boa.reverts("asset is not a commodity reserve"):
            system.areg.attestReserve(system.asset_id, 1, h("r"))
        with boa.reverts("attestation report hash is empty"):
            system.areg.attestReserve(aid, 1, ZERO32)


def test_commodity_minting_capped_by_attested_reserve(system: System, commodity, w):
    aid, token = commodity
    with boa.reverts("mint exceeds the statutory authorisation"):
        system.mint(w.b0, 1, token=token)  # nothing attested yet
    with boa.env.prank(system.auditor):
        system.areg.attestReserve(aid, 4_000, h("Q1"))
    with boa.reverts("mint exceeds the statutory authorisation"):
        system.mint(w.b0, 4_001, token=token)
    system.mint(w.b0, 3_000, token=token)
    with boa.env.prank(system.auditor):
        system.areg.attestReserve(aid, 2_500, h("Q2: a shortfall"))
    assert token.detectMintRestriction(w.b0, 1) == int(Restriction.AUTHORISATION_CAP)
    with boa.reverts("mint exceeds the statutory authorisation"):
        system.mint(w.b0, 1, token=token)
    with boa.env.prank(system.auditor):
        system.areg.attestReserve(aid, 20_000, h("Q3"))
    # the statutory authorisation still caps
    assert system.areg.mintingTerms(aid) == (TOKENIZED, 10_000)
    with boa.reverts("mint exceeds the statutory authorisation"):
        system.mint(w.b0, 7_001, token=token)
    system.mint(w.b0, 7_000, token=token)


def test_non_commodity_terms_ignore_reserves(system: System):
    assert system.areg.mintingTerms(system.asset_id) == (TOKENIZED, MAX_UNITS)


# ---------------------------------------------------------------- sukuk underlying


@pytest.fixture
def sukuk(system: System):
    building = system.register_asset(legal_id="PK-BLDG-ISB-7", asset_class=REAL_ESTATE)
    sukuk_id = system.register_asset(legal_id="PK-IJARA-2030", asset_class=SUKUK)
    return sukuk_id, building


def test_link_underlying(system: System, sukuk):
    sukuk_id, building = sukuk
    with boa.env.prank(system.issuer):
        system.areg.linkUnderlying(sukuk_id, building)
    (event,) = system.areg.get_logs()
    assert (event.sukukId, event.underlyingId) == (sukuk_id, building)
    assert system.areg.underlyingOf(sukuk_id) == building
    assert system.areg.outstandingSukuk(building) == 1


def test_link_underlying_refusals(system: System, sukuk, w):
    sukuk_id, building = sukuk
    other = system.register_asset(legal_id="PK-IJARA-2031", asset_class=SUKUK)
    retired = system.register_asset(legal_id="PK-LAND-OLD", asset_class=REAL_ESTATE)
    system.govern(system.areg, "setStatus", retired, RETIRED)
    with boa.reverts("caller is not an issuer"), boa.env.prank(w.out):
        system.areg.linkUnderlying(sukuk_id, building)
    with boa.env.prank(system.issuer):
        with boa.reverts("unknown asset"):
            system.areg.linkUnderlying(99, building)
        with boa.reverts("unknown asset"):
            system.areg.linkUnderlying(sukuk_id, 99)
        with boa.reverts("asset is not a sukuk"):
            system.areg.linkUnderlying(building, sukuk_id)
        with boa.reverts("underlying cannot be a sukuk"):
            system.areg.linkUnderlying(sukuk_id, other)
        with boa.reverts("underlying asset is retired"):
            system.areg.linkUnderlying(sukuk_id, retired)
        system.areg.linkUnderlying(sukuk_id, building)
        with boa.reverts("sukuk already has an underlying"):
            system.areg.linkUnderlying(sukuk_id, retired)
    system.govern(system.areg, "setStatus", other, APPROVED)
    with boa.reverts("sukuk is no longer proposed"), boa.env.prank(system.issuer):
        system.areg.linkUnderlying(other, building)


def test_underlying_cannot_be_retired_while_sukuk_outstanding(system: System, sukuk, w):
    sukuk_id, building = sukuk
    with boa.env.prank(system.issuer):
        system.areg.linkUnderlying(sukuk_id, building)
    system.govern(system.areg, "setStatus", sukuk_id, APPROVED)
    token = system.create_token(sukuk_id, name="Ijara 2030", symbol="IJ30")
    system.mint(w.b0, 10, token=token)
    with boa.reverts("asset backs an outstanding sukuk"):
        system.govern(system.areg, "setStatus", building, RETIRED)
    with boa.reverts("token has not matured"):
        system.govern(system.areg, "setStatus", sukuk_id, REDEEMED)
    system.govern(token, "markMatured", evidence=EVIDENCE)
    with boa.reverts("units are still outstanding"):
        system.govern(system.areg, "setStatus", sukuk_id, REDEEMED)
    system.govern(token, "burn", w.b0, 10, evidence=EVIDENCE)
    system.govern(system.areg, "setStatus", sukuk_id, REDEEMED)
    assert system.areg.outstandingSukuk(building) == 0
    system.govern(system.areg, "setStatus", sukuk_id, RETIRED)  # no double release
    assert system.areg.outstandingSukuk(building) == 0
    system.govern(system.areg, "setStatus", building, RETIRED)
    assert system.areg.getAsset(building).status == RETIRED


def test_retiring_a_proposed_sukuk_releases_its_underlying(system: System, sukuk):
    sukuk_id, building = sukuk
    with boa.env.prank(system.issuer):
        system.areg.linkUnderlying(sukuk_id, building)
    system.govern(system.areg, "setStatus", sukuk_id, RETIRED)
    assert system.areg.outstandingSukuk(building) == 0
    system.govern(system.areg, "setStatus", building, RETIRED)


def test_one_underlying_backs_two_sukuk(system: System, sukuk):
    sukuk_id, building = sukuk
    second = system.register_asset(legal_id="PK-IJARA-2035", asset_class=SUKUK)
    with boa.env.prank(system.issuer):
        system.areg.linkUnderlying(sukuk_id, building)
        system.areg.linkUnderlying(second, building)
    assert system.areg.outstandingSukuk(building) == 2
    system.govern(system.areg, "setStatus", sukuk_id, RETIRED)
    with boa.reverts("asset backs an outstanding sukuk"):
        system.govern(system.areg, "setStatus", building, RETIRED)
    system.govern(system.areg, "setStatus", second, RETIRED)
    system.govern(system.areg, "setStatus", building, RETIRED)


def test_constructor_defaults_when_no_agents(system: System):
    reg = deploy(system.d["AssetRegistry"], governance=system.gov.address)
    assert reg.isSettlementAgent(system.settlement.address) is False
    assert reg.isReserveAuditor(system.auditor) is False


def test_detect_eligibility(system: System, w):
    tok = system.token
    assert tok.detectEligibility(w.b0) == int(Restriction.OK)
    assert tok.detectEligibility(w.r) == int(Restriction.CATEGORY_NOT_ELIGIBLE)
    assert tok.detectEligibility(w.out) == int(Restriction.RECEIVER_NOT_VERIFIED)
    system.govern(tok, "setAddressFrozen", w.p, True, evidence=EVIDENCE)
    assert tok.detectEligibility(w.p) == int(Restriction.RECEIVER_FROZEN)
    system.govern(tok, "markMatured", evidence=EVIDENCE)
    assert tok.detectEligibility(w.b0) == 17
