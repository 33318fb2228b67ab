"""AssetRegistry: roles, registration, authorisation, documents, valuations, lifecycle."""

from __future__ import annotations

import itertools

import boa
import pytest
from eth_utils import keccak

from amanat.domain.assets import AssetStatus

from .conftest import EVIDENCE, MAX_UNITS, ZERO32, ZERO_ADDRESS, System, deploy, h

PROPOSED, APPROVED, TOKENIZED, REDEEMED, RETIRED = (int(s) for s in AssetStatus)

ALLOWED = {
    (PROPOSED, APPROVED),
    (TOKENIZED, REDEEMED),
    (PROPOSED, RETIRED),
    (APPROVED, RETIRED),
    (REDEEMED, RETIRED),
}


def refusal(current: int, target: int) -> str:
    if target == APPROVED:
        return "only a proposed asset can be approved"
    if target == REDEEMED:
        return "only a tokenized asset can be redeemed"
    if target == RETIRED:
        return (
            "a tokenized asset must be redeemed first"
            if current == TOKENIZED
            else "asset already retired"
        )
    return "status change not allowed"


def asset_in_status(system: System, status: int) -> int:
    """A fresh asset brought to `status` along the lifecycle."""
    aid = system.register_asset(legal_id=f"LC-{system.areg.assetCount() + 1}")
    if status == RETIRED:
        system.govern(system.areg, "setStatus", aid, RETIRED)
        return aid
    if status >= APPROVED:
        system.govern(system.areg, "setStatus", aid, APPROVED)
    if status >= TOKENIZED:
        token = system.create_token(aid, symbol=f"LC{aid}")
    if status >= REDEEMED:
        system.govern(token, "markMatured", evidence=EVIDENCE)
        system.govern(system.areg, "setStatus", aid, REDEEMED)
    assert system.areg.getAsset(aid).status == status
    return aid


def register_args(**overrides):
    args = {
        "assetClass": 5,
        "legalId": "ISB-F7-PLOT-12",
        "name": "Plot 12, F-7 Islamabad",
        "ministry": "Ministry of Housing",
        "authorisationRef": "Cabinet decision 45/2025",
        "authorisationHash": h("cabinet 45/2025"),
        "maxUnits": 10_000,
    }
    args.update(overrides)
    return list(args.values())


# ---------------------------------------------------------------- construction and roles


def test_constructor(deployers, system):
    with boa.reverts("governance is the zero address"):
        deploy(deployers["AssetRegistry"], governance=ZERO_ADDRESS)
    issuer, valuer, factory = (boa.env.generate_address() for _ in range(3))
    reg = deploy(
        deployers["AssetRegistry"],
        governance=system.gov.address,
        issuers=[issuer],
        valuers=[valuer],
        tokenFactory=factory,
    )
    assert reg.governance() == system.gov.address
    assert reg.isIssuer(issuer) and not reg.isIssuer(valuer)
    assert reg.isValuer(valuer) and not reg.isValuer(issuer)
    assert reg.tokenFactory() == factory
    assert reg.assetCount() == 0


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        ("setIssuer", ("who", True)),
        ("setValuer", ("who", True)),
        ("setTokenFactory", ("who",)),
        ("setAuthorisation", (1, "ref", b"\x01" * 32, 10)),
        ("acceptValuation", (1, 0)),
        ("setStatus", (1, RETIRED)),
    ],
)
def test_governance_only_functions(system, fn, args):
    args = tuple(system.outsider if a == "who" else a for a in args)
    for caller in (system.officials[0], system.issuer, system.outsider):
        with boa.reverts("caller is not governance"), boa.env.prank(caller):
            getattr(system.areg, fn)(*args)


@pytest.mark.parametrize(
    ("fn", "getter", "role"),
    [("setIssuer", "isIssuer", "issuer"), ("setValuer", "isValuer", "valuer")],
)
def test_set_issuer_and_valuer(system, fn, getter, role):
    who = boa.env.generate_address()
    system.govern(system.areg, fn, who, True)
    assert system.role_set_events() == [(keccak(role.encode()), who, True)]
    assert getattr(system.areg, getter)(who)
    system.govern(system.areg, fn, who, False)
    assert system.role_set_events() == [(keccak(role.encode()), who, False)]
    assert not getattr(system.areg, getter)(who)


def test_set_token_factory(system):
    new = system.auction.address  # any contract; an ordinary key is refused
    system.govern(system.areg, "setTokenFactory", new, evidence=EVIDENCE)
    assert system.role_set_events() == [(keccak(b"tokenFactory"), new, True)]
    assert system.areg.tokenFactory() == new


def test_removed_issuer_cannot_register(system):
    system.govern(system.areg, "setIssuer", system.issuer, False)
    with boa.reverts("caller is not an issuer"), boa.env.prank(system.issuer):
        system.areg.registerAsset(*register_args())


