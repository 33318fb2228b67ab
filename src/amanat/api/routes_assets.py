"""Assets: the register (public list), details with documents and valuations, registration,
document upload and download, valuations, reserve attestations of commodity reserves, the
underlying asset of a sukuk, and the indexed history of an asset."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from amanat.api.deps import IdempotencyKey, PlatformDep, ReaderDep, require
from amanat.api.read_cache import BlockCache, json_body, json_reply
from amanat.api.routes_common import (
    ERRORS,
    ISSUER,
    SIGNED_IN,
    STAFF,
    VALUER,
    Address,
    Amount,
    AssetClassName,
    AssetStatusName,
    Block,
    DocumentKindName,
    Hash,
    Id,
    Listing,
    Page,
    Timestamp,
    address,
    chain_key,
    day_start,
    default_listing,
    listing,
    page_of,
    problems,
    run_post,
    signing_key,
    snake,
    text,
)
from amanat.domain.assets import AssetClass, DocumentKind
from amanat.indexer import queries
from amanat.services import access, assets, valuations
from amanat.services.accounts import Principal
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform
from amanat.store.models import Document

router = APIRouter(tags=["assets"], responses=ERRORS)

AssetId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Asset id")]
DOCUMENT_READERS = access.DOCUMENT_READERS
# Shown in the browser; anything else is sent as an attachment of type application/octet-stream.
INLINE_TYPES = {"application/pdf", "text/plain", "image/png", "image/jpeg"}


class Authorisation(BaseModel):
    reference: str
    document_sha256: Hash
    max_units: Annotated[int, Field(ge=0)]


class AssetSummary(BaseModel):
    id: Id
    asset_class: AssetClassName
    status: AssetStatusName
    legal_id: str
    name: str
    ministry: str
    token: Address | None
    authorisation: Authorisation
    current_value_minor: Annotated[int, Field(ge=0)] | None


class DocumentOut(BaseModel):
    kind: DocumentKindName
    sha256: Hash
    added_by: Address
    added: dt.date
    stored: bool = Field(description="The content can be downloaded from GET /documents/{sha256}")


class ValuationOut(BaseModel):
    index: Annotated[int, Field(ge=0)]
    amount_minor: Annotated[int, Field(ge=0)]
    date: dt.date
    valuer: Address
    report_sha256: Hash
    accepted: bool


class ReserveOut(BaseModel):
    attested_units: Annotated[int, Field(ge=0)] = Field(
        description="The latest attestation: tokens outstanding can never exceed it"
    )
    attestations: Annotated[int, Field(ge=0)]


class AssetDetail(AssetSummary):
    documents: list[DocumentOut]
    valuations: list[ValuationOut]
    underlying: Id | None = Field(default=None, description="A sukuk's underlying asset")
    reserve: ReserveOut | None = Field(default=None, description="A commodity reserve's")


class ReserveAttestationIn(BaseModel):
    quantity: Annotated[int, Field(ge=0, le=2**63 - 1)] = Field(
        description="Units of the commodity counted in the vault"
    )
    report_sha256: Hash = Field(description="SHA-256 of the audit report")


class ReserveAttested(BaseModel):
    asset: Id
    attestation: Annotated[int, Field(ge=0)]
    quantity: Annotated[int, Field(ge=0)]
    report_sha256: Hash


class UnderlyingIn(BaseModel):
    underlying: Id = Field(description="The asset backing the sukuk (not itself a sukuk)")


class AssetIn(BaseModel):
    asset_class: AssetClassName
    legal_id: text(64)  # type: ignore[valid-type]
    name: text(128)  # type: ignore[valid-type]
    ministry: text(128)  # type: ignore[valid-type]
    authorisation_ref: text(128)  # type: ignore[valid-type]
    authorisation_sha256: Hash = Field(description="SHA-256 of the authorising document")
    max_units: Amount = Field(description="Units the authorisation allows to be issued")


class UploadedDocument(BaseModel):
    asset: Id
    kind: DocumentKindName
    sha256: Hash
    filename: str
    media_type: str
    size: Annotated[int, Field(ge=1)]


class ValuationIn(BaseModel):
    amount_minor: Amount = Field(description="Value in minor units (paisa)")
    date: dt.date
    report_sha256: Hash

    @field_validator("date")
    @classmethod
    def _after_epoch(cls, value: dt.date) -> dt.date:
        if value.year < 1970:
            raise ValueError("a valuation date is on or after 1970-01-01")
        return value


class ValuationCreated(BaseModel):
    asset: Id
    index: Annotated[int, Field(ge=0)]
    amount_minor: Amount
    date: dt.date
    report_sha256: Hash


class ValueEntry(BaseModel):
    source: Literal["valuer_report", "auction", "secondary_dvp"]
    date: dt.date
    block: Block | None = Field(description="The block of the auction's settlement or the trade")
    reference: str = Field(description="The source in words: which report, auction or trades")
    auction: Id | None
    instructions: list[Id] = Field(description="The settled DvP instructions priced")
    report_sha256: Hash | None
    yield_: str | None = Field(
        alias="yield", description="The instrument's yield at this price (decimal), if known"
    )
    price_per_100: str | None = Field(description="Price per 100 of face value, 4 places")
    days_to_maturity: Annotated[int, Field(ge=1)] | None
    units: Annotated[int, Field(ge=0)] = Field(
        description="Units valued: those outstanding then (a report: the authorised units)"
    )
    value_minor: Annotated[int, Field(ge=0)]
    public: bool = Field(description="Whether the public sees this entry")


class CurrentValue(BaseModel):
    source: Literal["valuer_report", "auction", "secondary_dvp"]
    date: dt.date
    reference: str
    units_outstanding: Annotated[int, Field(ge=0)]
    value_outstanding_minor: Annotated[int, Field(ge=0)]


class ValueHistory(BaseModel):
    asset: Id
    current: CurrentValue | None = Field(description="The latest entry, valuing the units now")
    items: list[ValueEntry]


class HistoryEvent(BaseModel):
    block: Block
    log_index: Annotated[int, Field(ge=0)]
    tx: Hash
    timestamp: Timestamp
    contract: str
    event: str
    args: dict[str, Any]


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "asset_class": snake(record["class"]),
        "status": snake(record["status"]),
        "legal_id": record["legal_id"],
        "name": record["name"],
        "ministry": record["ministry"],
        "token": address(record["token"]) if record["token"] else None,
        "authorisation": record["authorisation"],
        "current_value_minor": record["current_value_minor"],
    }


def _detail(platform: Platform, record: dict[str, Any]) -> dict[str, Any]:
    hashes = [d["sha256"] for d in record["documents"]]
    with platform.store.session() as session:
        stored = set(session.scalars(select(Document.sha256).where(Document.sha256.in_(hashes))))
    files = platform.settings.data_dir / "documents"
    return {
        **_summary(record),
        "documents": [
            {
                "kind": snake(d["kind"]),
                "sha256": d["sha256"],
                "added_by": address(d["added_by"]),
                "added": d["added"],
                "stored": d["sha256"] in stored or (files / d["sha256"][2:]).is_file(),
            }
            for d in record["documents"]
        ],
        "valuations": [{**v, "valuer": address(v["valuer"])} for v in record["valuations"]],
        "underlying": record.get("underlying"),
        "reserve": record.get("reserve"),
    }


class AssetPage(Page[AssetSummary]):
    block: Block = Field(description="The register is as of the end of this block")


ASSET_SORTS = ("id", "legal_id", "name", "asset_class", "status", "ministry")
ASSET_SORT = "id"


def _assets_page_key(
    block: int, by: Listing, asset_class: AssetClassName | None, status: AssetStatusName | None
) -> tuple[Any, ...]:
    return ("assets-page", block, by, asset_class, status)


def hot_assets(platform: Platform, cache: BlockCache) -> bytes | None:
    """The cached reply of `GET /assets` with no query parameters, as of the chain's head block
    now, or None when it is not cached (the full route then answers)."""
    block = platform.chain.block_number()
    page: bytes | None = cache.peek(
        _assets_page_key(block, default_listing(ASSET_SORT), None, None)
    )
    return page


@router.get(
    "/assets",
    response_model=AssetPage,
    summary="The asset register (public), as of the chain's head block",
)
def list_assets(
    request: Request,
    platform: PlatformDep,
    by: Annotated[Listing, Depends(listing(ASSET_SORTS, ASSET_SORT))],
    asset_class: AssetClassName | None = None,
    status: AssetStatusName | None = None,
) -> Response:
    # The register is not in the index: it is read from the chain as of its head block (so a
    # registration is listed as soon as it is mined), once per block and process.
    block = platform.chain.block_number()
    cache = request.app.state.read_cache
    rows = cache.get(
        ("assets", block), lambda: [_summary(a) for a in assets.list_assets(platform, block)]
    )
    content: bytes = cache.get(
        _assets_page_key(block, by, asset_class, status),
        lambda: json_body(
            AssetPage,
            {
                **page_of(
                    rows,
                    by,
                    asset_class=asset_class.value if asset_class else None,
                    status=status.value if status else None,
                ),
                "block": block,
            },
        ),
    )
    return json_reply(content)


@router.get(
    "/assets/{asset_id}",
    response_model=AssetDetail,
    summary="An asset with its documents and valuations",
)
def get_asset(
    asset_id: AssetId,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    return _detail(platform, assets.show(platform, asset_id))


@router.post(
    "/assets",
    response_model=AssetDetail,
    status_code=201,
    summary="Register an asset with its authorisation (issuer)",
    responses=problems(409),
)
def register_asset(
    body: AssetIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(ISSUER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        asset_id = assets.register(
            platform,
            signing_key(platform, who),
            AssetClass[body.asset_class.name],
            body.legal_id,
            body.name,
            body.ministry,
            body.authorisation_ref,
            body.authorisation_sha256,
            body.max_units,
            idempotency_key=chain_key(who, key),
        )
        return _detail(platform, assets.show(platform, asset_id))

    return run_post(request, response, platform, who, key, 201, action)


@router.post(
    "/assets/{asset_id}/documents",
    response_model=UploadedDocument,
    status_code=201,
    summary="Upload a document; its SHA-256 is attached to the asset on chain (issuer)",
)
def upload_document(
    asset_id: AssetId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(ISSUER))],
    file: Annotated[UploadFile, File(description="The document (at most 20 MiB)")],
    kind: Annotated[DocumentKindName, Form()],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        content = file.file.read(assets.MAX_DOCUMENT_BYTES + 1)
        filename = re.sub(r"[\x00-\x1f\x7f/\\]", "_", file.filename or "document")[:255]
        media_type = (file.content_type or "application/octet-stream").split(";")[0].strip()
        if not re.fullmatch(r"[A-Za-z0-9.+-]{1,50}/[A-Za-z0-9.+-]{1,49}", media_type):
            media_type = "application/octet-stream"
        digest = assets.attach_upload(
            platform,
            signing_key(platform, who),
            asset_id,
            DocumentKind[kind.name],
            content,
            filename,
            media_type,
            who.username,
        )
        return {
            "asset": asset_id,
            "kind": kind.value,
            "sha256": digest,
            "filename": filename,
            "media_type": media_type,
            "size": len(content),
        }

    return run_post(request, response, platform, who, key, 201, action)


@router.get(
    "/documents/{sha256}",
    response_class=Response,
    summary="Download a stored document (issuer, approver, agent, auditor, regulator)",
    responses={
        200: {
            "description": "The document's content",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def download_document(
    sha256: Annotated[str, Path(pattern=r"^0x[0-9a-f]{64}$")],
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*DOCUMENT_READERS))],
) -> Response:
    content, filename, media_type = assets.load_document(platform, sha256)
    base_type = media_type.split(";")[0].strip().lower()
    inline = base_type in INLINE_TYPES
    if not inline:
        base_type = "application/octet-stream"
    elif base_type == "text/plain":
        base_type = "text/plain; charset=utf-8"
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100] or "document"
    return Response(
        content,
        media_type=base_type,
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{safe_name}"',
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "X-Document-SHA256": sha256,
        },
    )


@router.post(
    "/assets/{asset_id}/valuations",
    response_model=ValuationCreated,
    status_code=201,
    summary="Submit a valuation; officials accept it by an approval (valuer)",
)
def submit_valuation(
    asset_id: AssetId,
    body: ValuationIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(VALUER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        index = assets.submit_valuation(
            platform,
            signing_key(platform, who),
            asset_id,
            body.amount_minor,
            day_start(body.date),
            body.report_sha256,
        )
        return {
            "asset": asset_id,
            "index": index,
            "amount_minor": body.amount_minor,
            "date": body.date.isoformat(),
            "report_sha256": body.report_sha256,
        }

    return run_post(request, response, platform, who, key, 201, action)


@router.post(
    "/assets/{asset_id}/reserve-attestations",
    response_model=ReserveAttested,
    status_code=201,
    summary="Attest a commodity reserve; minting is capped by the latest attestation (a valuer "
    "whose key is a reserve auditor's on chain)",
)
def attest_reserve(
    asset_id: AssetId,
    body: ReserveAttestationIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(VALUER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        key_name = signing_key(platform, who)
        wallet = platform.address_of(key_name)
        if not platform.contract("AssetRegistry").read("isReserveAuditor", wallet):
            raise Forbidden(
                f"{who.username} signs with {wallet}, which is not a reserve auditor on chain",
                role=who.role.value,
            )
        index = assets.attest_reserve(
            platform,
            key_name,
            asset_id,
            body.quantity,
            body.report_sha256,
            idempotency_key=chain_key(who, key),
        )
        return {
            "asset": asset_id,
            "attestation": index,
            "quantity": body.quantity,
            "report_sha256": body.report_sha256,
        }

    return run_post(request, response, platform, who, key, 201, action)


@router.post(
    "/assets/{asset_id}/underlying",
    response_model=AssetDetail,
    summary="Tie a proposed sukuk to its underlying asset, which then cannot be retired (issuer)",
)
def link_underlying(
    asset_id: AssetId,
    body: UnderlyingIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(ISSUER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        assets.link_underlying(
            platform,
            signing_key(platform, who),
            asset_id,
            body.underlying,
            idempotency_key=chain_key(who, key),
        )
        return _detail(platform, assets.show(platform, asset_id))

    return run_post(request, response, platform, who, key, 200, action)


@router.get(
    "/assets/{asset_id}/valuations",
    response_model=ValueHistory,
    response_model_by_alias=True,
    summary="The asset's value history: accepted valuer reports, and for debt instruments the "
    "market's marks (auction cut-offs, secondary DvP prices) with their sources",
)
def value_history(asset_id: AssetId, platform: PlatformDep, who: ReaderDep) -> dict[str, Any]:
    record = assets.show(platform, asset_id)
    supply = platform.token(record["token"]).read("totalSupply") if record["token"] else 0
    return valuations.history(platform, record, supply, who)


@router.get(
    "/assets/{asset_id}/history",
    response_model=Page[HistoryEvent],
    summary="Every indexed event about the asset and its token, in chain order",
)
def asset_history(
    asset_id: AssetId,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*STAFF))],
    by: Annotated[Listing, Depends(listing(("block", "event", "contract"), "block"))],
    event: Annotated[str | None, Query(pattern=r"^[A-Za-z]{1,40}$")] = None,
) -> dict[str, Any]:
    with platform.store.session() as session:
        rows = queries.asset_history(session, asset_id)
    if not rows:
        assets.show(platform, asset_id)  # 404 for an unknown asset
    return page_of(rows, by, event=event)
