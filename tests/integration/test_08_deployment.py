"""The deployment manifest: a second deploy is refused, and a data directory whose manifest does
not match the chain is a clear deployment-mismatch error, never a silent one."""

from __future__ import annotations

import json

import pytest

from tests.integration.support import Amanat, stop_node


def test_deploy_twice_is_refused(amanat: Amanat) -> None:
    result = amanat.refused("deploy", code=2, rule="invalid-input")
    assert "already deployed" in result.stderr
    assert str(amanat.data_dir / "deployment.json") in result.stderr


def test_edited_manifest_is_a_deployment_mismatch(amanat: Amanat) -> None:
    path = amanat.data_dir / "deployment.json"
    original = path.read_bytes()
    manifest = json.loads(original)
    manifest["contracts"]["Governance"]["code_hash"] = "0x" + "ab" * 32
    try:
        path.write_text(json.dumps(manifest, indent=2))
        result = amanat.refused("asset", "list", "--json", code=1, rule="deployment-mismatch")
    finally:
        path.write_bytes(original)  # the shared deployment, as it was
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error [deployment-mismatch]: Governance at 0x")
    assert "has code hash" in line
    assert "manifest says 0x" + "ab" * 32 in line


def test_a_data_dir_without_deployment_says_to_deploy(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cli = Amanat(tmp_path_factory.mktemp("undeployed") / "data")
    try:
        result = cli.refused("asset", "list", code=1, rule="deployment-mismatch")
        assert "no deployment manifest" in result.stderr
        assert "run `amanat deploy` first" in result.stderr
    finally:
        stop_node(cli.data_dir)
