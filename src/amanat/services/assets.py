"""Asset register use cases: register, attach documents, submit valuations, read the register."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amanat.domain.assets import AssetClass, AssetStatus, DocumentKind
from amanat.errors import Conflict, InvalidInput, NotFound, RuleViolation
from amanat.services import inputs
from amanat.services.platform import Platform, read_many


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
    """Register an asset under its statutory authorisation; returns its id.

    Refused before anything is sent when another active asset (not redeemed or retired) already
    carries this legal identifier or this authorisation reference: one statutory cap is
    registered once."""
    from amanat.store import claims as store_claims  # the store only where it is written

    if max_units <= 0:
        raise InvalidInput(f"authorised units must be positive, got {max_units}")
    inputs.display_name(name, "the asset's name")
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

    def send() -> int:
        (receipt,) = platform.chain.transact(platform.signer(issuer), [request])
        return int(registry.events(receipt, "AssetRegistered")[0]["assetId"])

    if platform.chain.seen(idempotency_key):  # a replay returns the first asset
        return send()
    # Registrations of one legal identifier or authorisation at the same moment: one goes on.
    claims = [("asset-legal-id", legal_id), ("asset-authorisation", authorisation_ref)]
    try:
        with store_claims.holding(platform.store, claims):
            _require_unique(platform, legal_id, authorisation_ref)
            return send()
    except store_claims.Taken:
        raise Conflict(
            "duplicate-asset",
            f"another registration of the legal identifier {legal_id} or the authorisation "
            f"{authorisation_ref} is under way; one asset carries them: look it up before "
            "retrying",
            legal_id=legal_id,
            authorisation_ref=authorisation_ref,
        ) from None


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


def attest_reserve(
    platform: Platform,
    auditor: str,
    asset_id: int,
    quantity: int,
    report_hash: str,
    idempotency_key: str | None = None,
) -> int:
    """A reserve auditor attests the commodity units in the vault; minting is capped by it."""
    _require_asset(platform, asset_id)
    if quantity < 0:
        raise InvalidInput(f"reserve quantity {quantity} is negative")
    registry = platform.contract("AssetRegistry")
    (receipt,) = platform.chain.transact(
        platform.signer(auditor),
        [
            registry.tx(
                "attestReserve",
                asset_id,
                quantity,
                _hash32(report_hash, "attestation report hash"),
                key=idempotency_key,
            )
        ],
    )
    return int(registry.events(receipt, "ReserveAttested")[0]["index"])


def link_underlying(
    platform: Platform,
    issuer: str,
    sukuk_id: int,
    underlying_id: int,
    idempotency_key: str | None = None,
) -> None:
    """Tie an Ijara sukuk to the asset backing it (which then cannot be retired)."""
    _require_asset(platform, sukuk_id)
    _require_asset(platform, underlying_id)
    registry = platform.contract("AssetRegistry")
    platform.chain.transact(
        platform.signer(issuer),
        [registry.tx("linkUnderlying", sukuk_id, underlying_id, key=idempotency_key)],
    )


def _hash32(text: str, what: str) -> bytes:
    raw = text.removeprefix("0x")
    if len(raw) != 64:
        raise InvalidInput(f"{what} {text!r} must be 32 bytes of hex (64 characters)")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not hexadecimal") from None


class DuplicateAsset(RuleViolation):
    def __init__(self, message: str, **values: Any) -> None:
        super().__init__("duplicate-asset", message, **values)


_ENDED = (int(AssetStatus.REDEEMED), int(AssetStatus.RETIRED))


def _require_unique(platform: Platform, legal_id: str, authorisation_ref: str) -> None:
    registry = platform.contract("AssetRegistry")
    count = registry.read("assetCount")
    for asset_id, asset in enumerate(
        read_many([(registry, "getAsset", (i,)) for i in range(1, count + 1)]), start=1
    ):
        if asset[1] in _ENDED:
            continue
        if asset[2] == legal_id:
            raise DuplicateAsset(
                f"asset {asset_id} already carries the legal identifier {legal_id}",
                asset=asset_id,
                legal_id=legal_id,
            )
        if asset[6] == authorisation_ref:
            raise DuplicateAsset(
                f"asset {asset_id} is already registered under the authorisation "
                f"{authorisation_ref}",
                asset=asset_id,
                authorisation_ref=authorisation_ref,
            )


def require_asset(platform: Platform, asset_id: int) -> int:
    """`asset_id` if the register has it (a refusal naming the register's size otherwise)."""
    _require_asset(platform, asset_id)
    return asset_id


def _require_asset(platform: Platform, asset_id: int) -> None:
    count = platform.contract("AssetRegistry").read("assetCount")
    if not 1 <= asset_id <= count:
        raise NotFound(f"no asset {asset_id} (there are {count})", asset=asset_id)


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def show(platform: Platform, asset_id: int) -> dict[str, Any]:
    _require_asset(platform, asset_id)
    return show_many(platform, [asset_id])[0]


def _document(kind: int, content_hash: bytes, added_by: str, added_at: int) -> dict[str, Any]:
    return {
        "kind": DocumentKind(kind).label,
        "sha256": "0x" + content_hash.hex(),
        "added_by": added_by,
        "added": _date(added_at),
    }


def _valuation(
    index: int, amount: int, date: int, valuer: str, report: bytes, accepted: bool
) -> dict[str, Any]:
    return {
        "index": index,
        "amount_minor": amount,
        "date": _date(date),
        "valuer": valuer,
        "report_sha256": "0x" + report.hex(),
        "accepted": accepted,
    }


def _record(
    asset_id: int,
    asset: tuple[Any, ...],
    documents: list[dict[str, Any]],
    valuations: list[dict[str, Any]],
    latest: int,
) -> dict[str, Any]:
    (asset_class, status, legal_id, name, ministry, token, auth_ref, auth_hash, max_units) = asset
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
        "current_valuation": latest - 1 if latest else None,  # its index in `valuations`
    }


