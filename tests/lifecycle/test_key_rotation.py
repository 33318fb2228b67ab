"""The key lifecycle (issue 13, item 6) on one small embedded chain, through the CLI: an
institution's wallet rotated by its own transfers, a lost key recovered by governance, an
official and the tree-head publisher replaced by governed proposals.

The chain (tests/indexer's small chain: one bank-only token SMALL, holder-a 1,000 and holder-b
500 units) is built in-process once for the module; the commands under test run as real
`amanat` processes on its data directory, and the tests run in order on its state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.domain.restrictions import Restriction
from amanat.errors import InvalidInput, RuleViolation
from amanat.indexer.indexer import Indexer
from amanat.services import (
    assets,
    cash,
    dvp,
    governance,
    identities,
    rotation,
    tokens,
    transparency,
    valuations,
)
from amanat.services.accounts import Principal, Role
from amanat.services.platform import Platform, dev_key_for
from amanat.store.models import AuditEntry, Wallet
from tests.indexer.conftest import ChainUnderTest, build_small_chain
from tests.integration.support import Amanat

OFFICIALS = ["official-1", "official-2"]
EVIDENCE = "0x" + "ab" * 32
ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainUnderTest]:
    data_dir = tmp_path_factory.mktemp("key-lifecycle") / "data"
    try:
        yield build_small_chain(data_dir)
    finally:
        AnvilNode(data_dir).stop()


@pytest.fixture(scope="module")
def cli(small: ChainUnderTest) -> Amanat:
    return Amanat(small.data_dir)


def govern(platform: Platform, target: Any, function: str, args: list[Any], **kw: Any) -> None:
    governance.govern(platform, OFFICIALS, target, function, args, advance_clock=True, **kw)


def audited(platform: Platform, action: str) -> list[AuditEntry]:
    with platform.store.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_wallet_rotation_by_the_institutions_own_transfers(
    small: ChainUnderTest, cli: Amanat
) -> None:
    """holder-a rotates to a new wallet: the registrar links it, holder-a moves its units and
    cash with its own transfers (a same-identity move passes a holding cap and a maximum of
    holders that are both reached, and stays booked to the same identity), units locked in a DvP
    stay and keep the old wallet linked until the DvP is cancelled; then the old wallet is
    unlinked and can do nothing."""
    platform, token = small.platform, small.token("SMALL")
    old = small.address("holder-a")
    # the holding cap and the maximum of holders are both reached by holder-a and holder-b
    govern(platform, token, "setHoldingLimits", [1_000, 0])
    rules = dataclasses.replace(tokens.rules_of(token), max_holders=2)
    govern(platform, token, "setRules", rules.set_rules_args())
    for wallet in (old, small.address("holder-b")):
        govern(
            platform,
            platform.contract("CashToken"),
            "issueCash",
            [wallet, 250_000, bytes.fromhex("cd" * 32)],
        )
    identity = platform.contract("IdentityRegistry").read("identityNumberOf", old)
    before = (token.read("identityHolding", identity), token.read("holderCount"))
    assert before == (1_000, 2)
    deadline = platform.clock.chain_time() + 86_400
    instruction = dvp.instruct(
        platform, "holder-a", token, small.address("holder-b"), 100, 10_000, deadline
    )["instruction"]

    new = identities.link_wallet(platform, "registrar", identity, "holder-a-2")
    refused = cli.refused(
        "institution", "unlink-wallet", "holder-a", code=3, rule="wallet-not-empty"
    )
    assert "1,000 SMALL units, 100 of them locked for a settlement" in refused.output
    assert "PKR 2,500.00 of cash" in refused.output

    moved = cli.json("institution", "move-holdings", "--as", "holder-a", "--to", "holder-a-2")
    assert [(m["symbol"], m["amount"]) for m in moved["moved"]] == [
        ("SMALL", 900),
        ("PKRT", "PKR 2,500.00"),
    ]
    assert moved["staying"] == ["100 SMALL units locked for a settlement"]
    assert (token.read("balanceOf", new), token.read("balanceOf", old)) == (900, 100)
    # booked to the same identity: its holding, the holder count unchanged
    assert (token.read("identityHolding", identity), token.read("holderCount")) == before
    assert cash.balance(platform, new)["balance_minor"] == 250_000
    with pytest.raises(RuleViolation, match="100 SMALL units, 100 of them locked for a settle"):
        rotation.unlink_wallet(platform, "registrar", old)

    dvp.cancel(platform, "holder-a", instruction)
    rotation.move_holdings(platform, "holder-a", new)
    unlinked = cli.json("institution", "unlink-wallet", "holder-a")
    assert unlinked["wallets"] == [new]
    assert (token.read("identityHolding", identity), token.read("holderCount")) == before

    # the old wallet can do nothing: send, receive, hold cash, move again
    assert token.read("detectTransferRestriction", old, new, 0) == Restriction.SENDER_NOT_VERIFIED
    assert token.read("detectMintRestriction", old, 1) == Restriction.RECEIVER_NOT_VERIFIED
    assert not platform.contract("CashToken").read("mayHold", old)
    # its key name no longer names a wallet of the platform
    with pytest.raises(InvalidInput, match="no institution, role or key named 'holder-a'"):
        rotation.move_holdings(platform, "holder-a", new)
    with platform.store.session() as session:
        assert session.get(Wallet, old) is None
    assert [e.resource for e in audited(platform, "wallet.unlink")] == [
        f"identity/{identity}/wallet/{old}"
    ]
    assert len(audited(platform, "wallet.move-holdings")) == 2


def test_a_rotated_wallet_still_counts_as_its_institution_in_the_dvp_disclosure(
    small: ChainUnderTest,
) -> None:
    """A day's DvP price is public only once three institutions traded that day. Two
    institutions trading twice (holder-a from one wallet, back to another of its wallets) stay
    two after holder-a rotates away from the first wallet and the registrar unlinks it: the
    unlinked wallet is still holder-a's for the trades it made, never an institution alone."""
    platform, token = small.platform, small.token("SMALL")
    seller, buyer = small.address("holder-a-2"), small.address("holder-b")
    identity = platform.contract("IdentityRegistry").read("identityNumberOf", seller)
    third = identities.link_wallet(platform, "registrar", identity, "holder-a-3")
    govern(
        platform,
        platform.contract("CashToken"),
        "issueCash",
        [third, 10_000, bytes.fromhex("cd" * 32)],
    )
    deadline = platform.clock.chain_time() + 86_400
    for sell, buy, by in (("holder-a-2", buyer, "holder-b"), ("holder-b", third, "holder-a-3")):
        number = dvp.instruct(platform, sell, token, buy, 10, 9_700, deadline)["instruction"]
        dvp.affirm(platform, by, number)
        dvp.settle(platform, by, number)
    rotation.move_holdings(platform, "holder-a-2", third)
    rotation.unlink_wallet(platform, "registrar", seller)
    Indexer(platform.chain, platform.manifest, platform.store).sync()
    record = assets.show(platform, token.read("assetId"))
    supply = token.read("totalSupply")
    public = valuations.history(platform, record, supply, None)
    assert [m for m in public["items"] if m["source"] == "secondary_dvp"] == []
    auditor = Principal(0, "auditor", Role.AUDITOR, None, None)
    (trade,) = [
        m
        for m in valuations.history(platform, record, supply, auditor)["items"]
        if m["source"] == "secondary_dvp"
    ]
    assert trade["public"] is False and trade["value_minor"] == supply * 970


