"""The pilot's year of market activity (`amanat.pilot_year`, which `make run` plays for twelve
months after the pilot scenario), over a reduced span of three months on one live console:
several auctions settled with results, weekly secondary DvP days whose prices are published,
quarterly valuation reports accepted for the real assets, a PIB coupon and ground rent paid in
full, more than 30 institutions, and the public portal showing holdings groups of at least 3
institutions instead of withholding every one.

The tests' own scenario (`demo.load`) is left as it is: only this module (and `make run`)
plays the year."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from amanat.domain.disclosure import DEFAULT_THRESHOLD
from amanat.services import assets, auctions, distributions, identities, portal, tokens
from amanat.services import valuations as valuation_history
from amanat.services.platform import Platform
from tests.web.support import LiveConsole, live_console

MONTHS = 3


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with live_console(tmp_path_factory.mktemp("pilot-year") / "data", MONTHS) as live:
        yield live


def _asset_of(platform: Platform, symbol: str) -> dict[str, Any]:
    return assets.show(platform, tokens.resolve(platform, symbol).read("assetId"))


def test_a_quarter_of_the_pilot_market_has_its_shape(year: LiveConsole) -> None:
    platform = year.platform
    assert year.year is not None

    # institutions across categories and countries
    listed = identities.list_identities(platform)
    assert len(listed) >= 30
    assert len({i["category"] for i in listed}) == 8
    assert len({i["country"] for i in listed}) >= 6
    assert all(i["verified"] for i in listed)  # the pilot's five renewed at their KYC review

    # one auction a month, each settled with its results (the demo's own auction is the first)
    settled = [a for a in auctions.list_auctions(platform) if a["settled"]][1:]
    assert len(settled) == MONTHS
    for auction in settled:
        shown = auctions.show(platform, auction["auction"])
        results = [e for e in shown["events"] if e["event"] == "BidSettled"]
        assert len(results) >= 10
        assert 0 < sum(e["units"] for e in results) <= auction["offered_units"]
        assert any(e["event"] == "AuctionSettled" for e in shown["events"])
        assert shown["pricing"] == "multiple"

    # the latest bill's value history: its auction's cut-off and public secondary DvP days
    bill = assets.show(platform, max(a["asset"] for a in _bills(platform)))
    history = valuation_history.history(
        platform, bill, platform.token(bill["token"]).read("totalSupply"), None
    )
    sources = [item["source"] for item in history["items"]]
    assert sources[0] == "auction"
    dvp_days = [i for i in history["items"] if i["source"] == "secondary_dvp"]
    assert len(dvp_days) >= 2
    assert all(day["public"] and day["price_per_100"] for day in dvp_days)
    assert len(year.year["dvp_days"]) >= 4 * MONTHS - 1

    # quarterly valuations of the real assets: the building, the sukuk and the land parcel
    sukuk = _asset_of(platform, "PKSUK29")
    land = _asset_of(platform, "ISBG5423")
    building = assets.show(
        platform, platform.contract("AssetRegistry").read("underlyingOf", sukuk["id"])
    )
    for asset in (sukuk, land):
        assert sum(v["accepted"] for v in asset["valuations"]) >= 2  # the demo's and the year's
    assert sum(v["accepted"] for v in building["valuations"]) >= 1

    # a PIB coupon and the parcel's ground rent, paid to every holder in full
    paid = {(d["symbol"], d["kind"]): d for d in distributions.list_distributions(platform)}
    for key in (("PKPIB5Y", "coupon"), ("ISBG5423", "rent")):
        assert key in paid, sorted(paid)
        assert paid[key]["complete"]
        assert paid[key]["paid_minor"] == paid[key]["total_minor"] > 0

    # the public portal shows holdings groups (>= 3 institutions each) of the sukuk and the PIB
    for asset in (sukuk, _asset_of(platform, "PKPIB5Y")):
        detail = portal.asset_detail(platform, asset["id"])
        shown = detail["by_category"]["shown"]
        assert len(shown) >= 5
        assert all(g["institutions"] >= DEFAULT_THRESHOLD for g in shown)
        assert not detail["by_category"]["suppressed"]
        assert {g["key"] for g in detail["by_residence"]["shown"]} == {"domestic", "foreign"}
        with urllib.request.urlopen(year.url(f"/portal/assets/{asset['id']}")) as reply:
            page = reply.read().decode()
        assert "Holdings by investor category" in page
        if asset is sukuk:  # its rent is listed, the amounts withheld (a frozen holder's is held)
            assert re.search(r"<td>#\d+</td>", page)
            assert "No distribution has been declared" not in page
            assert "amounts paid are withheld" in page
        labels = re.findall(r"<td>(bank|insurer|pension fund|mutual fund|broker dealer)</td>", page)
        assert len(set(labels)) >= 4


def _bills(platform: Platform) -> list[dict[str, Any]]:
    return [
        {"asset": a["id"]}
        for a in assets.list_assets(platform)
        if a["legal_id"].startswith("PK0TB3M") and a["token"]
    ]
