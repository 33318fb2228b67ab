"""Every endpoint x every role (the eight roles and the public): the designed status.

Allowed roles get the endpoint's `ok` statuses: a GET answers 200 (or the row's status); a POST
that would change state is sent an invalid body (or an unknown id), so it must answer 400/404/422
and never 401/403. Roles that may not call the endpoint get 401 (public) or 403 (signed in).
Nothing here changes state, so the matrix does not depend on the order tests run in.

`test_matrix_covers_every_endpoint` fails when an endpoint is added without a row here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from amanat.services import pilot
from amanat.web.session import LOGIN_COOKIE
from tests.api.conftest import ROLE_USERS, ROLES, Api

ALL = frozenset(ROLES)
SIGNED_IN = ALL - {"public"}
STAFF = SIGNED_IN - {"institution"}
OVERSIGHT = frozenset({"auditor", "regulator"})
APPROVAL_READERS = frozenset({"issuer", "approver", "agent", "auditor", "regulator"})
DOCUMENT_READERS = frozenset({"issuer", "approver", "agent", "auditor", "regulator"})
INVALID = (400, 422)  # a bad body or parameter (problem+json), decided after the role check
UNKNOWN = 2**31 - 1  # a valid id that no request, auction, instruction or distribution has


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # the route's path template, as in app.routes
    path: str  # the path called; {placeholders} are filled from the fixture's values
    allowed: frozenset[str]
    ok: tuple[int, ...] = (200,)
    request: dict[str, Any] = field(default_factory=dict)  # json=, data=, files=, params=

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROWS = [
    Row("GET", "/health", "/health", ALL),
    Row("POST", "/auth/token", "/auth/token", ALL, (422,), {"json": {"username": ""}}),
    Row("POST", "/auth/revoke", "/auth/revoke", SIGNED_IN, INVALID, {"json": {}}),
    # assets
    Row("GET", "/assets", "/assets", ALL),
    Row("GET", "/assets/{asset_id}", "/assets/1", SIGNED_IN),
    Row("POST", "/assets", "/assets", frozenset({"issuer"}), INVALID, {"json": {}}),
    Row(
        "POST",
        "/assets/{asset_id}/documents",
        "/assets/1/documents",
        frozenset({"issuer"}),
        INVALID,
        {"data": {"kind": "none"}},
    ),
    Row("GET", "/documents/{sha256}", "/documents/{document}", DOCUMENT_READERS),
    Row(
        "POST",
        "/assets/{asset_id}/valuations",
        "/assets/2/valuations",
        frozenset({"valuer"}),
        INVALID,
        {"json": {"amount_minor": 0}},
    ),
    Row("GET", "/assets/{asset_id}/valuations", "/assets/5/valuations", ALL),
    Row("GET", "/assets/{asset_id}/history", "/assets/1/history", STAFF),
    # institutions and wallets: an institution sees only its own
    Row("GET", "/institutions", "/institutions", SIGNED_IN),
    Row("GET", "/institutions/{identity}", "/institutions/{own_identity}", SIGNED_IN),
    Row("GET", "/institutions/{identity}", "/institutions/{other_identity}", STAFF),
    Row(
        "GET",
        "/institutions/{identity}/kyc",
        "/institutions/{own_identity}/kyc",
        frozenset({"auditor", "registrar"}),
    ),
    Row("POST", "/institutions", "/institutions", frozenset({"registrar"}), INVALID, {"json": {}}),
    Row(
        "GET",
        "/institutions/{identity}/positions",
        "/institutions/{own_identity}/positions",
        SIGNED_IN,
    ),
    Row(
        "GET",
        "/institutions/{identity}/positions",
        "/institutions/{other_identity}/positions",
        STAFF,
    ),
    Row("GET", "/wallets/{address}", "/wallets/{own_wallet}", SIGNED_IN),
    Row("GET", "/wallets/{address}", "/wallets/{other_wallet}", STAFF),
    # tokens, holdings and transfers
    Row("GET", "/tokens", "/tokens", ALL),
    Row("GET", "/tokens/{ref}", "/tokens/PKTB3M", SIGNED_IN),
    Row("GET", "/tokens/{ref}/holders", "/tokens/PKTB3M/holders", STAFF),
    Row(
        "GET", "/tokens/{ref}/balances/{wallet}", "/tokens/PKTB3M/balances/{own_wallet}", SIGNED_IN
    ),
    Row("GET", "/tokens/{ref}/balances/{wallet}", "/tokens/1/balances/{other_wallet}", STAFF),
    Row(
        "POST", "/transfers/precheck", "/transfers/precheck", SIGNED_IN, INVALID, {"json": {"x": 1}}
    ),
    Row("POST", "/transfers", "/transfers", frozenset({"institution"}), INVALID, {"json": {}}),
    Row("GET", "/transfers", "/transfers", SIGNED_IN),
    Row(
        "POST",
        "/transactions/build",
        "/transactions/build",
        frozenset({"institution", "approver"}),
        INVALID,
        {"json": {"action": "mint"}},
    ),
    Row(
        "POST",
        "/transactions",
        "/transactions",
        frozenset({"institution", "approver"}),
        INVALID,
        {"json": {"raw": "0xc0"}},
    ),
    Row(
        "GET",
        "/transfers",
        "/transfers?wallet={other_wallet}",
        STAFF,
    ),
    # approvals
    Row("GET", "/approvals", "/approvals", APPROVAL_READERS),
    Row(
        "GET",
        "/approvals/{request_id}",
        f"/approvals/{UNKNOWN}",
        APPROVAL_READERS,
        (404,),
    ),
    Row(
        "POST",
        "/approvals",
        "/approvals",
        frozenset({"issuer", "agent"}),
        INVALID,
        {"json": {"kind": "mint"}},
    ),
    Row(
        "POST",
        "/approvals/{request_id}/approve",
        f"/approvals/{UNKNOWN}/approve",
        frozenset({"approver"}),
        (404,),
    ),
    Row(
        "POST",
        "/approvals/{request_id}/reject",
        f"/approvals/{UNKNOWN}/reject",
        frozenset({"approver"}),
        INVALID,
        {"json": {"reason": ""}},
    ),
    Row(
        "POST",
        "/approvals/{request_id}/execute",
        f"/approvals/{UNKNOWN}/execute",
        frozenset({"approver"}),
        (404,),
    ),
    # markets: cash, auctions, DvP, distributions
    Row("GET", "/cash/supply", "/cash/supply", ALL),
    Row("GET", "/cash/balances/{wallet}", "/cash/balances/{own_wallet}", SIGNED_IN),
    Row("GET", "/cash/balances/{wallet}", "/cash/balances/{other_wallet}", STAFF),
    Row("GET", "/auctions", "/auctions", ALL),
    Row("GET", "/auctions/{auction_id}", "/auctions/1", ALL),
    Row("POST", "/auctions", "/auctions", frozenset({"issuer"}), INVALID, {"json": {}}),
    Row(
        "POST",
        "/auctions/{auction_id}/bids",
        "/auctions/1/bids",
        frozenset({"institution"}),
        INVALID,
        {"json": {"units": 0}},
    ),
    Row(
        "POST",
        "/auctions/{auction_id}/reveal",
        f"/auctions/{UNKNOWN}/reveal",
        frozenset({"institution"}),
        (404,),
    ),
    Row(
        "GET",
        "/auctions/{auction_id}/allocation",
        "/auctions/1/allocation",
        frozenset({"issuer", "approver", "auditor", "regulator"}),
        (200,),
        {"params": {"cutoff": "11.95%", "days": 91}},
    ),
    Row("GET", "/dvp", "/dvp", SIGNED_IN),
    Row("GET", "/dvp/{instruction_id}", "/dvp/1", STAFF),  # inb is not a party to it
    Row("POST", "/dvp", "/dvp", frozenset({"institution"}), INVALID, {"json": {}}),
    *(
        Row(
            "POST",
            f"/dvp/{{instruction_id}}/{step}",
            f"/dvp/{UNKNOWN}/{step}",
            frozenset({"institution"}),
            (404,),
        )
        for step in ("affirm", "settle", "cancel")
    ),
    Row(
        "POST",
        "/dvp/{instruction_id}/expire",
        f"/dvp/{UNKNOWN}/expire",
        frozenset({"institution", "agent"}),
        (404,),
    ),
    Row("GET", "/distributions", "/distributions", ALL),
    Row("GET", "/distributions/{distribution_id}", "/distributions/1", ALL),
    Row(
        "POST",
        "/distributions/{distribution_id}/pay",
        "/distributions/1/pay",
        frozenset({"issuer", "agent"}),
        INVALID,
        {"json": {"batch_size": 0}},
    ),
    Row(
        "POST",
        "/distributions/{distribution_id}/claim",
        f"/distributions/{UNKNOWN}/claim",
        frozenset({"institution"}),
        (404,),
    ),
    Row(
        "POST",
        "/assets/{asset_id}/reserve-attestations",
        "/assets/1/reserve-attestations",
        frozenset({"valuer"}),
        INVALID,
        {"json": {}},
    ),
    Row(
        "POST",
        "/assets/{asset_id}/underlying",
        "/assets/1/underlying",
        frozenset({"issuer"}),
        INVALID,
        {"json": {}},
    ),
    # audit and events
    Row("GET", "/audit", "/audit", OVERSIGHT),
    Row("GET", "/audit/verify", "/audit/verify", OVERSIGHT),
    Row("GET", "/events", "/events", STAFF),
    # the public transparency log and reconciliation
    Row("GET", "/transparency/entries", "/transparency/entries", ALL),
    Row("GET", "/transparency/heads", "/transparency/heads", ALL),
    Row("GET", "/transparency/head", "/transparency/head", ALL, (200, 404)),
    Row(
        "GET",
        "/transparency/proof/inclusion",
        "/transparency/proof/inclusion",
        ALL,
        request={"params": {"index": 0, "size": 2}},
    ),
    Row(
        "GET",
        "/transparency/proof/consistency",
        "/transparency/proof/consistency",
        ALL,
        request={"params": {"first": 1, "second": 2}},
    ),
    Row("GET", "/transparency/public-key", "/transparency/public-key", ALL),
    Row("GET", "/transparency/manifest", "/transparency/manifest", ALL),
    Row("GET", "/reconciliations", "/reconciliations", OVERSIGHT),
    Row("POST", "/reconciliations", "/reconciliations", OVERSIGHT),
]


def _values(api: Api) -> dict[str, str]:
    from amanat.services import assets

    deed = assets.show(api.platform, 2)["documents"][0]["sha256"]
    return {
        "own_identity": "1",  # Indus National Bank, the institution user `inb`
        "other_identity": "2",  # Karakoram Life Assurance
        "own_wallet": api.address("inb"),
        "other_wallet": api.address("kla"),
        "document": deed,
    }


def test_matrix_covers_every_endpoint(api: Api) -> None:
    # FastAPI >= 0.13x keeps included routers nested in app.routes: walk them with their context.
    endpoints = {
        (method, route.path)
        for route in iter_route_contexts(api.app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    assert len(endpoints) == sum(len(ops) for ops in api.app.openapi()["paths"].values())
    covered = {(row.method, row.route) for row in ROWS}
    assert endpoints - covered == set(), "endpoints without a row in the matrix"
    assert covered - endpoints == set(), "rows for endpoints that do not exist"
    for row in ROWS:
        assert row.allowed <= ALL


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_matrix(api: Api, row: Row, role: str) -> None:
    path = row.path.format(**_values(api))
    reply = api.client.request(row.method, path, headers=api.headers(role), **row.request)
    assert reply.status_code < 500, reply.text
    if role in row.allowed:
        assert reply.status_code in row.ok, f"{role}: {reply.status_code} {reply.text}"
    else:
        expected = 401 if role == "public" else 403
        assert reply.status_code == expected, f"{role}: {reply.status_code} {reply.text}"
    if reply.status_code >= 400:
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["status"] == reply.status_code and problem["rule"]


# ------------------------------------------------------------------ the console, same table

# Console pages and the API row whose access they share: the console grants exactly the roles
# the API row allows (both read services/access.py), so the allowed set is taken from ROWS.
CONSOLE = [
    ("/console/assets/1", "/assets/1"),
    ("/console/institutions/{own_identity}", "/institutions/{own_identity}"),
    ("/console/institutions/{other_identity}", "/institutions/{other_identity}"),
    ("/console/tokens/PKTB3M/holders", "/tokens/PKTB3M/holders"),
    ("/console/approvals", "/approvals"),
    ("/console/approvals/1", "/approvals/{request_id}"),
    ("/console/documents/{document}", "/documents/{document}"),
]
_console_clients: dict[tuple[str, str], TestClient] = {}


def _console_client(api: Api, role: str) -> TestClient:
    """A console session for `role` (public: no session), kept for the module."""
    if (api.backend, role) not in _console_clients:
        client = TestClient(api.app)
        if role != "public":
            username = ROLE_USERS[role]
            client.cookies.set(LOGIN_COOKIE, "matrix-nonce")
            reply = client.post(
                "/console/login",
                data={
                    "username": username,
                    "password": pilot.pilot_password(username),
                    "csrf": "matrix-nonce",
                },
                follow_redirects=False,
            )
            assert reply.status_code == 303, reply.text
        _console_clients[api.backend, role] = client
    return _console_clients[api.backend, role]


def _api_row(path: str) -> Row:
    matches = [row for row in ROWS if row.method == "GET" and path in (row.path, row.route)]
    assert matches, f"no API row for {path}"
    return matches[0]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("page", "api_path"), CONSOLE, ids=[page for page, _ in CONSOLE])
def test_console_matrix(api: Api, page: str, api_path: str, role: str) -> None:
    allowed = _api_row(api_path).allowed
    reply = _console_client(api, role).get(page.format(**_values(api)), follow_redirects=False)
    if role == "public":
        assert reply.status_code == 303 and "/console/login" in reply.headers["location"]
    elif role in allowed:
        assert reply.status_code in (200, 404), f"{role}: {reply.status_code}"
    else:
        assert reply.status_code == 403, f"{role}: {reply.status_code}"