def test_lost_key_recovered_by_governance_then_unlinked(small: ChainUnderTest, cli: Amanat) -> None:
    """holder-b lost its key: link a new wallet, recover by an evidence-backed proposal, unlink
    the lost wallet; its key can then neither send nor take anything back."""
    platform, token = small.platform, small.token("SMALL")
    lost = small.address("holder-b")
    identity = platform.contract("IdentityRegistry").read("identityNumberOf", lost)
    new = identities.link_wallet(platform, "registrar", identity, "holder-b-2")
    govern(platform, token, "recoveryAddress", [lost, new, ZERO], evidence=EVIDENCE)
    assert (token.read("balanceOf", lost), token.read("balanceOf", new)) == (0, 500)
    assert token.read("identityHolding", identity) == 500
    with pytest.raises(RuleViolation, match=r"PKR 2,500.00 of cash.*propose recover PKRT"):
        rotation.unlink_wallet(platform, "registrar", lost)
    # the cash is recovered through the CLI; to another institution's wallet it is refused
    # before anything is proposed (the contract would refuse it only once approved)
    count = platform.contract("Governance").read("proposalCount")
    elsewhere = small.address("holder-a-3")
    cli.refused("propose", "recover", "PKRT", "--lost", lost, "--new", elsewhere,
                "--evidence", EVIDENCE, code=3, rule="wallet-of-another-institution")  # fmt: skip
    assert platform.contract("Governance").read("proposalCount") == count
    proposed = cli.json(
        "propose", "recover", "PKRT", "--lost", lost, "--new", new, "--evidence", EVIDENCE
    )
    assert (proposed["action"], proposed["contract"]) == ("recovery", "CashToken")
    governance.approve(platform, "official-2", proposed["id"])
    platform.chain.advance_time(86_400)
    governance.execute(platform, "official-1", proposed["id"])
    assert cash.balance(platform, new)["balance_minor"] == 250_000
    rotation.unlink_wallet(platform, "registrar", lost)
    assert token.read("detectTransferRestriction", lost, new, 0) == Restriction.SENDER_NOT_VERIFIED
    # the lost key, sending on its own past Amanat, is refused by the token and the cash token
    for contract in (token, platform.contract("CashToken")):
        with pytest.raises(RuleViolation, match="sender is not a verified institution"):
            platform.chain.transact(dev_key_for("holder-b"), [contract.tx("transfer", new, 0)])


