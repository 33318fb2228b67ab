"""The instrument lifecycle through the CLI only, against the session's real chain: PKRT cash
issued by governance; a sealed-bid T-bill auction (competitive, pro-rata at the cut-off and
non-competitive bids) settled DvP by an M-of-N proposal; secondary DvP (settle, cancel, expire);
sukuk rent by record date with a frozen holder's payout held, a claim and a release; maturity and
redemption; a commodity receipt capped by its attested reserve; a sukuk's underlying that cannot
be retired. And every refusal path on the way, each with its exit code, its one readable line
`error [rule]: reason` and (for refusals found before sending) no block added to the chain.

The module brings its own four assets (so the other modules' tokens and clock changes do not
matter) and reuses only the session's deployment and institutions (inb, kla: PK bank and insurer;
ghc: AE foreign institution; retail: PK retail investor). Every stage is a module fixture, run
once; the tests read what the stages recorded. Independent commands run two at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import Amanat, Args, Result

# The stages run some 200 CLI processes (about 1.3 s of CPU each) before the first test: more
# than the suite's default 600 s on a busy machine.
pytestmark = pytest.mark.timeout(2400)

DEAD = "0x000000000000000000000000000000000000dEaD"
NOTICE = "0x" + hashlib.sha256(b"MoF maturity notice PKTB6A").hexdigest()

TB_MAX, SUK_MAX, WHEAT_MAX = 2_000_000, 1_000_000, 100_000
CASH = {"inb": 100_000_000_00, "kla": 50_000_000_00, "ghc": 20_000_000_00}  # PKRT issued, minor
OFFERED = 400_000  # T-bill units auctioned, PKR 100 face
BIDS = {"inb": (250_000, "11.90%"), "kla": (100_000, None), "ghc": (100_000, "0.1195")}
CUTOFF, DAYS = "0.1195", 91
SUKUK = {"inb": 300_000, "ghc": 100_000}  # ghc's wallet is then frozen on the sukuk
RESERVE, WHEAT_MINTED = 40_000, 35_000
DVP_UNITS, DVP_PRICE, DVP_PRICE_MINOR = 20_000, "1,944,064.00", 1_944_064_00
RENT, RENT_MINOR = "2,600,000.01", 2_600_000_01  # 3:1 holders: one minor unit of remainder
TOPUP, TOPUP_MINOR = "10,000,000.00", 10_000_000_00


def pkr(minor: int) -> str:
    return f"{minor // 100:,}.{minor % 100:02d}"


def height(cli: Amanat) -> int:
    return int(cli.json("node", "status")["block"])


def refused_batch(cli: Amanat, cases: dict[str, Args]) -> dict[str, Any]:
    """Run refusal cases concurrently; the block height before and after."""
    before = height(cli)
    results = cli.run_many(list(cases.values()), expect=None)
    after = height(cli)
    return {"results": dict(zip(cases, results, strict=True)), "blocks": (before, after)}


def govern_round(cli: Amanat, proposals: Sequence[Args], extra_delay: int = 0) -> dict[str, Any]:
    """Propose (official-1), approve (official-2), pass the longest timelock, execute (official-1)
    every proposal; an execution may fail (results kept, exit codes not checked)."""
    proposed = cli.json_many([[*p, "--as", "official-1"] for p in proposals])
    approved = cli.json_many(
        [["proposal", "approve", p["id"], "--as", "official-2"] for p in proposed]
    )
    waiting = [
        a["ready_at"] - a["created_at"] for a in approved if a["state"] == "waiting-timelock"
    ]
    advanced = None
    if waiting or extra_delay:
        advanced = cli.json("node", "advance-time", max([*waiting, 0]) + 1 + extra_delay)
    head = height(cli)
    executed = cli.run_many(
        [["proposal", "execute", p["id"], "--as", "official-1", "--json"] for p in proposed],
        expect=None,
    )
    return {
        "proposed": proposed,
        "approved": approved,
        "advanced": advanced,
        "executed": executed,
        "head_before_execute": head,
    }


def executed_ok(round_: dict[str, Any]) -> list[dict[str, Any]]:
    for result in round_["executed"]:
        assert result.returncode == 0, result.describe()
    return [r.json for r in round_["executed"]]


# ---------------------------------------------------------------- the stages


@pytest.fixture(scope="module")
def lc_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("lifecycle-documents")
    texts = {
        "tb-auth": "Notification F.4(1)-DM/2026-131: auction of 3-month T-bills, 2,000,000 units.",
        "suk-auth": "Notification F.2(7)-IF/2026-09: Ijara sukuk on Pak Secretariat Block C.",
        "bldg-deed": "Title: Pak Secretariat Block C, Islamabad (federal government property).",
        "wheat-auth": "ECC decision 41/2026: strategic wheat receipts up to 100,000 tonnes.",
        "wheat-count": "Stock count, PASSCO Multan vault: 40,000 tonnes.",
        "fmu-notice": "FMU notice 91/2026: freeze Gulf Horizon Capital's sukuk wallet.",
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = directory / f"{name}.txt"
        paths[name].write_text(text)
    return paths


@pytest.fixture(scope="module")
def lc(
    amanat: Amanat,
    institutions: dict[str, Any],
    lc_docs: dict[str, Path],
    minted: dict[str, Any],
) -> dict[str, Any]:
    """Four assets: a T-bill to auction (PKTB6A), an Ijara sukuk (PKSUK) linked to a building
    (not tokenized), a wheat reserve (PKWHEAT) attested at 40,000 tonnes. PKRT issued to inb,
    kla and ghc; the sukuk minted to inb and ghc, 35,000 PKWHEAT to inb; ghc frozen on PKSUK.

    The session's own assets (`minted`) are registered first, whichever module a worker runs
    first: the session's fixtures name them by number (1 and 2)."""
    specs = [
        ("t_bill", "PK0789TB3M27", "3-month T-bill (auction 131)", "tb-auth", TB_MAX),
        ("sukuk", "PK-IJARA-2029-SECC", "Ijara sukuk 2029 (Secretariat C)", "suk-auth", SUK_MAX),
        ("real_estate", "ISB-SECRETARIAT-C", "Pak Secretariat Block C", "bldg-deed", 1),
        ("commodity_reserve", "PASSCO-MUL-WHEAT", "Wheat, PASSCO Multan", "wheat-auth", WHEAT_MAX),
    ]
    registered = amanat.json_many(
        [
            [
                "asset", "register", "--class", cls, "--legal-id", legal, "--name", name,
                "--ministry", "Ministry of Finance", "--authorisation", f"Authorisation {legal}",
                "--authorisation-doc", lc_docs[doc], "--max-units", units,
            ]
            for cls, legal, name, doc, units in specs
        ]
    )  # fmt: skip
    tb, suk, bldg, wheat = (r["asset"] for r in registered)
    linked, attested = amanat.json_many(
        [
            ["asset", "link-underlying", suk, bldg],
            [
                "asset", "attest-reserve", wheat, "--quantity", RESERVE,
                "--report", lc_docs["wheat-count"],
            ],
        ]
    )  # fmt: skip
    approvals = govern_round(
        amanat,
        [
            *[["propose", "approve-asset", a] for a in (tb, suk, wheat)],
            *[
                [
                    "propose", "issue-cash", "--to", who, "--amount", pkr(minor),
                    "--reference", f"SBP RTGS deposit {who.upper()}-2026-0001",
                ]
                for who, minor in CASH.items()
            ],
        ],
    )  # fmt: skip
    executed_ok(approvals)
    all_but_retail = "bank,insurer,pension_fund,mutual_fund,government_entity,foreign_institution"
    tokenized = govern_round(
        amanat,
        [
            [
                "propose", "tokenize", tb, "--name", "3M T-Bill (auction 131)",
                "--symbol", "PKTB6A", "--foreign-cap-bps", 2500,
            ],
            ["propose", "tokenize", suk, "--name", "Ijara Sukuk 2029", "--symbol", "PKSUK",
             "--eligible", all_but_retail],
            ["propose", "tokenize", wheat, "--name", "PASSCO wheat receipt",
             "--symbol", "PKWHEAT"],
        ],
    )  # fmt: skip
    executed_ok(tokenized)
    notice = "0x" + hashlib.sha256(lc_docs["fmu-notice"].read_bytes()).hexdigest()
    minted = govern_round(
        amanat,
        [
            *[["propose", "mint", "PKSUK", "--to", w, "--amount", u] for w, u in SUKUK.items()],
            ["propose", "mint", "PKWHEAT", "--to", "inb", "--amount", WHEAT_MINTED],
        ],
    )
    executed_ok(minted)
    frozen = amanat.govern(
        [["propose", "freeze", "PKSUK", "--wallet", "ghc", "--evidence", notice]]
    )
    return {
        "tb": tb,
        "suk": suk,
        "bldg": bldg,
        "wheat": wheat,
        "linked": linked,
        "attested": attested,
        "approvals": approvals,
        "tokenized": tokenized,
        "minted": minted,
        "frozen": frozen,
        "docs": lc_docs,
        "wallets": {k: institutions[k]["wallet"] for k in ("inb", "kla", "ghc", "retail")},
    }


