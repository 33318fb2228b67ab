"""Concurrent writers on one platform, on SQLite and PostgreSQL: the audit trail's hash chain
never forks, concurrent approvals keep the database and the chain in step, and an idempotency key
resolves concurrent first uses to exactly one execution."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from amanat.api.app import create_app
from amanat.config import Settings
from amanat.indexer.indexer import Indexer
from amanat.services import governance, idempotency, pilot, transparency
from amanat.services.platform import Platform
from amanat.store.models import AuditEntry, IdempotencyRecord
from amanat.web.session import LOGIN_COOKIE
from tests.api.conftest import Api


def _all_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job on its own thread, all started together; their results in order."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def _claimed(api: Api, method_path: str, keys: list[str]) -> tuple[Any, list[str]]:
    """inb (as a principal) and `keys`, each claimed by inb for `method_path`."""
    from amanat.services import accounts

    who = accounts.get_user(api.platform.store, "inb")
    for key in keys:
        assert idempotency.claim(api.platform, who.username, key, method_path, "f" * 64) is None
    return who, keys


def _console_sign_in(api: Api, username: str) -> int:
    nonce = f"nonce-{username}"
    reply = api.client.post(
        "/console/login",
        data={"username": username, "password": pilot.pilot_password(username), "csrf": nonce},
        headers={"Cookie": f"{LOGIN_COOKIE}={nonce}"},
        follow_redirects=False,
    )
    return reply.status_code


def test_audit_chain_holds_under_concurrent_api_console_and_background_writers(api: Api) -> None:
    from amanat.store.models import SignInThrottle

    with api.platform.store.session() as session, session.begin():
        # the platform is shared: failed sign-ins of earlier tests from this client's address
        # must not throttle the twenty concurrent sign-ins below (20 in flight count at once)
        session.execute(delete(SignInThrottle))
    kla = api.address("kla")
    api.sign_in("inb")
    api.sign_in("registrar")
    institution_id = api.get("/institutions", "registrar").json()["items"][0]["identity"]
    transparency.publish(api.platform)  # the tree-head key exists before the race
    before = api.get("/audit/verify", "auditor").json()
    assert before["ok"], before

    def console_sign_in(username: str) -> Callable[[], int]:
        return lambda: _console_sign_in(api, username)

    def precheck(amount: int) -> Callable[[], int]:
        return lambda: (
            api.post(
                "/transfers/precheck",
                "institution",
                json={"token": "PKTB3M", "to": kla, "amount": amount},
            ).status_code
        )

    def kyc_read() -> int:
        return int(api.get(f"/institutions/{institution_id}/kyc", "registrar").status_code)

    def index() -> int:
        Indexer(api.platform.chain, api.platform.manifest, api.platform.store).sync()
        return 200

    def publish() -> int:
        transparency.publish(api.platform)
        return 200

    jobs: list[Callable[[], int]] = []
    for i in range(20):
        jobs.append(console_sign_in(("approver-1", "approver-2", "regulator", "valuer")[i % 4]))
        jobs.append(precheck(1 + i))
    jobs += [kyc_read for _ in range(12)]
    jobs += [index, publish, index]
    statuses = _all_at_once(jobs)
    assert set(statuses) <= {200, 303}, statuses

    after = api.get("/audit/verify", "auditor").json()
    assert after["ok"], after
    assert after["entries"] >= before["entries"] + 52


def test_three_approvers_deciding_at_once_keep_database_and_chain_in_step(api: Api) -> None:
    fepf = api.address("fepf")
    approvers = ["approver-1", "approver-2", "approver-3"]
    for username in ["treasury", *approvers]:
        api.sign_in(username)
    for round_ in range(20):
        filed = api.post(
            "/approvals",
            "treasury",
            json={"kind": "mint", "params": {"token": "PKTB3M", "to": fepf, "amount": 1}},
        )
        assert filed.status_code == 201, filed.text
        number = filed.json()["id"]
        replies = _all_at_once(
            [
                (lambda who=who, number=number: api.post(f"/approvals/{number}/approve", who))
                for who in approvers
            ]
        )
        accepted = [r for r in replies if r.status_code == 200]
        refused = [r for r in replies if r.status_code != 200]
        assert len(accepted) == 2, (round_, [r.text for r in replies])
        assert [(r.status_code, r.json()["rule"]) for r in refused] == [(422, "not-pending")]
        request = api.get(f"/approvals/{number}", "regulator").json()
        proposal = governance.show(api.platform, request["proposal_id"])
        approvals_in_db = [d for d in request["decisions"] if d["decision"] == "approve"]
        assert len(approvals_in_db) == proposal.approvals == 2, (round_, request, proposal)
        assert request["status"] == proposal.state == "waiting-timelock"


def test_idempotency_key_reused_with_another_request_is_refused(api: Api) -> None:
    kla = api.address("kla")
    key = f"reuse-{api.backend}"
    first = api.post(
        "/transfers", "institution", key=key, json={"token": "PKTB3M", "to": kla, "amount": 7}
    )
    assert first.status_code == 201, first.text
    other = api.post(
        "/transfers",
        "institution",
        key=key,
        json={"token": "PKTB3M", "to": api.address("fepf"), "amount": 999},
    )
    assert other.status_code == 422, other.text
    assert other.json()["rule"] == "idempotency-key-reused"
    assert "Idempotent-Replayed" not in other.headers
    same = api.post(
        "/transfers", "institution", key=key, json={"token": "PKTB3M", "to": kla, "amount": 7}
    )
    assert same.status_code == 201 and same.headers["idempotent-replayed"] == "true"
    assert same.json() == first.json()


def test_concurrent_first_uses_of_one_key_execute_once(api: Api) -> None:
    kla = api.address("kla")
    key = f"race-{api.backend}"

    def balance() -> int:
        reply = api.get(f"/tokens/PKTB3M/balances/{kla}", "regulator")
        assert reply.status_code == 200, reply.text
        return int(reply.json()["balance"])

    before = balance()
    replies = _all_at_once(
        [
            (
                lambda amount=amount: api.post(
                    "/transfers",
                    "institution",
                    key=key,
                    json={"token": "PKTB3M", "to": kla, "amount": amount},
                )
            )
            for amount in range(11, 17)
        ]
    )
    executed = [r for r in replies if r.status_code == 201]
    assert len(executed) == 1, [r.text for r in replies]
    assert all(
        r.status_code == 422 and r.json()["rule"] == "idempotency-key-reused"
        for r in replies
        if r.status_code != 201
    ), [r.text for r in replies]
    assert balance() == before + executed[0].json()["amount"]


def test_one_approver_approving_three_times_at_once_is_counted_once(api: Api) -> None:
    api.sign_in("treasury")
    api.sign_in("approver-1")
    filed = api.post(
        "/approvals",
        "treasury",
        json={
            "kind": "mint",
            "params": {"token": "PKTB3M", "to": api.address("fepf"), "amount": 1},
        },
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    replies = _all_at_once(
        [lambda: api.post(f"/approvals/{number}/approve", "approver-1") for _ in range(3)]
    )
    assert sorted(r.status_code for r in replies) == [200, 422, 422], [r.text for r in replies]
    assert {r.json()["rule"] for r in replies if r.status_code == 422} == {"already-decided"}
    request = api.get(f"/approvals/{number}", "regulator").json()
    assert governance.show(api.platform, request["proposal_id"]).approvals == 1
    assert len(request["decisions"]) == 1


def test_concurrent_registrations_of_one_asset_register_it_once(api: Api) -> None:
    """Four issuers' requests for one legal identifier at the same moment: one asset, and the
    others a readable refusal (409 while the first is under way, 422 once it is registered)."""
    legal_id = f"PK-RACE-{api.backend.upper()}"
    count = api.platform.contract("AssetRegistry").read("assetCount")
    replies = _all_at_once(
        [
            (
                lambda n=n: api.post(
                    "/assets",
                    "issuer",
                    json={
                        "asset_class": "t_bill",
                        "legal_id": legal_id,
                        "name": f"Race {n}",
                        "ministry": "Ministry of Finance",
                        "authorisation_ref": f"SRO-RACE-{api.backend}-{n}",
                        "authorisation_sha256": "0x" + "34" * 32,
                        "max_units": 1_000,
                    },
                )
            )
            for n in range(4)
        ]
    )
    statuses = sorted(r.status_code for r in replies)
    assert statuses[0] == 201 and set(statuses[1:]) <= {409, 422}, [r.text for r in replies]
    assert statuses.count(201) == 1, [r.text for r in replies]
    for refused in (r for r in replies if r.status_code != 201):
        assert refused.json()["rule"] == "duplicate-asset" and legal_id in refused.json()["detail"]
    assert api.platform.contract("AssetRegistry").read("assetCount") == count + 1


def _second_worker(
    data_dir: Path, store_url: str, token: str, keys: list[str], body: Any, pipe: Connection
) -> None:
    """A second API worker (`amanat serve --workers N` runs several) over the same data directory
    and database, forked from this one: its own platform, store connections and app. For each
    key it says it is ready, waits for the go, sends the request and returns the reply."""
    platform = Platform.open(Settings(data_dir, database_url=store_url))
    client = TestClient(create_app(platform))
    bearer = {"Authorization": f"Bearer {token}"}
    client.post("/transfers/precheck", headers=bearer, json=body)  # warm, without a key
    for key in keys:
        pipe.send("ready")
        pipe.recv()
        try:
            reply = client.post(
                "/transfers/precheck", headers={**bearer, "Idempotency-Key": key}, json=body
            )
        except Exception as exc:  # noqa: BLE001 - a server error is this worker's answer
            pipe.send([500, None, json.dumps({"error": repr(exc)})])
            continue
        pipe.send([reply.status_code, reply.headers.get("idempotent-replayed"), reply.text])


def test_one_key_sent_to_two_workers_at_once_executes_once(api: Api) -> None:
    """Two API processes over one data directory and database race the same idempotency key,
    round after round: one executes, the other replays its result."""
    body = {"token": "PKTB3M", "to": api.address("kla"), "amount": 5}
    keys = [f"twin-{api.backend}-{n}" for n in range(4)]
    settings = api.platform.settings
    ours_end, theirs_end = multiprocessing.get_context("fork").Pipe()
    worker = multiprocessing.get_context("fork").Process(
        target=_second_worker,
        args=(settings.data_dir, settings.store_url, api.sign_in("inb"), keys, body, theirs_end),
    )
    worker.start()
    theirs_end.close()  # the worker's end is the worker's: its exit ends the pipe
    try:
        replies = []
        for key in keys:
            assert ours_end.poll(120) and ours_end.recv() == "ready"
            ours_end.send("go")
            try:
                mine = api.post("/transfers/precheck", "institution", key=key, json=body)
            finally:
                theirs = ours_end.recv()
            replies.append((key, mine, theirs))
    finally:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
            worker.join()
    with api.platform.store.session() as session:
        audited = [
            e.detail.get("idempotency_key")
            for e in session.scalars(select(AuditEntry).where(AuditEntry.username == "inb"))
        ]
    for key, mine, (status, replayed, text) in replies:
        assert mine.status_code == status == 200, (mine.text, text)
        assert mine.json() == json.loads(text)
        assert [mine.headers.get("idempotent-replayed"), replayed].count("true") == 1
        assert audited.count(key) == 1, key


def test_concurrent_results_are_each_stored_and_one_failure_stays_its_own(api: Api) -> None:
    """deps.remember for concurrent POSTs: every request gets its own completed idempotency
    record and its own chained audit entry, and a result that cannot be stored (a body that is
    not JSON: it refers to itself) fails only the request that owns it."""
    from amanat.api import deps
    from amanat.services import idempotency

    platform = api.platform
    method_path = "POST /transfers"
    who, keys = _claimed(api, method_path, [f"group-{uuid}" for uuid in range(12)])
    bad: dict[str, Any] = {}
    bad["self"] = bad
    bad_key = keys[5]

    def remember(key: str) -> Callable[[], str]:
        def run() -> str:
            body = bad if key == bad_key else {"tx": key}
            try:
                deps.remember(platform, who, key, method_path, 201, body, "127.0.0.1")
            except ValueError as error:
                return f"refused: {error}"
            return "stored"

        return run

    outcomes = dict(zip(keys, _all_at_once([remember(key) for key in keys]), strict=True))
    assert outcomes.pop(bad_key).startswith("refused: Circular reference")
    assert set(outcomes.values()) == {"stored"}
    for key in outcomes:
        replay = idempotency.claim(platform, who.username, key, method_path, "f" * 64)
        assert replay == {"tx": key}
    idempotency.release(platform, who.username, bad_key)  # still pending: given back
    with platform.store.session() as session:
        audited = [
            json.dumps(detail)
            for detail in session.scalars(
                select(AuditEntry.detail).where(AuditEntry.resource == "/transfers")
            )
        ]
    assert all(sum(f'"{key}"' in d for d in audited) == 1 for key in outcomes)
    assert not any(f'"{bad_key}"' in d for d in audited)
    assert api.get("/audit/verify", "auditor").json()["ok"]


def test_results_queued_behind_the_store_are_recorded_together_each_chained(api: Api) -> None:
    """Requests whose results wait while the store's writer is busy are recorded in one
    transaction once it is free: one for the first to arrive, one for all the others, each with
    its own completed idempotency record, its own chained audit entry and its own public leaf."""
    from amanat.api import deps
    from amanat.store.models import AuditState, LogEntry

    platform = api.platform
    method_path = "POST /transfers"
    who, keys = _claimed(api, method_path, [f"together-{api.backend}-{n}" for n in range(10)])
    recorder = platform.store.group
    with platform.store.session() as blocker, blocker.begin():  # holds the audit counter
        blocker.execute(update(AuditState).where(AuditState.id == 1).values(size=AuditState.size))
        with ThreadPoolExecutor(max_workers=len(keys)) as pool:
            done = [
                pool.submit(
                    deps.remember, platform, who, key, method_path, 201, {"tx": key}, "127.0.0.1"
                )
                for key in keys
            ]
            deadline = time.monotonic() + 60
            while recorder.queued() < len(keys) - 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert recorder.queued() == len(keys) - 1  # one writing (waiting), the rest queued
            blocker.commit()
            for future in done:
                future.result()
    with platform.store.session() as session:
        entries = session.execute(
            select(AuditEntry.id, AuditEntry.at, AuditEntry.detail).where(
                AuditEntry.resource == "/transfers", AuditEntry.username == who.username
            )
        ).all()
        ours = [(i, at) for i, at, detail in entries if detail.get("idempotency_key") in keys]
        leaves = session.scalars(
            select(LogEntry.source).where(LogEntry.source.in_([f"audit:{i}" for i, _ in ours]))
        ).all()
    assert len(ours) == len(keys)
    assert len({at for _, at in ours}) == 2  # two transactions: the first alone, then the rest
    assert len(leaves) == len(keys)
    for key in keys:
        assert idempotency.claim(platform, who.username, key, method_path, "f" * 64) == {"tx": key}
    assert api.get("/audit/verify", "auditor").json()["ok"]


def test_a_group_refused_for_one_item_writes_the_others_alone_and_a_failed_one_fails_all(
    api: Api,
) -> None:
    """The store's group commit: when the database refuses one item's value, the group's items
    are written alone and only that item fails; when the transaction itself fails (the database
    unreachable), every item gets that error and nothing is tried again."""
    from sqlalchemy.exc import DataError, OperationalError

    group = api.platform.store.group
    calls: list[list[str]] = []

    def write(_session: Any, items: list[str]) -> None:
        calls.append(list(items))
        if "refused" in items:
            raise DataError("INSERT", {}, Exception("value out of range"))

    def unreachable(_session: Any, items: list[str]) -> None:
        calls.append(list(items))
        raise OperationalError("COMMIT", {}, Exception("connection lost"))

    def outcomes(writer: Callable[[Any, list[str]], None]) -> list[str]:
        items = ["first", "refused", "third"]
        with ThreadPoolExecutor(len(items)) as pool:
            with group._writing:  # a group is being written: these three queue together
                futures = [pool.submit(group.commit, writer, item) for item in items]
                deadline = time.monotonic() + 60
                while group.queued() < len(items) and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert group.queued() == len(items)
            return [type(f.exception()).__name__ if f.exception() else "ok" for f in futures]

    assert outcomes(write) == ["ok", "DataError", "ok"]
    assert calls == [["first", "refused", "third"], ["first"], ["refused"], ["third"]]
    calls.clear()
    assert outcomes(unreachable) == ["OperationalError"] * 3
    assert calls == [["first", "refused", "third"]]


def test_a_claim_left_pending_past_the_stale_age_is_taken_over_and_a_fresh_one_is_not(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that died holding a key's claim: once the claim is older than STALE the key's
    next request takes it over and runs; a claim still fresh makes it wait, then 409."""
    platform, key = api.platform, f"stale-claim-{api.backend}"
    args = ("inb", key, "POST /transfers", "fingerprint")
    assert idempotency.claim(platform, *args) is None
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.1)
    with pytest.raises(idempotency.KeyInProgress):
        idempotency.claim(platform, *args)
    with platform.store.session() as session, session.begin():  # the claim grows old
        record = session.get(IdempotencyRecord, (key, "inb"))
        assert record is not None
        record.at -= idempotency.STALE + timedelta(seconds=1)
    assert idempotency.claim(platform, *args) is None  # taken over: this request runs
    idempotency.release(platform, "inb", key)
