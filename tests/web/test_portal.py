"""The public portal in a real headless Chromium: no sign-in, English and Urdu (right to left),
server-drawn charts, holdings aggregated with small groups withheld, and the signed tree head.

The pilot scenario is indexed and one tree head published before the pages are opened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from amanat.indexer.indexer import Indexer
from amanat.services import transparency
from tests.web.support import LiveConsole

INSTITUTIONS = (
    "Indus National Bank",
    "Karakoram Life Assurance",
    "Federal Employees Pension Fund",
    "Gulf Horizon Capital",
)


@pytest.fixture(scope="module")
def head(console: LiveConsole) -> dict[str, object]:
    platform = console.platform
    Indexer(platform.chain, platform.manifest, platform.store).sync()
    return transparency.publish(platform)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_english_portal_lists_assets_and_the_signed_head(
    page: Page, console: LiveConsole, head: dict[str, object], tmp_path: Path
) -> None:
    response = page.goto(console.url("/portal"))
    assert response is not None and response.status == 200
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    rows = page.locator("table.assets tbody tr")
    expect(rows).to_have_count(5)  # the pilot's three, the auctioned T-bill and the wheat receipt
    expect(rows.filter(has_text="PASSCO-MUL-WHEAT-01").locator("td.num").first).to_contain_text(
        "35,000"
    )
    tbill = rows.filter(has_text="PK0123TB3M26")
    expect(tbill).to_contain_text("t bill")
    expect(tbill).to_contain_text("Ministry of Finance")
    expect(tbill.locator("td.num").first).to_contain_text("800,000")
    land = rows.filter(has_text="ISB-G5-1-0423")
    expect(land.locator("td.num").nth(1)).to_contain_text("PKR 1,850,000,000.00")
    section = page.locator("section.head")
    expect(section).to_contain_text(str(head["root_hash"]))
    expect(section).to_contain_text(f"{head['tree_size']:,}")
    expect(section).to_contain_text(f"block {head['anchor_block']}")
    expect(section.locator("pre")).to_contain_text("amanat verify --api")
    for name in INSTITUTIONS:
        expect(page.locator("main")).not_to_contain_text(name)
    page.screenshot(path=str(tmp_path / "portal-en.png"), full_page=True)


def test_urdu_portal_is_right_to_left_in_nastaliq(page: Page, console: LiveConsole) -> None:
    page.goto(console.url("/portal"))
    page.get_by_role("link", name="اردو").click()
    page.wait_for_url(console.url("/portal/ur"))
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ur")
    expect(page.get_by_role("heading", level=2, name="ٹوکن شدہ اثاثے")).to_be_visible()
    expect(page.locator("table.assets")).to_contain_text("غیر منقولہ جائیداد")
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Nastaliq Urdu" in font
    assert page.evaluate("document.fonts.check('16px \"Noto Nastaliq Urdu\"', 'امانت')")
    # the table starts at the right edge in a right-to-left page
    first = page.locator("table.assets thead th").first.bounding_box()
    last = page.locator("table.assets thead th").last.bounding_box()
    assert first is not None and last is not None and first["x"] > last["x"]
    page.get_by_role("link", name="English").click()
    page.wait_for_url(console.url("/portal"))


def test_asset_page_charts_valuations_and_withholds_small_groups(
    page: Page, console: LiveConsole
) -> None:
    page.goto(console.url("/portal/assets/3"))  # the land parcel: one accepted valuation
    chart = page.locator("section", has_text="Valuation history").locator("svg.chart")
    expect(chart).to_have_count(1)
    expect(chart.locator("rect")).to_have_count(1)
    assert "PKR 1.85bn" in (chart.get_attribute("aria-label") or "")
    expect(page.locator("section", has_text="Distributions paid")).to_contain_text(
        "No distribution has been declared"
    )
    # 3 domestic institutions of 3 different categories hold the parcel: the residence group
    # is published, each category (one institution) is withheld, only their combination shown
    residence = page.locator("section", has_text="Domestic and foreign holdings")
    expect(residence.locator("tbody tr")).to_have_count(1)
    expect(residence.locator("tbody tr")).to_contain_text("domestic")
    categories = page.locator("section", has_text="Holdings by investor category")
    expect(categories.locator("tbody tr")).to_have_count(1)
    expect(categories.locator("tr.suppressed td.num").first).to_have_text("3")
    for category in ("bank", "insurer", "pension fund"):
        expect(categories).not_to_contain_text(category)
    for name in INSTITUTIONS:
        expect(page.locator("main")).not_to_contain_text(name)


def test_the_auctioned_tbill_is_valued_from_its_auction(page: Page, console: LiveConsole) -> None:
    """No valuer reports a T-bill: its history is the market's, with the source and date; the
    pilot's one DvP (two institutions) is not published."""
    page.goto(console.url("/portal/assets/5"))  # the auctioned 3-month bill, redeemed since
    section = page.locator("section", has_text="Valuation history")
    chart = section.locator("svg.chart")
    expect(chart.locator("rect")).to_have_count(1)
    assert "PKR 48.55m" in (chart.get_attribute("aria-label") or "")
    row = section.locator("tr.auction")
    expect(row).to_have_count(1)
    for text in ("auction #1", "97.1069", "11.9500%", "500,000", "PKR 48,553,450.00"):
        expect(row).to_contain_text(text)
    expect(section).not_to_contain_text("secondary DvP")
    as_of = re.compile(r"\(as of \d{4}-\d{2}-\d{2}: auction\)")
    expect(page.locator(".facts").first).to_contain_text(as_of)
    for name in INSTITUTIONS:
        expect(page.locator("main")).not_to_contain_text(name)
    page.goto(console.url("/portal/ur/assets/5"))
    expect(page.locator("tr.auction")).to_contain_text("نیلامی #1")


def test_the_tbill_groups_are_withheld_together(page: Page, console: LiveConsole) -> None:
    page.goto(console.url("/portal/ur/assets/1"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    residence = page.locator("section").nth(3)
    # 3 domestic institutions and 1 foreign: the foreign one is withheld, and so is the domestic
    # group (else the public total would reveal it); the combination of 4 may be shown
    withheld = residence.locator("tr.suppressed")
    expect(withheld).to_have_count(1)
    expect(withheld.locator("td.num").first).to_have_text("4")
    expect(residence.locator("tbody tr")).to_have_count(1)


def test_unknown_asset_is_a_readable_404(page: Page, console: LiveConsole) -> None:
    response = page.goto(console.url("/portal/assets/99"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("99")
