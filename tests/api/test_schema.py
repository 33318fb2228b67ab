"""Property-based tests of the API against its own OpenAPI document (schemathesis).

For every operation schemathesis generates requests from the schema and checks that no response
is a server error (`not_a_server_error`) and that every response, errors included, matches the
documented schema and status (`response_schema_conformance`):

- as the auditor, every GET (everything is readable, KYC personal data included) and every POST.
  The auditor writes nothing, so the POSTs exercise validation and the role check (403) without
  changing the shared chain; POST /transfers/precheck is the one POST an auditor may make and is
  read-only (it only adds audit entries);
- without signing in, every operation: 401 problem+json, except the public reads and sign-in.

State-changing operations are not run with their makers' tokens here: random approvals,
transfers or onboardings would change the chain the other API tests share. The workflow tests
drive those operations with valid data instead.

Requests are generated from the schema (positive) and, as the auditor, also in violation of it
(negative: bad types, patterns, bounds): no server error, and the refusal matches its documented
problem schema. 20 positive and 10 negative examples per operation keep the module to about a
minute per store backend.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import Api
from tests.api.test_matrix import ROWS

CHECKS = [not_a_server_error, response_schema_conformance]
SETTINGS = {
    mode: settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    for mode, examples in ((GenerationMode.POSITIVE, 20), (GenerationMode.NEGATIVE, 10))
}
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


def fuzz(
    api_schema: Any, method: str, path: str, mode: GenerationMode, headers: dict[str, str]
) -> None:
    operation = api_schema[path][method]

    @SETTINGS[mode]
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
