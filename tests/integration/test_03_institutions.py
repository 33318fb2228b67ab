"""Institutions through the CLI: onboard with a KYC file (only its hash on chain), show, list,
update (renewal) and link-wallet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.support import (
    INSTITUTIONS,
    KYC_EXPIRY,
    Amanat,
    Result,
    kyc_sha256,
    utc_timestamp,
)

LABELS = {"PK": "PK (586)", "AE": "AE (784)"}


def test_onboard_prints_the_identity_number(institutions: dict[str, Any]) -> None:
    numbers = sorted(i["identity"] for i in institutions.values())
    assert numbers == [1, 2, 3, 4]
    for key, entry in institutions.items():
        assert entry["onboard"]["name"] == INSTITUTIONS[key][0]


def test_show_has_the_kyc_hash_country_category_and_wallet(
    institutions: dict[str, Any], docs: dict[str, Path]
) -> None:
    for key, entry in institutions.items():
        name, country, category = INSTITUTIONS[key]
        shown = entry["show"]
        record = json.loads(docs[f"kyc-{key}"].read_text())
        assert shown["identity"] == entry["identity"]
        assert shown["name"] == name
        assert shown["country"] == LABELS[country]
        assert shown["category"] == category.replace("_", " ")
        assert shown["kyc_sha256"] == kyc_sha256(record)
        assert shown["kyc_expiry"] == utc_timestamp(KYC_EXPIRY)
        assert shown["verified"] is True
        assert len(shown["wallets"]) == 1 and shown["wallets"][0].startswith("0x")


def test_key_names_resolve_to_the_onboarded_wallets(
    institutions: dict[str, Any], catalogue: dict[str, Result]
) -> None:
    assert catalogue["token balance 1 inb"].json["wallet"] == institutions["inb"]["wallet"]


def test_list(amanat: Amanat, institutions: dict[str, Any], catalogue: dict[str, Result]) -> None:
    rows = {r["identity"]: r for r in catalogue["institution list"].json}
    for entry in institutions.values():
        assert rows[entry["identity"]]["name"] == entry["show"]["name"]
    assert rows[1] == catalogue["institution show 1"].json
    text = amanat.run("institution", "list").stdout
    for name, _country, _category in INSTITUTIONS.values():
        assert name in text


def test_update_renews_the_kyc(
    amanat: Amanat, institutions: dict[str, Any], tmp_path: Path
) -> None:
    ghc = institutions["ghc"]
    record = {"legal_name": "Gulf Horizon Capital", "renewed": "2026", "licence": "DFSA-F-0042"}
    kyc = tmp_path / "ghc-renewal.json"
    kyc.write_text(json.dumps(record))
    updated = amanat.json(
        "institution", "update", ghc["identity"], "--country", "AE",
        "--category", "foreign_institution", "--kyc-file", kyc, "--kyc-expiry", "2032-06-30",
    )  # fmt: skip
    assert updated["identity"] == ghc["identity"]
    assert updated["kyc_sha256"] == kyc_sha256(record)
    assert updated["kyc_sha256"] != ghc["show"]["kyc_sha256"]
    assert updated["kyc_expiry"] == utc_timestamp("2032-06-30")
    assert updated["verified"] is True
    assert updated["wallets"] == ghc["show"]["wallets"]


def test_link_wallet(
    amanat: Amanat, institutions: dict[str, Any], kla_second_wallet: dict[str, Any]
) -> None:
    kla = institutions["kla"]
    assert kla_second_wallet["identity"] == kla["identity"]
    shown = amanat.json("institution", "show", kla["identity"])
    assert shown["wallets"] == [kla["wallet"], kla_second_wallet["wallet"]]
    assert shown["name"] == INSTITUTIONS["kla"][0]


def test_onboarding_a_wallet_twice_is_refused(
    amanat: Amanat, institutions: dict[str, Any], docs: dict[str, Path]
) -> None:
    result = amanat.refused(
        "institution", "onboard", "--name", "Indus again", "--country", "PK",
        "--category", "bank", "--kyc-file", docs["kyc-inb"], "--kyc-expiry", KYC_EXPIRY,
        "--wallet", "inb", code=2, rule="invalid-input",
    )  # fmt: skip
    assert f"already belongs to identity {institutions['inb']['identity']}" in result.stderr


def test_onboard_with_the_same_idempotency_key_returns_the_same_identity(
    amanat: Amanat, institutions: dict[str, Any], tmp_path: Path
) -> None:
    """Regression: the replay was refused (exit 2, 'wallet ... already belongs to identity N')
    by the wallet check, which ran before the journal's idempotency lookup."""
    kyc = tmp_path / "kyc-fepf.json"
    kyc.write_text(json.dumps({"legal_name": "Federal Employees Pension Fund"}))
    command = [
        "institution", "onboard", "--name", "Federal Employees Pension Fund", "--country", "PK",
        "--category", "pension_fund", "--kyc-file", kyc, "--kyc-expiry", KYC_EXPIRY,
        "--wallet", "fepf", "--idempotency-key", "onboard-fepf-2026",
    ]  # fmt: skip
    first = amanat.json(*command)
    second = amanat.json(*command)
    assert second == first
    shown = amanat.json("institution", "show", first["identity"])
    assert shown["name"] == "Federal Employees Pension Fund"
    assert len(shown["wallets"]) == 1
