"""Fixtures for the Amanat contract suite (titanoboa, in-process EVM).

One session-wide deployment is built once (Governance 2-of-3 with zero
timelocks, registries, factory, one tokenized asset and a set of onboarded
institutions); every test runs inside `boa.env.anchor()`, so state changes
never leak from one test to the next.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boa
import pytest
from eth._utils.address import generate_contract_address
from eth_abi import encode as abi_encode
from eth_utils import (
    function_signature_to_4byte_selector,
    keccak,
    to_canonical_address,
    to_checksum_address,
)
from vyper.compiler.output import build_abi_output

from amanat.chain.artifacts import CONTRACT_NAMES
from amanat.domain.governance import GOVERNED_FUNCTIONS, ActionType
from amanat.domain.identity import COUNTRY_CODES, InvestorCategory
from amanat.domain.restrictions import REASONS, Restriction
from amanat.domain.rules import MATURITY_SHIFT, TokenRules

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\x00" * 32
# DvP terms (seller, buyer, token, units, cash, deadline) of no instruction
NO_TERMS = (ZERO_ADDRESS, ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0)
DAY = 86_400
YEAR = 365 * DAY
LIFETIME = 7 * DAY

PK = COUNTRY_CODES["PK"]  # 586, domestic
AE = COUNTRY_CODES["AE"]  # 784
GB = COUNTRY_CODES["GB"]  # 826

MAX_UNITS = 1_000_000
MASK_96 = 2**96 - 1

# Every category except retail may hold the pilot token.
ELIGIBLE = frozenset(c for c in InvestorCategory if c is not InvestorCategory.RETAIL)
BASE_RULES = TokenRules(eligible_categories=ELIGIBLE)


@pytest.fixture(autouse=True, scope="module")
def _fresh_storage_traces() -> None:
    """titanoboa keeps every storage key and hash preimage it has seen, to print a reverting
    contract's storage; keys left by another module's contracts can make that printing crash
    inside titanoboa (`'IntegerT' object has no attribute 'key_type'`), so each module starts
    with empty traces (they serve only that printing)."""
    boa.env.sha3_trace = {}
    boa.env.sstore_trace = {}


def h(text: str) -> bytes:
    """A 32-byte hash (evidence, KYC record, document) derived from a label."""
    return keccak(text.encode())


EVIDENCE = h("Islamabad High Court order W.P. 1234/2025")


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


# ---------------------------------------------------------------- payouts and bids


def payout_leaf(
    token: str, record_block: int, index: int, holder: str, units: int, amount: int
) -> bytes:
    """Distributor leaf: keccak256(abi_encode(token, recordBlock, index, holder, units, amount))."""
    return keccak(
        abi_encode(
            ["address", "uint256", "uint256", "address", "uint256", "uint256"],
            [token, record_block, index, holder, units, amount],
        )
    )


@dataclasses.dataclass(frozen=True)
class Payout:
    index: int
    holder: str
    units: int
    amount: int


class PayoutTree:
    """Test-local payout Merkle tree as documented in Distributor.vy: a perfect tree of
    2**depth leaves padded with zero leaves, node = keccak(left ++ right) by position."""

    def __init__(
        self,
        token: str,
        record_block: int,
        rows: list[tuple[str, int, int]],
        depth: int | None = None,
    ):
        assert rows, "a payout list has at least one row"
        if depth is None:
            depth = max(0, (len(rows) - 1).bit_length())
        assert len(rows) <= 1 << depth
        self.token = str(token)
        self.record_block = record_block
        self.depth = depth
        self.payouts = [
            Payout(i, holder, units, amount) for i, (holder, units, amount) in enumerate(rows)
        ]
        leaves = [
            payout_leaf(self.token, record_block, p.index, p.holder, p.units, p.amount)
            for p in self.payouts
        ]
        leaves += [ZERO32] * ((1 << depth) - len(leaves))
        self.levels = [leaves]
        while len(self.levels[-1]) > 1:
            prev = self.levels[-1]
            self.levels.append([keccak(prev[i] + prev[i + 1]) for i in range(0, len(prev), 2)])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    @property
    def total(self) -> int:
        return sum(p.amount for p in self.payouts)

    def proof(self, index: int) -> list[bytes]:
        return [self.levels[k][(index >> k) ^ 1] for k in range(self.depth)]

    def batch(self, indices: Iterable[int]) -> tuple[list, list, list, list, list]:
        """(indices, holders, units, amounts, flat proofs) for Distributor.pay."""
        idx = list(indices)
        rows = [self.payouts[i] for i in idx]
        flat = [node for i in idx for node in self.proof(i)]
        return (
            idx,
            [r.holder for r in rows],
            [r.units for r in rows],
            [r.amount for r in rows],
            flat,
        )


def bid_commitment(
    auction_id: int, bidder: str, units: int, yield_micro: int, competitive: bool, salt: bytes
) -> bytes:
    """Auction commitment: keccak256(abi_encode(auctionId, bidder, units, yieldMicro,
    competitive, salt))."""
    return keccak(
        abi_encode(
            ["uint256", "address", "uint256", "uint256", "bool", "bytes32"],
            [auction_id, bidder, units, yield_micro, competitive, salt],
        )
    )


def _next_create_addresses(count: int) -> list[str]:
    """Addresses of the next `count` contracts boa's default sender will create."""
    sender = to_canonical_address(str(boa.env.eoa))
    nonce = boa.env.evm.vm.state.get_nonce(sender)
    return [to_checksum_address(generate_contract_address(sender, nonce + i)) for i in range(count)]


