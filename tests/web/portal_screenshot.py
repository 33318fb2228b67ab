"""Make the README's portal screenshot (run once by hand, not by the test suite):

    .venv/bin/python -m tests.web.portal_screenshot docs/portal.png

Loads the pilot scenario and its year of market activity (as `make run` does) into a temporary
directory, indexes it, publishes a signed tree head and photographs the Ijara sukuk's page of the
public portal (its valuer reports, rent payments and holdings groups).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from amanat import pilot_year
from amanat.indexer.indexer import Indexer
from amanat.services import tokens, transparency
from tests.web.support import chromium, live_console


def main(target: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_console(Path(tmp) / "data", pilot_year.MONTHS) as console,
    ):
        platform = console.platform
        Indexer(platform.chain, platform.manifest, platform.store).sync()
        transparency.publish(platform)
        with chromium(Path(tmp) / "chromium") as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sukuk = tokens.resolve(platform, "PKSUK29").read("assetId")
            page.goto(console.url(f"/portal/assets/{sukuk}"))
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/portal.png"))
