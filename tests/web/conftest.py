"""Fixtures of the console browser tests: one live console and one Chromium per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.support import LiveConsole, chromium, chromium_path, live_console

expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not Path(chromium_path()).exists() and not os.environ.get("AMANAT_CHROMIUM"):
        pytest.skip(f"no Chromium at {chromium_path()}: apt-get install chromium")
    with chromium(tmp_path_factory.mktemp("chromium")) as launched:
        yield launched


@pytest.fixture(scope="module")
def console(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with live_console(tmp_path_factory.mktemp("console") / "data") as live:
        yield live
