"""The asset flow through the CLI: register, document, valuation, 2-of-3 approval with its timelock,
accepted valuation, tokenization with rules, and the register and token reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import LAND_MAX, TBILL_MAX, Amanat, sha256_file


def test_register_prints_the_asset_id_and_authorisation_hash(
    registered: dict[str, Any], docs: dict[str, Path]
) -> None:
    assert registered["tbill"] == {
        "asset": 1,
        "authorisation_sha256": sha256_file(docs["tbill-auth.txt"]),
    }
    assert registered["land"] == {
        "asset": 2,
        "authorisation_sha256": sha256_file(docs["land-auth.txt"]),
    }


def test_document_and_valuation_print_their_hashes(
    registered: dict[str, Any], docs: dict[str, Path]
) -> None:
    assert registered["document"] == {"asset": 2, "sha256": sha256_file(docs["deed.txt"])}
    assert registered["valuation"] == {
        "asset": 2,
        "valuation": 0,
        "report_sha256": sha256_file(docs["valuation.txt"]),
    }


def test_documents_are_kept_content_addressed(
    amanat: Amanat, registered: dict[str, Any], docs: dict[str, Path]
) -> None:
    for name in ("tbill-auth.txt", "land-auth.txt", "deed.txt", "valuation.txt"):
        kept = amanat.data_dir / "documents" / sha256_file(docs[name])[2:]
        assert kept.read_bytes() == docs[name].read_bytes()


def test_approval_goes_through_proposal_approve_timelock_execute(approved: dict[str, Any]) -> None:
    proposed, approvals, executed = approved["proposed"], approved["approved"], approved["executed"]
    assert sorted(p["id"] for p in proposed) == [1, 2, 3]
    for step in proposed:
        assert step["state"] == "collecting-approvals"
        assert (step["approvals"], step["threshold"]) == (1, 2)
        assert step["function"] in ("setStatus", "acceptValuation")
        assert step["evidence"] == "0x" + "00" * 32
    assert sorted(p["action"] for p in proposed) == ["asset status", "asset status", "valuation"]
    for step in approvals:
        assert step["approvals"] == 2
        assert step["state"] == "waiting-timelock"
        assert step["ready_at"] - step["created_at"] >= 3600  # the 1 h timelock
    assert approved["advanced"]["block_timestamp"] >= max(a["ready_at"] for a in approvals)
    assert [e["state"] for e in executed] == ["executed"] * 3


def test_asset_show_has_documents_accepted_valuation_and_token(
    amanat: Amanat, registered: dict[str, Any], minted: dict[str, Any], docs: dict[str, Path]
) -> None:
    land = amanat.json("asset", "show", 2)
    assert land["class"] == "real estate"
    assert land["status"] == "tokenized"
    assert land["legal_id"] == "ISB-G5-1-0423"
    assert land["ministry"] == "Ministry of Housing and Works"
    assert land["authorisation"] == {
        "reference": "Cabinet decision 14/2026",
        "document_sha256": sha256_file(docs["land-auth.txt"]),
        "max_units": LAND_MAX,
    }
    assert [(d["kind"], d["sha256"]) for d in land["documents"]] == [
        ("title deed", sha256_file(docs["deed.txt"]))
    ]
    (valuation,) = land["valuations"]
    assert valuation["amount_minor"] == 1_850_000_000_00
    assert valuation["date"] == "2026-01-15"
    assert valuation["accepted"] is True
    assert valuation["report_sha256"] == sha256_file(docs["valuation.txt"])
    assert land["current_value_minor"] == 1_850_000_000_00
    tokens = {t["symbol"]: t for t in amanat.json("token", "list")}
    assert land["token"].lower() == tokens["ISBG5423"]["address"].lower()


def test_asset_show_human_output(amanat: Amanat, tokenized: dict[str, Any]) -> None:
    text = amanat.run("asset", "show", 1).stdout
    assert "PK0123TB3M26" in text
    assert "tokenized" in text
    assert "Notification F.4(1)-DM/2026-117" in text


def test_asset_list(amanat: Amanat, tokenized: dict[str, Any]) -> None:
    json_rows, text = amanat.run_many([["asset", "list", "--json"], ["asset", "list"]])
    rows = json_rows.json
    assert [(r["id"], r["class"], r["legal_id"], r["status"]) for r in rows[:2]] == [
        (1, "t bill", "PK0123TB3M26", "tokenized"),
        (2, "real estate", "ISB-G5-1-0423", "tokenized"),
    ]
    assert rows[0]["authorisation"]["max_units"] == TBILL_MAX
    assert rows[0]["current_value_minor"] is None
    assert "PK0123TB3M26" in text.stdout and "ISB-G5-1-0423" in text.stdout


def test_tokenize_creates_tokens_with_their_rules(
    amanat: Amanat, tokenized: dict[str, Any]
) -> None:
    assert sorted(p["action"] for p in tokenized["proposed"]) == ["tokenize", "tokenize"]
    assert [e["state"] for e in tokenized["executed"]] == ["executed", "executed"]
    tbill, land = amanat.json_many([["token", "show", "1"], ["token", "show", "ISBG5423"]])
    assert (tbill["asset"], tbill["symbol"], tbill["name"], tbill["decimals"]) == (
        1,
        "PKTB3M",
        "3M T-Bill Feb 2027",
        0,
    )
    assert tbill["rules"]["foreign_cap_bps"] == 2500
    assert tbill["rules"]["holding_cap"] == 600_000
    assert tbill["rules"]["minimum_holding"] == 1_000
    assert "retail" not in tbill["rules"]["eligible_categories"]
    assert "bank" in tbill["rules"]["eligible_categories"]
    assert tbill["rules"]["country_mode"] == "none"
    assert tbill["paused"] is False
    assert land["asset"] == 2
    assert land["rules"]["country_mode"] == "allow"
    assert land["rules"]["countries"] == ["PK (586)"]
    assert land["rules"]["max_holders"] == 2
    assert land["rules"]["minimum_holding"] == 100
    assert land["rules"]["lockup_until"] == tokenized["lockup_until"]
    assert "retail" in land["rules"]["eligible_categories"]


def test_token_list_and_show_by_address(amanat: Amanat, minted: dict[str, Any]) -> None:
    rows = amanat.json("token", "list")
    by_symbol = {r["symbol"]: r for r in rows}
    assert set(by_symbol) == {"PKTB3M", "ISBG5423"}
    assert by_symbol["PKTB3M"]["asset"] == 1
    shown = amanat.json("token", "show", by_symbol["PKTB3M"]["address"])
    assert shown["symbol"] == "PKTB3M"
    assert shown["address"] == by_symbol["PKTB3M"]["address"]


def test_proposal_list_and_show(amanat: Amanat, tokenized: dict[str, Any]) -> None:
    listed, shown = amanat.json_many([["proposal", "list"], ["proposal", "show", 1]])
    first = {p["id"]: p for p in listed}[1]
    assert first == shown
    assert first["state"] == "executed"
    assert first["threshold"] == 2


@pytest.mark.xfail(
    strict=True,
    reason="addresses inside struct results (asset show: token, added_by, valuer; proposal "
    "show: target, proposer) are printed in lower case while every other command prints EIP-55 "
    "checksummed addresses: amanat.chain.abi._normalise does not recurse into tuple outputs",
)
def test_addresses_in_json_output_are_checksummed_consistently(
    amanat: Amanat, minted: dict[str, Any]
) -> None:
    asset, proposal, listed = amanat.json_many(
        [["asset", "show", 2], ["proposal", "show", 1], ["token", "list"]]
    )
    token_address = {t["asset"]: t["address"] for t in listed}[2]
    assert asset["token"] == token_address  # the same token, printed the same way
    for address in (
        asset["documents"][0]["added_by"],
        asset["valuations"][0]["valuer"],
        proposal["target"],
        proposal["proposer"],
    ):
        assert address != address.lower(), f"{address} is not EIP-55 checksummed"
