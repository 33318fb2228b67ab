"""The outermost layer of every request: a body-size limit (413 before anything is parsed), the
body's SHA-256 for idempotency fingerprints, and the headers every JSON answer carries
(`Cache-Control: no-store`, `X-Content-Type-Options: nosniff`)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A JSON request or form is small; a document upload carries up to 20 MiB plus its form fields.
MAX_BODY_BYTES = 1024 * 1024
MAX_DOCUMENT_BODY_BYTES = 21 * 1024 * 1024
BODY_SHA256 = "body_sha256"


# The one route that takes a document upload (POST /assets/{asset_id}/documents).
DOCUMENT_UPLOAD = re.compile(r"/assets/[0-9]{1,10}/documents/?")


def body_limit(path: str) -> int:
    """The largest body accepted on `path`: the document upload route alone takes 21 MiB."""
    return MAX_DOCUMENT_BODY_BYTES if DOCUMENT_UPLOAD.fullmatch(path) else MAX_BODY_BYTES


class RequestGuard:
    """ASGI middleware: reads the body up to its limit (refusing more with 413), records its
    SHA-256 in the request state, then replays it to the app; adds the default headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit, declared)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, send, limit, size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope.setdefault("state", {})[BODY_SHA256] = hashlib.sha256(body).hexdigest()
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, replay, with_headers)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(scope: Scope, send: Send, limit: int, size: int) -> None:
    body: dict[str, Any] = {
        "type": "https://amanat.example/problems/body-too-large",
        "title": "body too large",
        "status": 413,
        "detail": f"the request body has at least {size} bytes; at most {limit} are accepted here",
        "instance": scope["path"],
        "rule": "body-too-large",
        "limit": limit,
    }
    encoded = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(encoded)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": encoded})