@pytest.fixture(scope="module")
def auction(amanat: Amanat, lc: dict[str, Any]) -> dict[str, Any]:
    """Announce; sealed bids (retail refused); refusals before the close; the close; reveals;
    refusals after it; the allocation preview; the settlement proposal, refused at execute before
    the settlement date, then executed on it."""
    announced = amanat.json(
        "auction", "announce", "PKTB6A", "--units", OFFERED, "--face", "100",
        "--close", "+1d", "--reveal-by", "+30h", "--settle", "+2d", "--pricing", "uniform",
        "--deposit", "10,000", "--as", "issuer",
    )  # fmt: skip
    number = announced["auction"]
    bids = amanat.json_many(
        [
            ["auction", "bid", number, "--units", units, "--as", who]
            + (["--yield", rate] if rate else ["--non-competitive"])
            for who, (units, rate) in BIDS.items()
        ]
    )
    before_close = refused_batch(
        amanat,
        {
            "bid-retail-ineligible": ["auction", "bid", number, "--units", 10_000,
                                      "--yield", "0.115", "--as", "retail"],
            "bid-bad-yield": ["auction", "bid", number, "--units", 1_000, "--yield", "abc",
                              "--as", "inb"],
            "bid-yield-out-of-range": ["auction", "bid", number, "--units", 1_000,
                                       "--yield", "150%", "--as", "inb"],
            "bid-both-yield-and-non-competitive": ["auction", "bid", number, "--units", 1_000,
                                                   "--yield", "0.11", "--non-competitive"],
            "bid-neither-yield-nor-non-competitive": ["auction", "bid", number,
                                                      "--units", 1_000],
            "bid-more-than-offered": ["auction", "bid", number, "--units", OFFERED + 1,
                                      "--yield", "0.11", "--as", "inb"],
            "bid-unknown-auction": ["auction", "bid", 999, "--units", 1, "--yield", "0.11"],
            "show-unknown-auction": ["auction", "show", 999],
            "reveal-before-close": ["auction", "reveal", number, "--as", "inb"],
            "reveal-without-sealed-bid": ["auction", "reveal", number, "--as", "retail"],
            "allocation-without-reveals": ["auction", "allocation", number,
                                           "--cutoff", CUTOFF, "--days", DAYS],
            "announce-bad-time": ["auction", "announce", "PKTB6A", "--units", 1,
                                  "--close", "tomorrow", "--reveal-by", "+2d",
                                  "--settle", "+3d", "--as", "issuer"],
            "announce-by-non-issuer": ["auction", "announce", "PKTB6A", "--units", 1,
                                       "--close", "+1d", "--reveal-by", "+2d",
                                       "--settle", "+3d", "--as", "inb"],
        },
    )  # fmt: skip
    closed = amanat.json("node", "advance-time", announced["close_time"] - _now(amanat) + 1)
    reveals = amanat.json_many([["auction", "reveal", number, "--as", who] for who in BIDS])
    after_close = refused_batch(
        amanat,
        {
            "bid-after-close": ["auction", "bid", number, "--units", 1_000, "--yield", "0.11",
                                "--as", "inb"],
            "reveal-twice": ["auction", "reveal", number, "--as", "inb"],
            "allocation-bad-cutoff": ["auction", "allocation", number, "--cutoff", "high",
                                      "--days", DAYS],
            "settle-auction-unknown": ["propose", "settle-auction", 999, "--cutoff", CUTOFF,
                                       "--days", DAYS],
        },
    )  # fmt: skip
    preview = amanat.json("auction", "allocation", number, "--cutoff", f"{CUTOFF}", "--days", DAYS)
    proposed = amanat.json(
        "propose", "settle-auction", number, "--cutoff", "11.95%", "--days", DAYS,
        "--as", "official-1",
    )  # fmt: skip
    approved = amanat.json("proposal", "approve", proposed["id"], "--as", "official-2")
    amanat.json("node", "advance-time", approved["ready_at"] - approved["created_at"] + 1)
    early = refused_batch(
        amanat,
        {"settle-before-settlement-date": ["proposal", "execute", proposed["id"],
                                           "--as", "official-1"]},
    )  # fmt: skip
    amanat.json("node", "advance-time", announced["settlement_date"] - _now(amanat) + 1)
    executed = amanat.json("proposal", "execute", proposed["id"], "--as", "official-1")
    holders, shown, supply, *cash = amanat.run_many(
        [
            ["token", "holders", "PKTB6A", "--json"],
            ["auction", "show", number, "--json"],
            ["cash", "supply", "--json"],
            *[["cash", "balance", who, "--json"] for who in BIDS],
        ]
    )
    return {
        "number": number,
        "announced": announced,
        "bids": dict(zip(BIDS, bids, strict=True)),
        "closed": closed,
        "reveals": dict(zip(BIDS, reveals, strict=True)),
        "preview": preview,
        "proposed": proposed,
        "approved": approved,
        "executed": executed,
        "holders": {row["wallet"]: row for row in holders.json},
        "shown": shown.json,
        "supply": supply.json,
        "cash": dict(zip(BIDS, (c.json for c in cash), strict=True)),
        "refusals": [before_close, after_close, early],
    }


