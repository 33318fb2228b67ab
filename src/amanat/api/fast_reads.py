"""The hot reads answered before the framework: `GET /tokens/{ref}/holders` and `GET /assets`
with no query parameters, when their reply for the block they are as of is already cached.

A cached reply costs the full path mostly its framework work (routing, dependencies, the thread
hand-off, response classes). This ASGI middleware, outermost, answers such a request itself with
the same policy and the same bytes: the bearer token is checked against the database on every
request (`accounts.authenticate`: a signed-out token is refused by the next read), the cap table
keeps its role check and both keep their "as of block" (`routes_tokens.hot_holders`,
`routes_assets.hot_assets` build the same cache keys as their routes). The reply carries the
headers the full path gives it (`Content-Type: application/json`, `Cache-Control: no-store`,
`X-Content-Type-Options: nosniff`). Anything else (a query string, a body, another scheme, a
token or role the check refuses, a reply not cached yet, any error) goes to the full path
unchanged, which answers it or refuses it with its problem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from amanat.api.read_cache import BlockCache
from amanat.services import accounts
from amanat.services.platform import Platform

HOLDERS = re.compile(r"/tokens/(0x[0-9a-fA-F]{40}|[0-9]{1,9}|[A-Za-z][A-Za-z0-9._-]{0,31})/holders")
ASSETS = "/assets"


@dataclass
class FastReads:
    """What the fast path serves from, and how many requests it has answered (for tests)."""

    platform: Platform
    cache: BlockCache
    served: int = 0

    async def lookup(self, path: str, bearer: str | None) -> bytes | None:
        """The cached reply for `path` read by the holder of `bearer`, or None: not answered
        here. A cap table's one statement (the bearer check and the index's cursor) is awaited
        on the event loop on PostgreSQL (`Store.async_reads`, bounded in time) and run in a
        worker thread on SQLite; the register's block number is asked of the node in a worker
        thread."""
        from amanat.api import routes_assets, routes_tokens

        if path == ASSETS:  # public: a bearer token is not looked at, as on the full path
            return await anyio.to_thread.run_sync(
                routes_assets.hot_assets, self.platform, self.cache
            )
        match = HOLDERS.fullmatch(path)
        if match is None or bearer is None:
            return None
        parameters = accounts.token_check_parameters(bearer)
        reads = self.platform.store.async_reads
        if reads is not None:
            checked = await reads.first(routes_tokens.HOT_HOLDERS_CHECK, parameters)
        else:
            checked = await anyio.to_thread.run_sync(self._check_in_thread, parameters)
        return routes_tokens.hot_holders(self.cache, match.group(1), checked)

    def _check_in_thread(self, parameters: dict[str, str]) -> Sequence[Any] | None:
        from amanat.api import routes_tokens

        with self.platform.store.read_engine.connect() as connection:
            return connection.execute(routes_tokens.HOT_HOLDERS_CHECK, parameters).first()


class FastReadsMiddleware:
    """ASGI middleware answering the hot reads of `FastReads`; everything else passes through."""

    def __init__(self, app: ASGIApp, reads: FastReads) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
            or (path != ASSETS and not path.endswith("/holders"))
        ):
            await self.app(scope, receive, send)
            return
        bearer: str | None = None
        seen_authorization = False
        for name, value in scope["headers"]:
            if name in (b"content-length", b"transfer-encoding"):
                await self.app(scope, receive, send)  # a body: the full path limits it
                return
            if name == b"authorization" and not seen_authorization:  # the first, as HTTPBearer
                seen_authorization = True
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and credentials.strip():
                    bearer = credentials.strip()
        try:
            content = await self.reads.lookup(path, bearer)
        except Exception:  # noqa: BLE001 - the full path answers, with its own problem if any
            content = None
        if content is None:
            await self.app(scope, receive, send)
            return
        self.reads.served += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(content)).encode()),
                    (b"content-type", b"application/json"),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
