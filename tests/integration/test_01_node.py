"""The embedded node through the CLI: status, start, stop, and recovery of the same state after a
stop (or a crash) when the next command starts it again."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from tests.integration.support import Amanat

# What a proposal listing says about the moment it was read (the chain's clock runs on).
CLOCK_FIELDS = {"chain_time", "executable_in", "timelock"}


def _recorded(proposals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The proposals as recorded on chain, without what depends on when they were listed."""
    return [{k: v for k, v in p.items() if k not in CLOCK_FIELDS} for p in proposals]


def _state(cli: Amanat) -> dict[str, Any]:
    """What must survive a restart: a cap table, the proposals and the block height."""
    holders, proposals, status = cli.json_many(
        [["token", "holders", "1"], ["proposal", "list"], ["node", "status"]]
    )
    assert status["running"] is True
    return {"holders": holders, "proposals": _recorded(proposals), "block": status["block"]}


@pytest.fixture(scope="module")
def baseline(amanat: Amanat, minted: dict[str, Any]) -> dict[str, Any]:
    """The state after the mints; the tests below only stop, start and crash the node."""
    return _state(amanat)


def test_status_and_start_of_a_running_node(amanat: Amanat) -> None:
    status = amanat.json("node", "status")
    assert status["running"] is True
    assert isinstance(status["pid"], int)
    assert status["url"].startswith("http://127.0.0.1:")
    assert status["block"] >= 1  # the deployment block
    # Starting a running node reports that same node.
    assert amanat.json("node", "start") == status


def test_stop_then_start_restores_the_same_state(amanat: Amanat, baseline: dict[str, Any]) -> None:
    assert amanat.json("node", "stop") == {"stopped": True}
    down = amanat.run("node", "status", "--json", expect=1)
    assert down.json == {"running": False, "pid": None, "url": None, "block": None}
    assert amanat.run("node", "stop").stdout.strip() == "not running"

    started = amanat.json("node", "start")
    assert started["running"] is True
    assert started["block"] == baseline["block"]
    holders, proposals = amanat.json_many([["token", "holders", "1"], ["proposal", "list"]])
    assert (holders, _recorded(proposals)) == (baseline["holders"], baseline["proposals"])


def test_stop_then_any_command_restarts_the_node_with_the_same_state(
    amanat: Amanat, baseline: dict[str, Any]
) -> None:
    assert amanat.run("node", "stop").stdout.strip() == "stopped"
    # The first command after the stop starts the node, rebuilt from the journal.
    assert _recorded(amanat.json("proposal", "list")) == baseline["proposals"]
    holders, status = amanat.json_many([["token", "holders", "1"], ["node", "status"]])
    assert holders == baseline["holders"]
    assert status["block"] == baseline["block"]


def test_a_killed_node_is_rebuilt_with_the_same_state(
    amanat: Amanat, baseline: dict[str, Any]
) -> None:
    pid = amanat.json("node", "status")["pid"]
    os.kill(pid, signal.SIGKILL)  # a crash of the anvil this suite's commands started
    assert amanat.json("token", "holders", "1") == baseline["holders"]
    # The rebuilt chain has the same height and takes new transactions.
    moved = amanat.json("token", "transfer", "1", "--as", "inb", "--to", "kla", "--amount", 1_000)
    assert moved["block"] == baseline["block"] + 1
    assert moved["amount"] == 1_000
    assert amanat.json("node", "status")["pid"] != pid