def _now(cli: Amanat) -> int:
    """The chain's clock (advance-time 0 is refused, so read it from a 1-second advance)."""
    return int(cli.json("node", "advance-time", 1)["block_timestamp"])


@pytest.fixture(scope="module")
def secondary(amanat: Amanat, lc: dict[str, Any], auction: dict[str, Any]) -> dict[str, Any]:
    """inb sells 20,000 PKTB6A to kla against PKRT: instruct, refusals, affirm, settle; a second
    instruction cancelled by the seller; a third one expired after its deadline."""
    instruct = ["dvp", "instruct", "PKTB6A", "--units", DVP_UNITS, "--cash", DVP_PRICE]
    pre = refused_batch(
        amanat,
        {
            "dvp-to-ineligible-buyer": [*instruct, "--to", "retail", "--as", "inb"],
            "dvp-past-deadline": [*instruct, "--to", "kla", "--deadline", "2020-01-01",
                                  "--as", "inb"],
            "dvp-bad-deadline": [*instruct, "--to", "kla", "--deadline", "soon", "--as", "inb"],
            "dvp-bad-cash": ["dvp", "instruct", "PKTB6A", "--units", 1, "--cash", "lots",
                             "--to", "kla", "--as", "inb"],
            "dvp-more-than-held": ["dvp", "instruct", "PKTB6A", "--units", 10_000_000,
                                   "--cash", "1.00", "--to", "kla", "--as", "inb"],
            "dvp-show-unknown": ["dvp", "show", 999],
            "dvp-affirm-unknown": ["dvp", "affirm", 999, "--as", "kla"],
        },
    )  # fmt: skip
    opened = amanat.json(*instruct, "--to", "kla", "--as", "inb")
    number = opened["instruction"]
    seller_locked, locked_transfer = amanat.run_many(
        [
            ["token", "balance", "PKTB6A", "inb", "--json"],
            ["token", "transfer", "PKTB6A", "--as", "inb", "--to", "kla",
             "--amount", BIDS["inb"][0] - DVP_UNITS + 1],
        ],
        expect=None,
    )  # fmt: skip
    before_affirm = refused_batch(
        amanat,
        {
            "dvp-affirm-by-non-buyer": ["dvp", "affirm", number, "--as", "ghc"],
            "dvp-settle-before-affirm": ["dvp", "settle", number, "--as", "kla"],
            "dvp-expire-before-deadline": ["dvp", "expire", number, "--as", "ghc"],
            "dvp-cancel-by-third-party": ["dvp", "cancel", number, "--as", "ghc"],
        },
    )  # fmt: skip
    affirmed = amanat.json("dvp", "affirm", number, "--as", "kla")
    buyer_locked = amanat.json("cash", "balance", "kla")
    settled = amanat.json("dvp", "settle", number, "--as", "kla")
    after = refused_batch(
        amanat,
        {"dvp-cancel-after-settle": ["dvp", "cancel", number, "--as", "inb"]},
    )
    holders, seller_cash, buyer_cash = amanat.run_many(
        [
            ["token", "holders", "PKTB6A", "--json"],
            ["cash", "balance", "inb", "--json"],
            ["cash", "balance", "kla", "--json"],
        ]
    )
    # A second instruction, cancelled by the seller; a third, left to expire.
    second, third = (
        amanat.json("dvp", "instruct", "PKTB6A", "--units", 1_000, "--cash", "97,000.00",
                    "--to", "kla", "--deadline", deadline, "--as", "inb")
        for deadline in ("+1d", "+1h")
    )  # fmt: skip
    cancelled = amanat.json("dvp", "cancel", second["instruction"], "--as", "inb")
    amanat.json("node", "advance-time", 3700)
    late = refused_batch(
        amanat,
        {"dvp-affirm-after-deadline": ["dvp", "affirm", third["instruction"], "--as", "kla"]},
    )
    expired = amanat.json("dvp", "expire", third["instruction"], "--as", "ghc")
    listed, balance_after = amanat.run_many(
        [["dvp", "list", "--json"], ["token", "balance", "PKTB6A", "inb", "--json"]]
    )
    return {
        "opened": opened,
        "seller_locked": seller_locked.json,
        "locked_transfer": locked_transfer,
        "affirmed": affirmed,
        "buyer_locked": buyer_locked,
        "settled": settled,
        "holders": {row["wallet"]: row["balance"] for row in holders.json},
        "seller_cash": seller_cash.json,
        "buyer_cash": buyer_cash.json,
        "second": second,
        "cancelled": cancelled,
        "third": third,
        "expired": expired,
        "listed": {row["instruction"]: row for row in listed.json},
        "balance_after": balance_after.json,
        "refusals": [pre, before_affirm, after, late],
    }


