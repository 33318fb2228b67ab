"""Idempotency keys: a resubmitted command returns the first transaction instead of a second one,
also after the node restarts."""

from __future__ import annotations

from typing import Any

from tests.integration.support import Amanat, balances


def test_transfer_with_the_same_key_moves_the_units_once(
    amanat: Amanat, minted: dict[str, Any], institutions: dict[str, Any]
) -> None:
    inb, kla = institutions["inb"]["wallet"], institutions["kla"]["wallet"]
    before = balances(amanat, 1)
    command = ["token", "transfer", "1", "--as", "inb", "--to", "kla", "--amount", 2_000,
               "--idempotency-key", "settlement-2026-0001"]  # fmt: skip
    first = amanat.json(*command)
    second = amanat.json(*command)
    assert second["tx"] == first["tx"]
    assert second["block"] == first["block"]
    after = balances(amanat, 1)
    assert after == {**before, inb: before[inb] - 2_000, kla: before[kla] + 2_000}

    # The key is journaled: after a restart the replay still returns the first transaction.
    amanat.run("node", "stop")
    third = amanat.json(*command)
    assert third["tx"] == first["tx"]
    assert balances(amanat, 1) == after


def test_replay_after_the_transfer_went_through_returns_the_first_transaction(
    amanat: Amanat, minted: dict[str, Any], institutions: dict[str, Any]
) -> None:
    """Regression: the replay was pre-checked against the balance the first transfer left, and
    refused with insufficient-balance."""
    inb_balance = balances(amanat, 1)[institutions["inb"]["wallet"]]
    amount = inb_balance // 2 + 1  # more than what is left after the first transfer
    command = ["token", "transfer", "1", "--as", "inb", "--to", "kla", "--amount", amount,
               "--idempotency-key", "large-settlement-0002"]  # fmt: skip
    first = amanat.json(*command)
    retry = amanat.json(*command)
    assert retry["tx"] == first["tx"]
    assert balances(amanat, 1)[institutions["inb"]["wallet"]] == inb_balance - amount


def test_key_reused_with_another_amount_is_refused(amanat: Amanat, minted: dict[str, Any]) -> None:
    """Regression: the reuse returned the first transaction but printed the new amount."""
    base = ["token", "transfer", "1", "--as", "inb", "--to", "kla", "--idempotency-key",
            "settlement-2026-0003"]  # fmt: skip
    first = amanat.json(*base, "--amount", 1_000)
    reused = amanat.refused(*base, "--amount", 3_000, code=2, rule="idempotency-key-reused")
    assert "was already used for a different request" in reused.stderr
    assert first["tx"] in reused.stderr


def test_key_reused_for_another_command_is_refused_clearly(
    amanat: Amanat, minted: dict[str, Any], docs: dict[str, Any]
) -> None:
    """Regression: `asset register` with a transfer's key crashed with exit 70 (IndexError)."""
    amanat.json("token", "transfer", "1", "--as", "inb", "--to", "kla", "--amount", 1_000,
                "--idempotency-key", "shared-key-0004")  # fmt: skip
    result = amanat.refused(
        "asset", "register", "--class", "bond", "--legal-id", "PK-BOND-2031", "--name", "Bond",
        "--ministry", "Ministry of Finance", "--authorisation", "Notification 9/2026",
        "--authorisation-doc", docs["tbill-auth.txt"], "--max-units", 100,
        "--idempotency-key", "shared-key-0004", code=2, rule="idempotency-key-reused",
    )  # fmt: skip
    assert "idempotency key 'shared-key-0004' was already used" in result.stderr
