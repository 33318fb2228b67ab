"""The policy layer as the API shows it: what a refusal may disclose to an institution, inputs
refused with a named rule (never a 500), and the headers every JSON answer carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from amanat.services import pilot
from amanat.store import crypto
from amanat.store.crypto import KEY_ENV
from amanat.store.models import IdempotencyRecord
from amanat.web.session import LOGIN_COOKIE, SESSION_COOKIE, csrf_for
from tests.api.conftest import Api
from tests.api.test_workflow import assert_problem


def _precheck(api: Api, who: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post("/transfers/precheck", who, json=body)
    assert reply.status_code == 200, reply.text
    verdict: dict[str, Any] = reply.json()
    return verdict


CAP = 600_000  # PKTB3M's holding cap per institution in the pilot


def _over_the_cap(api: Api) -> tuple[str, str, int, int]:
    """(sender, receiver, amount, receiver's holding): a transfer between pilot institutions
    the sender can afford that takes the receiver over PKTB3M's holding cap."""
    held = {
        key: int(
            api.get(f"/tokens/PKTB3M/balances/{api.address(key)}", "regulator").json()["balance"]
        )
        for key in ("inb", "kla", "fepf")
    }
    for receiver, has in sorted(held.items(), key=lambda item: -item[1]):
        for sender, can in held.items():
            if sender != receiver and has > 0 and can >= CAP + 1 - has:
                return sender, receiver, CAP + 1 - has, has
    raise AssertionError(f"no pilot transfer crosses the cap: {held}")


def test_a_refusal_shown_to_an_institution_never_names_another_partys_holding(api: Api) -> None:
    sender, receiver, amount, held = _over_the_cap(api)
    to = api.address(receiver)
    name = {"inb": "Indus National Bank", "kla": "Karakoram", "fepf": "Federal Employees"}
    mine = _precheck(api, sender, {"token": "PKTB3M", "to": to, "amount": amount})
    assert mine["rule"] == "holding-cap", mine
    assert name[receiver] not in mine["detail"]
    assert str(held + amount) not in mine["detail"] and str(held) not in mine["detail"]
    assert str(CAP) in mine["detail"]  # the rule's own figure stays
    # staff keep the full detail
    staff = _precheck(
        api,
        "regulator",
        {"token": "PKTB3M", "from": api.address(sender), "to": to, "amount": amount},
    )
    assert name[receiver] in staff["detail"] and str(held + amount) in staff["detail"]


def test_a_refused_transfer_by_an_institution_never_names_the_receiver(api: Api) -> None:
    sender, receiver, amount, held = _over_the_cap(api)
    reply = api.post(
        "/transfers",
        sender,
        json={"token": "PKTB3M", "to": api.address(receiver), "amount": amount},
    )
    body = assert_problem(reply, 422, "holding-cap")
    assert str(held + amount) not in body["detail"] and str(held) not in body["detail"]


def test_api_json_is_not_cached_or_sniffed_and_405_says_allow(api: Api) -> None:
    reply = api.get("/institutions", "registrar")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"
    wrong = api.client.put("/auth/token", json={})
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["allow"]


def test_a_huge_anonymous_body_is_refused_before_it_is_parsed(api: Api) -> None:
    reply = api.client.post(
        "/auth/token",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_problem(reply, 413, "body-too-large")


def test_only_the_document_upload_route_takes_a_large_body(api: Api) -> None:
    """Review: any path ending in /documents buffered 21 MiB before authentication."""
    body = b"x" * (2 * 1024 * 1024)
    for path in ("/x/documents", "/console/documents", "/assets/x/documents"):
        reply = api.client.post(path, content=body, headers={"Content-Type": "text/plain"})
        assert_problem(reply, 413, "body-too-large")
    reply = api.client.post("/assets/1/documents", content=body)
    assert reply.status_code != 413


def _console(api: Api, username: str) -> tuple[TestClient, str]:
    """A console session of its own (own cookies) and its CSRF token."""
    client = TestClient(api.app)
    nonce = f"nonce-{username}-console"
    client.cookies.set(LOGIN_COOKIE, nonce)
    reply = client.post(
        "/console/login",
        data={"username": username, "password": pilot.pilot_password(username), "csrf": nonce},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return client, csrf_for(client.cookies[SESSION_COOKIE])


def test_console_amounts_that_are_not_whole_numbers_are_refused_not_crashed(api: Api) -> None:
    client, csrf = _console(api, "inb")
    kla = api.address("kla")
    for amount in ("²", "١٠", "1e999", "10" * 20):
        reply = client.post(
            "/console/transfer",
            data={"csrf": csrf, "token": "PKTB3M", "receiver": kla, "amount": amount},
        )
        assert reply.status_code == 400, (amount, reply.status_code)
        assert "whole number" in reply.text or "must be 1.." in reply.text
    issuer, issuer_csrf = _console(api, "treasury")
    reply = issuer.post(
        "/console/approvals/new/mint",
        data={"csrf": issuer_csrf, "token": "PKTB3M", "to": kla, "amount": "²"},
    )
    assert reply.status_code == 400, reply.status_code


def test_an_approval_id_too_large_to_exist_is_not_found(api: Api) -> None:
    client, _csrf = _console(api, "approver-1")
    assert client.get("/console/approvals/99999999999999999999999").status_code == 404
    assert_problem(api.get("/approvals/99999999999999999999999", "regulator"), 422, "invalid-input")


@pytest.mark.parametrize("amount", [True, "100", 1.5, 1e30])
def test_api_amounts_are_json_integers(api: Api, amount: Any) -> None:
    reply = api.post(
        "/transfers/precheck",
        "institution",
        json={"token": "PKTB3M", "to": api.address("kla"), "amount": amount},
    )
    assert_problem(reply, 422, "invalid-input")


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused(api: Api) -> None:
    kla = api.address("kla")
    wrong = "0x" + kla[2:].swapcase()
    assert wrong[2:] != wrong[2:].lower() and wrong[2:] != wrong[2:].upper()
    reply = api.post(
        "/transfers/precheck", "institution", json={"token": "PKTB3M", "to": wrong, "amount": 1}
    )
    body = assert_problem(reply, 422, "invalid-input")
    assert "checksum" in body["detail"]
    lower = api.post(
        "/transfers/precheck",
        "institution",
        json={"token": "PKTB3M", "to": kla.lower(), "amount": 1},
    )
    assert lower.status_code == 200, lower.text
    assert_problem(api.get(f"/tokens/PKTB3M/balances/{wrong}", "regulator"), 400, "invalid-input")


def _institution(name: str, country: str, wallet: str) -> dict[str, Any]:
    return {
        "name": name,
        "country": country,
        "category": "bank",
        "kyc_expiry": 4_102_444_800,
        "wallets": [wallet],
        "kyc": {
            "legal_name": "Lookalike Bank Limited",
            "registration_no": "R-1",
            "country": "PK",
            "contact": "x",
        },
    }


@pytest.mark.parametrize(
    "name",
    [
        "Indus\u202eknaB lanoitaN",  # right-to-left override
        "Indus\u200bNational Bank",  # zero-width space
        "Indus\u0085National Bank",  # C1 next line
        "Indus National Bank\u2066",  # left-to-right isolate
    ],
)
def test_names_with_hidden_characters_are_refused(api: Api, name: str) -> None:
    wallet = "0x" + "ab" * 20
    block = api.platform.chain.block_number()
    reply = api.post("/institutions", "registrar", json=_institution(name, "PK", wallet))
    assert_problem(reply, 422, "invalid-input")
    assert api.platform.chain.block_number() == block


def test_a_country_code_that_names_no_country_is_refused(api: Api) -> None:
    wallet = "0x" + "cd" * 20
    block = api.platform.chain.block_number()
    reply = api.post("/institutions", "registrar", json=_institution("Nowhere Bank", "999", wallet))
    body = assert_problem(reply, 400, "invalid-input")
    assert "999" in body["detail"]
    assert api.platform.chain.block_number() == block


def test_onboarding_without_a_data_key_leaves_nothing_on_chain(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The KYC record cannot be sealed (no data key): refused before the chain is written, and
    a retry once the key is back succeeds (no identity was left behind)."""
    wallet = "0x" + "ef" * 20
    body = _institution("Keyless Bank", "PK", wallet)
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setattr(api.platform, "_cipher", None)
    load_key = crypto.load_key  # the platform imports it from amanat.store.crypto when used
    monkeypatch.setattr(
        crypto, "load_key", lambda _dir, create: load_key(tmp_path, create=False)
    )
    block = api.platform.chain.block_number()
    refused = api.post("/institutions", "registrar", json=body)
    assert refused.status_code == 400 and "no data key" in refused.json()["detail"], refused.text
    assert api.platform.chain.block_number() == block
    monkeypatch.undo()
    retried = api.post("/institutions", "registrar", json=body)
    assert retried.status_code == 201, retried.text


def _asset(legal_id: str, authorisation_ref: str) -> dict[str, Any]:
    return {
        "asset_class": "t_bill",
        "legal_id": legal_id,
        "name": "A second registration",
        "ministry": "Ministry of Finance",
        "authorisation_ref": authorisation_ref,
        "authorisation_sha256": "0x" + "12" * 32,
        "max_units": 1_000,
    }


def test_one_legal_identifier_and_one_authorisation_per_active_asset(api: Api) -> None:
    existing = api.get("/assets", None).json()["items"][0]
    legal_id, reference = existing["legal_id"], existing["authorisation"]["reference"]
    block = api.platform.chain.block_number()
    same_id = api.post("/assets", "treasury", json=_asset(legal_id, f"{reference}-other"))
    body = assert_problem(same_id, 422, "duplicate-asset")
    assert legal_id in body["detail"]
    same_ref = api.post("/assets", "treasury", json=_asset(f"{legal_id}X", reference))
    body = assert_problem(same_ref, 422, "duplicate-asset")
    assert reference in body["detail"]
    assert api.platform.chain.block_number() == block


def test_a_request_for_an_asset_that_does_not_exist_is_refused_when_filed(api: Api) -> None:
    for kind, params in (
        ("approve_asset", {"asset": 99_999}),
        ("tokenize", {"asset": 99_999, "name": "Ghost", "symbol": "GHOST"}),
        ("accept_valuation", {"asset": 99_999, "index": 0}),
    ):
        reply = api.post("/approvals", "treasury", json={"kind": kind, "params": params})
        assert_problem(reply, 404, "not-found")


@pytest.mark.parametrize("amount_pkr", ["1e999", "Infinity", "1e32"])
def test_a_console_cash_issue_beyond_what_the_api_accepts_is_refused(
    api: Api, amount_pkr: str
) -> None:
    client, csrf = _console(api, "treasury")
    before = len(api.get("/approvals", "regulator", limit=500).json()["items"])
    reply = client.post(
        "/console/approvals/new/issue_cash",
        data={
            "csrf": csrf,
            "to": api.address("inb"),
            "amount_pkr": amount_pkr,
            "reference": "DEP-2026-0001",
        },
    )
    assert reply.status_code == 400, (amount_pkr, reply.status_code)
    assert len(api.get("/approvals", "regulator", limit=500).json()["items"]) == before


def test_stored_idempotent_results_are_encrypted_at_rest(api: Api) -> None:
    key = f"sealed-{api.backend}"
    body = {"token": "PKTB3M", "to": api.address("kla"), "amount": 424_242}
    first = api.post("/transfers/precheck", "institution", key=key, json=body)
    assert first.status_code == 200, first.text
    with api.platform.store.session() as session:
        stored = session.get(IdempotencyRecord, (key, "inb"))
        assert stored is not None
        assert "424242" not in stored.body and api.address("kla") not in stored.body
    again = api.post("/transfers/precheck", "institution", key=key, json=body)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


def test_sealed_bids_are_encrypted_at_rest(api: Api) -> None:
    """The bids kept for their reveal (units, yield, salt) are sealed with the data key: the raw
    files hold no figure and no salt, and the reveal still opens them."""
    files = sorted((api.platform.settings.data_dir / "sealed-bids").iterdir())
    assert files
    for path in files:
        raw = path.read_bytes()
        for word in (b"salt", b"units", b"yield", b"commitment"):
            assert word not in raw, (path.name, word)
        kept = api.platform.cipher.open(raw)
        assert kept["salt"].encode() not in raw and len(bytes.fromhex(kept["salt"])) == 32
        assert kept["units"] > 0


def test_a_sealed_bids_idempotency_record_holds_no_figure_of_the_bid(api: Api) -> None:
    """A sealed bid's units and yield are kept only in its sealed file, for the reveal: the
    reply does not echo them, so the idempotency record (encrypted as every result is) holds
    neither, and a replay under the same key gives the same reply without a second commit."""
    now = api.platform.chain.block_timestamp()
    terms = {
        "token": "PKTB3M",
        "offered_units": 1_000,
        "close_time": now + 7_200,
        "reveal_deadline": now + 10_800,
        "settlement_date": now + 14_400,
    }
    announced = api.post("/auctions", "treasury", json=terms)
    assert announced.status_code == 201, announced.text
    auction = announced.json()["auction"]
    key = f"bid-{api.backend}"
    bid = {"units": 417, "yield": "12.3456%"}
    first = api.post(f"/auctions/{auction}/bids", "inb", key=key, json=bid)
    assert first.status_code == 201, first.text
    assert "units" not in first.json() and "yield_micro" not in first.json()
    with api.platform.store.session() as session:
        stored = session.get(IdempotencyRecord, (key, "inb"))
        assert stored is not None
        opened = api.platform.cipher.open(stored.body.encode())["result"]
    assert not {"units", "yield_micro", "salt"} & set(opened), opened
    assert "417" not in str(opened) and "123456" not in str(opened)
    again = api.post(f"/auctions/{auction}/bids", "inb", key=key, json=bid)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    shown = api.get(f"/auctions/{auction}", "auditor").json()
    assert len(shown["bids"]) == 1


def test_a_refused_dvp_instruction_never_tells_the_seller_the_buyers_holding(api: Api) -> None:
    """The DvP pre-check, server- or client-signed, explains a refusal as a transfer's is: the
    rule and the seller's own figures, never the buyer's holding or name."""
    sender, receiver, amount, held = _over_the_cap(api)
    sale = {
        "token": "PKTB3M",
        "buyer": api.address(receiver),
        "units": amount,
        "cash_minor": 100,
        "deadline": api.platform.clock.chain_time() + 3_600,
    }
    names = ("Indus National Bank", "Karakoram", "Federal Employees")
    for reply in (
        api.post("/dvp", sender, json=sale),
        api.post("/transactions/build", sender, json={"action": "dvp_instruct", **sale}),
    ):
        body = assert_problem(reply, 422, "holding-cap")
        assert str(held + amount) not in body["detail"] and str(held) not in body["detail"]
        assert not any(name in body["detail"] for name in names), body["detail"]


def test_a_spender_is_told_the_rule_on_the_owners_side_never_the_owners_figures(
    api: Api,
) -> None:
    """transferFrom out of another institution's allowance: a refusal on the owner's side (its
    balance short) names the rule, not the owner's balance, frozen, locked or available units."""
    owner, spender = "fepf", "kla"
    have = int(
        api.get(f"/tokens/PKTB3M/balances/{api.address(owner)}", "regulator").json()["balance"]
    )
    approve = {"token": "PKTB3M", "spender": api.address(spender), "amount": have + 5}
    unsigned = api.post("/transactions/build", owner, json={"action": "approve", **approve})
    assert unsigned.status_code == 200, unsigned.text
    from tests.api.test_client_signed import sign

    api.post("/transactions", owner, json={"raw": sign(api, owner, unsigned.json())})
    pull = {
        "action": "transferFrom",
        "token": "PKTB3M",
        "from": api.address(owner),
        "to": api.address(spender),
        "amount": have + 5,
    }
    body = assert_problem(
        api.post("/transactions/build", spender, json=pull), 422, "insufficient-balance"
    )
    assert str(have) not in body["detail"] and "available" not in body["detail"], body["detail"]


def test_a_distribution_to_fewer_holders_than_the_threshold_tells_nothing_that_counts_them() -> (
    None
):
    """depth (the payout tree's height), payouts made, "complete" and the root (with one holder,
    that holder's leaf) each count the holders: withheld with the count itself."""
    from amanat.services import public

    row = {
        "distribution": 4,
        "holders": 1,
        "depth": 0,
        "payouts_made": 1,
        "complete": True,
        "root": "0x" + "11" * 32,
        "total_minor": 5_000_00,
        "paid_minor": 5_000_00,
        "paid": "PKR 5,000.00",
        "held_minor": 0,
        "held": "PKR 0.00",
    }
    shown = public.distribution(row, None)
    assert {k: shown[k] for k in ("holders", "depth", "payouts_made", "complete", "root")} == {
        "holders": None,
        "depth": None,
        "payouts_made": None,
        "complete": None,
        "root": None,
    }
    many = public.distribution({**row, "holders": 12, "depth": 4, "payouts_made": 12}, None)
    assert many["depth"] == 4 and many["root"] == row["root"]
