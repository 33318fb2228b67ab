"""Health (public), the audit trail and its hash-chain check (auditor, regulator), and the
indexed chain events (staff)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select

from amanat.api.deps import PlatformDep, require
from amanat.api.routes_common import (
    ERRORS,
    OVERSIGHT,
    STAFF,
    Address,
    Block,
    Count,
    Hash,
    Listing,
    Page,
    Timestamp,
    address,
    listing,
    sql_page,
)
from amanat.errors import AmanatError, ChainUnavailable
from amanat.indexer.indexer import CURSOR, KINDS
from amanat.services import audit
from amanat.services.accounts import Principal, Role
from amanat.store.models import AuditEntry, ChainEvent, IndexerState

router = APIRouter(responses=ERRORS)

ContractKind = Literal[
    "Governance",
    "IdentityRegistry",
    "AssetRegistry",
    "TokenFactory",
    "CashToken",
    "Settlement",
    "Auction",
    "Distributor",
    "AssetToken",
]
assert set(KINDS) | {"AssetToken"} == set(ContractKind.__args__)  # type: ignore[attr-defined]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the indexer reported an error or lags the chain by > 10 blocks"
    )
    chain_block: Block
    indexer_block: Block | None = Field(description="Last indexed block (None: nothing yet)")
    indexer_lag: Count | None
    indexer_error: str | None = Field(description="The background indexer's last error")


class AuditOut(BaseModel):
    id: Annotated[int, Field(ge=1)]
    at: datetime
    username: str
    role: str
    action: str
    resource: str
    source: str
    status: Annotated[int, Field(ge=100, le=599)]
    approval_ref: str | None
    detail: dict[str, Any]
    previous_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    entry_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: Count
    broken: list[Annotated[int, Field(ge=1)]] = Field(
        description="Entries whose hash does not follow from their content and predecessor"
    )


class EventOut(BaseModel):
    block: Block
    log_index: Annotated[int, Field(ge=0)]
    tx: Hash
    timestamp: Timestamp
    contract: Address
    contract_kind: ContractKind
    event: str
    asset: Annotated[int, Field(ge=0)] | None
    wallet: Address | None
    args: dict[str, Any]


@router.get("/health", response_model=HealthOut, tags=["health"], summary="Chain and indexer state")
def health(request: Request, platform: PlatformDep) -> dict[str, Any]:
    try:
        chain_block = platform.chain.block_number()
    except AmanatError as error:
        raise ChainUnavailable(f"the chain does not answer: {error.message}") from None
    with platform.store.session() as session:
        state = session.get(IndexerState, CURSOR)
    indexed = state.block if state else None
    indexer = getattr(request.app.state, "indexer", None)
    last_error = getattr(indexer, "last_error", None)
    lag = None if indexed is None else max(chain_block - indexed, 0)
    degraded = last_error is not None or (indexer is not None and (lag is None or lag > 10))
    return {
        "status": "degraded" if degraded else "ok",
        "chain_block": chain_block,
        "indexer_block": indexed,
        "indexer_lag": lag,
        "indexer_error": last_error,
    }


@router.get(
    "/audit",
    response_model=Page[AuditOut],
    tags=["audit"],
    summary="The audit trail of API actions (auditor, regulator)",
)
def audit_trail(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*OVERSIGHT))],
    by: Annotated[Listing, Depends(listing(("id", "at", "username", "status"), "id"))],
    username: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = None,
    role: Role | None = None,
    action: Annotated[str | None, Query(pattern=r"^[A-Z]{1,16}$")] = None,
    approval_ref: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
) -> dict[str, Any]:
    query = select(AuditEntry)
    for column, value in (
        (AuditEntry.username, username),
        (AuditEntry.role, role.value if role else None),
        (AuditEntry.action, action),
        (AuditEntry.approval_ref, approval_ref),
        (AuditEntry.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    columns: dict[str, list[Any]] = {
        "id": [AuditEntry.id],
        "at": [AuditEntry.at, AuditEntry.id],
        "username": [AuditEntry.username, AuditEntry.id],
        "status": [AuditEntry.status, AuditEntry.id],
    }
    with platform.store.session() as session:
        rows, total = sql_page(session, query, by, columns)
    items = [
        {
            "id": e.id,
            "at": e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC),
            "username": e.username,
            "role": e.role,
            "action": e.action,
            "resource": e.resource,
            "source": e.source,
            "status": e.status,
            "approval_ref": e.approval_ref,
            "detail": e.detail,
            "previous_hash": e.previous_hash,
            "entry_hash": e.entry_hash,
        }
        for (e,) in rows
    ]
    return {"items": items, "total": total, "limit": by.limit, "skip": by.skip}


@router.get(
    "/audit/verify",
    response_model=AuditVerifyOut,
    tags=["audit"],
    summary="Check the audit trail's hash chain (auditor, regulator)",
)
def audit_verify(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*OVERSIGHT))],
) -> dict[str, Any]:
    with platform.store.session() as session:
        broken = audit.verify_chain(session)
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    return {"ok": not broken, "entries": int(entries or 0), "broken": broken}


@router.get(
    "/events",
    response_model=Page[EventOut],
    tags=["events"],
    summary="Indexed chain events (staff)",
)
def events(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*STAFF))],
    by: Annotated[Listing, Depends(listing(("block", "timestamp", "event"), "block"))],
    contract: Annotated[
        str | None,
        Query(
            pattern=r"^(0x[0-9a-fA-F]{40}|Governance|IdentityRegistry|AssetRegistry|TokenFactory"
            r"|AssetToken)$",
            description="A contract address or kind",
        ),
    ] = None,
    event: Annotated[str | None, Query(pattern=r"^[A-Za-z]{1,40}$")] = None,
    asset: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    wallet: Annotated[
        str | None,
        Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="The event's wallet, sender or receiver"),
    ] = None,
    from_block: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    to_block: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    query = select(ChainEvent)
    if contract is not None:
        query = query.where(
            ChainEvent.contract == address(contract)
            if contract.startswith("0x")
            else ChainEvent.contract_kind == contract
        )
    if event is not None:
        query = query.where(ChainEvent.event == event)
    if asset is not None:
        query = query.where(ChainEvent.asset_id == asset)
    if wallet is not None:
        who_ = address(wallet)
        query = query.where(
            or_(
                ChainEvent.wallet == who_,
                ChainEvent.args["sender"].as_string() == who_,
                ChainEvent.args["receiver"].as_string() == who_,
            )
        )
    if from_block is not None:
        query = query.where(ChainEvent.block >= from_block)
    if to_block is not None:
        query = query.where(ChainEvent.block <= to_block)
    columns: dict[str, list[Any]] = {
        "block": [ChainEvent.block, ChainEvent.log_index],
        "timestamp": [ChainEvent.timestamp, ChainEvent.block, ChainEvent.log_index],
        "event": [ChainEvent.event, ChainEvent.block, ChainEvent.log_index],
    }
    with platform.store.session() as session:
        rows, total = sql_page(session, query, by, columns)
    items = [
        {
            "block": e.block,
            "log_index": e.log_index,
            "tx": e.tx_hash,
            "timestamp": e.timestamp,
            "contract": e.contract,
            "contract_kind": e.contract_kind,
            "event": e.event,
            "asset": e.asset_id,
            "wallet": e.wallet,
            "args": e.args,
        }
        for (e,) in rows
    ]
    return {"items": items, "total": total, "limit": by.limit, "skip": by.skip}
