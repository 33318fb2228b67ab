"""Console pages of the asset register: the assets, one asset with its documents and valuations,
and the stored documents themselves (served inert)."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import Response

from amanat.errors import InvalidInput
from amanat.services import assets, tokens
from amanat.services.approvals import Forbidden
from amanat.web import session as sessions
from amanat.web.console.common import (
    HASH,
    Session,
    area_router,
    can_read_documents,
    page,
    stored_documents,
)

INLINE_TYPES = {"text/plain", "application/pdf", "image/png", "image/jpeg"}

router = area_router()

# -------------------------------------------------------------------- assets


@router.get("/assets")
def asset_list(request: Request, console: Session) -> Response:
    rows = assets.list_assets(console.platform)
    for row in rows:
        row["symbol"] = (
            console.platform.token(row["token"]).read("symbol") if row["token"] else None
        )
    return page(request, "assets.html", assets=rows)


@router.get("/assets/{asset_id}")
def asset_detail(request: Request, console: Session, asset_id: int) -> Response:
    platform = console.platform
    asset = assets.show(platform, asset_id)
    token = tokens.info(platform, platform.token(asset["token"])) if asset["token"] else None
    hashes = [asset["authorisation"]["document_sha256"]]
    hashes += [d["sha256"] for d in asset["documents"]]
    hashes += [v["report_sha256"] for v in asset["valuations"]]
    stored = stored_documents(platform, hashes) if can_read_documents(console.who) else set()
    return page(request, "asset.html", asset=asset, token=token, stored=stored)


# ----------------------------------------------------------------- documents


@router.get("/documents/{sha256}")
def document(console: Session, sha256: str) -> Response:
    if not can_read_documents(console.who):
        raise Forbidden(f"{sessions.a(console.who.role)} may not open stored documents")
    digest = sha256.lower()
    if not HASH.match(digest):
        raise InvalidInput(f"{sha256!r} is not a SHA-256 hash (0x and 64 hex digits)")
    content, filename, media_type = assets.load_document(console.platform, digest)
    if media_type == "application/octet-stream":  # kept by path (CLI, demo): no type recorded
        try:
            content.decode("utf-8")
            media_type = "text/plain"
        except UnicodeDecodeError:
            pass
    # Only inert types are shown in the browser; anything else (HTML included) is downloaded,
    # and the sandbox policy keeps a document from running anything on the console's origin.
    base_type = media_type.split(";")[0].strip().lower()
    inline = base_type in INLINE_TYPES
    if not inline:
        base_type = "application/octet-stream"
    elif base_type == "text/plain":
        base_type = "text/plain; charset=utf-8"
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100] or "document"
    headers = {
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{safe_name}"',
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Document-SHA256": digest,
    }
    return Response(content, media_type=base_type, headers=headers)