def test_official_rotated_through_governance(small: ChainUnderTest, cli: Amanat) -> None:
    """official-1 is replaced by official-4: one command makes the two proposals (appoint, then
    remove), decoded in words. Once they ran, official-1's key neither approves nor executes,
    its approvals of open proposals stop counting, and a proposal whose timelock was running
    must restart it."""
    platform = small.platform
    gov = platform.contract("Governance")
    registry = platform.contract("IdentityRegistry")
    # open proposals: one only official-1 approved, one approved by official-2 and official-3
    lone = governance.propose(platform, "official-1", registry, "setMaxSuspensionsPerDay", [5])
    backed = governance.propose(platform, "official-2", registry, "setMaxSuspensionsPerDay", [7])
    governance.approve(platform, "official-3", backed)
    assert governance.show(platform, backed).state == "waiting-timelock"

    rotated = cli.json(
        "propose", "rotate-official", "--old", "official-1", "--new", "official-4",
        "--as", "official-2",
    )  # fmt: skip
    appoint, remove = rotated["proposals"]
    words = [d["call"] for d in rotated["details"]]
    new = platform.address_of("official-4")
    old = platform.address_of("official-1")
    assert words == [
        f"Governance: appoint {new} as official",
        f"Governance: remove official-1 ({old}) as official",
    ]
    for proposal_id in (appoint, remove):
        governance.approve(platform, "official-3", proposal_id)
    platform.chain.advance_time(2 * 86_400)
    governance.execute(platform, "official-2", appoint)
    governance.execute(platform, "official-2", remove)
    assert (gov.read("officialCount"), gov.read("threshold")) == (3, 2)
    assert not gov.read("isOfficial", old) and gov.read("isOfficial", new)

    view = governance.show(platform, lone)
    assert (view.approvals, view.state) == (0, "collecting-approvals")
    with pytest.raises(RuleViolation, match="0 of 2 approvals"):
        governance.execute(platform, "official-1", lone)
    refused = cli.refused(
        "proposal", "approve", lone, "--as", "official-1", code=3, rule="not-an-official"
    )
    assert f"{old} is not an official" in refused.output  # refused before anything is signed
    governance.approve(platform, "official-4", lone)
    assert governance.show(platform, lone).approvals == 1

    assert governance.show(platform, backed).state == "timelock-restart"
    cli.refused("proposal", "execute", backed, "--as", "official-2", code=3,
                rule="timelock-restart")  # fmt: skip
    restarted = cli.json("proposal", "restart-timelock", backed, "--as", "official-4")
    assert restarted["state"] == "waiting-timelock"
    platform.chain.advance_time(86_400)
    assert governance.execute(platform, "official-4", backed).state == "executed"
    (entry,) = audited(platform, "official.rotate")
    assert entry.username == "official-2" and entry.approval_ref == f"proposals {appoint},{remove}"


def test_publisher_rotated_through_governance(small: ChainUnderTest, cli: Amanat) -> None:
    """The publisher is replaced by publisher-2 through two governed proposals; the old key can
    no longer anchor, and `amanat log publish` anchors with the key amanat.toml names."""
    platform = small.platform
    anchor = platform.contract("TransparencyAnchor")
    rotated = cli.json(
        "propose", "rotate-publisher", "--old", "publisher", "--new", "publisher-2",
        "--as", "official-2",
    )  # fmt: skip
    new = platform.address_of("publisher-2", new=True)
    assert (
        rotated["details"][0]["call"] == f"TransparencyAnchor: appoint {new} as tree-head publisher"
    )
    for proposal_id in rotated["proposals"]:
        governance.approve(platform, "official-3", proposal_id)
    platform.chain.advance_time(86_400)
    for proposal_id in rotated["proposals"]:
        governance.execute(platform, "official-2", proposal_id)
    assert not anchor.read("isPublisher", platform.address_of("publisher"))

    with pytest.raises(RuleViolation, match="'publisher' .* is not an appointed publisher"):
        transparency.publish(platform)
    with pytest.raises(RuleViolation, match="caller is not a publisher"):
        platform.chain.transact(
            platform.signer("publisher"), [anchor.tx("anchor", 1, b"\x01" * 32, b"\x02" * 32)]
        )
    (small.data_dir / "amanat.toml").write_text('[transparency]\npublisher = "publisher-2"\n')
    assert Settings.resolve(str(small.data_dir)).publisher_key == "publisher-2"
    published = cli.json("log", "publish")
    (size, _root, _head) = anchor.read("latest")
    assert size == published["tree_size"] > 0
    anchored = platform.decoded_logs(anchor, ["TreeHeadAnchored"])
    assert anchored and {e["publisher"] for e in anchored} == {new}
    (entry,) = audited(platform, "publisher.rotate")
    assert entry.detail["new"] == new
