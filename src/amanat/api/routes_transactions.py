"""Client-signed writes (an institution's or an official's key never reaches the platform): build
an action's unsigned transaction, and submit the raw transaction its owner signed itself. The policy
(decoding, allow-list, pre-checks) is services/client_tx.py's; these routes only translate."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from amanat.api.deps import IdempotencyKey, PlatformDep, require
from amanat.api.routes_common import (
    APPROVER,
    ERRORS,
    INSTITUTION,
    Address,
    Amount,
    Count,
    Hash,
    Id,
    Timestamp,
    TokenRef,
    run_post,
    scope_of,
)
from amanat.services import access, client_tx
from amanat.services.accounts import Principal

router = APIRouter(tags=["client-signed transactions"], responses=ERRORS)

MAX_RAW_BYTES = 128 * 1024  # a node's own limit on a transaction's size
Quantity = Annotated[str, Field(pattern=r"^0x[0-9a-f]+$", description="Hex quantity")]


class TransferBuild(BaseModel):
    action: Literal["transfer"]
    token: TokenRef
    to: Address
    amount: Amount


class ApproveBuild(BaseModel):
    action: Literal["approve"]
    token: TokenRef
    spender: Address
    amount: Count = Field(description="The allowance (0 withdraws it)")


class TransferFromBuild(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    action: Literal["transferFrom"]
    token: TokenRef
    owner: Address = Field(alias="from", description="The wallet debited, which approved you")
    to: Address
    amount: Amount


class InstructBuild(BaseModel):
    action: Literal["dvp_instruct"]
    token: TokenRef
    buyer: Address
    units: Amount
    cash_minor: Amount = Field(description="PKR the buyer pays, in paisa")
    deadline: Timestamp = Field(description="Unix time (chain clock); then anyone may expire it")


class StepBuild(BaseModel):
    action: Literal["dvp_affirm", "dvp_settle", "dvp_cancel"]
    instruction: Id


class ClaimBuild(BaseModel):
    action: Literal["claim"]
    distribution: Id


class CommitBuild(BaseModel):
    action: Literal["auction_commit"]
    auction: Id
    commitment: Hash = Field(
        description="keccak256(auctionId, bidder, units, yieldMicro, competitive, salt): the bid "
        "itself never reaches the platform"
    )


class RevealBuild(BaseModel):
    action: Literal["auction_reveal"]
    auction: Id
    units: Amount
    yield_micro: Count = Field(description="The bid's yield in millionths (0: non-competitive)")
    competitive: bool
    salt: Hash


class ProposalApproveBuild(BaseModel):
    action: Literal["proposal_approve"]
    proposal: Id = Field(description="The open governance proposal the official approves")


class RequestApproveBuild(BaseModel):
    action: Literal["request_approve"]
    request: Id = Field(
        description="The maker-checker request the official approves: its proposal if it is "
        "the first approval, else the approval of its proposal; submit the signed bytes to POST "
        "/approvals/{request}/approve"
    )


class ProposalExecuteBuild(BaseModel):
    action: Literal["proposal_execute"]
    proposal: Id = Field(
        description="The approved proposal, its timelock run, that the official executes (with "
        "the call its ProposalCreated event recorded)"
    )


class RequestExecuteBuild(BaseModel):
    action: Literal["request_execute"]
    request: Id = Field(
        description="The maker-checker request waiting to be executed: the execute of its "
        "proposal; submit the signed bytes to POST /transactions, which records it on the request"
    )


BuildIn = Annotated[
    TransferBuild
    | ApproveBuild
    | TransferFromBuild
    | InstructBuild
    | StepBuild
    | ClaimBuild
    | CommitBuild
    | RevealBuild
    | ProposalApproveBuild
    | RequestApproveBuild
    | ProposalExecuteBuild
    | RequestExecuteBuild,
    Field(discriminator="action"),
]


class UnsignedOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    action: str
    sender: Address = Field(alias="from")
    to: Address
    data: Annotated[str, Field(pattern=r"^0x([0-9a-f]{2})*$")]
    value: Quantity
    nonce: Quantity
    gas: Quantity
    chain_id: Quantity = Field(alias="chainId")
    type: Literal["0x2"] | None = Field(
        default=None, description="0x2 (EIP-1559); absent for a legacy (EIP-155) transaction"
    )
    gas_price: Quantity | None = Field(default=None, alias="gasPrice")
    max_fee_per_gas: Quantity | None = Field(default=None, alias="maxFeePerGas")
    max_priority_fee_per_gas: Quantity | None = Field(default=None, alias="maxPriorityFeePerGas")


class RawIn(BaseModel):
    raw: Annotated[
        str,
        Field(
            pattern=r"^0x([0-9a-fA-F]{2})+$",
            max_length=2 + 2 * MAX_RAW_BYTES,
            description="The signed transaction (legacy EIP-155 or EIP-1559), hex",
        ),
    ]


@router.post(
    "/transactions/build",
    response_model=UnsignedOut,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    summary="The unsigned transaction of an institution action (or an official's approval or "
    "execute of a proposal or request), pre-checked as the action's own route is, for its owner to "
    "sign with its own key",
)
def build(
    body: BuildIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION, APPROVER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        fields = body.model_dump(by_alias=True, exclude={"action"})
        return client_tx.build(
            platform,
            who,
            body.action,
            fields,
            access.counterparty_detail(who),
        )

    return run_post(request, response, platform, who, key, 200, action)


@router.post(
    "/transactions",
    response_model=dict[str, Any],
    summary="Submit a transaction an institution (or an official: its approval or execute of a "
    "proposal) signed itself: decoded, checked, journaled (its hash is its idempotency key) and "
    "sent; the result is the action's own route's, and an approval or execute is recorded on the "
    "request the proposal carries",
)
def submit(
    body: RawIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION, APPROVER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        scope = scope_of(platform, who)
        return client_tx.submit(
            platform,
            who,
            scope.wallets if scope else frozenset(),
            bytes.fromhex(body.raw[2:]),
            access.counterparty_detail(who),
        )

    return run_post(request, response, platform, who, key, 200, action)