# ---------------------------------------------------------------- registerAsset


def test_register_asset(system):
    reg = system.areg
    count = reg.assetCount()
    with boa.env.prank(system.issuer):
        aid = reg.registerAsset(*register_args())
    logs = reg.get_logs()
    assert aid == count + 1 == reg.assetCount()
    asset = reg.getAsset(aid)
    assert (
        asset.assetClass,
        asset.status,
        asset.legalId,
        asset.name,
        asset.ministry,
        asset.token,
        asset.authorisationRef,
        asset.authorisationHash,
        asset.maxUnits,
    ) == (
        5,
        PROPOSED,
        "ISB-F7-PLOT-12",
        "Plot 12, F-7 Islamabad",
        "Ministry of Housing",
        ZERO_ADDRESS,
        "Cabinet decision 45/2025",
        h("cabinet 45/2025"),
        10_000,
    )
    assert reg.mintingTerms(aid) == (PROPOSED, 10_000)
    assert [type(e).__name__ for e in logs] == [
        "AssetRegistered",
        "AuthorisationSet",
        "StatusChanged",
    ]
    registered, authorised, status = logs
    assert (registered.assetId, registered.assetClass, registered.legalId, registered.issuer) == (
        aid,
        5,
        "ISB-F7-PLOT-12",
        system.issuer,
    )
    assert (
        authorised.assetId,
        authorised.reference,
        authorised.documentHash,
        authorised.maxUnits,
    ) == (aid, "Cabinet decision 45/2025", h("cabinet 45/2025"), 10_000)
    assert (status.assetId, status.previous, status.status) == (aid, 0, PROPOSED)
    assert reg.documentCount(aid) == 0 and reg.valuationCount(aid) == 0
    assert reg.latestAcceptedValuation(aid) == 0


@pytest.mark.parametrize("asset_class", [1, 2, 3, 4, 5, 6])
def test_register_every_asset_class(system, asset_class):
    with boa.env.prank(system.issuer):
        aid = system.areg.registerAsset(*register_args(assetClass=asset_class))
    assert system.areg.getAsset(aid).assetClass == asset_class


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"assetClass": 0}, "unknown asset class"),
        ({"assetClass": 7}, "unknown asset class"),
        ({"legalId": ""}, "legal identifier is empty"),
        ({"authorisationRef": ""}, "authorisation reference is empty"),
        ({"authorisationHash": ZERO32}, "authorisation document hash is empty"),
        ({"maxUnits": 0}, "authorised units must be positive"),
    ],
)
def test_register_asset_rejects(system, overrides, message):
    with boa.reverts(message), boa.env.prank(system.issuer):
        system.areg.registerAsset(*register_args(**overrides))


def test_register_asset_not_issuer(system):
    for caller in (system.outsider, system.valuer, system.gov.address):
        with boa.reverts("caller is not an issuer"), boa.env.prank(caller):
            system.areg.registerAsset(*register_args())


def test_register_asset_allows_empty_name_and_ministry(system):
    with boa.env.prank(system.issuer):
        aid = system.areg.registerAsset(*register_args(name="", ministry=""))
    assert system.areg.getAsset(aid).name == ""


# ---------------------------------------------------------------- setAuthorisation


def test_set_authorisation_before_tokenization_any_cap(system):
    aid = system.register_asset(legal_id="AUTH-1", max_units=500)
    system.govern(system.areg, "setAuthorisation", aid, "Amended act", h("amended"), 100)
    (event,) = system.logs(name="AuthorisationSet")
    assert (event.assetId, event.reference, event.documentHash, event.maxUnits) == (
        aid,
        "Amended act",
        h("amended"),
        100,
    )
    asset = system.areg.getAsset(aid)
    assert (asset.authorisationRef, asset.authorisationHash, asset.maxUnits) == (
        "Amended act",
        h("amended"),
        100,
    )


def test_set_authorisation_cannot_drop_below_supply(system):
    aid = system.asset_id
    system.mint(system.bank.wallets[0], 700)
    with boa.reverts("cap below units issued"):
        system.govern(system.areg, "setAuthorisation", aid, "Cut", h("cut"), 699)
    system.govern(system.areg, "setAuthorisation", aid, "Cut", h("cut"), 700)
    assert system.areg.mintingTerms(aid) == (TOKENIZED, 700)
    system.govern(system.areg, "setAuthorisation", aid, "Raise", h("raise"), MAX_UNITS * 2)
    assert system.areg.mintingTerms(aid) == (TOKENIZED, MAX_UNITS * 2)


