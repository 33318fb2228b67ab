"""`amanat serve`: the API and console over one platform, with the indexer following the chain."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import uvicorn

from amanat.api.app import create_app
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.errors import InvalidInput
from amanat.indexer.indexer import Indexer
from amanat.services.platform import Platform

INDEX_INTERVAL_SECONDS = 1.0


class IndexerThread(threading.Thread):
    """Follows the chain in the background until stopped."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(name="amanat-indexer", daemon=True)
        self.indexer = Indexer(platform.chain, platform.manifest, platform.store)
        self.stopped = threading.Event()
        self.last_error: str | None = None

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.indexer.sync()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep following; the error is reported on /health
                self.last_error = f"{exc.__class__.__name__}: {exc}"
            self.stopped.wait(INDEX_INTERVAL_SECONDS)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve(
    settings: Settings, host: str, port: int, pilot: bool, echo: Callable[[str], None]
) -> None:
    platform = Platform.open(settings, require_deployment=not pilot)
    if pilot:
        if not settings.embedded:
            raise InvalidInput("--pilot loads development data: embedded chain only")
        if not settings.manifest_path.exists():
            from amanat import demo

            echo("loading the pilot scenario ...")
            demo.load(platform, lambda _line: None)
        from amanat.services.pilot import create_pilot_users, pilot_password

        create_pilot_users(platform)
        echo(
            "pilot users (DEVELOPMENT passwords): "
            + ", ".join(
                f"{u}/{pilot_password(u)}"
                for u in ("treasury", "approver-1", "approver-2", "auditor")
            )
            + ", ..."
        )
    indexer = IndexerThread(platform)
    indexer.start()
    app = create_app(platform)
    app.state.indexer = indexer
    port = port or _free_port(host)
    echo(
        f"Amanat serving on http://{host}:{port}  (console /console, API docs /docs); Ctrl-C stops"
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        indexer.stopped.set()
        if settings.embedded:  # the journal keeps the chain; the next start restores it
            AnvilNode(settings.data_dir).stop()
