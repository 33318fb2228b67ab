"""The README's CLI walkthrough runs as written, in order, in a fresh directory (issue 15, item 13).

The block after the marker comment in README.md is split into its commands (continuation lines
joined). `.venv/bin/amanat ...` commands run in this process through click's test runner (one
import of the CLI for the whole walkthrough instead of one per command); any other line (`echo
... > file`) runs in bash. Everything runs in an empty working directory, so the data directory
is `./.amanat` as the README says, on one embedded chain, stopped at the end.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from amanat.chain.node import AnvilNode
from amanat.cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- the walkthrough: run by tests/integration/test_readme.py -->"
AMANAT = ".venv/bin/amanat"


def walkthrough() -> list[str]:
    """The commands of the marked shell block, one string each."""
    text = README.read_text()
    assert MARKER in text, f"README.md lost the marker {MARKER!r}"
    block = text.split(MARKER, 1)[1]
    match = re.match(r"\s*```sh\n(.*?)\n```", block, re.S)
    assert match, "the marker is not followed by a ```sh block"
    return [c for c in match.group(1).replace("\\\n", " ").splitlines() if c.strip()]


def test_the_readme_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMANAT_HOME", raising=False)
    monkeypatch.delenv("AMANAT_RPC", raising=False)
    runner = CliRunner()
    outputs: list[tuple[str, str]] = []
    try:
        for command in walkthrough():
            words = shlex.split(command, comments=True)
            if words[0] != AMANAT:
                subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True, timeout=30)
                continue
            result = runner.invoke(cli, words[1:])
            assert result.exit_code == 0, (command, result.output, result.exception)
            outputs.append((command, result.output))
    finally:
        AnvilNode(tmp_path / ".amanat").stop()

    printed = dict(outputs)
    shown = printed[next(c for c, _ in outputs if "proposal show 1" in c)]
    assert "proposal 1: asset status, waiting timelock" in shown
    assert "    status: approved" in shown
    assert "on the embedded chain, `amanat node advance-time " in shown
    listed = printed[next(c for c, _ in outputs if "proposal list" in c)]
    assert "token PKTB3M: mint (receiver Indus National Bank; amount 500,000 PKTB3M units)" in (
        listed
    )
    # the last line: the transfer the walkthrough prepares is allowed
    assert outputs[-1][1].startswith("allowed: 5000 PKTB3M may move")
