"""Institutions: public identity fields, the KYC record (personal data), onboarding, positions,
and wallets. An institution user sees only its own identity, positions and wallets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select

from amanat.api.deps import IdempotencyKey, PlatformDep, require
from amanat.api.routes_common import (
    ERRORS,
    REGISTRAR,
    SIGNED_IN,
    Address,
    Amount,
    CategoryName,
    Country,
    Hash,
    Id,
    Listing,
    Page,
    Timestamp,
    TokenRef,
    address,
    alpha2,
    audit_read,
    chain_key,
    listing,
    page_of,
    require_own_identity,
    require_own_wallet,
    run_post,
    scope_of,
    shown_name,
    signing_key,
    text,
)
from amanat.domain.identity import InvestorCategory, parse_country
from amanat.errors import NotFound
from amanat.indexer import queries
from amanat.services import identities
from amanat.services.access import KYC_READERS
from amanat.services.accounts import Principal
from amanat.services.platform import Platform
from amanat.store.models import Institution, Wallet

router = APIRouter(tags=["institutions"], responses=ERRORS)

IdentityNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="Identity number")]
WalletAddress = Annotated[str, Path(alias="address", pattern=r"^0x[0-9a-fA-F]{40}$")]


class InstitutionOut(BaseModel):
    identity: Id
    name: str
    country: Annotated[int, Field(ge=0, le=65535, description="ISO-3166 numeric")]
    country_alpha2: str | None
    category: CategoryName | None
    kyc_sha256: Hash
    kyc_expiry: Timestamp
    verified: bool = Field(description="KYC not expired at the latest block")
    wallets: list[Address]


class KycIn(BaseModel):
    """The KYC record: kept encrypted off chain; only its SHA-256 goes on chain."""

    model_config = ConfigDict(extra="forbid")

    legal_name: shown_name(200)  # type: ignore[valid-type]
    registration_no: text(64)  # type: ignore[valid-type]
    country: Country
    contact: text(200)  # type: ignore[valid-type]
    lei: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{18}[0-9]{2}$")] | None = None
    address: text(500) | None = None  # type: ignore[valid-type]
    beneficial_owners: Annotated[list[text(200)], Field(max_length=20)] | None = None  # type: ignore[valid-type]


class KycRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    legal_name: str | None = None
    registration_no: str | None = None
    country: str | None = None
    contact: str | None = None
    lei: str | None = None


class KycOut(BaseModel):
    identity: Id
    kyc_sha256: Hash
    matches_chain: bool = Field(description="The record's SHA-256 is the one on chain")
    record: KycRecord


class InstitutionIn(BaseModel):
    name: shown_name(200)  # type: ignore[valid-type]
    country: Country = Field(description="ISO-3166 alpha-2 (PK) or numeric (586) code")
    category: CategoryName
    kyc_expiry: Timestamp = Field(description="Unix time the KYC must be renewed by")
    wallets: Annotated[list[Address], Field(min_length=1, max_length=identities.MAX_WALLETS)]
    kyc: KycIn

    @field_validator("wallets")
    @classmethod
    def _distinct(cls, wallets: list[str]) -> list[str]:
        if len({w.lower() for w in wallets}) != len(wallets):
            raise ValueError("wallets must be distinct")
        return wallets


class Position(BaseModel):
    token: Address
    symbol: str
    asset: Id
    wallet: Address
    balance: Amount


class WalletOut(BaseModel):
    address: Address
    registered: bool
    identity: Id | None
    institution: str | None
    country: Annotated[int, Field(ge=0, le=65535)] | None
    country_alpha2: str | None
    category: CategoryName | None
    kyc_expiry: Timestamp | None
    verified: bool


def _category(number: int) -> str | None:
    try:
        return InvestorCategory(number).name.lower()
    except ValueError:
        return None


def _names(platform: Platform) -> dict[int, str]:
    with platform.store.session() as session:
        return {
            number: name
            for number, name in session.execute(
                select(Institution.identity_number, Institution.legal_name)
            )
            if number is not None
        }


def _institution(
    platform: Platform, number: int, names: dict[int, str], now: int, kyc: dict[int, str]
) -> dict[str, Any]:
    registry = platform.contract("IdentityRegistry")
    country, category, expiry = registry.read("identityOf", number)
    return {
        "identity": number,
        "name": names.get(number, f"identity {number}"),
        "country": country,
        "country_alpha2": alpha2(country),
        "category": _category(category),
        "kyc_sha256": kyc[number],
        "kyc_expiry": expiry,
        "verified": expiry > now,
        "wallets": [address(w) for w in registry.read("walletsOfIdentity", number)],
    }


def _require_identity(platform: Platform, number: int) -> None:
    count = platform.contract("IdentityRegistry").read("identityCount")
    if not 1 <= number <= count:
        raise NotFound(f"no identity {number} (there are {count})", identity=number)


@router.get(
    "/institutions",
    response_model=Page[InstitutionOut],
    summary="Onboarded institutions (an institution user: only its own)",
)
def list_institutions(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
    by: Annotated[
        Listing,
        Depends(listing(("identity", "name", "country", "category", "kyc_expiry"), "identity")),
    ],
    category: CategoryName | None = None,
    country: Annotated[int | None, Query(ge=1, le=999, description="ISO-3166 numeric")] = None,
    verified: bool | None = None,
) -> dict[str, Any]:
    scope = scope_of(platform, who)
    count = platform.contract("IdentityRegistry").read("identityCount")
    numbers = range(1, count + 1)
    if scope is not None:
        numbers = range(0) if scope.identity is None else range(scope.identity, scope.identity + 1)
    names, now = _names(platform), platform.clock.chain_time()
    kyc = identities.kyc_hashes_on_chain(platform, list(numbers) if scope is not None else ())
    rows = [_institution(platform, n, names, now, kyc) for n in numbers]
    return page_of(
        rows,
        by,
        category=category.value if category else None,
        country=country,
        verified=verified,
    )


@router.get(
    "/institutions/{identity}",
    response_model=InstitutionOut,
    summary="An institution's public identity fields",
)
def get_institution(
    identity: IdentityNumber,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    require_own_identity(platform, who, identity)
    _require_identity(platform, identity)
    return _institution(
        platform,
        identity,
        _names(platform),
        platform.clock.chain_time(),
        identities.kyc_hashes_on_chain(platform, [identity]),
    )


@router.get(
    "/institutions/{identity}/kyc",
    response_model=KycOut,
    summary="The decrypted KYC record: personal data (auditor, registrar); each read is audited",
)
def get_kyc(
    identity: IdentityNumber,
    request: Request,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*KYC_READERS))],
) -> dict[str, Any]:
    _require_identity(platform, identity)
    record = identities.kyc_record(platform, identity)
    on_chain = identities.kyc_hashes_on_chain(platform, [identity])[identity]
    audit_read(request, platform, who)
    return {
        "identity": identity,
        "kyc_sha256": on_chain,
        "matches_chain": identities.kyc_hash(record) == on_chain,
        "record": record,
    }


@router.post(
    "/institutions",
    response_model=InstitutionOut,
    status_code=201,
    summary="Onboard an institution with its KYC record and wallets (registrar)",
)
def onboard(
    body: InstitutionIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(REGISTRAR))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        number = identities.onboard(
            platform,
            signing_key(platform, who),
            body.name,
            body.kyc.model_dump(exclude_none=True),
            parse_country(body.country),
            InvestorCategory[body.category.name],
            body.kyc_expiry,
            [address(w) for w in body.wallets],
            idempotency_key=chain_key(who, key),
        )
        return _institution(
            platform,
            number,
            _names(platform),
            platform.clock.chain_time(),
            identities.kyc_hashes_on_chain(platform, [number]),
        )

    return run_post(request, response, platform, who, key, 201, action)


@router.get(
    "/institutions/{identity}/positions",
    response_model=Page[Position],
    summary="Current positions of the institution's wallets (from the index)",
)
def positions(
    identity: IdentityNumber,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
    by: Annotated[Listing, Depends(listing(("asset", "symbol", "wallet", "balance"), "asset"))],
    token: TokenRef | None = None,
) -> dict[str, Any]:
    require_own_identity(platform, who, identity)
    _require_identity(platform, identity)
    wallets = [
        address(w)
        for w in platform.contract("IdentityRegistry").read("walletsOfIdentity", identity)
    ]
    with platform.store.session() as session:
        rows = queries.positions(session, wallets)
    if token is not None:
        rows = [
            r
            for r in rows
            if token in (r["symbol"], str(r["asset"])) or token.lower() == r["token"].lower()
        ]
    return page_of(rows, by)


@router.get(
    "/wallets/{address}",
    response_model=WalletOut,
    summary="A wallet's identity record on chain (an institution user: only its own wallets)",
)
def get_wallet(
    wallet: WalletAddress,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    require_own_wallet(platform, who, wallet)
    checksummed = address(wallet)
    record = identities.wallet_record(platform, checksummed)
    with platform.store.session() as session:
        name = session.scalar(
            select(Institution.legal_name)
            .join(Wallet, Wallet.institution_id == Institution.id)
            .where(Wallet.address == checksummed)
        )
    registered = record.registered
    return {
        "address": checksummed,
        "registered": registered,
        "identity": record.identity_number if registered else None,
        "institution": name,
        "country": record.country if registered else None,
        "country_alpha2": alpha2(record.country) if registered else None,
        "category": record.category.name.lower() if registered else None,
        "kyc_expiry": record.kyc_expiry if registered else None,
        "verified": registered and record.kyc_expiry > platform.clock.chain_time(),
    }