@pytest.mark.parametrize(
    ("asset", "ref", "doc", "message"),
    [
        (0, "ref", b"\x01" * 32, "unknown asset"),
        (99, "ref", b"\x01" * 32, "unknown asset"),
        (1, "", b"\x01" * 32, "authorisation reference is empty"),
        (1, "ref", ZERO32, "authorisation document hash is empty"),
    ],
)
def test_set_authorisation_rejects(system, asset, ref, doc, message):
    with boa.reverts(message):
        system.govern(system.areg, "setAuthorisation", asset, ref, doc, 10)


# ---------------------------------------------------------------- documents


def test_attach_document(system):
    aid = system.asset_id
    for i, kind in enumerate((1, 2, 3, 4)):
        with boa.env.prank(system.issuer):
            system.areg.attachDocument(aid, kind, h(f"doc {kind}"))
        (event,) = system.areg.get_logs()
        assert (event.assetId, event.kind, event.contentHash, event.addedBy) == (
            aid,
            kind,
            h(f"doc {kind}"),
            system.issuer,
        )
        doc = system.areg.getDocument(aid, i)
        assert (doc.kind, doc.contentHash, doc.addedBy, doc.addedAt) == (
            kind,
            h(f"doc {kind}"),
            system.issuer,
            boa.env.timestamp,
        )
        boa.env.time_travel(seconds=60)
    assert system.areg.documentCount(aid) == 4


@pytest.mark.parametrize(
    ("asset", "kind", "doc", "message"),
    [
        (0, 1, b"\x01" * 32, "unknown asset"),
        (99, 1, b"\x01" * 32, "unknown asset"),
        (1, 0, b"\x01" * 32, "unknown document kind"),
        (1, 5, b"\x01" * 32, "unknown document kind"),
        (1, 1, ZERO32, "document hash is empty"),
    ],
)
def test_attach_document_rejects(system, asset, kind, doc, message):
    with boa.reverts(message), boa.env.prank(system.issuer):
        system.areg.attachDocument(asset, kind, doc)


def test_attach_document_not_issuer(system):
    with boa.reverts("caller is not an issuer"), boa.env.prank(system.valuer):
        system.areg.attachDocument(1, 1, h("doc"))


# ---------------------------------------------------------------- valuations


def submit(system: System, aid: int, amount: int, when: int | None = None) -> int:
    with boa.env.prank(system.valuer):
        return system.areg.submitValuation(
            aid, amount, boa.env.timestamp if when is None else when, h(f"report {amount}")
        )


def test_submit_and_accept_valuation(system):
    aid = system.asset_id
    when = boa.env.timestamp - 3 * 86_400
    assert submit(system, aid, 5_000_000_00, when) == 0
    (event,) = system.areg.get_logs()
    assert (
        event.assetId,
        event.index,
        event.amountMinor,
        event.valuationDate,
        event.valuer,
        event.reportHash,
    ) == (aid, 0, 5_000_000_00, when, system.valuer, h("report 500000000"))
    assert submit(system, aid, 6_000_000_00) == 1  # valuation date == now is accepted
    assert system.areg.valuationCount(aid) == 2
    v = system.areg.getValuation(aid, 0)
    assert (v.amountMinor, v.valuationDate, v.valuer, v.accepted) == (
        5_000_000_00,
        when,
        system.valuer,
        False,
    )

    system.govern(system.areg, "acceptValuation", aid, 1)
    (accepted,) = system.logs(name="ValuationAccepted")
    assert (accepted.assetId, accepted.index, accepted.amountMinor) == (aid, 1, 6_000_000_00)
    assert system.areg.getValuation(aid, 1).accepted
    assert not system.areg.getValuation(aid, 0).accepted
    assert system.areg.latestAcceptedValuation(aid) == 2  # index + 1

    with boa.reverts("valuation already accepted"):
        system.govern(system.areg, "acceptValuation", aid, 1)


@pytest.mark.parametrize(
    ("asset", "amount", "report", "delta", "message"),
    [
        (0, 1, b"\x01" * 32, 0, "unknown asset"),
        (99, 1, b"\x01" * 32, 0, "unknown asset"),
        (1, 0, b"\x01" * 32, 0, "valuation must be positive"),
        (1, 1, ZERO32, 0, "valuation report hash is empty"),
        (1, 1, b"\x01" * 32, 1, "valuation date is in the future"),
    ],
)
def test_submit_valuation_rejects(system, asset, amount, report, delta, message):
    with boa.reverts(message), boa.env.prank(system.valuer):
        system.areg.submitValuation(asset, amount, boa.env.timestamp + delta, report)


def test_submit_valuation_not_valuer(system):
    for caller in (system.issuer, system.outsider):
        with boa.reverts("caller is not a valuer"), boa.env.prank(caller):
            system.areg.submitValuation(1, 1, boa.env.timestamp, h("r"))