@pytest.fixture(scope="module")
def payouts(amanat: Amanat, lc: dict[str, Any], secondary: dict[str, Any]) -> dict[str, Any]:
    """Refusals of distributions and reserves; then one governance round: the sukuk rent by
    record date, PKTB6A matured, the treasury topped up, the building's retirement (refused at
    execute); the rent claimed by inb and pushed to the rest (ghc's held)."""
    supply = amanat.json("cash", "supply")
    pre = refused_batch(
        amanat,
        {
            "distribution-above-treasury": ["propose", "distribution", "PKSUK", "--kind", "rent",
                                            "--total", pkr(supply["treasury_minor"] + 1),
                                            "--record-date", "now"],
            "distribution-bad-record-date": ["propose", "distribution", "PKSUK", "--kind",
                                             "rent", "--total", "1.00",
                                             "--record-date", "yesterday"],
            "distribution-no-record": ["propose", "distribution", "PKSUK", "--kind", "rent",
                                       "--total", "1.00"],
            "distribution-record-block-ahead": ["propose", "distribution", "PKSUK", "--kind",
                                                "rent", "--total", "1.00",
                                                "--record-block", 10_000_000],
            "distribution-bad-kind": ["propose", "distribution", "PKSUK", "--kind", "bonus",
                                      "--total", "1.00", "--record-date", "now"],
            "redemption-before-maturity": ["propose", "distribution", "PKTB6A", "--kind",
                                           "redemption", "--total", "1.00",
                                           "--record-date", "now"],
            "distribution-show-unknown": ["distribution", "show", 999],
            "distribution-pay-unknown": ["distribution", "pay", 999],
            "release-held-unknown-distribution": ["propose", "release-held", 999,
                                                  "--holder", "ghc"],
            "mint-above-attested-reserve": ["propose", "mint", "PKWHEAT", "--to", "kla",
                                            "--amount", RESERVE - WHEAT_MINTED + 1],
            "attest-by-non-auditor": ["asset", "attest-reserve", lc["wheat"],
                                      "--quantity", 1, "--report", lc_path(lc, "wheat-count"),
                                      "--as", "issuer"],
            "attest-non-commodity": ["asset", "attest-reserve", lc["tb"], "--quantity", 1,
                                     "--report", lc_path(lc, "wheat-count")],
            "link-underlying-after-approval": ["asset", "link-underlying", lc["suk"], lc["tb"]],
            "link-underlying-unknown": ["asset", "link-underlying", lc["suk"], 999],
            "issue-cash-unverified-wallet": ["propose", "issue-cash", "--to", DEAD,
                                             "--amount", "1.00", "--reference", "RTGS-X"],
            "issue-cash-zero": ["propose", "issue-cash", "--to", "inb", "--amount", "0.00",
                                "--reference", "RTGS-X"],
            "cash-balance-bad-wallet": ["cash", "balance", "0x123"],
        },
    )  # fmt: skip
    round_ = govern_round(
        amanat,
        [
            ["propose", "distribution", "PKSUK", "--kind", "rent", "--total", RENT,
             "--record-date", "now"],
            ["propose", "mature", "PKTB6A", "--evidence", NOTICE],
            ["propose", "issue-cash", "--to", amanat.deployed["Governance"],
             "--amount", TOPUP, "--reference", "MoF budget allocation 2026-27/DS-14"],
            ["propose", "set-status", lc["bldg"], "retired"],
        ],
    )  # fmt: skip
    rent_proposal = round_["proposed"][0]
    declared = next(
        d for d in amanat.json("distribution", "list") if d["root"] == rent_proposal["plan"]["root"]
    )
    number = declared["distribution"]
    claimed = amanat.json("distribution", "claim", number, "--as", "inb")
    claims = refused_batch(
        amanat,
        {
            "claim-twice": ["distribution", "claim", number, "--as", "inb"],
            "claim-by-non-holder": ["distribution", "claim", number, "--as", "retail"],
        },
    )  # fmt: skip
    paid = amanat.json("distribution", "pay", number)
    after = refused_batch(
        amanat,
        {
            "release-held-nothing-held": ["propose", "release-held", number, "--holder", "inb"],
            "mature-twice": ["propose", "mature", "PKTB6A"],
            "transfer-after-maturity": ["token", "transfer", "PKTB6A", "--as", "kla",
                                        "--to", "inb", "--amount", 1_000],
            "dvp-after-maturity": ["dvp", "instruct", "PKTB6A", "--units", 1_000,
                                   "--cash", "1.00", "--to", "inb", "--as", "kla"],
        },
    )  # fmt: skip
    shown, cash_after = amanat.run_many(
        [["distribution", "show", number, "--json"], ["cash", "supply", "--json"]]
    )
    balances = amanat.json_many([["cash", "balance", who] for who in ("inb", "ghc")])
    return {
        "supply_before": supply,
        "round": round_,
        "declared": declared,
        "number": number,
        "claimed": claimed,
        "paid": paid,
        "shown": shown.json,
        "cash_after": cash_after.json,
        "balances": dict(zip(("inb", "ghc"), balances, strict=True)),
        "refusals": [pre, claims, after],
    }


