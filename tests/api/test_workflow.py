"""End-to-end flows through the API on the real embedded chain: maker-checker issuance with its
audit trail, enforcement evidence, rule refusals, idempotency, login throttling, the institution's
scope, documents, onboarding with KYC, and cap tables as of a block or a date."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from amanat.services import accounts, governance
from amanat.services.accounts import Role
from amanat.store.models import AccessToken
from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def holders(api: Api, ref: str, **params: Any) -> dict[str, int]:
    reply = api.get(f"/tokens/{ref}/holders", "auditor", **params)
    assert reply.status_code == 200, reply.text
    return {row["wallet"]: row["balance"] for row in reply.json()["items"]}


def balance(api: Api, ref: str, key_name: str) -> int:
    reply = api.get(f"/tokens/{ref}/balances/{api.address(key_name)}", "auditor")
    assert reply.status_code == 200, reply.text
    return int(reply.json()["balance"])


def assert_problem(reply: Any, status: int, rule: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body: dict[str, Any] = reply.json()
    assert body["status"] == status and body["rule"] == rule, body
    return body


def test_maker_checker_mint(api: Api) -> None:
    api.sync()
    fepf = api.address("fepf")
    before = holders(api, "PKTB3M").get(fepf, 0)
    block_before = api.platform.chain.block_number()

    # treasury (issuer) files the request: nothing on chain yet
    filed = api.post(
        "/approvals",
        "treasury",
        json={"kind": "mint", "params": {"token": "PKTB3M", "to": fepf, "amount": 1_000}},
    )
    assert filed.status_code == 201, filed.text
    request = filed.json()
    ref, number = request["ref"], request["id"]
    assert request["status"] == "pending-approvals" and request["proposal_id"] is None
    assert api.platform.chain.block_number() == block_before

    # the maker may not approve (not an approver)
    assert_problem(api.post(f"/approvals/{number}/approve", "treasury"), 403, "forbidden")

    # approver-1 approves: the on-chain proposal, with approver-1's approval
    first = api.post(f"/approvals/{number}/approve", "approver-1")
    assert first.status_code == 200, first.text
    assert first.json()["proposal_id"] is not None
    assert first.json()["status"] == "pending-approvals"
    proposal = governance.show(api.platform, first.json()["proposal_id"])
    assert proposal.proposer.lower() == api.address("official-1").lower()
    assert proposal.approvals == 1

    # approver-1 again: refused
    assert_problem(api.post(f"/approvals/{number}/approve", "approver-1"), 422, "already-decided")

    # approver-2: the threshold (2 of 3) is met, the mint's timelock starts
    second = api.post(f"/approvals/{number}/approve", "approver-2")
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "waiting-timelock"
    assert [d["username"] for d in second.json()["decisions"]] == ["approver-1", "approver-2"]

    # executing inside the timelock is refused under the timelock rule
    early = assert_problem(api.post(f"/approvals/{number}/execute", "approver-3"), 422, "timelock")
    assert early["ready_at"] > api.platform.chain.block_timestamp()

    # after the timelock (embedded clock moved) an approver executes
    proposal = governance.show(api.platform, proposal.id)
    api.platform.chain.advance_time(proposal.ready_at - api.platform.chain.block_timestamp() + 1)
    executed = api.post(f"/approvals/{number}/execute", "approver-3", key=f"execute-{number}")
    assert executed.status_code == 200, executed.text
    assert executed.json()["status"] == "executed"
    assert governance.show(api.platform, proposal.id).state == "executed"

    # the indexed cap table shows the new balance; as of the block before, the old one
    api.sync()
    assert holders(api, "PKTB3M")[fepf] == before + 1_000
    assert holders(api, "PKTB3M", block=block_before).get(fepf, 0) == before
    assert api.get(f"/approvals/{number}", "regulator").json()["status"] == "executed"

    # the audit trail has every step under the approval's reference, and its chain is intact
    trail = api.get("/audit", "auditor", approval_ref=ref, limit=500).json()["items"]
    steps = [(e["username"], e["resource"].rsplit("/", 1)[-1], e["status"]) for e in trail]
    assert steps == [
        ("treasury", "approvals", 201),
        ("approver-1", "approve", 200),
        ("approver-1", "approve", 422),
        ("approver-2", "approve", 200),
        ("approver-3", "execute", 422),
        ("approver-3", "execute", 200),
    ]
    assert trail[-1]["detail"]["idempotency_key"] == f"execute-{number}"
    assert trail[2]["detail"]["rule"] == "already-decided"
    verify = api.get("/audit/verify", "auditor").json()
    assert verify["ok"] is True and verify["broken"] == [] and verify["entries"] >= len(trail)


def test_a_waiting_request_whose_approvals_no_longer_suffice_is_approved_again(api: Api) -> None:
    """A request waiting out its timelock loses its standing when the officials change (here
    the threshold is raised to 3; removing an approving official does the same): executing it
    is refused under the approvals rule and puts it back to pending approvals, and the next
    approver's approval starts its timelock anew; a request that kept its approvals but whose
    timelock stopped has it restarted by the approver executing it. Neither is stranded."""
    platform = api.platform
    gov = platform.contract("Governance")
    params = {"token": "PKTB3M", "to": api.address("fepf"), "amount": 10}
    number = api.post("/approvals", "treasury", json={"kind": "mint", "params": params}).json()[
        "id"
    ]
    for approver in ("approver-1", "approver-2"):
        assert api.post(f"/approvals/{number}/approve", approver).status_code == 200
    governance.govern(platform, ["official-1", "official-2"], gov, "setThreshold", [3],
                      advance_clock=True)  # fmt: skip
    try:
        refused = assert_problem(api.post(f"/approvals/{number}/execute", "approver-3"), 422,
                                 "approvals")  # fmt: skip
        assert "2 of 3 approvals" in refused["detail"]
        assert api.get(f"/approvals/{number}", "auditor").json()["status"] == "pending-approvals"
        again = api.post(f"/approvals/{number}/approve", "approver-3")
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "waiting-timelock"
        # the threshold lowered and raised again: three approvals stand, the timelock stopped
        officials = ["official-1", "official-2", "official-3"]
        for threshold in (2, 3):
            governance.govern(platform, officials, gov, "setThreshold", [threshold],
                              advance_clock=True)  # fmt: skip
        restarted = assert_problem(api.post(f"/approvals/{number}/execute", "approver-3"), 422,
                                   "timelock")  # fmt: skip
        assert restarted["ready_at"] > platform.chain.block_timestamp()
        assert governance.show(platform, again.json()["proposal_id"]).state == "waiting-timelock"
        platform.chain.advance_time(restarted["ready_at"] - platform.chain.block_timestamp() + 1)
        done = api.post(f"/approvals/{number}/execute", "approver-1")
        assert done.status_code == 200 and done.json()["status"] == "executed", done.text
    finally:
        officials = ["official-1", "official-2", "official-3"]
        governance.govern(platform, officials, gov, "setThreshold", [2], advance_clock=True)
    assert gov.read("threshold") == 2


def test_reject_with_reason(api: Api) -> None:
    filed = api.post(
        "/approvals",
        "treasury",
        json={"kind": "retire_asset", "params": {"asset": 3}},
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    assert_problem(
        api.post(f"/approvals/{number}/reject", "approver-2", json={}), 422, "invalid-input"
    )
    rejected = api.post(f"/approvals/{number}/reject", "approver-2", json={"reason": "not needed"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decisions"][0]["reason"] == "not needed"
    assert_problem(api.post(f"/approvals/{number}/approve", "approver-1"), 422, "not-pending")
    listed = api.get("/approvals", "auditor", status="rejected").json()
    assert number in [item["id"] for item in listed["items"]]


def test_enforcement_needs_evidence(api: Api) -> None:
    params = {
        "token": "PKTB3M",
        "from": api.address("ghc"),
        "to": api.address("inb"),
        "amount": 100,
    }
    body = assert_problem(
        api.post("/approvals", "enforcement", json={"kind": "forced_transfer", "params": params}),
        400,
        "invalid-input",
    )
    assert "legal basis" in body["detail"]
    order = "0x" + hashlib.sha256(b"court order 1/2026").hexdigest()
    filed = api.post(
        "/approvals",
        "enforcement",
        json={"kind": "forced_transfer", "params": params, "evidence": order},
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["evidence"] == order
    # an agent may not request issuance; an issuer may not request enforcement
    mint = {"token": "PKTB3M", "to": api.address("kla"), "amount": 1_000}
    assert_problem(
        api.post("/approvals", "enforcement", json={"kind": "mint", "params": mint}),
        403,
        "forbidden",
    )
    assert_problem(
        api.post(
            "/approvals",
            "treasury",
            json={"kind": "forced_transfer", "params": params, "evidence": order},
        ),
        403,
        "forbidden",
    )


def test_transfer_refused_by_rule(api: Api) -> None:
    retail = api.address("retail-0001")
    before = balance(api, "PKTB3M", "inb")
    reply = api.post(
        "/transfers", "institution", json={"token": "PKTB3M", "to": retail, "amount": 5_000}
    )
    body = assert_problem(reply, 422, "category-not-eligible")
    # an institution is told the token's terms, never the receiver's category or name
    assert "admits only" in body["detail"] and "retail" not in body["detail"].lower()
    assert body["code"] == 8
    assert balance(api, "PKTB3M", "inb") == before
    # the pre-check gives the same verdict with its values, and refusals are audited
    check = api.post(
        "/transfers/precheck",
        "institution",
        json={"token": "PKTB3M", "to": retail, "amount": 5_000},
    )
    assert check.status_code == 200, check.text
    verdict = check.json()
    assert verdict["allowed"] is False and verdict["rule"] == "category-not-eligible"
    assert verdict["from"] == api.address("inb") and "retail" not in verdict["detail"].lower()
    refused = api.get("/audit", "auditor", username="inb", status=422, sort="-id").json()
    assert refused["items"][0]["detail"]["rule"] == "category-not-eligible"


def test_transfer_idempotency(api: Api) -> None:
    kla_before = balance(api, "PKTB3M", "kla")
    transfer = {"token": "PKTB3M", "to": api.address("kla"), "amount": 1_000}
    first = api.post("/transfers", "institution", key="settle-2026-001", json=transfer)
    assert first.status_code == 201, first.text
    again = api.post("/transfers", "institution", key="settle-2026-001", json=transfer)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert balance(api, "PKTB3M", "kla") == kla_before + 1_000
    # the same key for another endpoint is refused: a key names one request
    assert_problem(
        api.post("/transfers/precheck", "institution", key="settle-2026-001", json=transfer),
        422,
        "idempotency-key-reused",
    )
    # a new key is a new transfer
    third = api.post("/transfers", "institution", key="settle-2026-002", json=transfer)
    assert third.status_code == 201 and third.json()["tx"] != first.json()["tx"]
    assert balance(api, "PKTB3M", "kla") == kla_before + 2_000


def test_login_throttling(api: Api) -> None:
    username = f"probe-{api.backend}"
    accounts.create_user(api.platform.store, username, "right-password-1", Role.AUDITOR)
    client = TestClient(api.app, client=("10.2.0.1", 50_000))  # an address of its own
    for _ in range(accounts.THROTTLE_FAILURES):
        wrong = client.post("/auth/token", json={"username": username, "password": "wrong"})
        assert_problem(wrong, 401, "unauthenticated")
    sixth = client.post("/auth/token", json={"username": username, "password": "wrong"})
    assert_problem(sixth, 429, "throttled")
    right = client.post("/auth/token", json={"username": username, "password": "right-password-1"})
    assert_problem(right, 429, "throttled")
    # only counted attempts are audited: the limit bounds what anyone can write to the trail
    attempts = api.get("/audit", "auditor", username=username, limit=500).json()["items"]
    assert [(e["resource"], e["status"]) for e in attempts] == [("/auth/token", 401)] * 5


def test_bad_and_expired_tokens(api: Api) -> None:
    assert_problem(
        api.client.get("/tokens/PKTB3M", headers={"Authorization": "Bearer nonsense"}),
        401,
        "unauthenticated",
    )
    assert_problem(
        api.client.get("/tokens/PKTB3M", headers={"Authorization": "Basic abc"}),
        401,
        "unauthenticated",
    )
    token, _ = accounts.sign_in(api.platform.store, "regulator", "regulator-pilot-pass", "test")
    with api.platform.store.session() as session, session.begin():
        access = session.get(AccessToken, hashlib.sha256(token.encode()).hexdigest())
        assert access is not None
        access.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    expired = api.client.get("/tokens/PKTB3M", headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(expired, 401, "unauthenticated")
    assert "expired" in body["detail"]
    assert expired.headers["www-authenticate"] == "Bearer"


def test_institution_sees_only_its_own(api: Api) -> None:
    inb, kla = api.address("inb"), api.address("kla")
    api.sync()
    mine = api.get("/transfers", "institution", limit=500).json()
    assert mine["total"] > 0
    assert all(inb in (t["from"], t["to"]) for t in mine["items"])
    everyone = api.get("/transfers", "auditor", limit=500).json()
    assert everyone["total"] > mine["total"]
    assert_problem(api.get("/transfers", "institution", wallet=kla), 403, "forbidden")
    assert_problem(api.get("/institutions/2/positions", "institution"), 403, "forbidden")
    assert_problem(api.get("/tokens/PKTB3M/holders", "institution"), 403, "forbidden")
    listed = api.get("/institutions", "institution").json()
    assert [i["identity"] for i in listed["items"]] == [1]
    positions = api.get("/institutions/1/positions", "institution").json()["items"]
    assert {p["symbol"] for p in positions} >= {"PKTB3M", "PKSUK29", "ISBG5423"}
    # the public sees aggregates only
    tokens = api.get("/tokens", None).json()["items"]
    assert {"symbol", "total_supply", "holders"} <= set(tokens[0])
    assert "wallet" not in str(tokens)


def test_document_upload_and_download(api: Api) -> None:
    content = b"Title deed: plot 423, sector G-5/1 (certified copy)"
    upload = api.post(
        "/assets/3/documents",
        "treasury",
        files={"file": ("deed-copy.txt", content, "text/plain")},
        data={"kind": "title_deed"},
    )
    assert upload.status_code == 201, upload.text
    digest = "0x" + hashlib.sha256(content).hexdigest()
    assert upload.json()["sha256"] == digest
    asset = api.get("/assets/3", "institution").json()
    assert {"kind": "title_deed", "sha256": digest} in [
        {"kind": d["kind"], "sha256": d["sha256"]} for d in asset["documents"] if d["stored"]
    ]
    download = api.get(f"/documents/{digest}", "auditor")
    assert download.status_code == 200 and download.content == content
    assert download.headers["x-document-sha256"] == digest
    assert_problem(api.get(f"/documents/{digest}", "institution"), 403, "forbidden")
    assert_problem(api.get("/documents/0x" + "ab" * 32, "auditor"), 404, "not-found")
    assert_problem(
        api.post(
            "/assets/99/documents",
            "treasury",
            files={"file": ("x.txt", b"x", "text/plain")},
            data={"kind": "other"},
        ),
        404,
        "not-found",
    )


def test_register_and_value_an_asset(api: Api) -> None:
    authorisation = "0x" + hashlib.sha256(b"Notification F.4(9)-DM/2026-1").hexdigest()
    registered = api.post(
        "/assets",
        "treasury",
        key="register-bond-2031",
        json={
            "asset_class": "bond",
            "legal_id": "PK0999PIB2031",
            "name": "Pakistan Investment Bond 2031",
            "ministry": "Ministry of Finance",
            "authorisation_ref": "Notification F.4(9)-DM/2026-1",
            "authorisation_sha256": authorisation,
            "max_units": 250_000,
        },
    )
    assert registered.status_code == 201, registered.text
    asset = registered.json()
    assert asset["status"] == "proposed" and asset["authorisation"]["max_units"] == 250_000
    report = "0x" + hashlib.sha256(b"valuation report").hexdigest()
    valued = api.post(
        f"/assets/{asset['id']}/valuations",
        "valuer",
        json={"amount_minor": 25_000_000_000, "date": "2026-01-31", "report_sha256": report},
    )
    assert valued.status_code == 201, valued.text
    assert valued.json()["index"] == 0
    shown = api.get(f"/assets/{asset['id']}", "regulator").json()
    assert shown["valuations"][0]["report_sha256"] == report
    assert shown["valuations"][0]["accepted"] is False
    listed = api.get("/assets", None, asset_class="bond").json()
    assert [a["legal_id"] for a in listed["items"]] == ["PK0999PIB2031"]


def test_onboard_with_kyc(api: Api) -> None:
    wallet = api.platform.address_of(f"new-fund-{api.backend}", new=True)
    kyc = {
        "legal_name": "Margalla Mutual Fund",
        "registration_no": "SECP-MF-0042",
        "country": "PK",
        "contact": "compliance@margalla.example",
        "lei": "5493001KJTIIGC8Y1R12",
    }
    onboarded = api.post(
        "/institutions",
        "registrar",
        json={
            "name": "Margalla Mutual Fund",
            "country": "PK",
            "category": "mutual_fund",
            "kyc_expiry": api.platform.chain.block_timestamp() + 86_400 * 365,
            "wallets": [wallet],
            "kyc": kyc,
        },
    )
    assert onboarded.status_code == 201, onboarded.text
    institution = onboarded.json()
    assert institution["wallets"] == [wallet] and institution["verified"] is True
    number = institution["identity"]
    record = api.get(f"/institutions/{number}/kyc", "auditor").json()
    assert record["record"] == kyc and record["matches_chain"] is True
    assert_problem(api.get(f"/institutions/{number}/kyc", "regulator"), 403, "forbidden")
    public = api.get(f"/institutions/{number}", "regulator").json()
    assert "record" not in public and public["category"] == "mutual_fund"
    assert api.get(f"/wallets/{wallet}", "agent").json()["identity"] == number
    reads = api.get("/audit", "auditor", username="auditor", action="GET").json()["items"]
    assert any(e["resource"] == f"/institutions/{number}/kyc" for e in reads)
    # a wallet already linked is refused
    again = api.post(
        "/institutions",
        "registrar",
        json={
            "name": "Duplicate",
            "country": "PK",
            "category": "bank",
            "kyc_expiry": api.platform.chain.block_timestamp() + 86_400,
            "wallets": [wallet],
            "kyc": {**kyc, "legal_name": "Duplicate"},
        },
    )
    assert_problem(again, 400, "invalid-input")


def test_cap_table_as_of_date_and_listing(api: Api) -> None:
    api.sync()
    latest = api.get("/tokens/PKTB3M/holders", "regulator", sort="wallet", limit=2).json()
    assert latest["total"] >= 4 and len(latest["items"]) == 2
    assert latest["items"] == sorted(latest["items"], key=lambda h: h["wallet"])
    assert_problem(
        api.get("/tokens/PKTB3M/holders", "regulator", sort="password"), 422, "invalid-input"
    )
    assert_problem(
        api.get("/tokens/PKTB3M/holders", "regulator", block=1, date="2026-01-01"),
        400,
        "invalid-input",
    )
    far = api.get("/tokens/PKTB3M/holders", "regulator", block=10**12)
    assert_problem(far, 422, "not-indexed")
    before_deployment = api.get("/tokens/PKTB3M/holders", "regulator", date="2000-01-01").json()
    assert before_deployment["items"] == [] and before_deployment["block"] is None
    today = datetime.fromtimestamp(api.platform.chain.block_timestamp(), UTC).date()
    as_of_today = api.get("/tokens/PKTB3M/holders", "regulator", date=today.isoformat()).json()
    assert as_of_today["total"] == latest["total"]
    events = api.get("/events", "auditor", contract="TokenFactory", event="TokenCreated").json()
    assert [e["args"]["symbol"] for e in events["items"]][:3] == ["PKTB3M", "PKSUK29", "ISBG5423"]
    history = api.get("/assets/1/history", "auditor", event="TokenLinked").json()
    assert history["total"] == 1
    health = api.get("/health", None).json()
    assert health["indexer_block"] is not None and health["chain_block"] >= health["indexer_block"]
