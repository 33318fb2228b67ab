"""Smoke tests for the CI infrastructure that the platform-service tests rely on.

`.ci/run` provisions a PostgreSQL database and Debian's Chromium and exports
`AMANAT_TEST_DATABASE_URL` and `AMANAT_CHROMIUM`. Outside CI, where those variables
are usually unset, these tests skip; when a variable is set, its test must pass.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

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

PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>infra</title></head>
<body>
<p id="out">before</p>
<button id="go" type="button"
        onclick="document.getElementById('out').textContent = 'after click'">go</button>
</body></html>
"""


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"{name} is not set (it is exported by .ci/run; set it to run this test)")
    return value


def test_postgresql_reachable() -> None:
    url = _env("AMANAT_TEST_DATABASE_URL")
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            version = conn.execute(text("select version()")).scalar_one()
    finally:
        engine.dispose()
    assert engine.dialect.name == "postgresql"
    assert "PostgreSQL" in version, version


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_chromium_clicks(page_url: str) -> None:
    chromium = _env("AMANAT_CHROMIUM")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.goto(page_url)
            out = page.locator("#out")
            expect(out).to_have_text("before")
            page.click("#go")
            expect(out).to_have_text("after click")
            assert out.text_content() == "after click"
        finally:
            browser.close()
