"""What the resource routers share: field types with their bounds, role sets, problem+json
responses, FireFly-style list pages (limit, skip, sort, equality filters), the institution scope
of a signed-in user, and the idempotent, audited runner of every POST."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from amanat.api import deps
from amanat.api.problems import PROBLEM, status_of
from amanat.domain.assets import AssetClass, AssetStatus, DocumentKind
from amanat.domain.identity import COUNTRY_ALPHA2, InvestorCategory
from amanat.errors import AmanatError
from amanat.services import access, audit, idempotency, inputs
from amanat.services.accounts import Principal
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform

# The role sets of the policy layer (services/access.py), named here for the routers.
ISSUER, APPROVER, REGISTRAR, VALUER, AGENT, AUDITOR, REGULATOR, INSTITUTION = (
    access.ISSUER,
    access.APPROVER,
    access.REGISTRAR,
    access.VALUER,
    access.AGENT,
    access.AUDITOR,
    access.REGULATOR,
    access.INSTITUTION,
)
STAFF, SIGNED_IN, OVERSIGHT = access.STAFF, access.SIGNED_IN, access.OVERSIGHT

# ------------------------------------------------------------------ field types

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-f]{64}$"
# A token by asset id, symbol or address (see services.tokens.resolve).
TOKEN_REF_PATTERN = r"^(0x[0-9a-fA-F]{40}|[0-9]{1,9}|[A-Za-z][A-Za-z0-9._-]{0,31})$"
COUNTRY_PATTERN = r"^([A-Z]{2}|[0-9]{1,3})$"
# One line of printable text: no control characters (which also keeps NUL out of PostgreSQL).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
# A yield the chain can carry (whole millionths): a fraction below 1, or a percentage.
YIELD_PATTERN = r"^0(\.[0-9]{1,6})?$|^(0|[1-9][0-9]?)(\.[0-9]{1,4})?%$"
MAX_INT64 = 2**63 - 1
MAX_INT32 = 2**31 - 1


def _rule(check: Callable[[str], str]) -> Callable[[str], str]:
    """A services/inputs rule as a pydantic validator (its refusal becomes a 422 naming it)."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except AmanatError as error:
            raise ValueError(error.message) from None

    return validate


# A mixed-case address must carry its EIP-55 checksum; the value is kept as sent.
Address = Annotated[
    str,
    StringConstraints(pattern=ADDRESS_PATTERN),
    AfterValidator(_rule(lambda value: inputs.checksummed(value) and value)),
]
Hash = Annotated[str, StringConstraints(pattern=HASH_PATTERN)]
TokenRef = Annotated[str, StringConstraints(pattern=TOKEN_REF_PATTERN)]
Country = Annotated[str, StringConstraints(pattern=COUNTRY_PATTERN)]
Id = Annotated[int, Field(ge=1, le=MAX_INT32)]
# Amounts are JSON integers: true, 1.0 and "100" are refused, not read as numbers.
Amount = Annotated[int, Field(ge=1, le=MAX_INT64, strict=True)]
Count = Annotated[int, Field(ge=0, le=MAX_INT64, strict=True)]
Block = Annotated[int, Field(ge=0, le=MAX_INT64)]
Timestamp = Annotated[int, Field(ge=0, le=MAX_INT64)]
Yield = Annotated[
    str, StringConstraints(pattern=YIELD_PATTERN), Field(description="e.g. 0.1195 or 11.95%")
]


def _fits(max_bytes: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value.encode()) > max_bytes:
            raise ValueError(f"at most {max_bytes} bytes of UTF-8")
        return value

    return check


def text(max_bytes: int) -> Any:
    """One line of printable text of 1..max_bytes UTF-8 bytes (the chain's String[N] limits)."""
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_bytes, pattern=PRINTABLE),
        AfterValidator(_fits(max_bytes)),
    ]


def shown_name(max_bytes: int) -> Any:
    """A name shown to others: `text` without invisible or reordering characters."""
    return Annotated[text(max_bytes), AfterValidator(_rule(inputs.display_name))]


def address(value: str) -> str:
    """The checksummed form of an address given in a path or body (checksum checked)."""
    return inputs.checksummed(value)


def snake(label: str) -> str:
    return label.replace(" ", "_")


class AssetClassName(StrEnum):
    T_BILL = "t_bill"
    BOND = "bond"
    SUKUK = "sukuk"
    EQUITY = "equity"
    REAL_ESTATE = "real_estate"
    COMMODITY_RESERVE = "commodity_reserve"


