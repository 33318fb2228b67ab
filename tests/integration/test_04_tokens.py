"""Tokens through the CLI: minting by proposal, transfers by the holder's key, pre-checks, the cap
table now and at an earlier block, balances, and the history with an enforcement action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.support import MINTS, Amanat, Result, sha256_file


def test_mints_went_through_governance(
    minted: dict[str, Any], catalogue: dict[str, Result]
) -> None:
    assert [p["action"] for p in minted["proposed"]] == ["mint"] * len(MINTS)
    assert [p["function"] for p in minted["proposed"]] == ["mint"] * len(MINTS)
    assert [a["state"] for a in minted["approved"]] == ["waiting-timelock"] * len(MINTS)
    assert [e["state"] for e in minted["executed"]] == ["executed"] * len(MINTS)
    tbill = catalogue["token show PKTB3M"].json
    land = catalogue["token show 2"].json
    assert tbill["total_supply"] == 700_000
    assert land["total_supply"] == 10_000
    assert (tbill["holders"], land["holders"]) == (2, 1)
    assert tbill["foreign_held"] == 0
    history = catalogue["token history 2"].json
    assert [r["event"] for r in history][:3] == [
        "RulesUpdated",
        "HoldingLimitsUpdated",
        "CountriesListed",
    ]
    mints = [r for r in history if r["event"] == "Transfer" and int(r["sender"], 16) == 0]
    assert [m["value"] for m in mints] == [10_000]
    assert [r["block"] for r in history] == sorted(r["block"] for r in history)


def test_holders_before_any_mint_is_empty(catalogue: dict[str, Result]) -> None:
    assert catalogue["token holders 1 --block 1"].json == []


def test_transfer_moves_units_and_the_earlier_block_keeps_the_earlier_cap_table(
    amanat: Amanat, minted: dict[str, Any], institutions: dict[str, Any]
) -> None:
    inb, kla = institutions["inb"]["wallet"], institutions["kla"]["wallet"]
    moved = amanat.json("token", "transfer", "PKTB3M", "--to", "kla", "--amount", 10_000,
                        "--as", "inb")  # fmt: skip
    assert (moved["from"], moved["to"], moved["amount"]) == (inb, kla, 10_000)
    assert moved["tx"].startswith("0x") and len(moved["tx"]) == 66
    assert moved["gas_used"] > 0

    earlier, latest, inb_balance = amanat.json_many(
        [
            ["token", "holders", "1", "--block", moved["block"] - 1],
            ["token", "holders", "1"],
            ["token", "balance", "1", "inb"],
        ]
    )
    before = {r["wallet"]: r["balance"] for r in earlier}
    after = {r["wallet"]: r["balance"] for r in latest}
    assert after == {**before, inb: before[inb] - 10_000, kla: before[kla] + 10_000}
    assert {r["institution"] for r in latest} >= {
        "Indus National Bank",
        "Karakoram Life Assurance",
    }
    assert inb_balance == {
        "wallet": inb,
        "balance": after[inb],
        "frozen": 0,
        "wallet_frozen": False,
    }


def test_precheck_allowed_exits_0(catalogue: dict[str, Result]) -> None:
    verdict = catalogue["token precheck 1 --from inb --to kla --amount 1000"].json
    assert verdict == {
        "allowed": True,
        "code": 0,
        "rule": "ok",
        "reason": "transfer allowed",
        "detail": "1000 PKTB3M may move",
    }


def test_precheck_refused_exits_3_and_names_the_rule(
    amanat: Amanat, minted: dict[str, Any]
) -> None:
    command = ["token", "precheck", "1", "--from", "inb", "--to", "retail", "--amount", 5_000]
    as_json, text = amanat.run_many([[*command, "--json"], command], expect=3)
    verdict = as_json.json
    assert verdict["allowed"] is False
    assert (verdict["code"], verdict["rule"]) == (8, "category-not-eligible")
    assert verdict["reason"] == "receiver investor category not eligible"
    assert "Retail investor R-0001 is a retail" in verdict["detail"]
    assert text.stdout.startswith("refused [category-not-eligible]: ")
    assert text.stderr == ""


def test_forced_transfer_with_evidence_shows_in_history(
    amanat: Amanat,
    minted: dict[str, Any],
    institutions: dict[str, Any],
    docs: dict[str, Path],
) -> None:
    inb, kla = institutions["inb"]["wallet"], institutions["kla"]["wallet"]
    order = sha256_file(docs["court-order.txt"])
    steps = amanat.govern(
        [
            [
                "propose", "forced-transfer", "1", "--from", "kla", "--to", "inb",
                "--amount", 5_000, "--evidence-file", docs["court-order.txt"],
            ]
        ]
    )  # fmt: skip
    (proposal,) = steps["proposed"]
    assert proposal["action"] == "forced transfer"
    assert proposal["function"] == "forcedTransfer"
    assert proposal["evidence"] == order
    assert steps["approved"][0]["state"] == "waiting-timelock"
    assert steps["executed"][0]["state"] == "executed"

    history, text = amanat.run_many(
        [["token", "history", "1", "--json"], ["token", "history", "1"]]
    )
    # this court order's action (another module's freeze may be in the history too)
    (action,) = [
        r for r in history.json if r["event"] == "EnforcementAction" and r["evidence"] == order
    ]
    assert (action["wallet"], action["counterparty"], action["amount"]) == (kla, inb, 5_000)
    transfers = [r for r in history.json if r["event"] == "Transfer" and r["tx"] == action["tx"]]
    assert [(t["sender"], t["receiver"], t["value"]) for t in transfers] == [(kla, inb, 5_000)]
    assert "EnforcementAction" in text.stdout and order in text.stdout


def test_holders_at_an_earlier_block_show_the_frozen_state_of_that_block(
    amanat: Amanat, frozen_kla2: dict[str, Any]
) -> None:
    """Regression: the frozen units and flag were read at the latest block."""
    earlier, latest = amanat.json_many(
        [
            ["token", "holders", "1", "--block", frozen_kla2["block_before_freeze"]],
            ["token", "holders", "1"],
        ]
    )
    (before,) = [r for r in earlier if r["wallet"] == frozen_kla2["wallet"]]
    (after,) = [r for r in latest if r["wallet"] == frozen_kla2["wallet"]]
    assert before["wallet_frozen"] is False  # frozen only later
    assert after["wallet_frozen"] is True
    assert before["balance"] == after["balance"] == 1_000


def test_holders_at_a_future_block_is_refused(amanat: Amanat, minted: dict[str, Any]) -> None:
    """Regression: a block beyond the head silently printed the latest cap table."""
    result = amanat.refused("token", "holders", "1", "--block", 10**9, code=2, rule="invalid-input")
    assert "block 1000000000 is not on the chain (head is block " in result.stderr
