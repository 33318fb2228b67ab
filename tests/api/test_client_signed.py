"""Client-signed writes: an institution builds a transaction through the API, signs it itself
with eth-account (as any outside client would, its key never sent) and submits the raw bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account

from amanat.cli import client
from amanat.cli.main import cli
from amanat.domain.auction import commitment
from amanat.errors import InvalidInput, RuleViolation
from amanat.services import governance, pilot, tokens
from tests.api.conftest import Api
from tests.api.test_policy import _console
from tests.api.test_workflow import assert_problem, balance

HOUR = 3600


def sign(api: Api, key_name: str, unsigned: dict[str, Any], **changes: Any) -> str:
    """The raw transaction signed locally with the wallet's (development) key."""
    fields = {k: v for k, v in unsigned.items() if k not in ("action", "from")}
    fields.update(changes)
    key = api.platform.signer(key_name).key
    return "0x" + bytes(Account.sign_transaction(fields, key).raw_transaction).hex()


def build(api: Api, who: str, **body: Any) -> dict[str, Any]:
    reply = api.post("/transactions/build", who, json=body)
    assert reply.status_code == 200, reply.text
    unsigned: dict[str, Any] = reply.json()
    return unsigned


def test_transfer_built_signed_by_the_client_and_submitted(api: Api) -> None:
    kla = api.address("kla")
    before = balance(api, "PKTB3M", "kla")
    unsigned = build(api, "inb", action="transfer", token="PKTB3M", to=kla, amount=700)
    assert unsigned["from"] == api.address("inb") and unsigned["action"] == "transfer"
    assert {"to", "data", "nonce", "gas", "chainId"} <= unsigned.keys()
    assert "gasPrice" in unsigned or "maxFeePerGas" in unsigned
    raw = sign(api, "inb", unsigned)
    done = api.post("/transactions", "inb", json={"raw": raw})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["symbol"] == "PKTB3M" and result["from"] == api.address("inb")
    assert result["to"] == kla and result["amount"] == 700
    assert balance(api, "PKTB3M", "kla") == before + 700
    # the same raw transaction again is the same transfer, not a second one
    again = api.post("/transactions", "inb", json={"raw": raw})
    assert again.status_code == 200 and again.json() == result
    assert balance(api, "PKTB3M", "kla") == before + 700
    # the submission is audited like any write
    audited = api.get("/audit", "auditor", username="inb", sort="-id").json()["items"][0]
    assert audited["resource"] == "/transactions" and audited["status"] == 200

    # signed for another chain: refused
    fresh = build(api, "inb", action="transfer", token="PKTB3M", to=kla, amount=1)
    other_chain = sign(api, "inb", fresh, chainId=int(fresh["chainId"], 16) + 1)
    body = assert_problem(
        api.post("/transactions", "inb", json={"raw": other_chain}), 422, "wrong-chain"
    )
    assert body["expected"] == int(fresh["chainId"], 16)
    # signed by another institution's wallet: refused
    by_kla = sign(api, "kla", fresh, nonce=hex(0))
    assert_problem(api.post("/transactions", "inb", json={"raw": by_kla}), 403, "forbidden")
    # a function no institution may call (mint): refused, whatever the chain would say
    token = api.platform.token(unsigned["to"])
    mint = {**fresh, "data": "0x" + token.encode("mint", api.address("inb"), 1).hex()}
    body = assert_problem(
        api.post("/transactions", "inb", json={"raw": sign(api, "inb", mint)}), 403, "forbidden"
    )
    assert "AssetToken.mint is not an action an institution may submit" in body["detail"]
    assert balance(api, "PKTB3M", "kla") == before + 700


def test_client_signed_transfer_breaking_a_rule_is_refused_as_post_transfer(api: Api) -> None:
    retail = api.address("retail-0001")
    transfer = {"token": "PKTB3M", "to": retail, "amount": 5_000}
    server_side = assert_problem(
        api.post("/transfers", "institution", json=transfer), 422, "category-not-eligible"
    )
    # the build runs the same pre-check and refuses with the same text
    built = assert_problem(
        api.post("/transactions/build", "inb", json={"action": "transfer", **transfer}),
        422,
        "category-not-eligible",
    )
    assert built["detail"] == server_side["detail"]
    # a client that signs the call without building it gets the same refusal, nothing is sent
    template = build(api, "inb", action="transfer", token="PKTB3M", to=api.address("kla"), amount=1)
    token = api.platform.token(template["to"])
    bad = {**template, "data": "0x" + token.encode("transfer", retail, 5_000).hex()}
    submitted = assert_problem(
        api.post("/transactions", "inb", json={"raw": sign(api, "inb", bad)}),
        422,
        "category-not-eligible",
    )
    assert submitted["detail"] == server_side["detail"]


