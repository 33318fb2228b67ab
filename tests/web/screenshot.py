"""Make the README's console screenshot (run once by hand, not by the test suite):

    .venv/bin/python -m tests.web.screenshot docs/console-approvals.png

Loads the pilot scenario and its year of market activity (as `make run` does) into a temporary
directory, files a few requests in different states through the services, and photographs the
approvals page as approver-2 sees it.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

from amanat import pilot_year
from amanat.services import accounts, approvals, tokens
from amanat.services.platform import Platform
from tests.web.support import chromium, live_console, sign_in


def _scene(platform: Platform) -> None:
    treasury = accounts.get_user(platform.store, "treasury")
    agent = accounts.get_user(platform.store, "enforcement")
    first = accounts.get_user(platform.store, "approver-1")
    third = accounts.get_user(platform.store, "approver-3")
    pktb3m = tokens.resolve(platform, "PKTB3M").address
    pksuk29 = tokens.resolve(platform, "PKSUK29").address

    def mint(to: str, amount: int) -> int:
        params = {"token": pktb3m, "to": platform.address_of(to), "amount": amount}
        return int(approvals.create(platform, treasury, "mint", params, None)["id"])

    done = mint("fepf", 5_000)
    approvals.approve(platform, first, done)
    approvals.approve(platform, third, done)
    platform.chain.advance_time(3601)
    approvals.execute(platform, first, done)

    rejected = mint("kla", 90_000)
    approvals.reject(platform, third, rejected, "exceeds the quarter's issuance plan")

    waiting = mint("kla", 20_000)
    approvals.approve(platform, first, waiting)
    approvals.approve(platform, third, waiting)

    one_of_two = mint("fepf", 15_000)
    approvals.approve(platform, first, one_of_two)

    notice = b"FMU notice 91/2026: freeze PKSUK29 of Gulf Horizon Capital pending inquiry."
    evidence = "0x" + hashlib.sha256(notice).hexdigest()
    folder = platform.settings.data_dir / "documents"
    folder.mkdir(exist_ok=True)
    (folder / evidence[2:]).write_bytes(notice)
    approvals.create(
        platform,
        agent,
        "freeze",
        {"token": pksuk29, "wallet": platform.address_of("ghc")},
        evidence,
    )


def main(target: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_console(Path(tmp) / "data", pilot_year.MONTHS) as console,
    ):
        _scene(console.platform)
        with chromium(Path(tmp) / "chromium") as browser:
            page = sign_in(browser, console, "approver-2", "/console/approvals")
            page.set_viewport_size({"width": 1440, "height": 900})
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/console-approvals.png"))
