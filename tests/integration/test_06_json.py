"""--json on every command: the output is one JSON document (parsed with json.loads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from amanat.chain.artifacts import CONTRACT_NAMES
from tests.integration.support import CATALOGUE, Amanat, Result

# The read commands (run once by the `catalogue` fixture) -> the JSON type they print.
LISTS = {"keys list", "asset list", "institution list", "proposal list", "token list",
         "token holders 1", "token holders 1 --block 1", "token history 1", "token history 2"}  # fmt: skip


@pytest.mark.parametrize("command", CATALOGUE)
def test_read_command_prints_json(command: str, catalogue: dict[str, Result]) -> None:
    result = catalogue[command]
    document = json.loads(result.stdout)
    assert isinstance(document, list if command in LISTS else dict)
    assert result.stderr == ""


def test_write_commands_printed_json(
    amanat: Amanat,
    registered: dict[str, Any],
    institutions: dict[str, Any],
    minted: dict[str, Any],
    kla_second_wallet: dict[str, Any],
) -> None:
    """The stage fixtures ran deploy, asset register/document/valuation, institution onboard,
    link-wallet, propose, proposal approve/execute and node advance-time with --json and parsed
    what they printed; check the shapes."""
    assert set(amanat.deployed) == set(CONTRACT_NAMES)
    assert all(v.startswith("0x") and len(v) == 42 for v in amanat.deployed.values())
    assert set(registered["tbill"]) == {"asset", "authorisation_sha256"}
    assert set(registered["document"]) == {"asset", "sha256"}
    assert set(registered["valuation"]) == {"asset", "valuation", "report_sha256"}
    assert set(institutions["inb"]["onboard"]) == {"identity", "name"}
    assert set(kla_second_wallet) == {"identity", "wallet"}
    for step in ("proposed", "approved", "executed"):
        for view in minted[step]:
            assert {"id", "action", "function", "state", "approvals", "threshold"} <= set(view)
    assert set(minted["advanced"]) == {"block_timestamp"}


def test_keys_new_and_list(amanat: Amanat) -> None:
    created = amanat.json("keys", "new", "auditor", "--passphrase", "correct horse battery")
    assert created["name"] == "auditor"
    assert created["address"].startswith("0x") and len(created["address"]) == 42
    keys = {k["name"]: k for k in amanat.json("keys", "list")}
    assert keys["auditor"] == {**created, "kind": "keystore"}
    assert keys["official-1"]["kind"] == "development (embedded only)"
