"""Proposals in words name an address only by what holds it (review findings on the decoder)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account

from amanat.chain.abi import proposal_call_hash
from amanat.chain.keys import DEV_ADDRESSES
from amanat.errors import AmanatError, RuleViolation
from amanat.indexer import queries
from amanat.indexer.indexer import Indexer
from amanat.services import governance, tokens
from amanat.services.governed_calls import Directory, decode
from amanat.services.platform import DEV_ROLES
from tests.api.conftest import Api


def test_words_name_an_address_only_by_the_key_that_holds_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = api.platform
    issuer_file = Account.create().address  # the issuer's real key is a key file here
    valuer_token = Account.create().address  # the valuer's key is in the hardware token
    names, address = platform.keyring.names, platform.keyring.address
    monkeypatch.setattr(platform.keyring, "names", lambda: [*names(), "issuer"])
    monkeypatch.setattr(
        platform.keyring, "address", lambda n: issuer_file if n == "issuer" else address(n)
    )

    def hsm_signer(label: str) -> SimpleNamespace:
        if label == "registrar":
            raise AmanatError("the token cannot be opened")
        return SimpleNamespace(address=valuer_token)

    monkeypatch.setattr(platform, "hsm_signer", hsm_signer)
    hsm = frozenset({"valuer", "registrar"})
    monkeypatch.setattr(platform, "settings", dataclasses.replace(platform.settings, hsm_keys=hsm))
    directory = Directory(platform)
    dev_issuer = DEV_ADDRESSES[DEV_ROLES["issuer"]]
    # the issuer's key file's address bears its user's name; development account #5 none
    assert directory.name(issuer_file) == "treasury" and directory.name(dev_issuer) == dev_issuer
    assert directory.name(valuer_token) == "valuer"
    for role in ("valuer", "registrar"):  # the development addresses are no one's here
        dev = DEV_ADDRESSES[DEV_ROLES[role]]
        assert directory.name(dev) == dev
    assert directory.name(DEV_ADDRESSES[DEV_ROLES["official-1"]]) == "approver-1"  # dev key

    # a forced transfer to development account #5 does not read as "to issuer"
    token = tokens.resolve(platform, "PKTB3M")
    kla = api.address("kla")
    call = token.encode("forcedTransfer", kla, dev_issuer, 10)
    decoded = decode(platform, directory, token.address, call)
    receiver = next(a for a in decoded.arguments if a.name == "receiver")
    assert receiver.short == dev_issuer and "issuer" not in receiver.text
    assert "NOT a" not in decoded.contract

    # one label on two addresses (same legal name): the address is shown beside it
    sender = next(a for a in decoded.arguments if a.name == "sender")
    assert sender.short == directory.name(kla) != kla
    twins = Directory(platform)
    twins.labels[Account.create().address] = sender.short
    assert twins.name(kla) == f"{sender.short} ({kla})"

    # a call decoded with another contract's ABI than its target's says so
    settlement = platform.manifest.address("Settlement")
    foreign = decode(platform, directory, settlement, call)
    assert "NOT a Settlement function" in foreign.contract and "NOT a" in foreign.summary


def test_a_proposal_is_read_from_its_event_only_if_it_matches_the_stored_hash(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Governance stores only the hash of a proposal's call: the call shown to approvers and
    passed at execution comes from ProposalCreated, and a node serving another call for it
    (a larger amount) is refused, not shown."""
    platform = api.platform
    (detail,) = governance.describe(platform, [1])
    call = governance.proposed_calls(platform, [1])[1]
    stored = platform.contract("Governance").read("getProposal", 1)
    assert proposal_call_hash(*call.execute_args) == stored[0]
    assert detail.view.target == call.target and detail.view.proposer == call.proposer
    assert governance.show(platform, 1) == detail.view
    real = platform.decoded_logs

    def forged(*args: object, **kwargs: object) -> list[dict[str, object]]:
        return [
            {**log, "callData": log["callData"][:-1] + b"\x01"}
            if log["event"] == "ProposalCreated"
            else log
            for log in real(*args, **kwargs)  # type: ignore[arg-type]
        ]

    monkeypatch.setattr(platform, "decoded_logs", forged)
    for read in (lambda: governance.describe(platform, [1]), lambda: governance.show(platform, 1)):
        with pytest.raises(RuleViolation, match="does not match the call hash") as refused:
            read()
        assert refused.value.rule == "proposal-call"


def test_one_proposal_is_read_from_the_block_the_index_created_it_in(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single proposal's call (show, approve, execute) is read from the block where the index
    says ProposalCreated was logged, its history from that block on; without the index, or with
    an index that names another block, the whole history is scanned: the result is the same."""
    platform = api.platform
    Indexer(platform.chain, platform.manifest, platform.store).sync()
    governance_contract = platform.contract("Governance")
    last = governance_contract.read("proposalCount")
    (created,) = platform.decoded_logs(
        governance_contract, ["ProposalCreated"], first_indexed=[last]
    )
    ranges: list[tuple[int, int | str]] = []
    get_logs = platform.chain.get_logs

    def recorded(addresses: Any, topics: Any = None, from_block: int = 0, to_block: Any = "latest"):
        ranges.append((from_block, to_block))
        return get_logs(addresses, topics, from_block, to_block)

    monkeypatch.setattr(platform.chain, "get_logs", recorded)
    call = governance.proposed_calls(platform, [last])
    (detail,) = governance.describe(platform, [last])
    assert ranges == [(created["block"], created["block"]), (created["block"], "latest")]

    deployed = platform.manifest.deployed_block
    beyond = platform.chain.block_number() + 5
    # not indexed; indexed in a block without it; in a block the chain does not have
    for index_says in ({}, {last: created["block"] - 1}, {last: beyond}):
        monkeypatch.setattr(
            queries, "proposal_creation_blocks", lambda *_args, says=index_says: says
        )
        ranges.clear()
        assert governance.proposed_calls(platform, [last]) == call
        (again,) = governance.describe(platform, [last])
        # the proposal as read, without the chain's time of reading (a second may pass)
        assert {**again.as_dict(), "chain_time": 0} == {**detail.as_dict(), "chain_time": 0}
        assert (deployed, "latest") in ranges  # the scan from the deployment block
