"""Fixtures of the CLI integration suite: `amanat` run as a user runs it, in real processes.

One embedded chain is deployed once per session under a temporary data directory, and its state is
built up step by step by session-scoped stage fixtures (each requests the stage before it), every
step a real `python -m amanat.cli.main --data-dir DIR ...` process:

    amanat       deploy (2-of-3 officials, development role keys)
    registered   asset register x2, asset document, asset valuation
    institutions institution onboard x4 (inb: PK bank, kla: PK insurer, ghc: AE foreign
                 institution, retail: PK retail investor)
    approved     propose approve-asset x2 + accept-valuation, approve, advance time, execute
    tokenized    propose tokenize x2 with rules, approve, advance time, execute
    minted       propose mint x3, approve, advance time, execute
    catalogue    the read commands, run once with --json (shared by several modules)

Asset 1 (token PKTB3M, a T-bill): no retail, foreign cap 25%, holding cap 600,000, minimum 1,000;
inb holds 500,000 and kla 200,000.
Asset 2 (token ISBG5423, a land parcel): PK only, at most 2 holders, minimum 100, a lock-up of a
few days (lifted by the refusal tests with `node advance-time`); inb holds all 10,000 units.

The node is stopped at the end of the session whatever happens, so no anvil is left behind.
Every command costs a Python start-up (the chain and store stacks are imported only when a command
uses them; test_11_startup.py checks it), so the suite runs as few as it can: independent
commands (reads, refused transfers, the approvals of a governance round) run two at a time, and
the demo runs in the background from the start.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import (
    CATALOGUE,
    INSTITUTIONS,
    KYC_EXPIRY,
    LAND_MAX,
    MINTS,
    TBILL_MAX,
    Amanat,
    Result,
    sha256_file,
    stop_node,
    utc_timestamp,
)

# ------------------------------------------------------------------ shared stages


@pytest.fixture(scope="session")
def amanat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Amanat]:
    """A deployed embedded chain for the whole session; its node is always stopped afterwards."""
    data_dir = tmp_path_factory.mktemp("amanat") / "data"
    cli = Amanat(data_dir)
    try:
        cli.deployed = cli.json("deploy")
        yield cli
    finally:
        stop_node(data_dir)


@pytest.fixture(scope="session")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The documents users attach: authorisations, deed, valuation report, court order, KYC."""
    directory = tmp_path_factory.mktemp("documents")
    texts = {
        "tbill-auth.txt": "Notification F.4(1)-DM/2026-117: 3-month T-bills up to 1,000,000 units.",
        "land-auth.txt": "Cabinet decision 14/2026: parcel ISB-G5-1-0423 in 10,000 units.",
        "deed.txt": "Title deed: plot 423, sector G-5/1, Islamabad",
        "valuation.txt": "Valuation report, plot 423 G-5/1: PKR 1,850,000,000.00",
        "court-order.txt": "IHC W.P. 1234/2026: 5,000 PKTB3M of Karakoram Life to Indus National.",
        "fmu-notice.txt": "FMU notice 77/2026: freeze the second wallet of Karakoram Life.",
        "not-json.txt": "this is { not JSON",
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = directory / name
        paths[name].write_text(text)
    for key, (name, country, _category) in INSTITUTIONS.items():
        path = directory / f"kyc-{key}.json"
        path.write_text(
            json.dumps({"legal_name": name, "registration_no": f"REG-{key}", "country": country})
        )
        paths[f"kyc-{key}"] = path
    return paths


@pytest.fixture(scope="session")
def registered(amanat: Amanat, docs: dict[str, Path]) -> dict[str, Any]:
    """Two assets registered by the issuer; a deed attached to and a valuation submitted for the
    land parcel."""
    tbill = amanat.json(
        "asset", "register", "--class", "t_bill", "--legal-id", "PK0123TB3M26",
        "--name", "3-month Market Treasury Bill (Feb 2027)",
        "--ministry", "Ministry of Finance (Debt Office)",
        "--authorisation", "Notification F.4(1)-DM/2026-117",
        "--authorisation-doc", docs["tbill-auth.txt"], "--max-units", TBILL_MAX,
    )  # fmt: skip
    land = amanat.json(
        "asset", "register", "--class", "real_estate", "--legal-id", "ISB-G5-1-0423",
        "--name", "Land parcel G-5/1 plot 423, Islamabad",
        "--ministry", "Ministry of Housing and Works",
        "--authorisation", "Cabinet decision 14/2026",
        "--authorisation-doc", docs["land-auth.txt"], "--max-units", LAND_MAX,
    )  # fmt: skip
    document, valuation = amanat.json_many(
        [
            ["asset", "document", land["asset"], docs["deed.txt"], "--kind", "title_deed"],
            [
                "asset", "valuation", land["asset"], "--amount", "1,850,000,000.00",
                "--date", "2026-01-15", "--report", docs["valuation.txt"],
            ],
        ]
    )  # fmt: skip
    return {"tbill": tbill, "land": land, "document": document, "valuation": valuation}


@pytest.fixture(scope="session")
def institutions(amanat: Amanat, docs: dict[str, Path]) -> dict[str, Any]:
    """Four onboarded institutions, by key name: the onboard output, the institution as
    `institution list` shows it, its identity number and wallet address."""
    keys = list(INSTITUTIONS)
    commands = [
        [
            "institution", "onboard", "--name", INSTITUTIONS[k][0],
            "--country", INSTITUTIONS[k][1], "--category", INSTITUTIONS[k][2],
            "--kyc-file", docs[f"kyc-{k}"], "--kyc-expiry", KYC_EXPIRY, "--wallet", k,
        ]
        for k in keys
    ]  # fmt: skip
    # The first command that opens the off-chain store creates its schema (Alembic, no lock
    # across processes): run it alone. Two first commands at once once crashed one of them
    # with "internal error: OperationalError: table audit_trail already exists".
    onboarded = [amanat.json(*commands[0]), *amanat.json_many(commands[1:])]
    listed = {row["identity"]: row for row in amanat.json("institution", "list")}
    return {
        key: {
            "onboard": o,
            "show": listed[o["identity"]],
            "identity": o["identity"],
            "wallet": listed[o["identity"]]["wallets"][0],
        }
        for key, o in zip(keys, onboarded, strict=True)
    }


@pytest.fixture(scope="session")
def approved(amanat: Amanat, registered: dict[str, Any]) -> dict[str, Any]:
    """Both assets approved for tokenization and the land valuation accepted, 2 of 3."""
    tbill, land = registered["tbill"]["asset"], registered["land"]["asset"]
    return amanat.govern(
        [
            ["propose", "approve-asset", tbill],
            ["propose", "approve-asset", land],
            ["propose", "accept-valuation", land, registered["valuation"]["valuation"]],
        ]
    )


@pytest.fixture(scope="session")
def tokenized(
    amanat: Amanat, registered: dict[str, Any], approved: dict[str, Any]
) -> dict[str, Any]:
    """The two tokens, created by governance with their compliance rules."""
    chain_now = approved["advanced"]["block_timestamp"]
    lockup = datetime.fromtimestamp(chain_now + 3 * 86400, UTC).strftime("%Y-%m-%d")
    steps = amanat.govern(
        [
            [
                "propose", "tokenize", registered["tbill"]["asset"],
                "--name", "3M T-Bill Feb 2027", "--symbol", "PKTB3M",
                "--foreign-cap-bps", 2500, "--holding-cap", 600_000, "--minimum-holding", 1_000,
            ],
            [
                "propose", "tokenize", registered["land"]["asset"],
                "--name", "Plot G-5/1-423 fractions", "--symbol", "ISBG5423",
                "--eligible", "bank,insurer,pension_fund,foreign_institution,retail",
                "--allow-countries", "PK", "--max-holders", 2, "--minimum-holding", 100,
                "--lockup-until", lockup,
            ],
        ]
    )  # fmt: skip
    steps["lockup_until"] = utc_timestamp(lockup)
    return steps


@pytest.fixture(scope="session")
def minted(
    amanat: Amanat, tokenized: dict[str, Any], institutions: dict[str, Any]
) -> dict[str, Any]:
    """PKTB3M: inb 500,000, kla 200,000. ISBG5423: inb 10,000 (its whole authorisation)."""
    return amanat.govern(
        [["propose", "mint", asset, "--to", who, "--amount", units] for asset, who, units in MINTS]
    )


@pytest.fixture(scope="session")
def kla_second_wallet(amanat: Amanat, institutions: dict[str, Any]) -> dict[str, Any]:
    """A second wallet ('kla-2') linked to Karakoram Life Assurance."""
    return amanat.json("institution", "link-wallet", institutions["kla"]["identity"], "kla-2")


@pytest.fixture(scope="session")
def frozen_kla2(
    amanat: Amanat,
    minted: dict[str, Any],
    kla_second_wallet: dict[str, Any],
    docs: dict[str, Path],
) -> dict[str, Any]:
    """kla moves 1,000 PKTB3M to its second wallet kla-2, which governance then freezes on an
    FMU notice (evidence given as a hash; no timelock for a freeze)."""
    moved = amanat.json("token", "transfer", "1", "--as", "kla", "--to", "kla-2", "--amount", 1_000)
    notice = sha256_file(docs["fmu-notice.txt"])
    steps = amanat.govern([["propose", "freeze", "1", "--wallet", "kla-2", "--evidence", notice]])
    return {
        "wallet": kla_second_wallet["wallet"],
        "transfer": moved,
        "block_before_freeze": moved["block"],
        "evidence": notice,
        **steps,
    }


@pytest.fixture(scope="session")
def catalogue(amanat: Amanat, minted: dict[str, Any]) -> dict[str, Result]:
    """command -> its result with --json (exit code 0 checked)."""
    results = amanat.run_many([[*command.split(), "--json"] for command in CATALOGUE])
    return dict(zip(CATALOGUE, results, strict=True))


@pytest.fixture(scope="session", autouse=True)
def session_state_first(request: pytest.FixtureRequest) -> None:
    """The session's chain state (assets, institutions, mints, the catalogue's snapshot) is made
    before any module changes the chain: its fixtures name assets and proposals by number and
    record holder counts, and xdist (--dist loadscope) may start a worker on any module."""
    request.getfixturevalue("catalogue")


@pytest.fixture(scope="session", autouse=True)
def demo_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any] | None]:
    """`amanat demo --json` in its own data directory, started in the background when the session
    begins (if the demo test is selected), so that it overlaps the rest of the suite."""
    if not any(item.path.name == "test_09_demo.py" for item in request.session.items):
        yield None
        return
    cli = Amanat(tmp_path_factory.mktemp("demo") / "data")
    started = cli.start("demo", "--json")
    outcome: dict[str, Any] = {"cli": cli, "started": started}
    try:
        yield outcome
    finally:
        if "result" not in outcome:
            cli.finish(started, expect=None)
        stop_node(cli.data_dir / "demo")
