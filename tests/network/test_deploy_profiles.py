"""Deployment timelock profiles: `amanat deploy --timelocks production|staging|FILE`; staging is
refused on a chain id marked production, and the manifest states the profile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amanat.chain.abi import interface
from amanat.chain.client import Chain
from amanat.chain.deploy import (
    STAGING_DELAY_SECONDS,
    GovernanceSetup,
    Manifest,
    deploy,
    timelock_profile,
)
from amanat.chain.keys import dev_account
from amanat.domain.governance import DEFAULT_TIMELOCKS, ActionType
from amanat.errors import InvalidInput


def test_staging_shortens_every_delay_and_keeps_immediate_actions_immediate():
    name, delays = timelock_profile("staging", 2026)
    assert name == "staging"
    assert delays[ActionType.MINT] == delays[ActionType.GOVERNANCE] == STAGING_DELAY_SECONDS
    assert delays[ActionType.FREEZE] == delays[ActionType.PAUSE] == 0
    assert timelock_profile("production", 2026) == ("production", DEFAULT_TIMELOCKS)


def test_a_profile_file_names_actions_and_keeps_production_for_the_rest(tmp_path: Path):
    path = tmp_path / "uat.toml"
    path.write_text('mint = 60\n"rule change" = 120\n')
    name, delays = timelock_profile(str(path), 2026)
    assert name == "file:uat.toml"
    assert (delays[ActionType.MINT], delays[ActionType.RULE_CHANGE]) == (60, 120)
    assert delays[ActionType.GOVERNANCE] == DEFAULT_TIMELOCKS[ActionType.GOVERNANCE]
    path.write_text("mintt = 60\n")
    with pytest.raises(InvalidInput, match="unknown action 'mintt'"):
        timelock_profile(str(path), 2026)
    path.write_text("mint = -1\n")
    with pytest.raises(InvalidInput, match="whole seconds >= 0, not -1"):
        timelock_profile(str(path), 2026)
    with pytest.raises(InvalidInput, match="neither production, staging nor a readable file"):
        timelock_profile("stagin", 2026)


def test_shorter_delays_are_refused_on_a_chain_marked_production(tmp_path: Path):
    with pytest.raises(InvalidInput, match="chain id 2026 is marked production"):
        timelock_profile("staging", 2026, (1, 2026))
    longer = tmp_path / "longer.json"
    longer.write_text(json.dumps({"mint": 7200}))
    assert timelock_profile(str(longer), 2026, (2026,))[1][ActionType.MINT] == 7200


def test_deploy_command_refuses_staging_on_a_production_chain_before_any_write(
    node_url: str, tmp_path: Path
):
    (tmp_path / "amanat.toml").write_text("[chain]\nproduction_chain_ids = [2026]\n")
    before = Chain.network(node_url, tmp_path).block_number()
    result = subprocess.run(
        [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(tmp_path), "--rpc", node_url]
        + ["deploy", "--timelocks", "staging"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "error [invalid-input]" in result.stderr
    assert "chain id 2026 is marked production" in result.stderr
    assert not (tmp_path / "deployment.json").exists()
    assert Chain.network(node_url, tmp_path).block_number() == before


def test_the_manifest_states_the_profile_and_the_chain_holds_its_delays(
    node_url: str, tmp_path: Path
):
    chain = Chain.network(node_url, tmp_path)
    profile, delays = timelock_profile("staging", chain.chain_id)
    setup = GovernanceSetup(
        officials=tuple(dev_account(i).address for i in (1, 2, 3)),
        threshold=2,
        registrars=(dev_account(4).address,),
        issuers=(dev_account(5).address,),
        valuers=(dev_account(6).address,),
        timelocks=delays,
    )
    manifest = deploy(chain, dev_account(0), setup, profile)
    manifest.save(tmp_path / "deployment.json")
    saved = Manifest.load(tmp_path / "deployment.json")
    assert saved.timelock_profile == "staging"
    assert saved.timelocks["mint"] == STAGING_DELAY_SECONDS and saved.timelocks["freeze"] == 0
    governance = interface("Governance")
    for action in (ActionType.MINT, ActionType.GOVERNANCE, ActionType.FREEZE):
        raw = chain.call(
            manifest.address("Governance"), governance.function("timelock").encode(int(action))
        )
        assert governance.function("timelock").decode(raw) == delays[action]