# ---------------------------------------------------------------- deployment


def _ctor_default(abi_type: str) -> Any:
    if abi_type.endswith("]"):
        return []
    if abi_type == "address":
        return ZERO_ADDRESS
    if abi_type == "bool":
        return False
    if abi_type.startswith("bytes"):
        return b"\x00" * int(abi_type[5:] or 0)
    if abi_type == "string":
        return ""
    return 0


def deploy(deployer: Any, **named: Any) -> Any:
    """Deploy with constructor arguments given by parameter name (trailing `_` optional);
    parameters not given get a neutral default (empty list, zero address, 0)."""
    abi = build_abi_output(deployer.compiler_data)
    inputs = next((x["inputs"] for x in abi if x.get("type") == "constructor"), [])
    args = []
    remaining = dict(named)
    for param in inputs:
        key = param["name"]
        for candidate in (key, key.rstrip("_")):
            if candidate in remaining:
                args.append(remaining.pop(candidate))
                break
        else:
            args.append(_ctor_default(param["type"]))
    assert not remaining, f"unknown constructor parameters {sorted(remaining)}"
    return deployer.deploy(*args)


def governance_ctor_args(
    officials: list[str],
    threshold: int,
    timelocks: dict[ActionType, int] | None = None,
) -> dict[str, Any]:
    timelocks = {t: s for t, s in (timelocks or {}).items() if s}
    return {
        "officials": officials,
        "threshold": threshold,
        "selectors": [selector(s) for s in GOVERNED_FUNCTIONS],
        "actionTypes": [int(g.action) for g in GOVERNED_FUNCTIONS.values()],
        "affectsHolderProperty": [g.affects_holder_property for g in GOVERNED_FUNCTIONS.values()],
        "delayTypes": [int(t) for t in timelocks],
        "delaySeconds": list(timelocks.values()),
    }


@pytest.fixture(scope="session")
def deployers() -> dict[str, Any]:
    return {name: boa.load_partial(str(CONTRACTS_DIR / f"{name}.vy")) for name in CONTRACT_NAMES}


# ---------------------------------------------------------------- the system


@dataclasses.dataclass
class Identity:
    number: int
    country: int
    category: int
    wallets: list[str]


class RecordingInstruct:
    """`Settlement.instruct` that remembers each instruction's terms: the contract stores only
    their hash (Amanat reads the terms from `DvPInstructed`), and every later step is passed
    them. Ids restart in every test (anchored state), so the latest instruction wins."""

    def __init__(self, instruct: Any, terms: dict[int, tuple]):
        self._instruct = instruct
        self._terms = terms

    def __call__(self, token: str, buyer: str, units: int, cash: int, deadline: int, **kw: Any):
        seller = kw.get("sender") or boa.env.eoa
        instruction_id = self._instruct(token, buyer, units, cash, deadline, **kw)
        self._terms[instruction_id] = (
            to_checksum_address(seller),
            to_checksum_address(buyer),
            to_checksum_address(str(token)),
            units,
            cash,
            deadline,
        )
        return instruction_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._instruct, name)