def test_client_signed_gas_limit_and_fee_are_checked(api: Api) -> None:
    kla = api.address("kla")
    before = balance(api, "PKTB3M", "kla")
    unsigned = build(api, "inb", action="transfer", token="PKTB3M", to=kla, amount=3)
    # a gas limit far above the call's needs (burning the sender's funds on a network): refused
    greedy = sign(api, "inb", unsigned, gas=5_000_000)
    body = assert_problem(
        api.post("/transactions", "inb", json={"raw": greedy}), 422, "gas-limit-too-high"
    )
    assert body["gas"] == 5_000_000 and body["allowed"] < 5_000_000
    # a gas limit too small to run the call: refused by the pre-check run with that limit
    starved = sign(api, "inb", unsigned, gas=22_000)
    refused = api.post("/transactions", "inb", json={"raw": starved})
    assert refused.status_code == 422, refused.text
    assert balance(api, "PKTB3M", "kla") == before
    # on a network (no embedded node) a fee cap below the current base fee is refused
    chain = api.platform.chain
    batch = chain.rpc.batch

    def with_base_fee(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        replies = batch(calls)
        return [
            {**r, "baseFeePerGas": hex(7)} if m == "eth_getBlockByNumber" else r
            for (m, _), r in zip(calls, replies, strict=True)
        ]

    with pytest.MonkeyPatch.context() as network:
        network.setattr(chain, "node", None)
        network.setattr(chain.rpc, "batch", with_base_fee)
        body = assert_problem(
            api.post("/transactions", "inb", json={"raw": sign(api, "inb", unsigned)}),
            422,
            "fee-too-low",
        )
    assert body["base_fee"] == 7 and body["fee"] == 0
    # the built transaction itself goes through
    done = api.post("/transactions", "inb", json={"raw": sign(api, "inb", unsigned)})
    assert done.status_code == 200, done.text
    assert balance(api, "PKTB3M", "kla") == before + 3


def test_client_signed_approve_transfer_from_and_dvp(api: Api) -> None:
    chain = api.platform.chain
    inb, kla = api.address("inb"), api.address("kla")
    # inb lets kla move 300 of its units; kla moves 200 of them to itself
    approve = build(api, "inb", action="approve", token="PKTB3M", spender=kla, amount=300)
    approved = api.post("/transactions", "inb", json={"raw": sign(api, "inb", approve)})
    assert approved.status_code == 200 and approved.json()["allowance"] == 300, approved.text
    before = balance(api, "PKTB3M", "kla")
    pull = {"action": "transferFrom", "token": "PKTB3M", "from": inb, "to": kla}
    moved = api.post(
        "/transactions",
        "kla",
        json={"raw": sign(api, "kla", build(api, "kla", **pull, amount=200))},
    )
    assert moved.status_code == 200 and moved.json()["spender"] == kla, moved.text
    assert balance(api, "PKTB3M", "kla") == before + 200
    assert_problem(
        api.post("/transactions/build", "kla", json={**pull, "amount": 101}),
        422,
        "insufficient-allowance",
    )

    # a DvP instructed by inb and affirmed and settled by kla, each signed by its own key
    sale = {
        "token": "PKTB3M",
        "buyer": kla,
        "units": 100,
        "cash_minor": 9_700_00,
        "deadline": chain.block_timestamp() + 6 * HOUR,
    }
    unsigned = build(api, "inb", action="dvp_instruct", **sale)
    instructed = api.post("/transactions", "inb", json={"raw": sign(api, "inb", unsigned)})
    assert instructed.status_code == 200 and instructed.json()["state"] == "instructed"
    number = instructed.json()["instruction"]
    # the seller may not affirm: the same refusal as POST /dvp/{id}/affirm
    assert_problem(
        api.post(
            "/transactions/build", "inb", json={"action": "dvp_affirm", "instruction": number}
        ),
        403,
        "forbidden",
    )
    for step, state in (("dvp_affirm", "affirmed"), ("dvp_settle", "settled")):
        unsigned = build(api, "kla", action=step, instruction=number)
        reply = api.post("/transactions", "kla", json={"raw": sign(api, "kla", unsigned)})
        assert reply.status_code == 200 and reply.json()["state"] == state, reply.text


def test_client_signed_sealed_bid_is_committed_by_its_hash_and_revealed(api: Api) -> None:
    chain = api.platform.chain
    now = chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 1_000,
        "close_time": now + 2 * HOUR,
        "reveal_deadline": now + 3 * HOUR,
        "settlement_date": now + 4 * HOUR,
    }
    announced = api.post("/auctions", "treasury", json=terms)
    assert announced.status_code == 201, announced.text
    auction, inb = announced.json()["auction"], api.address("inb")
    # the bid and its salt stay with the bidder: the platform sees only the commitment
    salt = bytes(range(32))
    sealed = "0x" + commitment(auction, inb, 100, 118_000, True, salt).hex()
    unsigned = build(api, "inb", action="auction_commit", auction=auction, commitment=sealed)
    committed = api.post("/transactions", "inb", json={"raw": sign(api, "inb", unsigned)})
    assert committed.status_code == 200, committed.text
    assert committed.json() == {"auction": auction, "bidder": inb, "commitment": sealed}
    kept = api.platform.settings.data_dir / "sealed-bids" / f"auction-{auction}-{inb}.json"
    assert not kept.exists()
    chain.advance_time(terms["close_time"] - chain.block_timestamp())
    reveal = {"units": 100, "yield_micro": 118_000, "competitive": True, "salt": "0x" + salt.hex()}
    unsigned = build(api, "inb", action="auction_reveal", auction=auction, **reveal)
    opened = api.post("/transactions", "inb", json={"raw": sign(api, "inb", unsigned)})
    assert opened.status_code == 200, opened.text
    assert (
        opened.json()["yield"] == "11.8000%" and opened.json()["locked_cash_minor"] == 100 * 100_00
    )


