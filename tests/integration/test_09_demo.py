"""`amanat demo --json`: the whole pilot scenario, in its own data directory (started in the
background at the beginning of the session by the `demo_run` fixture)."""

from __future__ import annotations

from typing import Any

from tests.integration.support import Amanat


def test_demo_runs_and_summarises(demo_run: dict[str, Any]) -> None:
    cli: Amanat = demo_run["cli"]
    result = demo_run["result"] = cli.finish(demo_run["started"])
    summary = result.json
    assert {a["token"] for a in summary["assets"]} == {
        "PKTB3M",
        "PKSUK29",
        "ISBG5423",
        "PKTB3MA",
        "PKWHEAT",
    }
    assert all(a["supply"] <= a["authorised"] for a in summary["assets"])
    by_token = {a["token"]: a for a in summary["assets"]}
    assert by_token["PKTB3MA"]["supply"] == 0  # auctioned, then redeemed at maturity
    assert by_token["PKWHEAT"]["supply"] == 35_000  # capped by the 40,000 attested
    lifecycle = summary["lifecycle"]
    assert lifecycle["auction"]["issued_units"] == 500_000
    assert lifecycle["auction"]["settled_bidders"] == 4
    assert lifecycle["dvp"]["state"] == "settled"
    rent = lifecycle["rent"]
    assert rent["paid_minor"] + rent["held_minor"] == rent["total_minor"] and rent["held_minor"] > 0
    redemption = lifecycle["redemption"]
    assert redemption["complete"] and redemption["paid_minor"] == 500_000 * 100_00
    assert len(summary["refusals"]) >= 10
    rules = {r["rule"] for r in summary["refusals"]}
    assert {
        "category-not-eligible",
        "receiver-not-verified",
        "foreign-cap",
        "holding-cap",
        "minimum-holding",
        "country-not-allowed",
        "max-holders",
        "locked-up",
        "insufficient-balance",
        "paused",
        "sender-frozen",
        "authorisation-cap",
        "matured",
    } <= rules
    assert all(r["reason"] for r in summary["refusals"])
    assert summary["transactions"] > 0 and summary["blocks"] > 0
    assert any(h["frozen"] == "yes" for h in summary["holders"])
    # The demo stops its node when it ends.
    down = Amanat(cli.data_dir / "demo").run("node", "status", "--json", expect=1)
    assert down.json["running"] is False