def lc_path(lc: dict[str, Any], name: str) -> Path:
    return lc["docs"][name]


@pytest.fixture(scope="module")
def redeemed(amanat: Amanat, lc: dict[str, Any], payouts: dict[str, Any]) -> dict[str, Any]:
    """Redemption of PKTB6A at par and the release of ghc's held rent, in one round; the
    redemption paid."""
    supply = amanat.json("token", "show", "PKTB6A")
    holders_before = {r["wallet"]: r["balance"] for r in amanat.json("token", "holders", "PKTB6A")}
    units = sum(holders_before.values())
    cash_before = amanat.json_many([["cash", "balance", who] for who in ("inb", "kla", "ghc")])
    round_ = govern_round(
        amanat,
        [
            ["propose", "distribution", "PKTB6A", "--kind", "redemption",
             "--total", pkr(units * 100_00), "--record-date", "now", "--evidence", NOTICE],
            ["propose", "release-held", payouts["number"], "--holder", "ghc"],
        ],
    )  # fmt: skip
    executed_ok(round_)
    declared = next(
        d
        for d in amanat.json("distribution", "list")
        if d["root"] == round_["proposed"][0]["plan"]["root"]
    )
    paid = amanat.json("distribution", "pay", declared["distribution"])
    holders, token, rent = amanat.run_many(
        [
            ["token", "holders", "PKTB6A", "--json"],
            ["token", "show", "PKTB6A", "--json"],
            ["distribution", "show", payouts["number"], "--json"],
        ]
    )
    cash_after = amanat.json_many([["cash", "balance", who] for who in ("inb", "kla", "ghc")])
    return {
        "supply": supply,
        "units": units,
        "holders_before": holders_before,
        "cash_before": dict(zip(("inb", "kla", "ghc"), cash_before, strict=True)),
        "round": round_,
        "declared": declared,
        "paid": paid,
        "holders_after": holders.json,
        "token_after": token.json,
        "rent_after": rent.json,
        "cash_after": dict(zip(("inb", "kla", "ghc"), cash_after, strict=True)),
    }


# ------------------------------------------------------------- every refusal

# case -> (exit code, rule (None: a click usage error), words the message must contain)
CASES: dict[str, tuple[int, str | None, tuple[str, ...]]] = {
    # --- auction, before the close
    "bid-retail-ineligible": (
        3, "category-not-eligible",
        ("investor category not eligible", "is a retail; PKTB6A admits only: bank"),
    ),
    "bid-bad-yield": (2, "invalid-input", ("yield 'abc' is not a number (e.g. 0.1195 or 11.95%)",)),
    "bid-yield-out-of-range": (2, "invalid-input", ("yield '150%' must be between 0 and 100%",)),
    "bid-both-yield-and-non-competitive": (
        2, "invalid-input", ("give either --yield or --non-competitive",),
    ),
    "bid-neither-yield-nor-non-competitive": (
        2, "invalid-input", ("give either --yield or --non-competitive",),
    ),
    "bid-more-than-offered": (
        2, "invalid-input", (f"bid of {OFFERED + 1} units is more than the {OFFERED} offered",),
    ),
    "bid-unknown-auction": (1, "not-found", ("no auction 999 (there are ",)),
    "show-unknown-auction": (1, "not-found", ("no auction 999 (there are ",)),
    "reveal-before-close": (3, "chain-refused", ("auction has not closed",)),
    "reveal-without-sealed-bid": (1, "not-found", ("no sealed bid of retail for auction ",)),
    "allocation-without-reveals": (3, "no-bids", ("has no revealed bids",)),
    "announce-bad-time": (
        2, "invalid-input", ("time 'tomorrow' is neither +N(m|h|d) nor a date-time",),
    ),
    "announce-by-non-issuer": (3, "chain-refused", ("caller is not an issuer",)),
    # --- auction, after the close
    "bid-after-close": (3, "auction-closed", ("closed at", "(now ")),
    "reveal-twice": (3, "chain-refused", ("bid already revealed",)),
    "allocation-bad-cutoff": (2, "invalid-input", ("yield 'high' is not a number",)),
    "settle-auction-unknown": (1, "not-found", ("no auction 999",)),
    "settle-before-settlement-date": (3, "chain-refused", ("settlement date not reached",)),
    # --- secondary DvP
    "dvp-to-ineligible-buyer": (
        3, "category-not-eligible", ("is a retail; PKTB6A admits only",),
    ),
    "dvp-past-deadline": (2, "invalid-input", ("is not after the chain's time",)),
    "dvp-bad-deadline": (2, "invalid-input", ("time 'soon' is neither",)),
    "dvp-bad-cash": (2, "invalid-input", ("amount 'lots' is not a number",)),
    "dvp-more-than-held": (3, "insufficient-balance", ("insufficient balance", "requested 10000000")),
    "dvp-show-unknown": (1, "not-found", ("no DvP instruction 999 (there are ",)),
    "dvp-affirm-unknown": (1, "not-found", ("no DvP instruction 999",)),
    "dvp-affirm-by-non-buyer": (3, "chain-refused", ("caller is not the buyer",)),
    "dvp-settle-before-affirm": (3, "chain-refused", ("buyer has not affirmed",)),
    "dvp-expire-before-deadline": (3, "chain-refused", ("deadline has not passed",)),
    "dvp-cancel-by-third-party": (3, "chain-refused", ("caller is not a party",)),
    "dvp-cancel-after-settle": (3, "chain-refused", ("instruction is no longer open",)),
    "dvp-affirm-after-deadline": (3, "chain-refused", ("instruction has expired",)),
    # --- distributions, reserves, underlying, cash
    "distribution-above-treasury": (
        3, "treasury-funds", ("the treasury holds PKR ", "less than the PKR ", "to distribute"),
    ),
    "distribution-bad-record-date": (2, "invalid-input", ("time 'yesterday' is neither",)),
    "distribution-no-record": (2, "invalid-input", ("give either --record-block or --record-date",)),
    "distribution-record-block-ahead": (
        2, "invalid-input", ("record block 10000000 is not on the chain (head ",),
    ),
    "distribution-bad-kind": (2, None, ("Invalid value for '--kind'", "'bonus'")),
    "redemption-before-maturity": (
        3, "not-matured", ("PKTB6A has not matured: propose `mature` first",),
    ),
    "distribution-show-unknown": (1, "not-found", ("no distribution 999 (there are ",)),
    "distribution-pay-unknown": (1, "not-found", ("no distribution 999",)),
    "release-held-unknown-distribution": (1, "not-found", ("distribution 999",)),
    "mint-above-attested-reserve": (
        3, "authorisation-cap",
        (
            "mint exceeds the statutory authorisation",
            f"supply {WHEAT_MINTED} + {RESERVE - WHEAT_MINTED + 1} exceeds the attested reserve "
            f"of {RESERVE} units (authorised: {WHEAT_MAX})",
        ),
    ),
    "attest-by-non-auditor": (3, "chain-refused", ("caller is not a reserve auditor",)),
    "attest-non-commodity": (3, "chain-refused", ("asset is not a commodity reserve",)),
    "link-underlying-after-approval": (3, "chain-refused", ("sukuk is no longer proposed",)),
    "link-underlying-unknown": (1, "not-found", ("no asset 999",)),
    "issue-cash-unverified-wallet": (
        3, "receiver-not-verified", (f"{DEAD}", "is not a verified institution: it may not hold cash"),
    ),
    "issue-cash-zero": (2, "invalid-input", ("must be positive",)),
    "cash-balance-bad-wallet": (2, "invalid-input", ("'0x123' is not a valid address",)),
    # --- after the rent was declared and PKTB6A matured
    "claim-twice": (3, "chain-refused", ("payout already made",)),
    "claim-by-non-holder": (1, "not-found", ("retail (", "held no units at the record block")),
    "release-held-nothing-held": (1, "not-found", ("nothing is held for inb in distribution ",)),
    "mature-twice": (3, "matured", ("PKTB6A has already matured",)),
    "transfer-after-maturity": (
        3, "matured", ("token has matured", "PKTB6A has matured: its units can only be redeemed"),
    ),
    "dvp-after-maturity": (3, "matured", ("PKTB6A has matured: its units can only be redeemed",)),
}  # fmt: skip


