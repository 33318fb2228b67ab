"""The CLI acts on behalf of a role only through the API (client mode: `--api URL --as USER`),
so the services' policy decides its refusals as it decides the API's and the console's: the
same rule and the same words, and nothing is signed or sent. (Without --api the CLI is the
operator holding the keys; the contracts' roles bound what each key may do.)"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account

from amanat.cli import client
from amanat.cli.main import cli
from amanat.errors import InvalidInput, RuleViolation
from amanat.services import accounts, approvals, auctions, pilot
from tests.api.conftest import Api


def test_a_cli_refusal_on_behalf_of_a_role_is_the_service_layers(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filed = api.post(
        "/approvals",
        "treasury",
        json={"kind": "mint", "params": {"token": "PKTB3M", "to": api.address("kla"), "amount": 3}},
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    assert api.post(f"/approvals/{number}/approve", "approver-1").status_code == 200

    keystore = tmp_path / "official-1.json"
    secret = api.platform.signer("official-1").key
    keystore.write_text(json.dumps(Account.encrypt(secret, "o1-passphrase", "pbkdf2", 2)))
    monkeypatch.setenv("AMANAT_KEY_PASSPHRASE", "o1-passphrase")
    monkeypatch.setenv("AMANAT_API_PASSWORD", pilot.pilot_password("approver-1"))
    monkeypatch.setattr(
        client,
        "open_client",
        lambda _url, user, key_file, password, data_dir, chain_id: client.InstitutionClient(
            api.client, user, password, key_file, data_dir, chain_id
        ),
    )
    journal = api.platform.chain.journal.count()
    home = ["--data-dir", str(tmp_path / "official-1-home")]
    mode = ["--api", "http://testserver", "--as", "approver-1"]
    again = CliRunner().invoke(
        cli, [*home, *mode, "approval", "approve", str(number), "--key", str(keystore)]
    )
    refused = again.exception
    assert isinstance(refused, RuleViolation) and refused.rule == "already-decided", again.output
    assert refused.exit_code == 3
    # the very refusal the service gives the same principal, whatever face asks
    approver = accounts.get_user(api.platform.store, "approver-1")
    with pytest.raises(RuleViolation) as direct:
        approvals.prepare_own_approval(api.platform, approver, number, api.address("official-1"))
    assert (direct.value.rule, direct.value.message) == (refused.rule, refused.message)
    assert api.platform.chain.journal.count() == journal


def test_a_bound_every_face_checked_is_the_services_own(api: Api) -> None:
    """Days to maturity of at least 1 was checked by each face (CLI option type, API query,
    console form) and not by the service they call: now the service refuses it, for any face."""
    number = api.get("/auctions", None, symbol="PKTB3MA").json()["items"][0]["auction"]
    for days in (0, -91):
        with pytest.raises(InvalidInput, match="days to maturity must be at least 1"):
            auctions.allocation(api.platform, number, Decimal("0.12"), days)
    assert auctions.allocation(api.platform, number, Decimal("0.1195"), 91)
