"""`amanat demo --json`: the whole pilot scenario, in its own data directory (started in the
background at the beginning of the session by the `demo_run` fixture)."""

from __future__ import annotations

from typing import Any

from tests.integration.support import Amanat


def test_demo_runs_and_summarises(demo_run: dict[str, Any]) -> None:
    cli: Amanat = demo_run["cli"]
    result = demo_run["result"] = cli.finish(demo_run["started"])
    summary = result.json
    assert len(summary["assets"]) == 3
    assert {a["token"] for a in summary["assets"]} == {"PKTB3M", "PKSUK29", "ISBG5423"}
    assert all(a["supply"] <= a["authorised"] for a in summary["assets"])
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
    } <= rules
    assert all(r["reason"] for r in summary["refusals"])
    assert summary["transactions"] > 0 and summary["blocks"] > 0
    assert any(h["frozen"] == "yes" for h in summary["holders"])
    # The demo stops its node when it ends.
    down = Amanat(cli.data_dir / "demo").run("node", "status", "--json", expect=1)
    assert down.json["running"] is False
