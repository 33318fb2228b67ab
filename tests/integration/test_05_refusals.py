"""Every refusal path through the CLI: a readable reason naming the rule, a non-zero exit code, no
traceback, and (for rule refusals) nothing sent to the chain.

Exit codes: 3 a rule or the chain refused (RuleViolation), 2 malformed input (InvalidInput or a
click usage error), 1 anything else the user can act on (not found)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import KYC_EXPIRY, Amanat, Result

DEAD = "0x000000000000000000000000000000000000dEaD"
ZERO_HASH_SHORT = "0x1234"


def _onboard(docs: dict[str, Path], **overrides: Any) -> list[Any]:
    options = {
        "--name": "Test Institution",
        "--country": "PK",
        "--category": "bank",
        "--kyc-file": docs["kyc-inb"],
        "--kyc-expiry": KYC_EXPIRY,
        "--wallet": "new-institution",
    }
    options.update(overrides)
    return ["institution", "onboard", *[x for pair in options.items() for x in pair]]


# id -> (command, exit code, rule (None: a click usage error), words the message must contain)
CASES: dict[str, tuple[Any, int, str | None, tuple[str, ...]]] = {
    # --- transfer rules (pre-checked; nothing is sent)
    "category-not-eligible": (
        ["token", "transfer", "1", "--as", "inb", "--to", "retail", "--amount", 5_000],
        3, "category-not-eligible",
        ("receiver investor category not eligible", "Retail investor R-0001 is a retail"),
    ),
    "receiver-not-verified": (
        ["token", "transfer", "1", "--as", "inb", "--to", DEAD, "--amount", 5_000],
        3, "receiver-not-verified",
        ("receiver is not a verified institution", "not linked to any registered institution"),
    ),
    "foreign-cap": (
        ["token", "transfer", "1", "--as", "inb", "--to", "ghc", "--amount", 200_000],
        3, "foreign-cap", ("foreign-ownership cap would be exceeded", "cap 25.00%"),
    ),
    "holding-cap": (
        ["token", "transfer", "1", "--as", "inb", "--to", "kla", "--amount", 450_000],
        3, "holding-cap", ("receiver would exceed the holding cap", "cap 600000 per institution"),
    ),
    "minimum-holding": (
        ["token", "transfer", "1", "--as", "inb", "--to", "ghc", "--amount", 500],
        3, "minimum-holding", ("holding would fall below the minimum", "at least 1000 units"),
    ),
    "insufficient-balance": (
        ["token", "transfer", "1", "--as", "kla", "--to", "inb", "--amount", 999_999],
        3, "insufficient-balance", ("insufficient balance", "requested 999999"),
    ),
    "country-not-allowed": (
        ["token", "transfer", "2", "--as", "inb", "--to", "ghc", "--amount", 500],
        3, "country-not-allowed", ("receiver country not allowed", "AE (784)", "allow-list: PK"),
    ),
    "locked-up": (
        ["token", "transfer", "2", "--as", "inb", "--to", "kla", "--amount", 500],
        3, "locked-up", ("lock-up period has not ended", "ISBG5423 is locked up until"),
    ),
    # --- governance refusals at proposal time
    "mint-over-authorisation": (
        ["propose", "mint", "2", "--to", "inb", "--amount", 1],
        3, "authorisation-cap",
        ("mint exceeds the statutory authorisation", "10000 units authorised by Cabinet decision"),
    ),
    "forced-transfer-without-evidence": (
        ["propose", "forced-transfer", "1", "--from", "kla", "--to", "inb", "--amount", 1],
        2, "invalid-input", ("affects a holder's property and requires an evidence hash",),
    ),
    "freeze-without-evidence": (
        ["propose", "freeze", "1", "--wallet", "kla"],
        2, "invalid-input", ("affects a holder's property and requires an evidence hash",),
    ),
    "recover-without-evidence": (
        ["propose", "recover", "1", "--lost", "kla", "--new", "kla-2"],
        2, "invalid-input", ("affects a holder's property and requires an evidence hash",),
    ),
    "non-official-proposes": (
        ["propose", "pause", "1", "--as", "registrar"],
        3, "chain-refused", ("caller is not an official",),
    ),
    # --- unknown ids
    "unknown-asset": (["asset", "show", 99], 1, "not-found", ("no asset 99",)),
    "unknown-proposal": (["proposal", "show", 999], 1, "not-found", ("no proposal 999",)),
    "unknown-identity": (["institution", "show", 99], 1, "not-found", ("no identity 99",)),
    # --- a typo never becomes a wallet: only registered institutions and configured roles resolve
    "unknown-name": (
        ["token", "transfer", "1", "--as", "inb", "--to", "hbl", "--amount", 5_000],
        2, "invalid-input", ("no institution, role or key named 'hbl'",),
    ),
    "misspelt-name": (
        ["token", "transfer", "1", "--as", "INB", "--to", "kla", "--amount", 5_000],
        2, "invalid-input", ("no institution, role or key named 'INB'", "did you mean 'inb'?"),
    ),
    "role-key-as-new-wallet": (
        "onboard:--wallet=issuer", 2, "invalid-input",
        ("'issuer' is a configured role's key, not an institution's wallet",),
    ),
    "mistyped-address-as-new-wallet": (
        "onboard:--wallet=0XAb5801a7D398351b8bE11C439e05C5B3259aeC9B", 2, "invalid-input",
        ("is neither a 0x address nor a new key name",),
    ),
    # --- one amount syntax: grouped digits are read, fractions of a unit refused in the CLI's
    # own error format (not a click usage error)
    "grouped-amount": (
        ["token", "transfer", "1", "--as", "kla", "--to", "inb", "--amount", "999,999,999"],
        3, "insufficient-balance", ("requested 999999999",),
    ),
    "fraction-of-a-unit": (
        ["token", "transfer", "1", "--as", "inb", "--to", "kla", "--amount", "1.5"],
        2, "invalid-input", ("amount '1.5' must be a whole number",),
    ),
    # --- malformed input
    "bad-address": (
        ["token", "precheck", "1", "--from", "0x123", "--to", "inb", "--amount", 1],
        2, "invalid-input", ("'0x123' is not a valid address",),
    ),
    "bad-evidence-length": (
        ["propose", "freeze", "1", "--wallet", "kla", "--evidence", ZERO_HASH_SHORT],
        2, "invalid-input", ("evidence hash '0x1234' must be 32 bytes",),
    ),
    "bad-country": (
        "onboard:--country=XX", 2, "invalid-input", ("unknown country 'XX'",),
    ),
    "kyc-not-json": (
        "onboard:--kyc-file=@not-json.txt", 2, "invalid-input", ("is not JSON",),
    ),
    "kyc-expired": (
        "onboard:--kyc-expiry=2020-01-01", 2, "invalid-input", ("is not in the future",),
    ),
    "bad-amount": (
        ["asset", "valuation", "2", "--amount", "twelve", "--date", "2026-01-01",
         "--report", "@deed.txt"],
        2, "invalid-input", ("amount 'twelve' is not a number",),
    ),
}  # fmt: skip


def _command(spec: Any, docs: dict[str, Path]) -> list[Any]:
    """Expand '@file' to a document path and 'onboard:--opt=value' to an onboard command."""
    if isinstance(spec, str):
        option, value = spec.removeprefix("onboard:").split("=", 1)
        spec = _onboard(docs, **{option: value})
    directory = docs["deed.txt"].parent
    return [directory / a[1:] if isinstance(a, str) and a.startswith("@") else a for a in spec]


@pytest.fixture(scope="module")
def refusals(
    amanat: Amanat,
    minted: dict[str, Any],
    institutions: dict[str, Any],
    docs: dict[str, Path],
) -> dict[str, Any]:
    """Run every case concurrently (none changes the chain); the block height before and after."""
    head_before = amanat.json("node", "status")["block"]
    commands = [_command(CASES[case][0], docs) for case in CASES]
    results = amanat.run_many(commands, expect=None)
    head_after = amanat.json("node", "status")["block"]
    return {
        "results": dict(zip(CASES, results, strict=True)),
        "blocks": (head_before, head_after),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_refusal(case: str, refusals: dict[str, Any]) -> None:
    _command_spec, code, rule, words = CASES[case]
    result: Result = refusals["results"][case]
    assert result.returncode == code, result.describe()
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    for word in words:
        assert word in result.output, result.describe()
    if rule is not None:
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.describe()  # one readable line
        assert lines[0].startswith(f"error [{rule}]: "), result.describe()


def test_refusals_send_nothing_to_the_chain(refusals: dict[str, Any]) -> None:
    before, after = refusals["blocks"]
    assert after == before


def test_max_holders_once_the_lockup_has_ended(
    amanat: Amanat, refusals: dict[str, Any], tokenized: dict[str, Any]
) -> None:
    # The lock-up refused above; four days on the embedded clock end it.
    clock = amanat.json("node", "advance-time", 4 * 86400)
    assert clock["block_timestamp"] > tokenized["lockup_until"]
    # A second holder may come in...
    moved = amanat.json("token", "transfer", "2", "--as", "inb", "--to", "kla", "--amount", 500)
    assert moved["amount"] == 500
    # ...but not a third.
    refused = amanat.refused(
        "token", "transfer", "2", "--as", "inb", "--to", "retail", "--amount", 500,
        code=3, rule="max-holders",
    )  # fmt: skip
    assert "maximum number of holders reached: ISBG5423 has 2 holders, maximum 2" in refused.stderr


def test_paused_token_refuses_transfers(
    amanat: Amanat, refusals: dict[str, Any], minted: dict[str, Any]
) -> None:
    # Runs after the ISBG5423 tests above: the token stays paused.
    paused = amanat.govern([["propose", "pause", "ISBG5423"]])
    assert paused["proposed"][0]["action"] == "pause"
    assert paused["proposed"][0]["function"] == "pause"
    assert paused["approved"][0]["state"] == "ready"  # no timelock for an emergency pause
    assert paused["advanced"] is None
    assert paused["executed"][0]["state"] == "executed"
    refused = amanat.refused(
        "token", "transfer", "2", "--as", "kla", "--to", "inb", "--amount", 100,
        code=3, rule="paused",
    )  # fmt: skip
    assert refused.stderr.startswith("error [paused]: token is paused: ISBG5423 is paused")


def test_frozen_sender_is_refused(amanat: Amanat, frozen_kla2: dict[str, Any]) -> None:
    (proposal,) = frozen_kla2["proposed"]
    assert proposal["action"] == "freeze"
    assert proposal["function"] == "setAddressFrozen"
    assert proposal["evidence"] == frozen_kla2["evidence"]
    assert frozen_kla2["approved"][0]["state"] == "ready"  # no timelock for a freeze
    assert frozen_kla2["executed"][0]["state"] == "executed"
    refused, balance = amanat.run_many(
        [
            ["token", "transfer", "1", "--as", "kla-2", "--to", "inb", "--amount", 100],
            ["token", "balance", "1", "kla-2", "--json"],
        ],
        expect=None,
    )
    assert refused.returncode == 3, refused.describe()
    assert refused.stderr.startswith("error [sender-frozen]: sender wallet is frozen: ")
    assert "is frozen on PKTB3M" in refused.stderr
    assert balance.json == {
        "wallet": frozen_kla2["wallet"],
        "balance": 1_000,
        "frozen": 0,
        "wallet_frozen": True,
    }


def test_proposal_lifecycle_refusals(amanat: Amanat, minted: dict[str, Any]) -> None:
    proposal = amanat.json("propose", "mint", "1", "--to", "inb", "--amount", 1)
    number = proposal["id"]
    assert (proposal["state"], proposal["approvals"]) == ("collecting-approvals", 1)

    twice, too_few = amanat.run_many(
        [
            ["proposal", "approve", number, "--as", "official-1"],  # the proposer approved already
            ["proposal", "execute", number, "--as", "official-1"],
        ],
        expect=3,
    )
    assert twice.stderr.strip() == "error [chain-refused]: official already approved"
    assert too_few.stderr.strip() == (
        f"error [approvals]: proposal {number} has 1 of 2 approvals (of current officials: a "
        "removed official's approval no longer counts)"
    )

    approved = amanat.json("proposal", "approve", number, "--as", "official-2")
    assert (approved["state"], approved["approvals"]) == ("waiting-timelock", 2)

    in_timelock = amanat.refused(
        "proposal", "execute", number, "--as", "official-3", code=3, rule="timelock"
    )
    assert in_timelock.stderr.startswith(
        f"error [timelock]: proposal {number} (mint) is in its timelock for "
    )
    assert re.search(
        r"executable from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(chain time\)$",
        in_timelock.stderr.strip(),
    )

    # Withdrawn by its proposer, it can no longer run.
    cancelled = amanat.json("proposal", "cancel", number, "--as", "official-1")
    assert cancelled["state"] == "cancelled"
