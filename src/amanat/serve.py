"""`amanat serve`: the API, console and public portal over one platform, with background threads
that follow the chain (indexer), publish signed tree heads of the transparency log and anchor them
(publisher), and reconcile chain, index and registry (reconciler).

With `--workers N` (N > 1) the app is served by N uvicorn worker processes, each with its own
platform over the same data directory (the chain gateway's file lock orders their writes; reads
take no lock) and its own listening socket on the port (SO_REUSEPORT: the kernel spreads the
connections over them); the background threads run once, in the supervising process.
"""

from __future__ import annotations

import ctypes
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from amanat.api.app import create_app
from amanat.chain.keys import eth_account_class
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.errors import AmanatError, InvalidInput
from amanat.indexer.indexer import Indexer
from amanat.services import reconcile, transparency
from amanat.services.platform import Platform
from amanat.store.log import size as log_size

INDEX_INTERVAL_SECONDS = 1.0
PUBLISH_INTERVAL_SECONDS = 60.0
RECONCILE_INTERVAL_SECONDS = 600.0
# The settings handed to worker processes (`worker_app`), as JSON.
WORKER_SETTINGS_ENV = "AMANAT_SERVE_SETTINGS"
# uvloop, asyncio's compiled event loop (a runtime dependency, as httptools is).
EVENT_LOOP = "uvloop"
# The most bytes a request line and headers may take. h11 refuses a head of several megabytes;
# httptools buffers one of any size, so the protocol below bounds it (a bearer token, cookies and
# the usual headers are a few kilobytes).
MAX_REQUEST_HEAD_BYTES = 65_536
LISTEN_BACKLOG = 2048  # uvicorn's default
WORKER_MIN_LIFE_SECONDS = 5.0  # a worker that dies sooner is not started again
WORKER_STOP_SECONDS = 30.0  # a worker's graceful shutdown, then it is killed
PR_SET_PDEATHSIG = 1  # Linux prctl(2): the signal a process gets when its parent dies

log = logging.getLogger("amanat.serve")


class BoundedHeadHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol refusing (431, problem+json, connection closed) a request
    whose line and headers exceed MAX_REQUEST_HEAD_BYTES. Every chunk received while a head is
    still incomplete is head: counting those bounds what httptools holds to the bound plus one
    read, and a body is never counted."""

    _head_bytes = 0
    _in_head = True  # a connection starts with a request's head

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            detail = (
                f"the request line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes "
                f"(at least {self._head_bytes} received)"
            )
            body = json.dumps(
                {"title": "Request Header Fields Too Large", "status": 431, "detail": detail}
            ).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/problem+json\r\n"
                b"content-length: "
                + str(len(body)).encode()
                + b"\r\nconnection: close\r\n\r\n"
                + body
            )
            self.transport.close()


# uvicorn's compiled HTTP/1.1 parser (httptools, with the bound above) and event loop, named
# rather than left to uvicorn's "auto": the pure-Python h11 parser and asyncio's default loop cost
# a worker about a third more CPU per request (bench/README.md, API, stop 21).
HTTP_IMPLEMENTATION = BoundedHeadHttpTools


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


def worker_app() -> FastAPI:
    """The app of one worker process of `amanat serve --workers N`: its own platform over the
    data directory the supervising process serves."""
    values = json.loads(os.environ[WORKER_SETTINGS_ENV])
    settings = Settings.resolve(values["data_dir"], values["rpc_url"], values["database_url"])
    _load_signing()
    return create_app(Platform.open(settings))


def _listener(host: str, port: int, shared: bool = True) -> socket.socket:
    """One worker's own listening socket on `host`:`port`, sharing the port with the other
    workers' (SO_REUSEPORT): the kernel spreads new connections over the workers. With one
    socket shared by all, the first worker to wake accepts a whole burst of connections, and
    keeps them, kept alive, for their lifetime while the others idle. Not `shared`: a plain bind,
    refused if any process listens on the port (with SO_REUSEPORT or not)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, worker_settings: str) -> None:
    """A worker process of `amanat serve --workers N`: uvicorn on its own listening socket,
    stopped (SIGTERM) when the supervising process dies, even by SIGKILL: an orphaned worker
    would go on serving beside the next start's."""
    _stop_with_parent()
    os.environ[WORKER_SETTINGS_ENV] = worker_settings
    config = uvicorn.Config(
        "amanat.serve:worker_app",
        factory=True,
        http=HTTP_IMPLEMENTATION,
        loop=EVENT_LOOP,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[_listener(host, port)])