class System:
    """Handles on every deployed contract plus helpers that act through governance."""

    def __init__(self, deployers: dict[str, Any]):
        env = boa.env
        self.d = deployers
        self.calls: dict[bytes, tuple[str, bytes, bytes]] = {}  # proposed calls by their hash
        self.officials = [env.generate_address(f"official{i}") for i in range(1, 4)]
        self.outsider = env.generate_address("outsider")
        self.registrar = env.generate_address("registrar")
        self.issuer = env.generate_address("issuer")
        self.valuer = env.generate_address("valuer")
        self.auditor = env.generate_address("auditor")

        self.gov = deploy(deployers["Governance"], **governance_ctor_args(self.officials, 2))
        # Wired like amanat.chain.deploy: the identity registry knows the asset registry, which
        # lists the settlement contracts as agents (addresses precomputed); the cash token lists
        # them too and lets the distributor draw on the treasury (the governance contract).
        (
            idreg_at,
            areg_at,
            _blueprint_at,
            _factory_at,
            cash_at,
            settlement_at,
            auction_at,
            distributor_at,
        ) = _next_create_addresses(8)
        self.idreg = deploy(
            deployers["IdentityRegistry"],
            governance=self.gov.address,
            assetRegistry=areg_at,
            cashToken=cash_at,
        )
        assert str(self.idreg.address) == idreg_at, "address prediction"
        self.agents = [settlement_at, auction_at, distributor_at]
        self.areg = deploy(
            deployers["AssetRegistry"],
            governance=self.gov.address,
            reserveAuditors=[self.auditor],
            settlementAgents=self.agents,
        )
        self.blueprint = deployers["AssetToken"].deploy_as_blueprint()
        self.factory = deploy(
            deployers["TokenFactory"],
            governance=self.gov.address,
            identityRegistry=self.idreg.address,
            assetRegistry=self.areg.address,
            tokenBlueprint=self.blueprint.address,
        )
        self.cash = deploy(
            deployers["CashToken"],
            name="Pakistan Rupee Deposit Token",
            symbol="PKRT",
            decimals=2,
            identityRegistry=self.idreg.address,
            governance=self.gov.address,
            agents=self.agents,
            treasurySpender=distributor_at,
        )
        self.settlement = deploy(
            deployers["Settlement"], assetRegistry=self.areg.address, cashToken=self.cash.address
        )
        self.dvp_terms: dict[int, tuple] = {}
        self.settlement.instruct = RecordingInstruct(self.settlement.instruct, self.dvp_terms)
        self.auction = deploy(
            deployers["Auction"],
            assetRegistry=self.areg.address,
            cashToken=self.cash.address,
            governance=self.gov.address,
        )
        self.distributor = deploy(
            deployers["Distributor"], cashToken=self.cash.address, governance=self.gov.address
        )
        deployed = (self.areg, self.cash, self.settlement, self.auction, self.distributor)
        expected = (areg_at, cash_at, settlement_at, auction_at, distributor_at)
        assert [str(c.address) for c in deployed] == list(expected), "address prediction"

        # roles through governance
        self.govern(self.idreg, "setRegistrar", self.registrar, True)
        self.govern(self.areg, "setIssuer", self.issuer, True)
        self.govern(self.areg, "setValuer", self.valuer, True)
        self.govern(self.areg, "setTokenFactory", self.factory.address, evidence=EVIDENCE)

        # one approved, tokenized asset
        self.asset_id = self.register_asset(legal_id="PK-GIS-2030", max_units=MAX_UNITS)
        self.govern(self.areg, "setStatus", self.asset_id, 2)
        self.token = self.create_token(self.asset_id, BASE_RULES)

        # onboarded institutions
        self.bank = self.onboard("bank", PK, InvestorCategory.BANK, wallets=2)
        self.pension = self.onboard("pension", PK, InvestorCategory.PENSION_FUND)
        self.insurer = self.onboard("insurer", PK, InvestorCategory.INSURER)
        self.gulf = self.onboard("gulf", AE, InvestorCategory.FOREIGN_INSTITUTION)
        self.london = self.onboard("london", GB, InvestorCategory.FOREIGN_INSTITUTION)
        self.retail = self.onboard("retail", PK, InvestorCategory.RETAIL)

    def terms(self, instruction_id: int) -> tuple:
        """A DvP instruction's terms (seller, buyer, token, units, cash, deadline) as
        `DvPInstructed` carried them; an unknown id gets the zero terms."""
        return self.dvp_terms.get(instruction_id, NO_TERMS)

    # ------------------------------------------------------------ governance

    def propose(
        self,
        target: Any,
        fn_name: str,
        *args: Any,
        evidence: bytes = b"",
        proposer: int = 0,
        lifetime: int = LIFETIME,
    ) -> int:
        calldata = getattr(target, fn_name).prepare_calldata(*args)
        return self.propose_call(target.address, calldata, evidence, proposer, lifetime)

    def propose_call(
        self,
        target: str,
        calldata: bytes,
        evidence: bytes = b"",
        proposer: int = 0,
        lifetime: int = LIFETIME,
    ) -> int:
        """Propose raw call data, remembering the call so `execute` can pass it (governance
        stores only its hash, as `ProposalCreated` records it)."""
        self.remember_call(target, calldata, evidence)
        with boa.env.prank(self.officials[proposer]):
            return self.gov.propose(target, calldata, evidence or ZERO32, lifetime)

    def remember_call(self, target: str, calldata: bytes, evidence: bytes = b"") -> None:
        call = (to_checksum_address(target), calldata, evidence or ZERO32)
        self.calls[keccak(abi_encode(["address", "bytes", "bytes32"], call))] = call

    def call_of(self, proposal_id: int) -> tuple[str, bytes, bytes]:
        """The call of a proposal made through `propose_call` (any call for an unknown one)."""
        return self.calls.get(
            self.gov.getProposal(proposal_id).callHash, (self.gov.address, b"", ZERO32)
        )

    def approve(self, proposal_id: int, official: int = 1) -> None:
        with boa.env.prank(self.officials[official]):
            self.gov.approve(proposal_id)

    def execute(self, proposal_id: int, official: int = 1) -> None:
        with boa.env.prank(self.officials[official]):
            self.gov.execute(proposal_id, *self.call_of(proposal_id))

    def govern(self, target: Any, fn_name: str, *args: Any, evidence: bytes = b"") -> int:
        """Official 1 proposes, official 2 approves, wait out the timelock, execute."""
        calldata = getattr(target, fn_name).prepare_calldata(*args)
        pid = self.propose_call(target.address, calldata, evidence)
        self.approve(pid)
        wait = self.gov.getProposal(pid).readyAt - boa.env.timestamp
        if wait > 0:
            boa.env.time_travel(seconds=wait)
        with boa.env.prank(self.officials[1]):
            self.gov.execute(pid, target.address, calldata, evidence or ZERO32)
        return pid

    def logs(self, contract: Any = None, name: str | None = None) -> list[Any]:
        """Decoded logs of the last call made through `contract` (default: governance)."""
        entries = (contract or self.gov).get_logs(strict=False)
        return [e for e in entries if name is None or type(e).__name__ == name]

    def role_set_events(self, contract: Any = None) -> list[tuple[bytes, str, bool]]:
        """RoleSet(indexed string role, indexed address, bool) cannot be decoded by boa (the
        role is a hashed topic): return (keccak(role), account, enabled) tuples."""
        topic0 = int.from_bytes(keccak(b"RoleSet(string,address,bool)"), "big")
        out = []
        for e in (contract or self.gov).get_logs(strict=False):
            if getattr(e, "topics", None) and e.topics[0] == topic0:
                account = "0x" + e.topics[2].to_bytes(32, "big")[12:].hex()
                out.append(
                    (
                        e.topics[1].to_bytes(32, "big"),
                        to_checksum_address(account),
                        bool(int.from_bytes(e.data[:32], "big")),
                    )
                )
        return out

    # ------------------------------------------------------------ assets and tokens

    def register_asset(
        self,
        legal_id: str = "PK-BOND-1",
        max_units: int = MAX_UNITS,
        asset_class: int = 2,
    ) -> int:
        with boa.env.prank(self.issuer):
            return self.areg.registerAsset(
                asset_class,
                legal_id,
                f"Asset {legal_id}",
                "Ministry of Finance",
                f"SRO {legal_id}",
                h(f"authorisation {legal_id}"),
                max_units,
            )

    def create_token(
        self,
        asset_id: int,
        rules: TokenRules = BASE_RULES,
        name: str = "Pakistan GIS 2030",
        symbol: str = "PGIS30",
        decimals: int = 0,
        maturity: int = 0,
    ) -> Any:
        self.govern(
            self.factory,
            "createToken",
            asset_id,
            name,
            symbol,
            decimals,
            rules.rules_word() | maturity << MATURITY_SHIFT,
            rules.limits_word(),
            list(rules.countries),
        )
        return self.d["AssetToken"].at(self.factory.tokenOf(asset_id))

    # ------------------------------------------------------------ identities

    def onboard(
        self,
        label: str,
        country: int,
        category: int,
        wallets: int = 1,
        expiry: int | None = None,
    ) -> Identity:
        addrs = [boa.env.generate_address(f"{label}{i}") for i in range(wallets)]
        if expiry is None:
            expiry = boa.env.timestamp + YEAR
        with boa.env.prank(self.registrar):
            number = self.idreg.registerIdentity(
                h(f"kyc {label}"), country, int(category), expiry, addrs
            )
        return Identity(number, country, int(category), addrs)

    def update_identity(
        self,
        ident: Identity,
        country: int | None = None,
        category: int | None = None,
        expiry: int | None = None,
    ) -> None:
        """Registrar update; fields not given keep the identity's onboarding values. A change of
        country or category of an identity holding units of the pilot token goes through
        governance, as the registry requires."""
        if expiry is None:
            expiry = boa.env.timestamp + YEAR
        args = (
            ident.number,
            h(f"kyc {ident.number} renewed"),
            ident.country if country is None else country,
            ident.category if category is None else int(category),
            expiry,
        )
        reclassified = args[2:4] != tuple(self.idreg.identityOf(ident.number))[0:2]
        if reclassified and self.token.identityHolding(ident.number):
            self.govern(self.idreg, "updateIdentity", *args)
            return
        with boa.env.prank(self.registrar):
            self.idreg.updateIdentity(*args)

    # ------------------------------------------------------------ cash

    def issue_cash(self, wallet: str, amount: int, reference: str = "deposit") -> None:
        """Governance issues cash against an off-chain deposit."""
        self.govern(self.cash, "issueCash", wallet, amount, h(f"{reference} {wallet} {amount}"))

    def fund_treasury(self, amount: int) -> None:
        self.issue_cash(self.gov.address, amount, reference="treasury")

    # ------------------------------------------------------------ token actions

    def mint(self, wallet: str, amount: int, token: Any = None) -> None:
        self.govern(token or self.token, "mint", wallet, amount)

    def transfer(self, sender: str, receiver: str, amount: int, token: Any = None) -> None:
        with boa.env.prank(sender):
            assert (token or self.token).transfer(receiver, amount) is True

    def set_rules(self, token: Any = None, **changes: Any) -> TokenRules:
        rules = dataclasses.replace(BASE_RULES, **changes)
        tok = token or self.token
        self.govern(tok, "setRules", *rules.set_rules_args())
        if rules.holding_cap or rules.minimum_holding:
            self.govern(tok, "setHoldingLimits", rules.holding_cap, rules.minimum_holding)
        if rules.countries:
            self.govern(tok, "setCountriesListed", list(rules.countries), True)
        return rules

    def assert_refused(
        self, sender: str, receiver: str, amount: int, code: Restriction, token: Any = None
    ) -> None:
        tok = token or self.token
        assert Restriction(tok.detectTransferRestriction(sender, receiver, amount)) == code
        assert tok.canTransfer(sender, receiver, amount) is False
        with boa.reverts(REASONS[code]), boa.env.prank(sender):
            tok.transfer(receiver, amount)

    def assert_allowed(self, sender: str, receiver: str, amount: int, token: Any = None) -> None:
        tok = token or self.token
        assert (
            Restriction(tok.detectTransferRestriction(sender, receiver, amount)) == Restriction.OK
        )
        assert tok.canTransfer(sender, receiver, amount) is True


@pytest.fixture(scope="session")
def _base_system(deployers: dict[str, Any]) -> System:
    boa.env.enable_fast_mode(True)
    try:
        return System(deployers)
    finally:
        boa.env.enable_fast_mode(False)


@pytest.fixture(autouse=True)
def _isolate(_base_system: System) -> Iterable[None]:
    """Every test starts from the session deployment and leaves no trace. Fast mode (no
    py-evm account-touch journal) only while this suite's tests run."""
    boa.env.enable_fast_mode(True)
    try:
        with boa.env.anchor():
            yield
    finally:
        boa.env.enable_fast_mode(False)


@pytest.fixture
def system(_base_system: System) -> System:
    return _base_system


@pytest.fixture
def w(system):
    """Short names for the onboarded wallets."""

    class W:
        b0, b1 = system.bank.wallets  # one identity, two wallets (domestic bank)
        p = system.pension.wallets[0]  # domestic pension fund
        i = system.insurer.wallets[0]  # domestic insurer
        g = system.gulf.wallets[0]  # AE foreign institution
        lon = system.london.wallets[0]  # GB foreign institution
        r = system.retail.wallets[0]  # domestic retail: not eligible under BASE_RULES
        out = system.outsider  # not registered

    return W