@pytest.fixture(scope="module")
def refusals(
    auction: dict[str, Any], secondary: dict[str, Any], payouts: dict[str, Any]
) -> list[dict[str, Any]]:
    return [*auction["refusals"], *secondary["refusals"], *payouts["refusals"]]


def _result(refusals: list[dict[str, Any]], case: str) -> Result:
    for batch in refusals:
        if case in batch["results"]:
            return batch["results"][case]
    raise AssertionError(f"case {case} was not run")


@pytest.mark.parametrize("case", list(CASES))
def test_refusal(case: str, refusals: list[dict[str, Any]]) -> None:
    code, rule, words = CASES[case]
    result = _result(refusals, case)
    assert result.returncode == code, result.describe()
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    for word in words:
        assert word in result.output, result.describe()
    if rule is not None:
        assert result.stdout == "", result.describe()
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.describe()  # one readable line
        assert lines[0].startswith(f"error [{rule}]: "), result.describe()


def test_every_case_ran(refusals: list[dict[str, Any]]) -> None:
    ran = [case for batch in refusals for case in batch["results"]]
    assert sorted(ran) == sorted(CASES)


def test_refusals_send_nothing_to_the_chain(refusals: list[dict[str, Any]]) -> None:
    for batch in refusals:
        before, after = batch["blocks"]
        assert after == before, sorted(batch["results"])


# ------------------------------------------------------------------ the lifecycle


def test_assets_linked_attested_and_tokenized(amanat: Amanat, lc: dict[str, Any]) -> None:
    assert lc["linked"]["id"] == lc["suk"]
    assert lc["linked"]["underlying"] == lc["bldg"]
    assert lc["linked"]["status"] == "proposed"
    assert lc["attested"] == {
        "asset": lc["wheat"],
        "attestation": 0,
        "quantity": RESERVE,
        "report": "0x" + hashlib.sha256(lc["docs"]["wheat-count"].read_bytes()).hexdigest(),
    }
    approvals = lc["approvals"]
    cash_proposals = approvals["proposed"][3:]
    assert [p["function"] for p in cash_proposals] == ["issueCash"] * 3
    # Cash issue waits out a timelock (the mint class, 1 h) after 2 of 3 approvals.
    assert all(a["state"] == "waiting-timelock" for a in approvals["approved"][3:])
    assert all(a["ready_at"] - a["created_at"] >= 3600 for a in approvals["approved"][3:])
    wheat, token = amanat.json_many([["asset", "show", lc["wheat"]], ["token", "show", "PKWHEAT"]])
    assert wheat["reserve"] == {"attested_units": RESERVE, "attestations": 1}
    assert wheat["status"] == "tokenized"
    assert token["total_supply"] == WHEAT_MINTED
    (freeze,) = lc["frozen"]["proposed"]
    assert freeze["function"] == "setAddressFrozen"


