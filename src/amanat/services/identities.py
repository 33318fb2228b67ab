"""Onboarding of institutions: identity (hash of the KYC record only), wallets, renewals.

The KYC record stays off chain, encrypted at rest in the store; only its SHA-256 goes into the
IdentityRegistry. The institution's public name, country, category and wallets are kept in
clear so that reports can name holders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from amanat.domain.evm import to_checksum_address
from amanat.domain.identity import ISO_3166_NUMERIC, InvestorCategory, country_label
from amanat.domain.records import WalletRecord
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import inputs
from amanat.services.platform import Bound, Platform

# The store (SQLAlchemy and its models) is imported by the functions that use it: a read of the
# chain alone, such as the token register, never loads it.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from amanat.store.models import Institution

MAX_WALLETS = 16


def kyc_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a KYC record."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "0x" + hashlib.sha256(canonical.encode()).hexdigest()


def name_of(platform: Platform, address: str) -> str:
    """The public name of the institution a wallet belongs to, or the address itself."""
    from sqlalchemy import select

    from amanat.store.models import Institution, Wallet

    with platform.store.session() as session:
        name = session.scalar(
            select(Institution.legal_name)
            .join(Wallet, Wallet.institution_id == Institution.id)
            .where(Wallet.address == to_checksum_address(address))
        )
    return name or address


def onboard(
    platform: Platform,
    registrar: str,
    name: str,
    kyc_record: dict[str, Any],
    country: int,
    category: InvestorCategory,
    kyc_expiry: int,
    wallets: list[str],
    idempotency_key: str | None = None,
) -> int:
    """Register an institution with its wallets; returns its identity number.

    Every input and prerequisite (the name, the country, the wallets, the data key that seals
    the KYC record) is checked before the chain is written, so a refusal leaves neither half."""
    from amanat.store.models import Institution, Wallet

    inputs.display_name(name, "the institution's name")
    _require_country(country)
    sealed = platform.cipher.seal(kyc_record)
    if not wallets:
        raise InvalidInput("an institution needs at least one wallet")
    if len(wallets) > MAX_WALLETS:
        raise InvalidInput(f"at most {MAX_WALLETS} wallets per institution, got {len(wallets)}")
    replay = platform.chain.seen(idempotency_key)  # a replay returns the first identity
    now = platform.clock.chain_time()
    if kyc_expiry <= now and not replay:
        raise InvalidInput(f"KYC expiry {kyc_expiry} is not in the future (chain time {now})")
    identity = platform.contract("IdentityRegistry")
    addresses = [platform.address_of(w, new=True) for w in wallets]
    for address in addresses if not replay else []:
        if identity.read("walletRecord", address) != 0:
            owner = identity.read("identityNumberOf", address)
            raise InvalidInput(f"wallet {address} already belongs to identity {owner}")
    request = identity.tx(
        "registerIdentity",
        bytes.fromhex(kyc_hash(kyc_record)[2:]),
        country,
        int(category),
        kyc_expiry,
        addresses,
        key=idempotency_key,
        description=f"onboard {name}",
    )
    (receipt,) = platform.chain.transact(platform.signer(registrar), [request])
    number = int(identity.events(receipt, "IdentityRegistered")[0]["identityNumber"])
    with platform.store.session() as session, session.begin():
        if _stored(session, number) is not None:
            return number
        institution = Institution(
            identity_number=number,
            legal_name=name,
            country=country,
            category=category.name.lower(),
            lei=kyc_record.get("lei"),
            kyc_hash=kyc_hash(kyc_record),
            kyc_expiry=kyc_expiry,
            personal_data=sealed,
            created_at=platform.clock.wall_time(),
        )
        session.add(institution)
        session.flush()
        for address, wallet in zip(addresses, wallets, strict=True):
            key_name = None if wallet.startswith("0x") else wallet
            # merge: a row an earlier unlink left for the address must not fail this half
            session.merge(Wallet(address=address, institution_id=institution.id, key_name=key_name))
    return number


def _require_country(country: int) -> None:
    if country not in ISO_3166_NUMERIC:
        raise InvalidInput(
            f"country code {country} is not an ISO 3166-1 numeric code of a country in use",
            country=country,
        )


def kyc_hashes_on_chain(platform: Platform, numbers: Sequence[int] = ()) -> dict[int, str]:
    """The KYC record hash ("0x..." hex) each identity's last IdentityRegistered or
    IdentityUpdated event carries (the registry keeps it in its events, not in storage), read
    from the chain; only `numbers` if given."""
    hashes: dict[int, str] = {}
    for event in platform.decoded_logs(
        platform.contract("IdentityRegistry"),
        ("IdentityRegistered", "IdentityUpdated"),
        first_indexed=numbers,
    ):
        hashes[int(event["identityNumber"])] = "0x" + bytes(event["kycHash"]).hex()
    return hashes


def _asset_tokens(platform: Platform) -> list[Bound]:
    registry = platform.contract("AssetRegistry")
    addresses = (registry.read("tokenOf", i) for i in range(1, registry.read("assetCount") + 1))
    return [platform.token(address) for address in addresses if int(address, 16) != 0]


def update(
    platform: Platform,
    registrar: str,
    identity_number: int,
    kyc_record: dict[str, Any],
    country: int,
    category: InvestorCategory,
    kyc_expiry: int,
) -> None:
    """Update an identity's KYC record, country, category and expiry (the registrar's key).

    Every input and prerequisite (the country, the data key that seals the new KYC record) is
    checked before the registry is written, so a refusal leaves the chain and the stored record
    as they were."""
    _require_identity(platform, identity_number)
    _require_country(country)
    sealed = platform.cipher.seal(kyc_record)
    identity = platform.contract("IdentityRegistry")
    current_country, current_category, _ = identity.read("identityOf", identity_number)
    if (country, int(category)) != (current_country, current_category):
        held = [
            token.read("symbol")
            for token in _asset_tokens(platform)
            if token.read("identityHolding", identity_number)
        ]
        if held:
            raise RuleViolation(
                "needs-governance",
                f"identity {identity_number} holds units of {', '.join(held)}: a change of its "
                "country or category needs a governance proposal (updateIdentity), not the "
                "registrar alone",
                identity=identity_number,
            )
    platform.chain.transact(
        platform.signer(registrar),
        [
            identity.tx(
                "updateIdentity",
                identity_number,
                bytes.fromhex(kyc_hash(kyc_record)[2:]),
                country,
                int(category),
                kyc_expiry,
            )
        ],
    )
    with platform.store.session() as session, session.begin():
        institution = _stored(session, identity_number)
        if institution is not None:
            institution.country = country
            institution.category = category.name.lower()
            institution.kyc_hash = kyc_hash(kyc_record)
            institution.kyc_expiry = kyc_expiry
            institution.personal_data = sealed


def link_wallet(platform: Platform, registrar: str, identity_number: int, wallet: str) -> str:
    """Link another wallet to an identity (the registrar's key); returns its address. The store
    records the link whatever row it held for the address, so the two halves always agree."""
    from amanat.store.models import Wallet

    _require_identity(platform, identity_number)
    identity = platform.contract("IdentityRegistry")
    address = platform.address_of(wallet, new=True)
    platform.chain.transact(
        platform.signer(registrar), [identity.tx("linkWallet", identity_number, address)]
    )
    # The registry has linked it: the store follows whatever row it held for the address (a
    # row an earlier unlink left behind must not leave the link half-recorded).
    with platform.store.session() as session, session.begin():
        institution = _stored(session, identity_number)
        if institution is not None:
            key_name = None if wallet.startswith("0x") else wallet
            session.merge(Wallet(address=address, institution_id=institution.id, key_name=key_name))
    return address


def _stored(session: Session, identity_number: int) -> Institution | None:
    from sqlalchemy import select

    from amanat.store.models import Institution

    return session.scalar(select(Institution).where(Institution.identity_number == identity_number))


def kyc_record(platform: Platform, identity_number: int) -> dict[str, Any]:
    """The decrypted KYC record (personal data: auditors and the registrar only)."""
    with platform.store.session() as session:
        institution = _stored(session, identity_number)
        if institution is None:
            raise NotFound(
                f"no KYC record stored for identity {identity_number}", identity=identity_number
            )
        return platform.cipher.open(institution.personal_data)


def _require_identity(platform: Platform, identity_number: int) -> None:
    count = platform.contract("IdentityRegistry").read("identityCount")
    if not 1 <= identity_number <= count:
        raise NotFound(
            f"no identity {identity_number} (there are {count})", identity=identity_number
        )


def wallet_record(platform: Platform, address: str) -> WalletRecord:
    return WalletRecord.unpack(platform.contract("IdentityRegistry").read("walletRecord", address))


def show(platform: Platform, identity_number: int) -> dict[str, Any]:
    _require_identity(platform, identity_number)
    identity = platform.contract("IdentityRegistry")
    country, category, expiry = identity.read("identityOf", identity_number)
    record_hash = kyc_hashes_on_chain(platform, [identity_number])[identity_number]
    wallets = identity.read("walletsOfIdentity", identity_number)
    with platform.store.session() as session:
        stored = _stored(session, identity_number)
    return {
        "identity": identity_number,
        "name": stored.legal_name if stored else f"identity {identity_number}",
        "kyc_sha256": record_hash,
        "country": country_label(country),
        "category": InvestorCategory(category).label,
        "kyc_expiry": expiry,
        "verified": expiry > platform.clock.chain_time(),
        "wallets": list(wallets),
    }


def list_identities(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("IdentityRegistry").read("identityCount")
    return [show(platform, number) for number in range(1, count + 1)]