def _stop_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _run_workers(
    host: str, port: int, workers: int, worker_settings: str, echo: Callable[[str], None]
) -> None:
    """Run `workers` worker processes until SIGINT or SIGTERM (then each is stopped with
    SIGTERM, uvicorn's graceful shutdown). A worker that dies is started again, unless it died
    within WORKER_MIN_LIFE_SECONDS of its start (it cannot serve: the error is in its output)."""
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda _signum, _frame: stopping.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    running: dict[Any, float] = {}
    try:
        while not stopping.is_set():
            for process, started in list(running.items()):
                if process.is_alive():
                    continue
                del running[process]
                if time.monotonic() - started < WORKER_MIN_LIFE_SECONDS:
                    raise AmanatError(
                        f"a worker exited with status {process.exitcode} as it started (its "
                        "error is above); the server stops"
                    )
                echo(f"a worker exited with {process.exitcode}; starting another")
            while len(running) < workers:
                process = context.Process(
                    target=_worker, args=(host, port, worker_settings), name="amanat-worker"
                )
                process.start()
                running[process] = time.monotonic()
            multiprocessing.connection.wait([p.sentinel for p in running], timeout=0.5)
    finally:
        for process in running:
            if process.is_alive():
                process.terminate()
        for process in running:
            process.join(WORKER_STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _load_signing() -> None:
    """Import the signing stack (eth-account, with py_ecc) before serving: imported lazily (the
    CLI's start-up), it costs a worker about two seconds of CPU, which the first write after a
    start would otherwise wait for, with every request queued behind it."""
    eth_account_class()


def serve(
    settings: Settings,
    host: str,
    port: int,
    pilot: bool,
    echo: Callable[[str], None],
    workers: int = 1,
) -> None:
    port = port or _free_port(host)
    try:  # the port is free: refused before the platform (and its node) is touched
        _listener(host, port, shared=False).close()
    except OSError as error:
        raise InvalidInput(f"cannot listen on {host}:{port}: {error.strerror}") from None
    platform = Platform.open(settings, require_deployment=not pilot)
    if pilot:
        if not settings.embedded:
            raise InvalidInput("--pilot loads development data: embedded chain only")
        if not settings.manifest_path.exists():
            from amanat import demo, pilot_year

            echo("loading the pilot scenario and a year of its market ...")
            demo.load(platform, lambda _line: None)
            year = pilot_year.play(platform, lambda _line: None)
            echo(pilot_year.headline(year))
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
    echo(
        f"Amanat serving on http://{host}:{port}  (console /console, public portal /portal, "
        f"API docs /docs) with {workers} worker{'s' if workers > 1 else ''}; Ctrl-C stops"
    )
    try:
        if workers == 1:
            _load_signing()
            app = create_app(platform)
            app.state.indexer = indexer
            uvicorn.run(
                app,
                host=host,
                port=port,
                http=HTTP_IMPLEMENTATION,
                loop=EVENT_LOOP,
                log_level="warning",
            )
        else:
            worker_settings = json.dumps(
                {
                    "data_dir": str(settings.data_dir),
                    "rpc_url": settings.rpc_url,
                    "database_url": settings.database_url,
                }
            )
            _run_workers(host, port, workers, worker_settings, echo)
    finally:
        for thread in (indexer, publisher, reconciler):
            thread.stopped.set()
        if settings.embedded:  # the journal keeps the chain; the next start restores it
            AnvilNode(settings.data_dir).stop()