def test_auction_bids_are_sealed_and_revealed(auction: dict[str, Any]) -> None:
    for who, (units, rate) in BIDS.items():
        sealed = auction["bids"][who]
        assert sealed["auction"] == auction["number"]
        assert sealed["competitive"] is (rate is not None)
        assert sealed["commitment"].startswith("0x") and len(sealed["commitment"]) == 66
        opened = auction["reveals"][who]
        assert opened["units"] == units
        assert opened["bidder"] == sealed["bidder"]
        # The face value of the bid is locked in cash until the settlement.
        assert opened["locked_cash_minor"] == units * 100_00
    assert auction["reveals"]["inb"]["yield"] == "11.9000%"
    assert auction["reveals"]["kla"]["yield"] is None
    assert auction["reveals"]["ghc"]["yield"] == "11.9500%"
    # The commitments on chain say nothing of units or yield; the reveals do.
    events = [e["event"] for e in auction["shown"]["events"]]
    assert events.count("BidCommitted") == len(BIDS)
    assert events.count("BidRevealed") == len(BIDS)


def _tbill_payment_minor(units: int, rate: str) -> int:
    """units x PKR 100 x price/100, the price per 100 = 100 / (1 + y·91/365) to 4 places."""
    price = (Decimal(100) / (1 + Decimal(rate) * DAYS / 365)).quantize(Decimal("0.0001"))
    return int(units * 100 * price)


def test_auction_allocation_preview(auction: dict[str, Any], lc: dict[str, Any]) -> None:
    rows = {row["bidder"]: row for row in auction["preview"]}
    wallets = {who: auction["bids"][who]["bidder"] for who in BIDS}
    inb, kla, ghc = (rows[wallets[w]] for w in ("inb", "kla", "ghc"))
    # Below the cut-off: in full. Non-competitive: in full. At the cut-off: what is left.
    assert (inb["units"], kla["units"], ghc["units"]) == (250_000, 100_000, 50_000)
    assert sum(r["units"] for r in rows.values()) == OFFERED
    assert inb["bid_yield"] == "0.119" and ghc["bid_yield"] == "0.1195" and kla["bid_yield"] is None
    # Uniform price: competitive bids at the cut-off, and so non-competitive too (the weighted
    # average of the yields the accepted bids are priced at).
    assert inb["yield"] == ghc["yield"] == CUTOFF
    assert Decimal(kla["yield"]) == Decimal(CUTOFF)
    for row in (inb, ghc):
        assert row["payment_minor"] == _tbill_payment_minor(row["units"], CUTOFF)
    assert kla["payment_minor"] == _tbill_payment_minor(100_000, CUTOFF)
    for row in rows.values():
        assert row["payment_minor"] < row["units"] * 100_00  # a discount instrument
        assert row["payment"] == f"PKR {pkr(row['payment_minor'])}"
    # The settlement proposal carries the same allocation.
    assert auction["proposed"]["allocation"] == auction["preview"]
    assert auction["proposed"]["function"] == "settle"


def test_auction_settles_dvp_on_the_settlement_date(auction: dict[str, Any]) -> None:
    assert auction["approved"]["state"] == "waiting-timelock"
    assert auction["executed"]["state"] == "executed"
    payments = {row["bidder"]: row["payment_minor"] for row in auction["preview"]}
    units = {row["bidder"]: row["units"] for row in auction["preview"]}
    assert {w: row["balance"] for w, row in auction["holders"].items()} == units
    for who in BIDS:
        wallet = auction["bids"][who]["bidder"]
        cash = auction["cash"][who]
        assert cash["wallet"] == wallet
        assert cash["balance_minor"] == CASH[who] - payments[wallet]
        assert cash["locked_minor"] == 0  # the locked face value is released
        assert cash["available_minor"] == cash["balance_minor"]
    shown = auction["shown"]
    assert shown["settled"] is True
    (settled,) = [e for e in shown["events"] if e["event"] == "AuctionSettled"]
    assert settled["issuedUnits"] == OFFERED
    assert settled["proceeds"] == sum(payments.values())
    assert settled["cutoffYieldMicro"] == 119_500
    assert auction["supply"]["treasury_minor"] >= sum(payments.values())


def test_dvp_instruct_affirm_settle(secondary: dict[str, Any], auction: dict[str, Any]) -> None:
    opened = secondary["opened"]
    wallets = {who: auction["bids"][who]["bidder"] for who in BIDS}
    assert opened["state"] == "instructed"
    assert (opened["seller"], opened["buyer"]) == (wallets["inb"], wallets["kla"])
    assert (opened["symbol"], opened["units"]) == ("PKTB6A", DVP_UNITS)
    assert (opened["cash_minor"], opened["cash"]) == (DVP_PRICE_MINOR, f"PKR {DVP_PRICE}")
    # The seller's units are locked: it cannot transfer them meanwhile.
    locked = secondary["locked_transfer"]
    assert locked.returncode == 3, locked.describe()
    assert secondary["affirmed"]["state"] == "affirmed"
    assert secondary["buyer_locked"]["locked_minor"] == DVP_PRICE_MINOR
    assert secondary["settled"]["state"] == "settled"
    holders = secondary["holders"]
    assert holders[wallets["inb"]] == 250_000 - DVP_UNITS
    assert holders[wallets["kla"]] == 100_000 + DVP_UNITS
    before = auction["cash"]
    assert (
        secondary["seller_cash"]["balance_minor"]
        == before["inb"]["balance_minor"] + DVP_PRICE_MINOR
    )
    assert (
        secondary["buyer_cash"]["balance_minor"] == before["kla"]["balance_minor"] - DVP_PRICE_MINOR
    )
    assert secondary["buyer_cash"]["locked_minor"] == 0


def test_dvp_cancel_and_expire_release_both_legs(secondary: dict[str, Any]) -> None:
    assert secondary["second"]["state"] == "instructed"
    assert secondary["cancelled"]["state"] == "cancelled"
    assert secondary["third"]["state"] == "instructed"
    assert secondary["expired"]["state"] == "expired"
    listed = secondary["listed"]
    states = {n: listed[n]["state"] for n in (
        secondary["opened"]["instruction"],
        secondary["second"]["instruction"],
        secondary["third"]["instruction"],
    )}  # fmt: skip
    assert sorted(states.values()) == ["cancelled", "expired", "settled"]
    # Nothing of inb's stays locked: it can move its whole balance again.
    assert secondary["balance_after"]["balance"] == 250_000 - DVP_UNITS


