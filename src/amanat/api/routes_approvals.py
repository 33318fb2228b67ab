"""Maker-checker approvals: an issuer or agent files a privileged action with its evidence;
approvers approve it with their own keys (the first approval creates the on-chain proposal),
reject it, and execute it once the threshold is met and the action's timelock has passed.
Every action is audited with the approval's reference `request-<id>`.

The kinds include the instrument lifecycle: `issue_cash`, `settle_auction`,
`declare_distribution`, `release_held` and `mature_token`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from amanat.api.deps import IdempotencyKey, PlatformDep, require
from amanat.api.routes_common import (
    APPROVER,
    ERRORS,
    MAX_INT64,
    Address,
    Amount,
    Block,
    CategoryName,
    Country,
    Hash,
    Id,
    Listing,
    Page,
    TokenRef,
    Yield,
    listing,
    page_of,
    run_post,
    text,
)
from amanat.api.routes_transactions import MAX_RAW_BYTES
from amanat.services import access, approvals, client_tx
from amanat.services.accounts import Principal
from amanat.services.platform import Platform
from amanat.store.models import User

router = APIRouter(tags=["approvals"], responses=ERRORS)

ApprovalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Approval request id")]
READERS = access.APPROVAL_READERS
MAKERS = access.APPROVAL_MAKERS
Status = Literal["pending-approvals", "waiting-timelock", "executed", "rejected"]


def ref(request_id: int) -> str:
    """The approval reference written to the audit trail."""
    return f"request-{request_id}"


# ------------------------------------------------------------- request kinds


RECORD_DATE_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?)?$"
)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MintParams(_Params):
    token: TokenRef
    to: Address
    amount: Amount


class WalletAmountParams(_Params):
    token: TokenRef
    wallet: Address
    amount: Amount


class AssetParams(_Params):
    asset: Id


class ValuationParams(_Params):
    asset: Id
    index: Annotated[int, Field(ge=0, le=2**31 - 1)]


class TokenizeParams(_Params):
    asset: Id
    name: text(64)  # type: ignore[valid-type]
    symbol: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")]
    decimals: Annotated[int, Field(ge=0, le=18)] = 0
    eligible_categories: Annotated[list[CategoryName], Field(min_length=1, max_length=8)] | None = (
        None
    )
    foreign_cap_bps: Annotated[int, Field(ge=0, le=10_000)] = 10_000
    max_holders: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    lockup_until: Annotated[int, Field(ge=0, le=MAX_INT64)] = 0
    country_mode: Literal["none", "allow", "deny"] = "none"
    countries: Annotated[list[Country], Field(max_length=64)] = []
    holding_cap: Annotated[int, Field(ge=0, le=MAX_INT64)] = 0
    minimum_holding: Annotated[int, Field(ge=0, le=MAX_INT64)] = 0


class ForcedTransferParams(_Params):
    token: TokenRef
    sender: Address = Field(alias="from")
    to: Address
    amount: Amount


class FreezeParams(_Params):
    token: TokenRef
    wallet: Address


class RecoverParams(_Params):
    token: TokenRef
    lost: Address
    new: Address


class TokenParams(_Params):
    token: TokenRef


class IssueCashParams(_Params):
    to: Address = Field(description="A verified institution's wallet, or the treasury")
    amount_minor: Amount = Field(description="PKR in paisa (minor units)")
    reference: text(200) = Field(  # type: ignore[valid-type]
        description="The deposit's bank (RTGS) reference; its SHA-256 goes on chain"
    )


class SettleAuctionParams(_Params):
    auction: Id
    cutoff: Yield
    days: Annotated[int, Field(ge=1, le=36_500, description="Days to maturity")]


class DeclareDistributionParams(_Params):
    token: TokenRef
    kind: Literal["coupon", "rent", "dividend", "redemption"]
    total_minor: Amount = Field(description="PKR in paisa, drawn from the treasury")
    record_block: Block | None = Field(default=None, description="Holders of record at a block")
    record_date: Annotated[
        str | None,
        Field(
            pattern=RECORD_DATE_PATTERN,
            description="Or at a UTC date (its end) or date-time; give one of the two",
        ),
    ] = None


class ReleaseHeldParams(_Params):
    distribution: Id
    holder: Address
    to: Address | None = Field(default=None, description="The wallet paid (default: the holder)")


Evidence = Annotated[
    Hash | None,
    Field(description="SHA-256 of the legal basis (required for enforcement actions)"),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: Evidence = None


class MintRequest(_Request):
    kind: Literal["mint"]
    params: MintParams


class BurnRequest(_Request):
    kind: Literal["burn"]
    params: WalletAmountParams


class AssetStatusRequest(_Request):
    kind: Literal["approve_asset", "redeem_asset", "retire_asset"]
    params: AssetParams


class AcceptValuationRequest(_Request):
    kind: Literal["accept_valuation"]
    params: ValuationParams


class TokenizeRequest(_Request):
    kind: Literal["tokenize"]
    params: TokenizeParams


class ForcedTransferRequest(_Request):
    kind: Literal["forced_transfer"]
    params: ForcedTransferParams


class FreezeRequest(_Request):
    kind: Literal["freeze", "unfreeze"]
    params: FreezeParams


class PartialFreezeRequest(_Request):
    kind: Literal["freeze_tokens", "unfreeze_tokens"]
    params: WalletAmountParams


class RecoverRequest(_Request):
    kind: Literal["recover"]
    params: RecoverParams


class PauseRequest(_Request):
    kind: Literal["pause", "unpause"]
    params: TokenParams


class IssueCashRequest(_Request):
    kind: Literal["issue_cash"]
    params: IssueCashParams


class SettleAuctionRequest(_Request):
    kind: Literal["settle_auction"]
    params: SettleAuctionParams


class DeclareDistributionRequest(_Request):
    kind: Literal["declare_distribution"]
    params: DeclareDistributionParams


class ReleaseHeldRequest(_Request):
    kind: Literal["release_held"]
    params: ReleaseHeldParams


class MatureTokenRequest(_Request):
    kind: Literal["mature_token"]
    params: TokenParams


ApprovalIn = Annotated[
    MintRequest
    | BurnRequest
    | AssetStatusRequest
    | AcceptValuationRequest
    | TokenizeRequest
    | ForcedTransferRequest
    | FreezeRequest
    | PartialFreezeRequest
    | RecoverRequest
    | PauseRequest
    | IssueCashRequest
    | SettleAuctionRequest
    | DeclareDistributionRequest
    | ReleaseHeldRequest
    | MatureTokenRequest,
    Field(discriminator="kind"),
]
# Every kind the service knows has a request model here.
assert set(approvals.KINDS) == {
    kind
    for model in ApprovalIn.__origin__.__args__  # type: ignore[attr-defined]
    for kind in model.model_fields["kind"].annotation.__args__
}


class Decision(BaseModel):
    user_id: Id
    username: str | None
    decision: Literal["approve", "reject"]
    reason: str | None
    tx: Hash | None
    at: datetime


class ApprovalOut(BaseModel):
    id: Id
    ref: str = Field(description="The reference the audit trail carries")
    kind: str
    summary: str
    target: Address
    function: str
    arguments: dict[str, Any]
    call_arguments: list[Any] | None = Field(
        description="The ABI arguments of the request's call as filed (addresses, byte strings "
        "and hashes in lower-case 0x-hex, structs and arrays as lists); null for a request filed "
        "before they were kept"
    )
    evidence: Hash | None
    proposal_id: Id | None
    proposed_by: Id
    proposed_by_username: str | None
    status: Status
    created_at: datetime
    executed_by: Id | None = Field(description="The official who executed the request's proposal")
    executed_by_username: str | None
    executed_tx: Hash | None = Field(description="The transaction that executed it")
    decisions: list[Decision]


class RejectIn(BaseModel):
    reason: text(500)  # type: ignore[valid-type]


def _usernames(platform: Platform) -> dict[int, str]:
    with platform.store.session() as session:
        return {row.id: row.username for row in session.execute(select(User.id, User.username))}


def _out(view: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    return {
        **view,
        "ref": ref(view["id"]),
        "proposed_by_username": names.get(view["proposed_by"]),
        "executed_by_username": names.get(view["executed_by"]) if view["executed_by"] else None,
        "decisions": [{**d, "username": names.get(d["user_id"])} for d in view["decisions"]],
    }


@router.get(
    "/approvals",
    response_model=Page[ApprovalOut],
    summary="Approval requests (makers, approvers, auditors, regulators)",
)
def list_approvals(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*READERS))],
    by: Annotated[Listing, Depends(listing(("id", "kind", "status", "created_at"), "id"))],
    status: Status | None = None,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
) -> dict[str, Any]:
    names = _usernames(platform)
    rows = [_out(v, names) for v in approvals.list_requests(platform, status)]
    return page_of(rows, by, kind=kind)


@router.get(
    "/approvals/{request_id}",
    response_model=ApprovalOut,
    summary="One approval request with its decisions",
)
def get_approval(
    request_id: ApprovalId,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*READERS))],
) -> dict[str, Any]:
    return _out(approvals.get(platform, request_id), _usernames(platform))


@router.post(
    "/approvals",
    response_model=ApprovalOut,
    status_code=201,
    summary="File a privileged action for approval (issuer: issuance, asset and lifecycle "
    "actions; agent: enforcement, with evidence, and releasing held payouts)",
)
def file_request(
    body: ApprovalIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*MAKERS))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        params = body.params.model_dump(by_alias=True, exclude_none=True)
        view = approvals.create(platform, who, body.kind, params, body.evidence)
        return _out(view, _usernames(platform))

    return run_post(request, response, platform, who, key, 201, action, lambda out: ref(out["id"]))


class OwnApprovalIn(BaseModel):
    raw: Annotated[
        str,
        Field(
            pattern=r"^0x([0-9a-fA-F]{2})+$",
            max_length=2 + 2 * MAX_RAW_BYTES,
            description="Your approval signed with your own key, as POST /transactions/build "
            "(action request_approve) built it: the proposal of the request's call if it is the "
            "first approval, else the approval of its proposal",
        ),
    ]


@router.post(
    "/approvals/{request_id}/approve",
    response_model=ApprovalOut,
    summary="Approve (approvers): with a body, your own signed transaction, recorded as your "
    "decision; without one (embedded pilot only) the server signs with your development key. "
    "The first approval proposes on chain",
)
def approve(
    request_id: ApprovalId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(APPROVER))],
    key: IdempotencyKey = None,
    body: OwnApprovalIn | None = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        if body is not None:
            raw = bytes.fromhex(body.raw[2:])
            view = client_tx.submit_request_approval(platform, who, request_id, raw)
        else:
            view = approvals.approve(platform, who, request_id)
        return _out(view, _usernames(platform))

    return run_post(request, response, platform, who, key, 200, action, ref(request_id))


@router.post(
    "/approvals/{request_id}/reject",
    response_model=ApprovalOut,
    summary="Reject with a reason (approvers)",
)
def reject(
    request_id: ApprovalId,
    body: RejectIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(APPROVER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        view = approvals.reject(platform, who, request_id, body.reason)
        return _out(view, _usernames(platform))

    return run_post(request, response, platform, who, key, 200, action, ref(request_id))


@router.post(
    "/approvals/{request_id}/execute",
    response_model=ApprovalOut,
    summary="Execute an approved request whose timelock has passed (approvers)",
)
def execute(
    request_id: ApprovalId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(APPROVER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        return _out(approvals.execute(platform, who, request_id), _usernames(platform))

    return run_post(request, response, platform, who, key, 200, action, ref(request_id))
