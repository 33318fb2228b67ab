"""Asset register use cases: register, attach documents, submit valuations, read the register."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amanat.domain.assets import AssetClass, AssetStatus, DocumentKind
from amanat.errors import InvalidInput, NotFound
from amanat.services.platform import Platform


def store_document(platform: Platform, path: Path) -> str:
    """Keep a copy of the document content-addressed by SHA-256; return its 0x-hash."""
    if not path.is_file():
        raise InvalidInput(f"document {path} does not exist")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    target = platform.settings.data_dir / "documents" / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return "0x" + digest


def register(
    platform: Platform,
    issuer: str,
    asset_class: AssetClass,
    legal_id: str,
    name: str,
    ministry: str,
    authorisation_ref: str,
    authorisation_hash: str,
    max_units: int,
    idempotency_key: str | None = None,
) -> int:
    if max_units <= 0:
        raise InvalidInput(f"authorised units must be positive, got {max_units}")
    registry = platform.contract("AssetRegistry")
    request = registry.tx(
        "registerAsset",
        int(asset_class),
        legal_id,
        name,
        ministry,
        authorisation_ref,
        _hash32(authorisation_hash, "authorisation document hash"),
        max_units,
        key=idempotency_key,
        description=f"register asset {legal_id}",
    )
    (receipt,) = platform.chain.transact(platform.signer(issuer), [request])
    return int(registry.events(receipt, "AssetRegistered")[0]["assetId"])


def attach_document(
    platform: Platform, issuer: str, asset_id: int, kind: DocumentKind, content_hash: str
) -> None:
    _require_asset(platform, asset_id)
    registry = platform.contract("AssetRegistry")
    platform.chain.transact(
        platform.signer(issuer),
        [
            registry.tx(
                "attachDocument", asset_id, int(kind), _hash32(content_hash, "document hash")
            )
        ],
    )


def submit_valuation(
    platform: Platform,
    valuer: str,
    asset_id: int,
    amount_minor: int,
    valuation_date: int,
    report_hash: str,
) -> int:
    _require_asset(platform, asset_id)
    registry = platform.contract("AssetRegistry")
    (receipt,) = platform.chain.transact(
        platform.signer(valuer),
        [
            registry.tx(
                "submitValuation",
                asset_id,
                amount_minor,
                valuation_date,
                _hash32(report_hash, "valuation report hash"),
            )
        ],
    )
    return int(registry.events(receipt, "ValuationSubmitted")[0]["index"])


def _hash32(text: str, what: str) -> bytes:
    raw = text.removeprefix("0x")
    if len(raw) != 64:
        raise InvalidInput(f"{what} {text!r} must be 32 bytes of hex (64 characters)")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not hexadecimal") from None


def _require_asset(platform: Platform, asset_id: int) -> None:
    count = platform.contract("AssetRegistry").read("assetCount")
    if not 1 <= asset_id <= count:
        raise NotFound(f"no asset {asset_id} (there are {count})", asset=asset_id)


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def show(platform: Platform, asset_id: int) -> dict[str, Any]:
    _require_asset(platform, asset_id)
    registry = platform.contract("AssetRegistry")
    (asset_class, status, legal_id, name, ministry, token, auth_ref, auth_hash, max_units) = (
        registry.read("getAsset", asset_id)
    )
    documents = []
    for index in range(registry.read("documentCount", asset_id)):
        kind, content_hash, added_by, added_at = registry.read("getDocument", asset_id, index)
        documents.append(
            {
                "kind": DocumentKind(kind).label,
                "sha256": "0x" + content_hash.hex(),
                "added_by": added_by,
                "added": _date(added_at),
            }
        )
    valuations = []
    for index in range(registry.read("valuationCount", asset_id)):
        amount, date, valuer, report, accepted = registry.read("getValuation", asset_id, index)
        valuations.append(
            {
                "index": index,
                "amount_minor": amount,
                "date": _date(date),
                "valuer": valuer,
                "report_sha256": "0x" + report.hex(),
                "accepted": accepted,
            }
        )
    latest = registry.read("latestAcceptedValuation", asset_id)
    return {
        "id": asset_id,
        "class": AssetClass(asset_class).label,
        "status": AssetStatus(status).label,
        "legal_id": legal_id,
        "name": name,
        "ministry": ministry,
        "token": None if int(token, 16) == 0 else token,
        "authorisation": {
            "reference": auth_ref,
            "document_sha256": "0x" + auth_hash.hex(),
            "max_units": max_units,
        },
        "documents": documents,
        "valuations": valuations,
        "current_value_minor": valuations[latest - 1]["amount_minor"] if latest else None,
    }


def list_assets(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("AssetRegistry").read("assetCount")
    return [show(platform, asset_id) for asset_id in range(1, count + 1)]