def test_transfer_of_units_locked_for_dvp_names_the_lock(secondary: dict[str, Any]) -> None:
    locked = secondary["locked_transfer"]
    assert locked.returncode == 3, locked.describe()
    assert "locked for settlement 20000" in locked.stderr, locked.describe()
    assert "unfrozen 250000" not in locked.stderr


def test_rent_by_record_date_paid_and_held_sum_exactly(
    payouts: dict[str, Any], lc: dict[str, Any], auction: dict[str, Any]
) -> None:
    rent = payouts["round"]["proposed"][0]
    assert rent["function"] == "declare"
    plan = rent["plan"]
    assert (plan["kind"], plan["holders"], plan["total_minor"]) == ("rent", 2, RENT_MINOR)
    assert payouts["round"]["approved"][0]["ready_at"] - rent["created_at"] >= 3600
    assert payouts["round"]["executed"][0].returncode == 0
    inb = lc["wallets"]["inb"]
    # 3:1 split of 260,000,001 minor: 195,000,000.75 and 65,000,000.25; the remainder's one
    # minor unit goes to the larger fractional part (inb).
    inb_share, ghc_share = 195_000_001, 65_000_000
    claimed = payouts["claimed"]
    assert (claimed["holder"], claimed["amount_minor"]) == (inb, inb_share)
    shown = payouts["shown"]
    assert shown["kind"] == "rent" and shown["symbol"] == "PKSUK"
    assert shown["total_minor"] == RENT_MINOR
    assert shown["paid_minor"] == inb_share
    assert shown["held_minor"] == ghc_share  # ghc is frozen on PKSUK: held, not lost
    assert shown["paid_minor"] + shown["held_minor"] == shown["total_minor"]
    assert shown["payouts_made"] == shown["holders"] == 2 and shown["complete"] is True
    assert (shown["paid"], shown["held"]) == (f"PKR {pkr(inb_share)}", f"PKR {pkr(ghc_share)}")
    assert payouts["paid"]["paid_minor"] == inb_share  # the push paid only what was left
    # ghc's cash is untouched by the rent (its payout is held); inb's grew by its share.
    ghc_cash = payouts["balances"]["ghc"]["balance_minor"]
    assert ghc_cash == auction["cash"]["ghc"]["balance_minor"]
    inb_cash = payouts["balances"]["inb"]["balance_minor"]
    assert inb_cash == auction["cash"]["inb"]["balance_minor"] + DVP_PRICE_MINOR + inb_share


def test_treasury_funds_the_rent_and_the_topup(payouts: dict[str, Any]) -> None:
    before = payouts["supply_before"]
    after = payouts["cash_after"]
    assert after["treasury_minor"] == before["treasury_minor"] - RENT_MINOR + TOPUP_MINOR
    assert after["supply_minor"] == before["supply_minor"] + TOPUP_MINOR


def test_underlying_cannot_be_retired_while_the_sukuk_is_outstanding(
    amanat: Amanat, payouts: dict[str, Any], lc: dict[str, Any]
) -> None:
    round_ = payouts["round"]
    retire = round_["executed"][3]
    assert round_["proposed"][3]["function"] == "setStatus"
    assert retire.returncode == 3, retire.describe()
    assert retire.stderr.strip() == "error [chain-refused]: asset backs an outstanding sukuk"
    assert amanat.json("asset", "show", lc["bldg"])["status"] == "proposed"
    # The other three proposals of the round executed.
    assert [r.returncode for r in round_["executed"][:3]] == [0, 0, 0]


def test_mature_twice_is_a_rule_refusal_and_sends_nothing(refusals: list[dict[str, Any]]) -> None:
    result = _result(refusals, "mature-twice")
    assert "PKTB6A has already matured" in result.stderr


def test_mature_twice_names_rule_matured(refusals: list[dict[str, Any]]) -> None:
    result = _result(refusals, "mature-twice")
    assert result.returncode == 3
    assert result.stderr.startswith("error [matured]: ")


def test_redemption_at_par_burns_and_pays(redeemed: dict[str, Any]) -> None:
    units = redeemed["units"]
    assert units == OFFERED  # the whole auctioned issue is outstanding
    plan = redeemed["round"]["proposed"][0]["plan"]
    assert (plan["kind"], plan["total_minor"]) == ("redemption", units * 100_00)
    paid = redeemed["paid"]
    assert paid["paid_minor"] == units * 100_00 and paid["held_minor"] == 0
    assert paid["complete"] is True
    assert redeemed["holders_after"] == []
    assert redeemed["token_after"]["total_supply"] == 0
    wallets = {v["wallet"]: k for k, v in redeemed["cash_before"].items()}
    for wallet, held in redeemed["holders_before"].items():
        who = wallets[wallet]
        gained = (
            redeemed["cash_after"][who]["balance_minor"]
            - redeemed["cash_before"][who]["balance_minor"]
        )
        released = 65_000_000 if who == "ghc" else 0  # ghc's held rent, released
        assert gained == held * 100_00 + released, who


def test_held_payout_released(redeemed: dict[str, Any]) -> None:
    release = redeemed["round"]["proposed"][1]
    assert release["function"] == "releaseHeld"
    rent = redeemed["rent_after"]
    assert rent["paid_minor"] + rent["held_minor"] <= rent["total_minor"]


def test_future_record_date_is_refused(amanat: Amanat, redeemed: dict[str, Any]) -> None:
    result = amanat.run(
        "propose", "distribution", "PKSUK", "--kind", "coupon", "--total", "1.00",
        "--record-date", "+2d", expect=None,
    )  # fmt: skip
    assert result.returncode == 2, result.describe()