class AssetStatusName(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    TOKENIZED = "tokenized"
    REDEEMED = "redeemed"
    RETIRED = "retired"


class DocumentKindName(StrEnum):
    TITLE_DEED = "title_deed"
    VALUATION_REPORT = "valuation_report"
    LEGAL_AUTHORISATION = "legal_authorisation"
    OTHER = "other"


class CategoryName(StrEnum):
    BANK = "bank"
    INSURER = "insurer"
    PENSION_FUND = "pension_fund"
    MUTUAL_FUND = "mutual_fund"
    GOVERNMENT_ENTITY = "government_entity"
    FOREIGN_INSTITUTION = "foreign_institution"
    RETAIL = "retail"
    BROKER_DEALER = "broker_dealer"


# The API's names must stay those of the domain enums.
for _api, _domain in (
    (AssetClassName, AssetClass),
    (AssetStatusName, AssetStatus),
    (DocumentKindName, DocumentKind),
    (CategoryName, InvestorCategory),
):
    assert [m.value for m in _api] == [m.name.lower() for m in _domain], _api  # type: ignore[attr-defined]


def alpha2(country: int) -> str | None:
    return COUNTRY_ALPHA2.get(country)


def day_end(day: date) -> int:
    """The last second of a UTC day, as unix time."""
    return int(datetime.combine(day, time(23, 59, 59), UTC).timestamp())


def day_start(day: date) -> int:
    return int(datetime.combine(day, time(0, 0, 0), UTC).timestamp())


# ------------------------------------------------------------------------ roles


# ------------------------------------------------------------------- problems


class Problem(BaseModel):
    """An RFC 9457 problem: `rule` names the rule refused under; other members carry its values."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str
    rule: str


_DESCRIPTIONS = {
    400: "Bad input (the values are named)",
    401: "Not signed in, or the bearer token expired",
    403: "The signed-in role may not do this",
    404: "No such resource",
    409: "Conflicts with the resource's state, or the request with this Idempotency-Key is "
    "still under way",
    413: "The request body is larger than this route accepts",
    422: "Invalid request, or refused under a named rule with its values",
    429: "Throttled: too many attempts",
    503: "The chain is unavailable",
}
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for problem+json errors."""
    return {
        code: {"description": _DESCRIPTIONS[code], "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}
        for code in codes
    }


ERRORS = problems(400, 401, 403, 404, 422, 503)


def document_shared_statuses(routes: Iterable[Any]) -> None:
    """Add to each API route the problems the layers every request passes through may answer,
    so that its OpenAPI lists every status it returns: a POST refuses a body larger than its
    limit (413, api/guard.py), a route that reads a body refuses one that does not parse (400,
    `malformed-body`), and a route taking an Idempotency-Key answers 409 while the key's first
    request is under way (services/idempotency.py)."""
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        shared: list[int] = []
        if route.body_field is not None:
            shared.append(400)
        if "POST" in (route.methods or ()) or route.body_field is not None:
            shared.append(413)
        if any(param.alias == deps.IDEMPOTENCY_KEY for param in route.dependant.header_params):
            shared.append(409)
        for code, response in problems(*shared).items():
            route.responses.setdefault(code, response)


# ---------------------------------------------------------------- list pages

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1, le=500)
    skip: int = Field(ge=0)


@dataclass(frozen=True)
class Listing:
    limit: int
    skip: int
    field: str
    descending: bool


PAGE_SIZE = 50  # the default `limit`


def default_listing(default: str) -> Listing:
    """The listing of a request with no `limit`, `skip` or `sort`: `default` order."""
    return Listing(PAGE_SIZE, 0, default.removeprefix("-"), default.startswith("-"))


def listing(fields: Sequence[str], default: str) -> Callable[..., Listing]:
    """A dependency reading `limit`, `skip` and `sort` (one of `fields`, `-field` descending)."""
    pattern = "^-?(" + "|".join(re.escape(f) for f in fields) + ")$"

    def dependency(limit: int = PAGE_SIZE, skip: int = 0, sort: str | None = None) -> Listing:
        chosen = sort or default
        return Listing(limit, skip, chosen.removeprefix("-"), chosen.startswith("-"))

    # The annotations are built here (not as strings) because they close over `pattern`.
    keyword = inspect.Parameter.KEYWORD_ONLY
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "limit",
                keyword,
                default=PAGE_SIZE,
                annotation=Annotated[int, Query(ge=1, le=500, description="Page size (1..500)")],
            ),
            inspect.Parameter(
                "skip",
                keyword,
                default=0,
                annotation=Annotated[int, Query(ge=0, le=MAX_INT32, description="Items to skip")],
            ),
            inspect.Parameter(
                "sort",
                keyword,
                default=None,
                annotation=Annotated[
                    str | None,
                    Query(
                        pattern=pattern,
                        description=f"One of {', '.join(fields)}; prefix '-' for descending "
                        f"(default {default})",
                    ),
                ],
            ),
        ],
        return_annotation=Listing,
    )
    return dependency


