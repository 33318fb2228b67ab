"""Sign-in throttling: counted atomically per (user, address) with back-off, no lock-out from
another address, the same password work for unknown and known users, and failed sign-ins kept
bounded in the audit trail and out of the public transparency log."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from amanat.services import accounts
from amanat.services.accounts import Role
from amanat.store.models import LogEntry
from tests.api.conftest import Api


def _token(client: TestClient, username: str, password: str) -> Any:
    return client.post("/auth/token", json={"username": username, "password": password})


def _from(api: Api, address: str) -> TestClient:
    """A client signing in from its own address (the suite's other tests share theirs)."""
    return TestClient(api.app, client=(address, 50_000))


def test_concurrent_wrong_passwords_are_counted_atomically(api: Api) -> None:
    username = f"racer-{api.backend}"
    accounts.create_user(api.platform.store, username, "right-password-1", Role.AUDITOR)
    racer = _from(api, "10.1.0.1")
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _i: _token(racer, username, "wrong"), range(20)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [401] * accounts.THROTTLE_FAILURES + [429] * (
        20 - accounts.THROTTLE_FAILURES
    ), statuses
    throttled = next(r for r in replies if r.status_code == 429)
    assert throttled.json()["rule"] == "throttled"
    assert int(throttled.headers["retry-after"]) >= 1


def test_lock_out_holds_for_one_address_only(api: Api) -> None:
    username = f"lockout-{api.backend}"
    accounts.create_user(api.platform.store, username, "right-password-1", Role.AUDITOR)
    attacker = _from(api, "10.1.0.2")
    for _ in range(accounts.THROTTLE_FAILURES):
        assert _token(attacker, username, "wrong").status_code == 401
    # from the attacking address even the right password waits out the back-off
    assert _token(attacker, username, "right-password-1").status_code == 429
    # the user, from their own address, is not locked out
    elsewhere = _from(api, "10.20.30.40")
    assert _token(elsewhere, username, "right-password-1").status_code == 200


def test_one_address_is_limited_across_usernames(api: Api) -> None:
    spray = _from(api, "10.99.0.1")
    statuses = [
        _token(spray, f"nobody-{api.backend}-{i}", "guess").status_code
        for i in range(accounts.ADDRESS_FAILURES + 1)
    ]
    assert statuses == [401] * accounts.ADDRESS_FAILURES + [429]


def test_one_user_is_limited_across_addresses(api: Api) -> None:
    """Guesses spread over many addresses (one each, under every address's own limit) still
    meet the user's own limit; the user signing in afterwards waits out the same back-off."""
    username = f"spread-{api.backend}"
    accounts.create_user(api.platform.store, username, "right-password-1", Role.AUDITOR)
    statuses = [
        _token(_from(api, f"10.77.{i // 250}.{i % 250 + 1}"), username, "wrong").status_code
        for i in range(accounts.USER_FAILURES + 1)
    ]
    assert statuses == [401] * accounts.USER_FAILURES + [429], statuses
    refused = _token(_from(api, "10.78.0.1"), username, "right-password-1")
    assert refused.status_code == 429 and refused.json()["rule"] == "throttled"
    assert f"{username!r} from any address" in refused.json()["detail"]


def test_unknown_and_known_users_cost_the_same_password_check(api: Api) -> None:
    checked: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            checked.append(str(password))
            return super().verify(hash, password)

    saved = accounts._hasher
    accounts._hasher = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        probe = _from(api, "10.99.0.2")
        assert _token(probe, f"ghost-{api.backend}", "guess-1").status_code == 401
        assert _token(probe, "auditor", "guess-2").status_code == 401
    finally:
        accounts._hasher = saved
    assert checked == ["guess-1", "guess-2"]


def test_failed_sign_ins_stay_out_of_the_public_log_and_are_bounded_in_the_trail(
    api: Api,
) -> None:
    username = f"noisy-{api.backend}"
    noisy = _from(api, "10.99.0.3")
    for _ in range(12):
        _token(noisy, username, "wrong")
    trail = api.get("/audit", "auditor", username=username, limit=500).json()["items"]
    assert [(e["resource"], e["status"]) for e in trail] == [
        ("/auth/token", 401)
    ] * accounts.THROTTLE_FAILURES
    hashes = {e["entry_hash"] for e in trail}
    with api.platform.store.session() as session:
        leaves = [json.loads(leaf) for leaf in session.scalars(select(LogEntry.leaf))]
    assert not [leaf for leaf in leaves if leaf.get("entry_hash") in hashes]


def test_signing_out_ends_the_bearer_token(api: Api) -> None:
    token, _expires = accounts.sign_in(
        api.platform.store, "regulator", "regulator-pilot-pass", "10.3.0.1"
    )
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/audit/verify", headers=bearer).status_code == 200
    # another user's token is not ended by someone who merely knows it
    other, _ = accounts.sign_in(api.platform.store, "auditor", "auditor-pilot-pass", "10.3.0.1")
    assert api.client.post("/auth/revoke", headers=bearer, json={"token": other}).status_code == 204
    assert (
        api.client.get("/audit/verify", headers={"Authorization": f"Bearer {other}"}).status_code
        == 200
    )
    # its own token is ended
    assert api.client.post("/auth/revoke", headers=bearer, json={"token": token}).status_code == 204
    ended = api.client.get("/audit/verify", headers=bearer)
    assert ended.status_code == 401