def test_accept_valuation_rejects(system):
    aid = system.asset_id
    with boa.reverts("unknown asset"):
        system.govern(system.areg, "acceptValuation", 0, 0)
    with boa.reverts("unknown valuation"):
        system.govern(system.areg, "acceptValuation", aid, 0)
    submit(system, aid, 100)
    with boa.reverts("unknown valuation"):
        system.govern(system.areg, "acceptValuation", aid, 1)
    system.govern(system.areg, "acceptValuation", aid, 0)
    assert system.areg.latestAcceptedValuation(aid) == 1


# ---------------------------------------------------------------- lifecycle


@pytest.mark.parametrize(
    ("current", "target"),
    list(itertools.product([PROPOSED, APPROVED, TOKENIZED, REDEEMED, RETIRED], range(7))),
)
def test_status_transitions(system, current, target):
    aid = asset_in_status(system, current)
    if (current, target) == (TOKENIZED, REDEEMED):
        token = system.areg.getAsset(aid).token
        with boa.reverts("token has not matured"):
            system.govern(system.areg, "setStatus", aid, target)
        system.govern(system.d["AssetToken"].at(token), "markMatured", evidence=EVIDENCE)
    if (current, target) in ALLOWED:
        system.govern(system.areg, "setStatus", aid, target)
        (event,) = system.logs(name="StatusChanged")
        assert (event.assetId, event.previous, event.status) == (aid, current, target)
        assert system.areg.getAsset(aid).status == target
    else:
        with boa.reverts(refusal(current, target)):
            system.govern(system.areg, "setStatus", aid, target)
        assert system.areg.getAsset(aid).status == current


def test_set_status_unknown_asset(system):
    with boa.reverts("unknown asset"):
        system.govern(system.areg, "setStatus", 0, APPROVED)
    with boa.reverts("unknown asset"):
        system.govern(system.areg, "setStatus", system.areg.assetCount() + 1, APPROVED)


# ---------------------------------------------------------------- linkToken and factory


def test_link_token_only_factory(system):
    aid = asset_in_status(system, APPROVED)
    for caller in (system.outsider, system.gov.address, system.issuer):
        with boa.reverts("caller is not the token factory"), boa.env.prank(caller):
            system.areg.linkToken(aid, system.outsider)


def test_link_token_directly_by_factory_account(system):
    factory = system.auction.address  # a contract, called directly here
    system.govern(system.areg, "setTokenFactory", factory, evidence=EVIDENCE)
    proposed = asset_in_status(system, PROPOSED)
    approved = asset_in_status(system, APPROVED)
    token = boa.env.generate_address()
    with boa.env.prank(factory):
        with boa.reverts("unknown asset"):
            system.areg.linkToken(0, token)
        with boa.reverts("unknown asset"):
            system.areg.linkToken(system.areg.assetCount() + 1, token)
        with boa.reverts("asset is not approved"):
            system.areg.linkToken(proposed, token)
        system.areg.linkToken(approved, token)
        logs = system.areg.get_logs()
        with boa.reverts("asset is not approved"):
            system.areg.linkToken(approved, token)
    assert [type(e).__name__ for e in logs] == ["TokenLinked", "StatusChanged"]
    assert (logs[0].assetId, logs[0].token) == (approved, token)
    assert (logs[1].previous, logs[1].status) == (APPROVED, TOKENIZED)
    asset = system.areg.getAsset(approved)
    assert (asset.token, asset.status) == (token, TOKENIZED)


@pytest.mark.parametrize("status", [PROPOSED, REDEEMED, RETIRED])
def test_factory_refuses_assets_not_approved(system, status):
    aid = asset_in_status(system, status)
    with boa.reverts("asset already tokenized" if status == REDEEMED else "asset is not approved"):
        system.create_token(aid, symbol="NOPE")


def test_factory_refuses_unknown_asset(system):
    with boa.reverts("unknown asset"):
        system.create_token(system.areg.assetCount() + 1)


def test_factory_refuses_second_token(system):
    with boa.reverts("asset already tokenized"):
        system.create_token(system.asset_id)


def test_factory_create_token_only_governance(system):
    aid = asset_in_status(system, APPROVED)
    for caller in (system.officials[0], system.issuer, system.outsider):
        with boa.reverts("caller is not governance"), boa.env.prank(caller):
            system.factory.createToken(aid, "n", "s", 0, 586 << 136, 0, [])


def test_factory_without_registry_role_cannot_link(system):
    system.govern(system.areg, "setTokenFactory", system.auction.address, evidence=EVIDENCE)
    aid = asset_in_status(system, APPROVED)
    with boa.reverts("caller is not the token factory"):
        system.create_token(aid, symbol="ORPHAN")
    assert system.factory.tokenOf(aid) == ZERO_ADDRESS
