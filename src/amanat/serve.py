"""`amanat serve`: the API, console and public portal over one platform, with background threads
that follow the chain (indexer), publish signed tree heads of the transparency log and anchor them
(publisher), and reconcile chain, index and registry (reconciler)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from amanat.api.app import create_app
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.errors import InvalidInput
from amanat.indexer.indexer import Indexer
from amanat.services import reconcile, transparency
from amanat.services.platform import Platform
from amanat.store.log import size as log_size

INDEX_INTERVAL_SECONDS = 1.0
PUBLISH_INTERVAL_SECONDS = 60.0
RECONCILE_INTERVAL_SECONDS = 600.0

log = logging.getLogger("amanat.serve")


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


class PeriodicThread(threading.Thread):
    """Runs `action` every `interval` seconds until stopped; keeps its last result and error."""

    def __init__(self, name: str, interval: float, action: Callable[[], Any]) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.action = action
        self.stopped = threading.Event()
        self.last_result: Any = None
        self.last_error: str | None = None

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.last_result = self.action()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep going; the error is logged and kept
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.warning("%s: %s", self.name, self.last_error)


def _publish(platform: Platform) -> dict[str, Any] | None:
    """Publish a head when the log has entries (an empty log has nothing to sign)."""
    with platform.store.session() as session:
        if log_size(session) == 0:
            return None
    return transparency.publish(platform)


def _reconcile(platform: Platform) -> dict[str, Any]:
    """A scheduled reconciliation: stored by the service, each difference also logged."""
    result = reconcile.run(platform)
    for item in result["differences"]:
        log.warning("reconciliation difference [%s] %s: %s", *item.values())
    return result


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
    publisher = PeriodicThread(
        "amanat-publisher", PUBLISH_INTERVAL_SECONDS, lambda: _publish(platform)
    )
    reconciler = PeriodicThread(
        "amanat-reconciler", RECONCILE_INTERVAL_SECONDS, lambda: _reconcile(platform)
    )
    publisher.start()
    reconciler.start()
    app = create_app(platform)
    app.state.indexer = indexer
    port = port or _free_port(host)
    echo(
        f"Amanat serving on http://{host}:{port}  (console /console, public portal /portal, "
        "API docs /docs); Ctrl-C stops"
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        for thread in (indexer, publisher, reconciler):
            thread.stopped.set()
        if settings.embedded:  # the journal keeps the chain; the next start restores it
            AnvilNode(settings.data_dir).stop()
