"""The public transparency log (no sign-in): entries, signed tree heads, inclusion and consistency
proofs, the platform's public key and the deployment manifest, which is everything `amanat verify`
needs besides a chain node. Reconciliation runs (auditor, regulator)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from amanat.api.deps import PlatformDep, ReaderDep, require
from amanat.api.routes_common import ERRORS, OVERSIGHT, Address, Block, Count, Hash, Timestamp
from amanat.errors import NotFound
from amanat.services import public, reconcile, transparency
from amanat.services.accounts import Principal
from amanat.store.log import size as log_size

router = APIRouter(prefix="/transparency", tags=["transparency"], responses=ERRORS)
reconciliations = APIRouter(prefix="/reconciliations", tags=["reconciliation"], responses=ERRORS)

Index = Annotated[int, Query(ge=0, le=2**63 - 1)]
Base64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]+={0,2}$")]


class EntryOut(BaseModel):
    index: Count
    kind: str
    source: str
    leaf: str | None = Field(
        description="The leaf: canonical JSON, hashed as its UTF-8 bytes. A chain event's leaf "
        "is served to auditors and regulators only; others get null and verify by leaf_hash"
    )
    leaf_hash: Hash
    created_at: datetime


class EntriesOut(BaseModel):
    size: Count = Field(description="The log's size now")
    entries: list[EntryOut]


class HeadOut(BaseModel):
    tree_size: Count
    root_hash: Hash
    timestamp: Timestamp
    signature: Base64 = Field(description="Ed25519 over the head's 80-byte encoding, base64")
    head_hash: Hash = Field(description="SHA-256 of the signed encoding, anchored on chain")
    anchor_tx: Hash | None
    anchor_block: Block | None


class HeadsOut(BaseModel):
    heads: list[HeadOut]


class InclusionOut(BaseModel):
    index: Count
    tree_size: Count
    leaf_hash: Hash
    root_hash: Hash
    proof: list[Hash]


class ConsistencyOut(BaseModel):
    first: Count
    second: Count
    first_root: Hash
    second_root: Hash
    proof: list[Hash]


class PublicKeyOut(BaseModel):
    algorithm: str = "Ed25519"
    public_key: Base64 = Field(description="The raw 32-byte public key, base64")


class ContractOut(BaseModel):
    address: Address
    code_hash: Hash
    source_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ManifestOut(BaseModel):
    version: int
    chain_id: Count
    deployed_block: Block
    deployer: Address
    contracts: dict[str, ContractOut]


class DifferenceOut(BaseModel):
    check: str
    subject: str
    detail: str


class ReconciliationOut(BaseModel):
    id: Annotated[int, Field(ge=1)]
    at: datetime
    block: Block
    checked: Count
    ok: bool
    differences: list[DifferenceOut]


class ReconciliationsOut(BaseModel):
    runs: list[ReconciliationOut]


@router.get(
    "/entries",
    response_model=EntriesOut,
    summary="A page of log entries (public: by hash; auditor, regulator: in full)",
)
def entries(
    platform: PlatformDep,
    who: ReaderDep,
    start: Index = 0,
    limit: Annotated[int, Query(ge=1, le=transparency.MAX_PAGE)] = 100,
) -> dict[str, Any]:
    with platform.store.session() as session:
        return {
            "size": log_size(session),
            "entries": public.log_entries(session, who, start, limit),
        }


@router.get("/heads", response_model=HeadsOut, summary="Every signed tree head (public)")
def heads(platform: PlatformDep) -> dict[str, Any]:
    with platform.store.session() as session:
        return {"heads": transparency.heads(session)}


@router.get(
    "/head", response_model=HeadOut, summary="The latest signed tree head, or the one at a size"
)
def head(platform: PlatformDep, size: Index | None = None) -> dict[str, Any]:
    with platform.store.session() as session:
        if size is not None:
            return transparency.head_at(session, size)
        latest = transparency.latest_head(session)
    if latest is None:
        raise NotFound("no tree head has been published yet")
    return latest


@router.get(
    "/proof/inclusion", response_model=InclusionOut, summary="Inclusion proof of an entry (public)"
)
def inclusion(platform: PlatformDep, index: Index, size: Index) -> dict[str, Any]:
    with platform.store.session() as session:
        return transparency.inclusion_proof(session, index, size)


@router.get(
    "/proof/consistency",
    response_model=ConsistencyOut,
    summary="Consistency proof between two tree sizes (public)",
)
def consistency(platform: PlatformDep, first: Index, second: Index) -> dict[str, Any]:
    with platform.store.session() as session:
        return transparency.consistency_proof(session, first, second)


@router.get(
    "/public-key", response_model=PublicKeyOut, summary="The key that signs tree heads (public)"
)
def public_key(platform: PlatformDep) -> dict[str, Any]:
    return {"algorithm": "Ed25519", "public_key": transparency.public_key_b64(platform)}


@router.get(
    "/manifest",
    response_model=ManifestOut,
    summary="The deployment manifest: chain id, contract addresses and code hashes (public)",
)
def manifest(platform: PlatformDep) -> dict[str, Any]:
    return transparency.manifest_dict(platform)


@reconciliations.get(
    "",
    response_model=ReconciliationsOut,
    summary="The latest reconciliation runs (auditor, regulator)",
)
def reconciliation_runs(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*OVERSIGHT))],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    return {"runs": reconcile.recent(platform, limit)}


@reconciliations.post(
    "",
    response_model=ReconciliationOut,
    summary="Reconcile chain, index, registry and cash token now (auditor, regulator)",
)
def reconcile_now(
    platform: PlatformDep, who: Annotated[Principal, Depends(require(*OVERSIGHT))]
) -> dict[str, Any]:
    return reconcile.run(platform)