def _sort_key(field: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = row.get(field)
        return (1, "") if value is None else (0, value)

    return key


def page_of(rows: Iterable[dict[str, Any]], by: Listing, **filters: Any) -> dict[str, Any]:
    """A page of in-memory rows after equality filters (None: no filter) and sorting."""
    wanted = {k: v for k, v in filters.items() if v is not None}
    kept = [r for r in rows if all(r.get(k) == v for k, v in wanted.items())]
    kept.sort(key=_sort_key(by.field), reverse=by.descending)
    return {
        "items": kept[by.skip : by.skip + by.limit],
        "total": len(kept),
        "limit": by.limit,
        "skip": by.skip,
    }


def sql_page(
    session: Session,
    query: Select[Any],
    by: Listing,
    columns: Mapping[str, Sequence[Any]],
) -> tuple[list[Any], int]:
    """Rows of a page of `query` ordered by the chosen column(s), and the total count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    order = [c.desc() if by.descending else c.asc() for c in columns[by.field]]
    rows = list(session.execute(query.order_by(*order).offset(by.skip).limit(by.limit)))
    return rows, int(total or 0)


# ----------------------------------------------------------- institution scope

# The institution scope is the policy layer's (services/access.py), named here for the routers.
Scope = access.Scope
scope_of = access.scope_of
require_own_identity = access.require_own_identity
require_own_wallet = access.require_own_wallet


# ------------------------------------------------------------ POST runner


def signing_key(platform: Platform, who: Principal) -> str:
    """The key the platform signs the signed-in user's chain transactions with; on a network
    deployment never an institution's or an official's (access.require_server_key)."""
    access.require_server_key(platform, who)
    if not who.key_name:
        raise Forbidden(f"user {who.username} has no signing key", role=who.role.value)
    return who.key_name


def chain_key(who: Principal, key: str | None) -> str | None:
    """The journal's idempotency key of a POST: a retried request never sends a second
    transaction, even if the first one's result was never stored."""
    return None if key is None else f"api:{who.username}:{key}"


def source_of(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def run_post(
    request: Request,
    response: Response,
    platform: Platform,
    who: Principal,
    key: str | None,
    status: int,
    action: Callable[[], dict[str, Any]],
    approval_ref: Callable[[dict[str, Any]], str | None] | str | None = None,
) -> dict[str, Any]:
    """Run a POST once per idempotency key and audit it.

    A replay with the same key returns the first result (header `Idempotent-Replayed: true`)
    and does nothing else; the key with another request (method, route, principal or body) is
    refused as `idempotency-key-reused`. Concurrent uses of one key, in this process or another,
    run once: the others wait for its result (`amanat.services.idempotency`).
    A refusal (bad input, a rule, a forbidden action) is audited with its
    status and rule and raised; it is not remembered, so the request may be retried."""
    method_path = f"{request.method} {request.url.path}"
    if key is not None:  # the result will be sealed: the data key must be there first
        idempotency.require_data_key(platform)
        earlier = idempotency.claim(
            platform, who.username, key, method_path, deps.fingerprint(request, who)
        )
        if earlier is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return earlier  # type: ignore[no-any-return]
    try:
        body = action()
        ref = approval_ref(body) if callable(approval_ref) else approval_ref
        deps.remember(platform, who, key, method_path, status, body, source_of(request), ref)
    except BaseException as error:
        if key is not None:  # refused or failed: the key may be used again
            idempotency.release(platform, who.username, key)
        if isinstance(error, AmanatError):
            ref = approval_ref if isinstance(approval_ref, str) else None
            _audit_refusal(request, platform, who, key, error, ref)
        raise
    return body


def audit_event(
    platform: Platform,
    username: str,
    role: str,
    request: Request,
    status: int,
    approval_ref: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit trail in its own transaction."""
    with platform.store.session() as session, session.begin():
        audit.record(
            session,
            username[:64],
            role[:16],
            request.method,
            request.url.path[:200],
            source_of(request),
            status,
            approval_ref,
            detail,
        )


def _audit_refusal(
    request: Request,
    platform: Platform,
    who: Principal,
    key: str | None,
    error: AmanatError,
    approval_ref: str | None,
) -> None:
    detail = {"idempotency_key": key, "rule": error.rule, "message": error.message[:500]}
    audit_event(
        platform, who.username, who.role.value, request, status_of(error), approval_ref, detail
    )


def audit_read(request: Request, platform: Platform, who: Principal) -> None:
    """Audit a read of personal data."""
    audit_event(platform, who.username, who.role.value, request, 200, None, {"personal_data": True})