def list_assets(platform: Platform, block: int | str = "latest") -> list[dict[str, Any]]:
    """Every registered asset as of `block` (default the latest)."""
    count = platform.contract("AssetRegistry").read("assetCount", block=block)
    return show_many(platform, list(range(1, count + 1)), block)


def show_many(
    platform: Platform, asset_ids: list[int], block: int | str = "latest"
) -> list[dict[str, Any]]:
    """`show` of several existing assets as of `block`, read in two JSON-RPC batches."""
    registry = platform.contract("AssetRegistry")
    heads = read_many(
        [
            (registry, function, (asset_id,))
            for asset_id in asset_ids
            for function in (
                "getAsset",
                "documentCount",
                "valuationCount",
                "latestAcceptedValuation",
                "attestedReserve",
                "attestationCount",
                "underlyingOf",
            )
        ],
        block,
    )
    per_asset = [heads[i : i + 7] for i in range(0, len(heads), 7)]
    details = read_many(
        [
            (registry, "getDocument", (asset_id, index))
            for asset_id, (_, documents, *_) in zip(asset_ids, per_asset, strict=True)
            for index in range(documents)
        ]
        + [
            (registry, "getValuation", (asset_id, index))
            for asset_id, (_, _, valuations, *_) in zip(asset_ids, per_asset, strict=True)
            for index in range(valuations)
        ],
        block,
    )
    document_count = sum(row[1] for row in per_asset)
    document_rows = iter(details[:document_count])
    valuation_rows = iter(details[document_count:])
    records = []
    for asset_id, row in zip(asset_ids, per_asset, strict=True):
        asset, documents, valuations, latest, reserve, attestations, underlying = row
        document_list = [_document(*next(document_rows)) for _ in range(documents)]
        valuation_list = [_valuation(index, *next(valuation_rows)) for index in range(valuations)]
        record = _record(asset_id, asset, document_list, valuation_list, latest)
        record["underlying"] = underlying or None
        if record["class"] == AssetClass.COMMODITY_RESERVE.label:
            record["reserve"] = {"attested_units": reserve, "attestations": attestations}
        records.append(record)
    return records


# ------------------------------------------------------------ uploaded documents

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def store_upload(
    platform: Platform, content: bytes, filename: str, media_type: str, uploaded_by: str
) -> str:
    """Keep uploaded content in the store's Document table, addressed by its SHA-256; returns
    the 0x-hash. Storing the same content again keeps the first copy."""
    return _keep_upload(platform, content, filename, media_type, uploaded_by)[0]


def _keep_upload(
    platform: Platform, content: bytes, filename: str, media_type: str, uploaded_by: str
) -> tuple[str, bool]:
    """(0x-hash, whether this call stored it) of `store_upload`."""
    from amanat.store.models import Document

    if not content:
        raise InvalidInput("the document is empty")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            f"the document has {len(content)} bytes; at most {MAX_DOCUMENT_BYTES} are accepted"
        )
    digest = "0x" + hashlib.sha256(content).hexdigest()
    with platform.store.session() as session, session.begin():
        if session.get(Document, digest) is not None:
            return digest, False
        session.add(
            Document(
                sha256=digest,
                filename=(Path(filename).name or "document")[:255],
                media_type=media_type[:100] or "application/octet-stream",
                size=len(content),
                content=content,
                uploaded_by=uploaded_by[:64],
                uploaded_at=platform.clock.wall_time(),
            )
        )
    return digest, True


def attach_upload(
    platform: Platform,
    issuer: str,
    asset_id: int,
    kind: DocumentKind,
    content: bytes,
    filename: str,
    media_type: str,
    uploaded_by: str,
) -> str:
    """Store an uploaded document and attach its SHA-256 to the asset on chain. A document
    the chain refuses to attach is not kept (unless it was stored before): the store never
    holds an upload the chain does not reference."""
    from amanat.store.models import Document

    _require_asset(platform, asset_id)
    digest, stored = _keep_upload(platform, content, filename, media_type, uploaded_by)
    try:
        attach_document(platform, issuer, asset_id, kind, digest)
    except BaseException:
        if stored:
            with platform.store.session() as session, session.begin():
                kept = session.get(Document, digest)
                if kept is not None:
                    session.delete(kept)
        raise
    return digest


def load_document(platform: Platform, sha256: str) -> tuple[bytes, str, str]:
    """(content, filename, media type) of a stored document: uploaded to the store, or kept in
    the data directory by `store_document` (CLI, demo)."""
    from amanat.store.models import Document

    digest = sha256.lower()
    with platform.store.session() as session:
        stored = session.get(Document, digest)
        if stored is not None:
            return stored.content, stored.filename, stored.media_type
    path = platform.settings.data_dir / "documents" / digest.removeprefix("0x")
    if len(digest) != 66 or not path.is_file():
        raise NotFound(f"no document with SHA-256 {digest} is stored", sha256=digest)
    return path.read_bytes(), digest.removeprefix("0x"), "application/octet-stream"