def test_cli_client_mode_signs_with_the_institutions_keystore(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keystore = tmp_path / "inb.json"
    secret = api.platform.signer("inb").key
    keystore.write_text(json.dumps(Account.encrypt(secret, "inb-passphrase", "pbkdf2", 2)))
    monkeypatch.setenv("AMANAT_KEY_PASSPHRASE", "inb-passphrase")
    monkeypatch.setenv("AMANAT_API_PASSWORD", pilot.pilot_password("inb"))
    monkeypatch.setattr(
        client,
        "open_client",
        lambda _url, user, key_file, password, data_dir, chain_id: client.InstitutionClient(
            api.client, user, password, key_file, data_dir, chain_id
        ),
    )
    mode = ["--api", "http://testserver", "--as", "inb", "--key", str(keystore)]
    kla, before = api.address("kla"), balance(api, "PKTB3M", "kla")
    sent = CliRunner().invoke(
        cli, [*mode, "token", "transfer", "PKTB3M", "--to", kla, "--amount", "250", "--json"]
    )
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["amount"] == 250 and json.loads(sent.output)["to"] == kla
    assert balance(api, "PKTB3M", "kla") == before + 250
    # a refusal is the API's own rule and text, and nothing is sent
    retail = api.address("retail-0001")
    refused = CliRunner().invoke(
        cli, [*mode, "token", "transfer", "PKTB3M", "--to", retail, "--amount", "5000"]
    )
    error = refused.exception
    assert isinstance(error, RuleViolation) and error.rule == "category-not-eligible"
    assert error.exit_code == 3 and "admits only" in error.message
    assert balance(api, "PKTB3M", "kla") == before + 250
    # a DvP step in client mode: inb, the buyer, affirms and then cancels with its own key
    sale = {
        "token": "PKTB3M",
        "buyer": api.address("inb"),
        "units": 10,
        "cash_minor": 970_00,
        "deadline": api.platform.chain.block_timestamp() + HOUR,
    }
    number = api.post("/dvp", "kla", json=sale).json()["instruction"]
    for step, state in (("affirm", "affirmed"), ("cancel", "cancelled")):
        done = CliRunner().invoke(cli, [*mode, "dvp", step, str(number), "--json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["state"] == state
    # a sealed bid in client mode: kept in the institution's own data directory, never sent
    now = api.platform.chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 1_000,
        "close_time": now + HOUR,
        "reveal_deadline": now + 2 * HOUR,
        "settlement_date": now + 3 * HOUR,
    }
    auction = api.post("/auctions", "treasury", json=terms).json()["auction"]
    own = ["--data-dir", str(tmp_path / "inb-home"), *mode]
    bid = ["auction", "bid", str(auction), "--units", "50", "--yield", "12%", "--json"]
    committed = CliRunner().invoke(cli, [*own, *bid])
    assert committed.exit_code == 0, committed.output
    sealed = tmp_path / "inb-home" / "sealed-bids"
    first = json.loads(committed.output)["commitment"]
    kept = sealed / f"auction-{auction}-{api.address('inb')}-{first}.json"
    assert json.loads(kept.read_text())["commitment"] == first
    server_copy = api.platform.settings.data_dir / "sealed-bids" / kept.name
    assert not server_copy.exists()
    # a replacement the platform refuses: the committed bid's salt is kept, not overwritten
    submit = client.InstitutionClient._post

    def refusing(self: client.InstitutionClient, path: str, body: dict[str, Any]) -> Any:
        if path == "/transactions":
            raise RuleViolation("refused", "refused for the test")
        return submit(self, path, body)

    monkeypatch.setattr(client.InstitutionClient, "_post", refusing)
    replaced = CliRunner().invoke(cli, [*own, *bid[:3], "--units", "70", "--yield", "13%"])
    assert isinstance(replaced.exception, RuleViolation)
    monkeypatch.setattr(client.InstitutionClient, "_post", submit)
    assert json.loads(kept.read_text())["units"] == 50 and len(list(sealed.iterdir())) == 2
    api.platform.chain.advance_time(terms["close_time"] - api.platform.chain.block_timestamp())
    # the reveal opens the bid whose commitment is the one on chain
    opened = CliRunner().invoke(cli, [*own, "auction", "reveal", str(auction), "--json"])
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.output)["yield"] == "12.0000%"


def test_an_institution_takes_no_step_on_an_instruction_it_is_not_party_to(api: Api) -> None:
    """Client-signed as server-signed: only a party settles or cancels (for any token, matured
    or not, whatever the contract would let anyone do)."""
    sale = {
        "token": "PKTB3M",
        "buyer": api.address("kla"),
        "units": 10,
        "cash_minor": 1_000_00,
        "deadline": api.platform.clock.chain_time() + 6 * HOUR,
    }
    number = api.post("/dvp", "inb", json=sale).json()["instruction"]
    for step in ("dvp_cancel", "dvp_settle", "dvp_affirm"):
        body = assert_problem(
            api.post("/transactions/build", "fepf", json={"action": step, "instruction": number}),
            403,
            "forbidden",
        )
        assert "party" in body["detail"]
    assert api.post(f"/dvp/{number}/cancel", "inb").status_code == 200


def test_cli_client_replaces_a_sealed_bid_and_checks_what_it_signs(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = api.platform.signer("inb").key
    keystore = tmp_path / "inb.json"
    keystore.write_text(json.dumps(Account.encrypt(secret, "pass", "pbkdf2", 2)))
    monkeypatch.setenv("AMANAT_KEY_PASSPHRASE", "pass")
    home = tmp_path / "home"
    user = client.InstitutionClient(api.client, "inb", pilot.pilot_password("inb"), keystore, home)
    # a replacement bid that is committed removes the bid it replaces
    now = api.platform.chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 1_000,
        "close_time": now + HOUR,
        "reveal_deadline": now + 2 * HOUR,
        "settlement_date": now + 3 * HOUR,
    }
    auction = api.post("/auctions", "treasury", json=terms).json()["auction"]
    user.bid(auction, 40, 120_000, True, home / "bids")
    second = user.bid(auction, 30, 125_000, True, home / "bids")
    (kept,) = (home / "bids").iterdir()
    assert kept.name.endswith(f"-{second['commitment']}.json")
    api.platform.chain.advance_time(terms["close_time"] - api.platform.chain.block_timestamp())
    assert user.reveal(auction, home / "bids")["yield"] == "12.5000%"
    assert (home / "api-chain-id").read_text().strip() == str(api.platform.chain.chain_id)

    # what the API builds is checked before it is signed
    kla = api.address("kla")
    build_reply = client.InstitutionClient._post
    sent: list[str] = []

    def tampered(**changes: Any) -> None:
        def post(self: client.InstitutionClient, path: str, body: dict[str, Any]) -> Any:
            sent.append(path)
            reply = build_reply(self, path, body)
            return {**reply, **changes} if path == "/transactions/build" else reply

        monkeypatch.setattr(client.InstitutionClient, "_post", post)

    token = tokens.resolve(api.platform, "PKTB3M")
    other = "0x" + token.encode("transfer", api.address("retail-0001"), 1).hex()
    refusals = [
        ({"value": "0x1"}, "unsafe-transaction"),
        ({"gas": hex(3_000_000)}, "unsafe-transaction"),
        ({"chainId": hex(api.platform.chain.chain_id + 1)}, "wrong-chain"),
        ({"data": other}, "call-mismatch"),
        ({"data": "0x" + token.encode("approve", kla, 1).hex()}, "call-mismatch"),
    ]
    before = balance(api, "PKTB3M", "kla")
    for changes, rule in refusals:
        tampered(**changes)
        with pytest.raises(RuleViolation) as refused:
            user.act("transfer", token="PKTB3M", to=kla, amount=1)
        assert refused.value.rule == rule, (changes, refused.value.message)
    assert "/transactions" not in sent and balance(api, "PKTB3M", "kla") == before
    # a chain id given by the user overrides the one kept
    other_chain = client.InstitutionClient(
        api.client, "inb", pilot.pilot_password("inb"), keystore, home, chain_id=1
    )
    monkeypatch.setattr(client.InstitutionClient, "_post", build_reply)
    with pytest.raises(RuleViolation, match="expects 1"):
        other_chain.act("transfer", token="PKTB3M", to=kla, amount=1)
    # the API's URL: https, or http to this machine only
    for url in ("http://api.example.org", "ftp://127.0.0.1"):
        with pytest.raises(InvalidInput, match="not https"):
            client.open_client(url, "inb", keystore, "pw", home)
    for url in ("https://api.example.org", "http://127.0.0.1:8000", "http://localhost"):
        client.open_client(url, "inb", keystore, "pw", home).http.close()


def test_an_official_signs_its_own_approval_and_the_request_records_it(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server never signs for this official: approver-2 builds Governance.approve, signs it
    with official-2's own key and submits it; the maker-checker request records its transaction.
    Once the timelock has passed it executes the same way (the proposed call filled in, checked
    whole), and the request records who executed it and by which transaction. The CLI does the
    same with the official's Keystore V3 file (`proposal approve|execute --key`, `approval
    approve|execute --key`)."""
    governance_contract = api.platform.manifest.address("Governance")
    filed = api.post(
        "/approvals",
        "treasury",
        json={"kind": "mint", "params": {"token": "PKTB3M", "to": api.address("kla"), "amount": 7}},
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    first = api.post(f"/approvals/{request_id}/approve", "approver-1")  # proposes (pilot keys)
    assert first.status_code == 200, first.text
    proposal = first.json()["proposal_id"]
    # the console shows the call in words and the command with which one approves it oneself
    console, _csrf = _console(api, "approver-2")
    page = console.get(f"/console/approvals/{request_id}").text
    assert "token PKTB3M: mint" in page and "Karakoram Life Assurance (0x" in page
    assert f"--as approver-2 proposal approve {proposal} --key official-2.json" in page
    assert "your <strong>development key</strong>, held by the server" in page

    unsigned = build(api, "approver-2", action="proposal_approve", proposal=proposal)
    assert unsigned["from"] == api.address("official-2") and unsigned["to"] == governance_contract
    # signed by a key that is not approver-2's registered governance address: refused
    by_other = sign(api, "official-3", unsigned, nonce=hex(0))
    body = assert_problem(
        api.post("/transactions", "approver-2", json={"raw": by_other}), 403, "forbidden"
    )
    assert "not the governance address of approver-2" in body["detail"]
    # an official may submit an approval or an execute only: not a cancel, not a transfer
    cancelling = {
        **unsigned,
        "data": "0x" + api.platform.contract("Governance").encode("cancel", proposal).hex(),
    }
    body = assert_problem(
        api.post("/transactions", "approver-2", json={"raw": sign(api, "official-2", cancelling)}),
        403,
        "forbidden",
    )
    assert "Governance.cancel is not an action an official may submit" in body["detail"]
    assert_problem(
        api.post(
            "/transactions/build",
            "approver-2",
            json={"action": "transfer", "token": "PKTB3M", "to": api.address("kla"), "amount": 1},
        ),
        403,
        "forbidden",
    )
    assert_problem(
        api.post(
            "/transactions/build", "inb", json={"action": "proposal_approve", "proposal": proposal}
        ),
        403,
        "forbidden",
    )
    assert_problem(
        api.post(
            "/transactions/build",
            "approver-2",
            json={"action": "proposal_approve", "proposal": 10**6},
        ),
        404,
        "not-found",
    )
    executed = governance.show(api.platform, 1)  # the pilot's first proposal, executed
    assert executed.state == "executed"
    body = assert_problem(
        api.post(
            "/transactions/build", "approver-2", json={"action": "proposal_approve", "proposal": 1}
        ),
        422,
        "proposal-closed",
    )
    assert "only an open proposal is approved" in body["detail"]

    raw = sign(api, "official-2", unsigned)
    done = api.post("/transactions", "approver-2", json={"raw": raw})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["proposal"] == proposal and result["approvals"] == 2
    assert result["request"] == request_id and result["tx"].startswith("0x")
    again = api.post("/transactions", "approver-2", json={"raw": raw})  # same bytes: one approval
    assert again.status_code == 200 and again.json() == result
    view = api.get(f"/approvals/{request_id}", "auditor").json()
    assert view["status"] == "waiting-timelock"
    (recorded,) = [d for d in view["decisions"] if d["username"] == "approver-2"]
    assert recorded["decision"] == "approve" and recorded["tx"] == result["tx"]
    # an open proposal only: approving again (already approved) is refused before anything is sent
    assert_problem(
        api.post(
            "/transactions/build",
            "approver-2",
            json={"action": "proposal_approve", "proposal": proposal},
        ),
        422,
        "chain-refused",
    )

    # the execute, signed by the official too: refused while the timelock runs, then built with
    # the proposed call filled in; the request records the execution by its transaction
    execute = {"action": "proposal_execute", "proposal": proposal}
    body = assert_problem(
        api.post("/transactions/build", "approver-2", json=execute), 422, "timelock"
    )
    assert f"proposal {proposal} (mint) is in its timelock" in body["detail"]
    assert_problem(api.post("/transactions/build", "inb", json=execute), 403, "forbidden")
    ready_at = governance.show(api.platform, proposal).ready_at
    api.platform.chain.advance_time(ready_at - api.platform.clock.chain_time())
    page = console.get(f"/console/approvals/{request_id}").text
    assert f"--as approver-2 approval execute {request_id} --key official-2.json" in page
    with pytest.MonkeyPatch.context() as network:  # the server-signed route: refused there
        network.setattr(type(api.platform.settings), "embedded", property(lambda _: False))
        body = assert_problem(
            api.post(f"/approvals/{request_id}/execute", "approver-2"), 403, "own-key-required"
        )
    assert "proposal execute PROPOSAL --key YOUR-KEY.json" in body["detail"]
    unsigned = build(api, "approver-2", **execute)
    assert unsigned["from"] == api.address("official-2") and unsigned["to"] == governance_contract
    by_request = build(api, "approver-2", action="request_execute", request=request_id)
    assert by_request["data"] == unsigned["data"] and by_request["action"] == "request_execute"
    target, call_data, evidence = governance.proposed_calls(api.platform, [proposal])[
        proposal
    ].execute_args
    token = tokens.resolve(api.platform, "PKTB3M")
    other_call = token.encode("mint", api.address("inb"), 7)
    tampered = api.platform.contract("Governance").encode(
        "execute", proposal, target, other_call, evidence
    )
    body = assert_problem(
        api.post(
            "/transactions",
            "approver-2",
            json={"raw": sign(api, "official-2", unsigned, data="0x" + tampered.hex())},
        ),
        422,
        "call-mismatch",
    )
    assert call_data != other_call
    before = balance(api, "PKTB3M", "kla")
    raw = sign(api, "official-2", unsigned)
    done = api.post("/transactions", "approver-2", json={"raw": raw})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["proposal"] == proposal and result["state"] == "executed"
    assert result["request"] == request_id and result["official"] == api.address("official-2")
    assert balance(api, "PKTB3M", "kla") == before + 7
    again = api.post("/transactions", "approver-2", json={"raw": raw})  # same bytes: one execute
    assert again.status_code == 200 and again.json() == result
    view = api.get(f"/approvals/{request_id}", "auditor").json()
    assert view["status"] == "executed" and view["executed_tx"] == result["tx"]
    assert view["executed_by_username"] == "approver-2"
    assert_problem(
        api.post("/transactions/build", "approver-2", json=execute), 422, "proposal-closed"
    )
    assert_problem(
        api.post(
            "/transactions/build",
            "approver-2",
            json={"action": "request_execute", "request": request_id},
        ),
        422,
        "not-ready",
    )

    # the CLI: official-3 approves another proposal with its Keystore V3 file through the API
    second = api.post(
        "/approvals",
        "treasury",
        json={"kind": "mint", "params": {"token": "PKTB3M", "to": api.address("kla"), "amount": 8}},
    ).json()["id"]
    other = api.post(f"/approvals/{second}/approve", "approver-1").json()["proposal_id"]
    keystore = tmp_path / "official-3.json"
    secret = api.platform.signer("official-3").key
    keystore.write_text(json.dumps(Account.encrypt(secret, "o3-passphrase", "pbkdf2", 2)))
    monkeypatch.setenv("AMANAT_KEY_PASSPHRASE", "o3-passphrase")
    monkeypatch.setenv("AMANAT_API_PASSWORD", pilot.pilot_password("approver-3"))
    monkeypatch.setattr(
        client,
        "open_client",
        lambda _url, user, key_file, password, data_dir, chain_id: client.InstitutionClient(
            api.client, user, password, key_file, data_dir, chain_id
        ),
    )
    home = ["--data-dir", str(tmp_path / "official-3-home")]
    approve = ["proposal", "approve", str(other), "--key", str(keystore), "--json"]
    approved = CliRunner().invoke(
        cli, [*home, "--api", "http://testserver", "--as", "approver-3", *approve]
    )
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["approvals"] == 2
    decisions = api.get(f"/approvals/{second}", "auditor").json()["decisions"]
    assert [d["username"] for d in decisions] == ["approver-1", "approver-3"]
    # a request's first approval, signed by the official itself, proposes the request's call
    third = api.post(
        "/approvals",
        "treasury",
        json={"kind": "mint", "params": {"token": "PKTB3M", "to": api.address("kla"), "amount": 9}},
    ).json()["id"]
    # an approval signed for another proposal is not what the request needs: refused
    mismatched = sign(
        api, "official-2", build(api, "approver-2", action="proposal_approve", proposal=other)
    )
    assert_problem(
        api.post(f"/approvals/{third}/approve", "approver-2", json={"raw": mismatched}),
        422,
        "call-mismatch",
    )
    proposed = CliRunner().invoke(
        cli,
        [
            *home,
            "--api",
            "http://testserver",
            "--as",
            "approver-3",
            "approval",
            "approve",
            str(third),
            "--key",
            str(keystore),
            "--json",
        ],
    )
    assert proposed.exit_code == 0, proposed.output
    view = json.loads(proposed.output)
    assert view["proposal_id"] and view["status"] == "pending-approvals"
    (decision,) = view["decisions"]
    assert decision["username"] == "approver-3" and decision["tx"]
    proposer = governance.show(api.platform, view["proposal_id"]).proposer
    assert proposer == api.address("official-3")
    # official-3 executes with the same key, once the timelock has passed: the second request's
    # proposal (`proposal execute`), then the third request (`approval execute`)
    ready_at = governance.show(api.platform, other).ready_at
    api.platform.chain.advance_time(ready_at - api.platform.clock.chain_time())
    execute_cli = ["proposal", "execute", str(other), "--key", str(keystore), "--json"]
    executed = CliRunner().invoke(
        cli, [*home, "--api", "http://testserver", "--as", "approver-3", *execute_cli]
    )
    assert executed.exit_code == 0, executed.output
    assert json.loads(executed.output)["state"] == "executed"
    shown = api.get(f"/approvals/{second}", "auditor").json()
    assert shown["status"] == "executed" and shown["executed_by_username"] == "approver-3"
    assert api.post(f"/approvals/{third}/approve", "approver-2").status_code == 200
    ready_at = governance.show(api.platform, view["proposal_id"]).ready_at
    api.platform.chain.advance_time(ready_at - api.platform.clock.chain_time())
    execute_cli = ["approval", "execute", str(third), "--key", str(keystore), "--json"]
    executed = CliRunner().invoke(
        cli, [*home, "--api", "http://testserver", "--as", "approver-3", *execute_cli]
    )
    assert executed.exit_code == 0, executed.output
    shown = json.loads(executed.output)
    assert shown["status"] == "executed" and shown["executed_tx"].startswith("0x")
    assert shown["executed_by_username"] == "approver-3"


def test_an_officials_signed_first_approval_is_not_replayed_onto_a_twin_request(api: Api) -> None:
    """Two requests for the same call (two identical mints) build the same proposal transaction:
    approver-2's signed first approval of one, submitted again to the other, is refused with a
    clear rule, and the twin keeps no proposal and no decision (review r2)."""
    params = {"token": "PKTB3M", "to": api.address("kla"), "amount": 11}
    first, twin = (
        api.post("/approvals", "treasury", json={"kind": "mint", "params": params}).json()["id"]
        for _ in range(2)
    )
    raw = sign(api, "official-2", build(api, "approver-2", action="request_approve", request=first))
    done = api.post(f"/approvals/{first}/approve", "approver-2", json={"raw": raw})
    assert done.status_code == 200, done.text
    body = assert_problem(
        api.post(f"/approvals/{twin}/approve", "approver-2", json={"raw": raw}),
        422,
        "tx-replayed",
    )
    assert f"request {first}" in body["detail"]
    view = api.get(f"/approvals/{twin}", "auditor").json()
    assert view["proposal_id"] is None and view["decisions"] == []


def test_a_rejected_requests_proposal_is_not_approved_through_signed_transactions(
    api: Api,
) -> None:
    """approver-2 rejects a request approver-1 proposed (its proposal stays open on chain, as only
    its proposer cancels): approver-3's own signed approval of that proposal, built before the
    rejection, is refused before it is sent, as the server-signed approval is, and the request
    stays rejected with no decision of approver-3 (review r2)."""
    params = {"token": "PKTB3M", "to": api.address("kla"), "amount": 12}
    request_id = api.post("/approvals", "treasury", json={"kind": "mint", "params": params}).json()[
        "id"
    ]
    proposal = api.post(f"/approvals/{request_id}/approve", "approver-1").json()["proposal_id"]
    unsigned = build(api, "approver-3", action="proposal_approve", proposal=proposal)
    rejected = api.post(f"/approvals/{request_id}/reject", "approver-2", json={"reason": "no"})
    assert rejected.status_code == 200, rejected.text
    assert governance.show(api.platform, proposal).state == "collecting-approvals"
    raw = sign(api, "official-3", unsigned)
    body = assert_problem(
        api.post("/transactions", "approver-3", json={"raw": raw}), 422, "request-rejected"
    )
    assert f"request {request_id}" in body["detail"]
    assert governance.show(api.platform, proposal).approvals == 1
    assert_problem(
        api.post(
            "/transactions/build",
            "approver-3",
            json={"action": "proposal_approve", "proposal": proposal},
        ),
        422,
        "request-rejected",
    )
    view = api.get(f"/approvals/{request_id}", "auditor").json()
    assert view["status"] == "rejected"
    assert [d["username"] for d in view["decisions"]] == ["approver-1", "approver-2"]


def test_an_officials_client_refuses_a_first_approval_with_other_call_arguments(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request states its call's ABI arguments as filed; an official's client compares the
    proposal the API built for the first approval with them, not only its target, function and
    evidence: a mint of 90 built for a request to mint 9 is refused before anything is signed."""
    kla = api.address("kla")
    filed = api.post(
        "/approvals",
        "treasury",
        json={"kind": "mint", "params": {"token": "PKTB3M", "to": kla, "amount": 9}},
    ).json()
    assert filed["call_arguments"] == [kla.lower(), 9]
    token = tokens.resolve(api.platform, "PKTB3M")
    propose = api.platform.contract("Governance").abi.functions["propose"]
    official = client.InstitutionClient(
        api.client, "approver-3", pilot.pilot_password("approver-3"), tmp_path / "k.json", tmp_path
    )
    built = official._post  # the API's build, with the call's amount changed

    def tampering(path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = built(path, body)
        if path == "/transactions/build":
            target, call, evidence, lifetime = propose.decode_arguments(
                bytes.fromhex(reply["data"][2:])
            )
            assert call == token.encode("mint", kla, 9)  # what the API built is the request's
            other = token.encode("mint", kla, 90)
            reply["data"] = "0x" + propose.encode(target, other, evidence, lifetime).hex()
        return reply

    monkeypatch.setattr(official, "_post", tampering)
    with pytest.raises(RuleViolation, match="amount 90 \\(filed: 9\\)") as refused:
        official.approve_request(filed["id"])
    assert refused.value.rule == "call-mismatch"
    assert api.get(f"/approvals/{filed['id']}", "auditor").json()["proposal_id"] is None
