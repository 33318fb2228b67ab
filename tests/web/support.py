"""A live console for browser tests: the pilot platform served by uvicorn in a thread, and
Debian's Chromium driven by Python playwright (no browser download)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from amanat import demo, pilot_year
from amanat.api.app import create_app
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.serve import IndexerThread
from amanat.services.pilot import create_pilot_users, pilot_password
from amanat.services.platform import Platform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> str:
    return os.environ.get("AMANAT_CHROMIUM", DEFAULT_CHROMIUM)


@dataclass
class LiveConsole:
    platform: Platform
    base_url: str
    year: dict[str, Any] | None = None  # what `pilot_year.play` did, when it was played

    def url(self, path: str) -> str:
        return self.base_url + path


@contextmanager
def live_console(data_dir: Path, year_months: int = 0) -> Iterator[LiveConsole]:
    """The pilot scenario on a fresh embedded chain, served on 127.0.0.1:<free port> with the
    indexer following the chain, as `amanat serve` runs it; with `year_months`, that many months
    of the pilot's market after it (`make run` plays twelve).

    The server and the node are stopped on exit, whatever happens."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    indexer: IndexerThread | None = None
    try:
        platform = Platform.open(Settings(data_dir=data_dir), require_deployment=False)
        demo.load(platform, lambda _line: None)
        year = pilot_year.play(platform, lambda _line: None, year_months) if year_months else None
        create_pilot_users(platform)
        # as `amanat serve` does: the index follows the chain in the background; the first
        # sync is awaited so every page starts from the pilot's complete index
        indexer = IndexerThread(platform)
        indexer.indexer.sync()
        indexer.start()
        app = create_app(platform)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="console-server", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console server did not start")
            time.sleep(0.02)
        yield LiveConsole(platform, f"http://127.0.0.1:{port}", year)
    finally:
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=15)
        if indexer is not None:
            indexer.stopped.set()
            indexer.join(timeout=15)
        AnvilNode(data_dir).stop()


@contextmanager
def chromium(profile_root: Path) -> Iterator[Browser]:
    """Headless Debian Chromium. Playwright gives every launch a fresh, empty user data dir;
    it is created under `profile_root` so nothing of the user's own profile is touched."""
    from playwright.sync_api import sync_playwright

    profile_root.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(profile_root)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS, timeout=60_000
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous


def sign_in(browser: Browser, console: LiveConsole, username: str, path: str = "/console/") -> Page:
    """A new browser context (own cookies) signed in as `username` through the login form."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(console.url(f"/console/login?next={path}"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(pilot_password(username))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(console.url(path))
    return page
