"""Property-based tests of the API against its own OpenAPI document (schemathesis).

For every operation schemathesis generates requests from the schema and checks that no response
is a server error (`not_a_server_error`), that every response, errors included, matches the
documented schema (`response_schema_conformance`) and is one of the operation's documented
statuses (`status_code_conformance`), and that nothing removed is still served
(`use_after_free`; the API removes nothing, so it guards the day it does):

- as the auditor, every GET (everything is readable, KYC personal data included) and every POST.
  The auditor writes nothing, so the POSTs exercise validation and the role check (403) without
  changing the shared chain; POST /transfers/precheck is the one POST an auditor may make and is
  read-only (it only adds audit entries);
- as the regulator, every operation (it writes nothing either, and may not read KYC records);
- as an institution, every GET and every POST that cannot change the chain: those it may not
  make (403), the read-only ones, and POST /transactions (only a transaction signed with its own
  wallet's key would be sent);
- without signing in, every operation: 401 problem+json, except the public reads and sign-in.

State-changing operations are not run with their makers' tokens here: random approvals,
transfers, bids or onboardings would change the chain the other API tests share. The workflow
tests drive those operations with valid data instead.

Requests are generated from the schema (positive) and, as the auditor, also in violation of it
(negative: bad types, patterns, bounds): no server error, and the refusal matches its documented
problem schema and status. 20 positive and 10 negative examples per operation as the auditor,
5 as the regulator and the institution.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from tests.api.conftest import Api
from tests.api.test_matrix import ROWS

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, use_after_free]


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )


SETTINGS = {GenerationMode.POSITIVE: _settings(20), GenerationMode.NEGATIVE: _settings(10)}
# The further roles: a few examples per operation.
FEW = _settings(5)
# Every operation (the matrix proves its rows cover them all).
OPERATIONS = sorted({(row.method, row.route) for row in ROWS})
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/assets"),
    ("GET", "/assets/{asset_id}/valuations"),
    ("GET", "/tokens"),
    ("POST", "/auth/token"),
    ("GET", "/cash/supply"),
    ("GET", "/auctions"),
    ("GET", "/auctions/{auction_id}"),
    ("GET", "/distributions"),
    ("GET", "/distributions/{distribution_id}"),
} | {
    ("GET", f"/transparency/{path}")
    for path in (
        "entries", "heads", "head", "proof/inclusion", "proof/consistency", "public-key", "manifest"
    )
}  # fmt: skip


@pytest.fixture(scope="session")
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", api.app)


# The POSTs an institution may make that would change the shared chain when the request is
# valid (services/tokens, auctions, dvp, distributions): left to the workflow tests. Every other
# POST is refused before any write (403, or bad input), or is read-only (precheck, build), or,
# for POST /transactions, needs a transaction signed by the institution's own wallet key.
INSTITUTION_WRITES = {
    ("POST", "/transfers"),
    ("POST", "/auctions/{auction_id}/bids"),
    ("POST", "/auctions/{auction_id}/reveal"),
    ("POST", "/dvp"),
    ("POST", "/dvp/{instruction_id}/affirm"),
    ("POST", "/dvp/{instruction_id}/settle"),
    ("POST", "/dvp/{instruction_id}/cancel"),
    ("POST", "/dvp/{instruction_id}/expire"),
    ("POST", "/distributions/{distribution_id}/claim"),
}
INSTITUTION_OPERATIONS = [op for op in OPERATIONS if op not in INSTITUTION_WRITES]


def fuzz(
    api_schema: Any,
    method: str,
    path: str,
    mode: GenerationMode,
    headers: dict[str, str],
    budget: settings | None = None,
) -> None:
    operation = api_schema[path][method]

    @(budget or SETTINGS[mode])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if case.headers:
            case.headers.pop("Authorization", None)
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        if not headers and (method, path) not in PUBLIC:
            assert response.status_code in (401, 422), response.text

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing to negate: the operation takes no parameters or body


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_as_auditor(api_schema: Any, api: Api, method: str, path: str, mode: Any) -> None:
    fuzz(api_schema, method, path, mode, api.headers("auditor"))


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_unauthenticated(api_schema: Any, method: str, path: str) -> None:
    fuzz(api_schema, method, path, GenerationMode.POSITIVE, {})


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_as_regulator(api_schema: Any, api: Api, method: str, path: str) -> None:
    fuzz(api_schema, method, path, GenerationMode.POSITIVE, api.headers("regulator"), FEW)


@pytest.mark.parametrize(
    ("method", "path"), INSTITUTION_OPERATIONS, ids=[f"{m} {p}" for m, p in INSTITUTION_OPERATIONS]
)
def test_as_institution(api_schema: Any, api: Api, method: str, path: str) -> None:
    fuzz(api_schema, method, path, GenerationMode.POSITIVE, api.headers("institution"), FEW)


def test_shared_refusals_are_documented(api: Api) -> None:
    """The refusals of the layers every request passes through are in each operation's
    documented statuses: a body that does not parse (400), a body over the limit (413), and
    409 while an Idempotency-Key's first request is under way."""
    paths = api.app.openapi()["paths"]
    malformed = api.client.post(
        "/auth/token", content=b"\xff", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["rule"] == "malformed-body"
    too_large = api.client.post(
        f"/dvp/{2**31 - 1}/affirm", content=b"x" * (1024 * 1024 + 1), headers=api.headers("auditor")
    )
    assert too_large.status_code == 413 and too_large.json()["rule"] == "body-too-large"
    assert "400" in paths["/auth/token"]["post"]["responses"]
    assert "413" in paths["/dvp/{instruction_id}/affirm"]["post"]["responses"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            if "requestBody" in operation:
                assert {"400", "413"} <= documented, (method, path)
            if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
                assert "409" in documented, (method, path)
