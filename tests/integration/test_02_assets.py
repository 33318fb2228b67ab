"""The asset flow through the CLI: register, document, valuation, 2-of-3 approval with its timelock,
accepted valuation, tokenization with rules, and the register and token reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.support import LAND_MAX, TBILL_MAX, Amanat, Result, sha256_file


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
    catalogue: dict[str, Result], docs: dict[str, Path]
) -> None:
    land = catalogue["asset show 2"].json
    assert land["id"] == 2
    assert land["class"] == "real estate"
    assert land["status"] == "tokenized"
    assert land["legal_id"] == "ISB-G5-1-0423"
    assert land["name"] == "Land parcel G-5/1 plot 423, Islamabad"
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
    assert valuation["index"] == 0
    assert valuation["amount_minor"] == 1_850_000_000_00
    assert valuation["date"] == "2026-01-15"
    assert valuation["accepted"] is True
    assert valuation["report_sha256"] == sha256_file(docs["valuation.txt"])
    assert land["current_value_minor"] == 1_850_000_000_00
    tokens = {t["symbol"]: t for t in catalogue["token list"].json}
    assert land["token"] == tokens["ISBG5423"]["address"]


def test_asset_list(catalogue: dict[str, Result]) -> None:
    rows = catalogue["asset list"].json
    assert [(r["id"], r["class"], r["legal_id"], r["status"]) for r in rows[:2]] == [
        (1, "t bill", "PK0123TB3M26", "tokenized"),
        (2, "real estate", "ISB-G5-1-0423", "tokenized"),
    ]
    assert rows[0]["authorisation"]["max_units"] == TBILL_MAX
    assert rows[0]["current_value_minor"] is None
    assert rows[1] == catalogue["asset show 2"].json


def test_human_output_of_asset_list_and_show(amanat: Amanat, minted: dict[str, Any]) -> None:
    listed, shown = amanat.run_many([["asset", "list"], ["asset", "show", "1"]])
    assert "PK0123TB3M26" in listed.stdout and "ISB-G5-1-0423" in listed.stdout
    assert "legal_id" in listed.stdout.splitlines()[0]
    assert "Notification F.4(1)-DM/2026-117" in shown.stdout
    assert "tokenized" in shown.stdout


def test_tokenize_creates_tokens_with_their_rules(
    tokenized: dict[str, Any], catalogue: dict[str, Result]
) -> None:
    assert sorted(p["action"] for p in tokenized["proposed"]) == ["tokenize", "tokenize"]
    assert [p["function"] for p in tokenized["proposed"]] == ["createToken", "createToken"]
    assert [e["state"] for e in tokenized["executed"]] == ["executed", "executed"]
    tbill = catalogue["token show PKTB3M"].json
    land = catalogue["token show 2"].json
    assert (tbill["asset"], tbill["symbol"], tbill["name"], tbill["decimals"]) == (
        1,
        "PKTB3M",
        "3M T-Bill Feb 2027",
        0,
    )
    assert tbill["rules"]["foreign_cap_bps"] == 2500
    assert tbill["rules"]["holding_cap"] == 600_000
    assert tbill["rules"]["minimum_holding"] == 1_000
    assert tbill["rules"]["max_holders"] == 0
    assert tbill["rules"]["lockup_until"] == 0
    assert tbill["rules"]["eligible_categories"] == [
        "bank",
        "foreign institution",
        "government entity",
        "insurer",
        "mutual fund",
        "pension fund",
    ]
    assert tbill["rules"]["country_mode"] == "none"
    assert tbill["rules"]["domestic_country"] == "PK (586)"
    assert tbill["paused"] is False
    assert (land["asset"], land["symbol"]) == (2, "ISBG5423")
    assert land["rules"]["country_mode"] == "allow"
    assert land["rules"]["countries"] == ["PK (586)"]
    assert land["rules"]["max_holders"] == 2
    assert land["rules"]["minimum_holding"] == 100
    assert land["rules"]["holding_cap"] == 0
    assert land["rules"]["foreign_cap_bps"] == 10_000
    assert land["rules"]["lockup_until"] == tokenized["lockup_until"]
    assert "retail" in land["rules"]["eligible_categories"]


def test_token_list_and_show_by_address(amanat: Amanat, catalogue: dict[str, Result]) -> None:
    rows = catalogue["token list"].json
    by_symbol = {r["symbol"]: r for r in rows}
    assert set(by_symbol) == {"PKTB3M", "ISBG5423"}
    assert by_symbol["PKTB3M"] == catalogue["token show PKTB3M"].json
    shown = amanat.json("token", "show", by_symbol["ISBG5423"]["address"])
    assert shown["symbol"] == "ISBG5423"
    assert shown["address"] == by_symbol["ISBG5423"]["address"]


def test_proposal_list_and_show(catalogue: dict[str, Result]) -> None:
    listed = catalogue["proposal list"].json
    first = {p["id"]: p for p in listed}[1]
    shown = catalogue["proposal show 1"].json
    # the same proposal, but each command reads the chain's clock when it runs
    assert {**first, "chain_time": 0} == {**shown, "chain_time": 0}
    assert first["call"] == "AssetRegistry: setStatus (assetId 1; status approved)"
    assert [h["event"] for h in first["history"]] == [
        "proposed", "approved", "timelock started", "approved", "executed"
    ]  # fmt: skip
    assert first["history"][0]["by"] == "official-1"
    assert first["state"] == "executed"
    assert first["threshold"] == 2
    assert [p["id"] for p in listed] == list(range(1, len(listed) + 1))
    assert len(listed) >= 3 + 2 + 3  # approvals, tokenizations, mints


def test_addresses_in_json_output_are_checksummed_consistently(
    catalogue: dict[str, Result],
) -> None:
    """Regression: addresses inside struct results (asset show, proposal show) were printed in
    lower case while every other command printed EIP-55 checksummed addresses."""
    asset = catalogue["asset show 2"].json
    proposal = catalogue["proposal show 1"].json
    token_address = {t["asset"]: t["address"] for t in catalogue["token list"].json}[2]
    assert asset["token"] == token_address  # the same token, printed the same way
    for address in (
        asset["documents"][0]["added_by"],
        asset["valuations"][0]["valuer"],
        proposal["target"],
        proposal["proposer"],
    ):
        assert address != address.lower(), f"{address} is not EIP-55 checksummed"
