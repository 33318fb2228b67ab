"""Onboarding of institutions: identity (hash of the KYC record only), wallets, renewals.

The KYC record itself stays off chain; only its SHA-256 goes into the IdentityRegistry. The
institution's public name and wallets are kept in the data directory's directory of
institutions so that reports can name holders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from amanat.domain.identity import InvestorCategory, country_label
from amanat.domain.records import WalletRecord
from amanat.errors import InvalidInput, NotFound
from amanat.services.platform import Platform

MAX_WALLETS = 16


def kyc_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a KYC record."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "0x" + hashlib.sha256(canonical.encode()).hexdigest()


def _directory_path(platform: Platform) -> Path:
    return platform.settings.data_dir / "institutions.json"


def directory(platform: Platform) -> dict[str, dict[str, Any]]:
    """identity number (as text) -> {name, wallets} for display."""
    path = _directory_path(platform)
    return json.loads(path.read_text()) if path.exists() else {}


def name_of(platform: Platform, address: str) -> str:
    for entry in directory(platform).values():
        if address.lower() in (w.lower() for w in entry["wallets"]):
            return str(entry["name"])
    return address


def _save_directory(platform: Platform, entries: dict[str, dict[str, Any]]) -> None:
    path = _directory_path(platform)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries, indent=2, sort_keys=True))
    temporary.replace(path)


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
    """Register an institution with its wallets; returns its identity number."""
    if not wallets:
        raise InvalidInput("an institution needs at least one wallet")
    if len(wallets) > MAX_WALLETS:
        raise InvalidInput(f"at most {MAX_WALLETS} wallets per institution, got {len(wallets)}")
    now = platform.chain.block_timestamp()
    if kyc_expiry <= now:
        raise InvalidInput(f"KYC expiry {kyc_expiry} is not in the future (chain time {now})")
    identity = platform.contract("IdentityRegistry")
    addresses = [platform.address_of(w) for w in wallets]
    for address in addresses:
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
    entries = directory(platform)
    entries[str(number)] = {"name": name, "wallets": addresses}
    _save_directory(platform, entries)
    return number


def update(
    platform: Platform,
    registrar: str,
    identity_number: int,
    kyc_record: dict[str, Any],
    country: int,
    category: InvestorCategory,
    kyc_expiry: int,
) -> None:
    _require_identity(platform, identity_number)
    identity = platform.contract("IdentityRegistry")
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


def link_wallet(platform: Platform, registrar: str, identity_number: int, wallet: str) -> str:
    _require_identity(platform, identity_number)
    identity = platform.contract("IdentityRegistry")
    address = platform.address_of(wallet)
    platform.chain.transact(
        platform.signer(registrar), [identity.tx("linkWallet", identity_number, address)]
    )
    entries = directory(platform)
    entry = entries.setdefault(
        str(identity_number), {"name": f"identity {identity_number}", "wallets": []}
    )
    entry["wallets"].append(address)
    _save_directory(platform, entries)
    return address


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
    record_hash, country, category, expiry = identity.read("identityOf", identity_number)
    wallets = identity.read("walletsOfIdentity", identity_number)
    entry = directory(platform).get(str(identity_number), {})
    return {
        "identity": identity_number,
        "name": entry.get("name", f"identity {identity_number}"),
        "kyc_sha256": "0x" + record_hash.hex(),
        "country": country_label(country),
        "category": InvestorCategory(category).label,
        "kyc_expiry": expiry,
        "verified": expiry > platform.chain.block_timestamp(),
        "wallets": list(wallets),
    }


def list_identities(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("IdentityRegistry").read("identityCount")
    return [show(platform, number) for number in range(1, count + 1)]
