"""The pilot scenario, end to end on a fresh embedded chain (`amanat demo`).

Three government assets (a 3-month T-bill, an Ijara sukuk backed by a named public building and
a land parcel) are registered, approved 2-of-3, tokenized with rules, and issued to onboarded
institutions; transfers pass or are refused by each rule with a readable reason; a court order is
enforced with its evidence hash; a wallet is frozen; a summary of assets, supply and holders ends it.
Timelocks are real: the demo moves the embedded chain's clock past them and says so.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from amanat.chain.node import AnvilNode
from amanat.cli.output import table
from amanat.config import Settings
from amanat.domain.assets import AssetClass, AssetStatus, DocumentKind
from amanat.domain.auction import Pricing, tbill_payment
from amanat.domain.daycount import Calendar
from amanat.domain.identity import COUNTRY_CODES, InvestorCategory
from amanat.domain.instruments import IjaraSukuk
from amanat.domain.money import format_pkr
from amanat.domain.rules import TokenRules
from amanat.errors import AmanatError
from amanat.services import (
    assets,
    auctions,
    cash,
    distributions,
    dvp,
    governance,
    identities,
    tokens,
)
from amanat.services.platform import Bound, Platform

OFFICIALS = ["official-1", "official-2", "official-3"]
DAY = 86400
AUCTION_DEPOSIT_MINOR = 10_000_00  # PKR 10,000 paid in with each sealed bid
PK = COUNTRY_CODES["PK"]

INSTITUTIONS = [
    # key name, public name, country, category
    ("inb", "Indus National Bank", "PK", InvestorCategory.BANK),
    ("kla", "Karakoram Life Assurance", "PK", InvestorCategory.INSURER),
    ("fepf", "Federal Employees Pension Fund", "PK", InvestorCategory.PENSION_FUND),
    ("ghc", "Gulf Horizon Capital (UAE)", "AE", InvestorCategory.FOREIGN_INSTITUTION),
    ("retail-0001", "Retail investor R-0001", "PK", InvestorCategory.RETAIL),
]


class Scenario:
    def __init__(self, platform: Platform, echo: Callable[[str], None]) -> None:
        self.platform = platform
        self.echo = echo
        self.step_number = 0
        self.documents = platform.settings.data_dir / "pilot-documents"
        self.documents.mkdir(exist_ok=True)
        self.refusals: list[dict[str, str]] = []
        self.lifecycle: dict[str, Any] = {}

    def step(self, title: str) -> None:
        self.step_number += 1
        self.echo(f"\n[{self.step_number}] {title}")

    def say(self, text: str) -> None:
        self.echo(f"    {text}")

    def document(self, name: str, text: str) -> str:
        path = self.documents / name
        path.write_text(text)
        return assets.store_document(self.platform, path)

    def govern(
        self, target: Bound, function: str, args: list[Any], what: str, evidence: str | None = None
    ) -> None:
        proposal_id = governance.propose(
            self.platform, OFFICIALS[0], target, function, args, evidence
        )
        self.carry(proposal_id, what)

    def carry(self, proposal_id: int, what: str) -> None:
        """A second official approves the proposal; the clock passes its timelock; execute."""
        view = governance.approve(self.platform, OFFICIALS[1], proposal_id)
        if view.state == "waiting-timelock":
            delay = view.ready_at - self.platform.clock.chain_time()
            self.platform.chain.advance_time(delay)
            self.say(
                f"proposal {proposal_id} ({what}): proposed by {OFFICIALS[0]}, approved by "
                f"{OFFICIALS[1]} (2 of 3); timelock {delay // 3600} h passed on the embedded clock"
            )
        else:
            self.say(
                f"proposal {proposal_id} ({what}): proposed by {OFFICIALS[0]}, approved by "
                f"{OFFICIALS[1]} (2 of 3); no timelock for {view.action}"
            )
        governance.execute(self.platform, OFFICIALS[2], proposal_id)

    def refused_transfer(
        self, token: Bound, holder: str, receiver: str, amount: int, rule: str
    ) -> None:
        try:
            tokens.transfer(self.platform, holder, token, receiver, amount)
        except AmanatError as exc:
            if exc.rule != rule:
                raise AmanatError(
                    f"expected refusal by rule {rule}, got {exc.rule}: {exc.message}"
                ) from None
            symbol = token.read("symbol")
            self.say(
                f"REFUSED  {amount:>9,} {symbol:<10} {holder} -> {receiver}: [{exc.rule}] {exc.message}"
            )
            self.refusals.append({"token": symbol, "rule": exc.rule, "reason": exc.message})
            return
        raise AmanatError(f"a transfer that rule {rule} should refuse went through")

    def passed_transfer(self, token: Bound, holder: str, receiver: str, amount: int) -> None:
        result = tokens.transfer(self.platform, holder, token, receiver, amount)
        self.say(
            f"OK       {amount:>9,} {token.read('symbol'):<10} {holder} -> {receiver} "
            f"(block {result['block']}, {result['gas_used']:,} gas)"
        )


def run(
    data_dir: Path,
    echo: Callable[[str], None],
    keep_running: bool = False,
    year_months: int = 0,
) -> dict[str, Any]:
    """Run the whole scenario in a fresh `data_dir`; returns the final summary. With
    `year_months`, that many months of the pilot's market follow (`amanat.pilot_year`, as
    `make run` plays twelve), summarised under "year"."""
    started = time.monotonic()
    AnvilNode(data_dir).stop()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    settings = Settings.resolve(str(data_dir))
    platform = Platform.open(settings, require_deployment=False)
    try:
        summary = load(platform, echo)
        if year_months:
            from amanat import pilot_year

            summary["year"] = pilot_year.play(platform, echo, year_months)
    finally:
        if not keep_running:
            AnvilNode(data_dir).stop()
    summary["seconds"] = round(time.monotonic() - started, 1)
    echo(f"\nDemo finished in {summary['seconds']} s; data in {data_dir}")
    return summary


def load(platform: Platform, echo: Callable[[str], None]) -> dict[str, Any]:
    """Play the pilot scenario on an open platform with nothing deployed yet."""
    return _scenario(Scenario(platform, echo))


def _scenario(s: Scenario) -> dict[str, Any]:
    platform = s.platform
    chain = platform.chain

    s.step("Start the embedded chain and deploy Amanat's contracts")
    platform.deploy_development()
    for name, contract in platform.manifest.contracts.items():
        s.say(f"{name:<17} {contract.address}")
    s.say("officials: official-1, official-2, official-3; 2 approvals needed (development keys)")

    s.step("The Ministry of Finance registers three assets with their authorisations")
    now = chain.block_timestamp()
    tbill_auth = s.document(
        "tbill-auth.txt",
        "Public Debt Act 1944, s.3; Notification F.4(1)-DM/2026-117: "
        "issue of 3-month Market Treasury Bills up to 1,000,000 units of PKR 100.",
    )
    sukuk_auth = s.document(
        "sukuk-auth.txt",
        "Notification F.4(2)-DM/2026-52: GoP Ijara Sukuk 2029, "
        "underlying: Pak Secretariat Block C, Islamabad; up to 500,000 units.",
    )
    land_auth = s.document(
        "land-auth.txt",
        "Cabinet decision 14/2026: fractional tokenization of "
        "parcel ISB-G5-1-0423 (Islamabad) in 10,000 units.",
    )
    tbill = assets.register(
        platform,
        "issuer",
        AssetClass.T_BILL,
        "PK0123TB3M26",
        "3-month Market Treasury Bill (Feb 2027)",
        "Ministry of Finance (Debt Office)",
        "Notification F.4(1)-DM/2026-117",
        tbill_auth,
        1_000_000,
    )
    sukuk = assets.register(
        platform,
        "issuer",
        AssetClass.SUKUK,
        "PK0456IJ2029",
        "GoP Ijara Sukuk 2029 - Pak Secretariat Block C",
        "Ministry of Finance",
        "Notification F.4(2)-DM/2026-52",
        sukuk_auth,
        500_000,
    )
    land = assets.register(
        platform,
        "issuer",
        AssetClass.REAL_ESTATE,
        "ISB-G5-1-0423",
        "Land parcel G-5/1 plot 423, Islamabad",
        "Ministry of Housing and Works",
        "Cabinet decision 14/2026",
        land_auth,
        10_000,
    )
    deed_building = s.document(
        "deed-secretariat-c.txt", "Title deed: Pak Secretariat Block C, Islamabad"
    )
    building = assets.register(
        platform,
        "issuer",
        AssetClass.REAL_ESTATE,
        "ISB-SECRETARIAT-C",
        "Pak Secretariat Block C, Islamabad",
        "Ministry of Housing and Works",
        "Cabinet decision 9/2026",
        deed_building,
        1,
    )
    assets.link_underlying(platform, "issuer", sukuk, building)
    s.say(
        f"asset {building} (the building) is the sukuk's underlying: it cannot be retired "
        "while the sukuk is outstanding"
    )
    deed_land = s.document("deed-g5-1-423.txt", "Title deed: plot 423, sector G-5/1, Islamabad")
    assets.attach_document(platform, "issuer", sukuk, DocumentKind.TITLE_DEED, deed_building)
    assets.attach_document(platform, "issuer", land, DocumentKind.TITLE_DEED, deed_land)
    for asset_id in (tbill, sukuk, land):
        record = assets.show(platform, asset_id)
        s.say(f"asset {asset_id}: {record['class']:<12} {record['legal_id']:<14} {record['name']}")

    s.step("A valuer values the building and the parcel; officials accept the valuations")
    for asset_id, amount, report in (
        (sukuk, 52_000_000_000_00, "valuation-secretariat-c.txt"),
        (land, 1_850_000_000_00, "valuation-g5-1-423.txt"),
    ):
        report_hash = s.document(
            report, f"Valuation report for asset {asset_id}: {format_pkr(amount)}"
        )
        index = assets.submit_valuation(
            platform, "valuer", asset_id, amount, now - DAY, report_hash
        )
        s.govern(
            platform.contract("AssetRegistry"),
            "acceptValuation",
            [asset_id, index],
            f"accept valuation of asset {asset_id}: {format_pkr(amount)}",
        )

    s.step("2-of-3 officials approve the assets for tokenization")
    for asset_id in (tbill, sukuk, land):
        s.govern(
            platform.contract("AssetRegistry"),
            "setStatus",
            [asset_id, int(AssetStatus.APPROVED)],
            f"approve asset {asset_id}",
        )

    s.step("Tokenize each asset with its compliance rules")
    all_but_retail = frozenset(InvestorCategory) - {InvestorCategory.RETAIL}
    now = chain.block_timestamp()
    plans = [
        (
            tbill,
            "3M T-Bill Feb 2027",
            "PKTB3M",
            TokenRules(
                eligible_categories=all_but_retail,
                foreign_cap_bps=2500,
                holding_cap=600_000,
                minimum_holding=1_000,
            ),
            "institutions only (no retail), foreign ownership <= 25%, <= 600,000 per institution, min 1,000",
        ),
        (
            sukuk,
            "GoP Ijara Sukuk 2029",
            "PKSUK29",
            TokenRules(
                country_mode="allow",
                countries=tuple(COUNTRY_CODES[c] for c in ("PK", "AE", "SA", "QA", "MY")),
                lockup_until=now + 90 * DAY,
            ),
            "holders in PK, AE, SA, QA, MY only; 90-day lock-up",
        ),
        (
            land,
            "Plot G-5/1-423 fractions",
            "ISBG5423",
            TokenRules(country_mode="allow", countries=(PK,), max_holders=3, minimum_holding=100),
            "domestic holders only, at most 3 holders, min 100 units",
        ),
    ]
    for asset_id, name, symbol, rules, description in plans:
        s.govern(
            platform.contract("TokenFactory"),
            "createToken",
            tokens.tokenize_args(asset_id, name, symbol, 0, rules),
            f"tokenize asset {asset_id} as {symbol}",
        )
        s.say(f"{symbol}: {description}")
    tb, sk, ld = (tokens.token_for_asset(platform, a) for a in (tbill, sukuk, land))

    s.step("The registrar onboards five institutions (only KYC hashes go on chain)")
    expiry = chain.block_timestamp() + 365 * DAY
    for key, name, country, category in INSTITUTIONS:
        record = {
            "legal_name": name,
            "registration_no": f"REG-{key.upper()}",
            "country": country,
            "contact": f"compliance@{key}.example",
        }
        number = identities.onboard(
            platform, "registrar", name, record, COUNTRY_CODES[country], category, expiry, [key]
        )
        s.say(
            f"identity {number}: {name:<32} {country}  {category.label:<20} wallet {platform.address_of(key)}"
        )

    s.step("Officials mint under each statutory authorisation")
    for token, receiver, amount in (
        (tb, "inb", 500_000),
        (tb, "kla", 200_000),
        (tb, "fepf", 100_000),
        (sk, "inb", 300_000),
        (sk, "ghc", 100_000),
        (ld, "inb", 6_000),
        (ld, "kla", 4_000),
    ):
        s.govern(
            token,
            "mint",
            [platform.address_of(receiver), amount],
            f"mint {amount:,} {token.read('symbol')} to {receiver}",
        )
    over = tokens.mint_precheck(platform, tb, platform.address_of("kla"), 300_000)
    s.say(
        f"REFUSED  mint of 300,000 PKTB3M more: [{over.code.rule}] {over.code.reason}: {over.detail}"
    )
    s.refusals.append({"token": "PKTB3M", "rule": over.code.rule, "reason": over.detail})

    s.step("Secondary transfers: compliant ones settle, each rule refuses the others")
    s.passed_transfer(tb, "inb", "kla", 10_000)
    s.passed_transfer(tb, "inb", "ghc", 50_000)
    s.passed_transfer(ld, "kla", "fepf", 1_000)
    s.refused_transfer(tb, "inb", "retail-0001", 5_000, "category-not-eligible")
    s.refused_transfer(
        tb, "inb", "0x000000000000000000000000000000000000dEaD", 5_000, "receiver-not-verified"
    )
    s.refused_transfer(tb, "inb", "ghc", 200_000, "foreign-cap")
    s.refused_transfer(tb, "kla", "inb", 170_000, "holding-cap")
    s.refused_transfer(tb, "fepf", "kla", 99_500, "minimum-holding")
    s.refused_transfer(ld, "inb", "ghc", 500, "country-not-allowed")
    s.refused_transfer(ld, "inb", "retail-0001", 500, "max-holders")
    s.refused_transfer(sk, "inb", "fepf", 1_000, "locked-up")
    s.refused_transfer(tb, "kla", "fepf", 999_999, "insufficient-balance")

    s.step("Emergency pause of PKTB3M (no timelock), then resume")
    s.govern(tb, "pause", [], "pause PKTB3M")
    s.refused_transfer(tb, "inb", "kla", 1_000, "paused")
    s.govern(tb, "unpause", [], "unpause PKTB3M")

    s.step("A court order is enforced: forced transfer with its evidence hash")
    try:
        governance.propose(
            platform,
            OFFICIALS[0],
            tb,
            "forcedTransfer",
            [platform.address_of("ghc"), platform.address_of("inb"), 20_000],
            None,
        )
    except AmanatError as exc:
        s.say(f"REFUSED  forced transfer without evidence: [{exc.rule}] {exc.message}")
        s.refusals.append({"token": "PKTB3M", "rule": exc.rule, "reason": exc.message})
    order = s.document(
        "ihc-order-wp-1234-2026.txt",
        "Islamabad High Court, W.P. 1234/2026: 20,000 PKTB3M held by Gulf Horizon Capital "
        "to be transferred to Indus National Bank in satisfaction of decree.",
    )
    s.govern(
        tb,
        "forcedTransfer",
        [platform.address_of("ghc"), platform.address_of("inb"), 20_000],
        "forced transfer of 20,000 PKTB3M ghc -> inb",
        evidence=order,
    )
    s.say(f"evidence (SHA-256 of the court order): {order}")

    s.step("A freeze on an AML notice: the wallet can no longer send")
    notice = s.document(
        "fmu-notice-77-2026.txt",
        "Financial Monitoring Unit notice 77/2026: freeze "
        "PKSUK29 holdings of Gulf Horizon Capital pending inquiry.",
    )
    s.govern(
        sk,
        "setAddressFrozen",
        [platform.address_of("ghc"), True],
        "freeze ghc on PKSUK29",
        evidence=notice,
    )
    chain.advance_time(91 * DAY)
    s.say("embedded clock moved 91 days: the PKSUK29 lock-up has ended")
    s.passed_transfer(sk, "inb", "fepf", 1_000)
    s.refused_transfer(sk, "ghc", "inb", 1_000, "sender-frozen")

    lifecycle_assets = _lifecycle(s, sk, building)

    s.step("Summary")
    asset_rows = []
    for asset_id in (tbill, sukuk, land, *lifecycle_assets):
        record = assets.show(platform, asset_id)
        token = tokens.token_for_asset(platform, asset_id)
        asset_rows.append(
            {
                "asset": asset_id,
                "class": record["class"],
                "legal id": record["legal_id"],
                "token": token.read("symbol"),
                "supply": token.read("totalSupply"),
                "authorised": record["authorisation"]["max_units"],
                "holders": token.read("holderCount"),
                "value": format_pkr(record["current_value_minor"])
                if record["current_value_minor"]
                else "-",
            }
        )
    s.echo(table(asset_rows))
    holder_rows = []
    for token in (tb, sk, ld, *(tokens.token_for_asset(platform, a) for a in lifecycle_assets)):
        for row in tokens.holders(platform, token):
            holder_rows.append(
                {
                    "token": token.read("symbol"),
                    "institution": row["institution"],
                    "country": row["country"],
                    "category": row["category"],
                    "balance": row["balance"],
                    "frozen": "yes" if row["wallet_frozen"] else "",
                }
            )
    s.echo("")
    s.echo(table(holder_rows))
    journal = chain.journal
    s.echo(
        f"\nrefusals shown: {len(s.refusals)}; transactions journaled: {journal.count()}; "
        f"blocks: {chain.block_number()}; deployment manifest: {platform.settings.manifest_path}"
    )
    return {
        "assets": asset_rows,
        "holders": holder_rows,
        "refusals": s.refusals,
        "lifecycle": s.lifecycle,
        "transactions": journal.count(),
        "blocks": chain.block_number(),
    }


def _lifecycle(s: Scenario, sukuk_token: Bound, building: int) -> tuple[int, int]:
    """Cash, a T-bill auction with DvP settlement, a secondary DvP, sukuk rent, a commodity
    receipt capped by its reserve, and redemption at maturity. Returns the new assets' ids and
    records the outcomes in `s.lifecycle`."""
    platform = s.platform
    chain = platform.chain
    registry = platform.contract("AssetRegistry")
    all_but_retail = frozenset(InvestorCategory) - {InvestorCategory.RETAIL}

    s.step("The central bank issues tokenized PKR (PKRT) against RTGS deposits, 2-of-3 approved")
    cash_token = platform.contract("CashToken")
    for key, amount in (
        ("inb", 60_000_000_00),
        ("kla", 30_000_000_00),
        ("fepf", 20_000_000_00),
        ("ghc", 15_000_000_00),
    ):
        reference = cash.reference_hash(f"SBP RTGS deposit {key.upper()}-2026-0001")
        s.govern(
            cash_token,
            "issueCash",
            [platform.address_of(key), amount, bytes.fromhex(reference[2:])],
            f"issue {format_pkr(amount)} PKRT to {key}",
        )

    s.step("A 3-month T-bill is auctioned: sealed bids from 5 institutions, one refused")
    auth = s.document(
        "tbill-auction-auth.txt",
        "Notification F.4(1)-DM/2026-131: auction of 3-month Market Treasury Bills, "
        "up to 2,000,000 units of PKR 100.",
    )
    bill = assets.register(
        platform,
        "issuer",
        AssetClass.T_BILL,
        "PK0789TB3M27",
        "3-month Market Treasury Bill (auctioned)",
        "Ministry of Finance (Debt Office)",
        "Notification F.4(1)-DM/2026-131",
        auth,
        2_000_000,
    )
    s.govern(registry, "setStatus", [bill, int(AssetStatus.APPROVED)], f"approve asset {bill}")
    s.govern(
        platform.contract("TokenFactory"),
        "createToken",
        tokens.tokenize_args(
            bill,
            "3M T-Bill (auction 131)",
            "PKTB3MA",
            0,
            TokenRules(eligible_categories=all_but_retail, foreign_cap_bps=2500),
            maturity=chain.block_timestamp() + 86 * DAY,  # settles in 2 days, 84-day tenor
        ),
        f"tokenize asset {bill} as PKTB3MA",
    )
    bill_token = tokens.token_for_asset(platform, bill)
    now = chain.block_timestamp()
    close, reveal_by, settle_at = now + DAY, now + DAY + 6 * 3600, now + 2 * DAY
    auction_id = auctions.announce(
        platform,
        "issuer",
        bill_token,
        500_000,
        100_00,
        close,
        reveal_by,
        settle_at,
        Pricing.MULTIPLE,
        AUCTION_DEPOSIT_MINOR,
    )
    s.say(
        f"auction {auction_id}: 500,000 units of PKR 100 face, multiple price; each sealed bid "
        f"pays a {format_pkr(AUCTION_DEPOSIT_MINOR)} deposit; bids close in 24 h, settle T+2"
    )
    for key, units, rate in (
        ("inb", 250_000, Decimal("0.1190")),
        ("kla", 150_000, Decimal("0.1195")),
        ("fepf", 50_000, None),
        ("ghc", 100_000, Decimal("0.1195")),
        ("retail-0001", 10_000, Decimal("0.1150")),
    ):
        bid_text = f"{units:,} @ {rate:.2%}" if rate is not None else f"{units:,} non-competitive"
        try:
            sealed = auctions.bid(platform, key, auction_id, units, rate)
        except AmanatError as exc:
            s.say(f"REFUSED  bid from {key}: [{exc.rule}] {exc.message}")
            s.refusals.append({"token": "PKTB3MA", "rule": exc.rule, "reason": exc.message})
            continue
        s.say(
            f"sealed   {key:<5} commitment {sealed['commitment'][:18]}… (bid {bid_text} kept by the bidder)"
        )
    chain.advance_time(close - chain.block_timestamp())
    s.say(
        "embedded clock moved to the close; bidders reveal: deposits come back and the bids' "
        "face value in PKRT is locked"
    )
    for key in ("inb", "kla", "fepf", "ghc"):
        opened = auctions.reveal(platform, key, auction_id)
        s.say(
            f"revealed {key:<5} {opened['units']:>9,} units at "
            f"{opened['yield'] or 'non-competitive'}; locked {format_pkr(opened['locked_cash_minor'])}"
        )
    chain.advance_time(settle_at - chain.block_timestamp())
    cutoff = Decimal("0.1195")
    proposal_id, rows = auctions.propose_settlement(platform, OFFICIALS[0], auction_id, cutoff, 91)
    s.say(
        f"cut-off yield {cutoff:.2%}; allocation (multiple price: each accepted bid at its own "
        "yield, non-competitive at the weighted average, pro rata at the cut-off):"
    )
    s.echo(
        table(
            [
                {
                    "bidder": identities.name_of(platform, r["bidder"]),
                    "bid": r["bid_units"],
                    "bid yield": f"{Decimal(r['bid_yield']):.2%}" if r["bid_yield"] else "non-comp",
                    "allotted": r["units"],
                    "yield": f"{Decimal(r['yield']):.4%}" if r["yield"] else "-",
                    "pays": r["payment"],
                }
                for r in rows
            ]
        )
    )
    s.carry(
        proposal_id,
        f"settle auction {auction_id} (DvP: units against PKRT, all or nothing per bidder)",
    )
    settled = [
        e for e in auctions.show(platform, auction_id)["events"] if e["event"] == "BidSettled"
    ]
    s.lifecycle["auction"] = {
        "auction": auction_id,
        "settled_bidders": len(settled),
        "issued_units": sum(e["units"] for e in settled),
        "proceeds_minor": sum(e["payment"] for e in settled),
    }
    s.say(
        f"settled {len(settled)} bidders atomically: {sum(e['units'] for e in settled):,} PKTB3MA "
        f"issued against {format_pkr(sum(e['payment'] for e in settled))} paid to the treasury"
    )

    s.step("Secondary DvP: KLA sells 20,000 PKTB3MA to FEPF against PKRT")
    price = tbill_payment(20_000, 100_00, Decimal("0.1180"), 89)
    try:
        dvp.instruct(
            platform, "kla", bill_token, "retail-0001", 20_000, price, chain.block_timestamp() + DAY
        )
    except AmanatError as exc:
        s.say(f"REFUSED  DvP to retail-0001: [{exc.rule}] {exc.message}")
        s.refusals.append({"token": "PKTB3MA", "rule": exc.rule, "reason": exc.message})
    instruction = dvp.instruct(
        platform, "kla", bill_token, "fepf", 20_000, price, chain.block_timestamp() + DAY
    )
    s.say(
        f"instruction {instruction['instruction']}: kla's 20,000 units locked; "
        f"price {instruction['cash']} (11.80%)"
    )
    dvp.affirm(platform, "fepf", instruction["instruction"])
    s.say(f"fepf affirms: {instruction['cash']} locked")
    done = dvp.settle(platform, "fepf", instruction["instruction"])
    s.lifecycle["dvp"] = done
    s.say(f"settled atomically: state {done['state']}; both legs moved in one transaction")

    s.step(
        "Ijara rent on the sukuk: paid in PKRT to holders of record; a frozen holder's rent is held"
    )
    record_block = chain.block_number()
    lease = IjaraSukuk(date(2026, 1, 15), date(2029, 1, 15), Decimal("0.1050"))
    first = lease.rental_schedule(sukuk_token.read("totalSupply") * 100_00, Calendar())[0]
    rent = first.rent_minor
    s.say(
        f"rent for {first.period.start} to {first.period.end} at 10.50% on PKR 100 face per "
        f"unit: {format_pkr(rent)}"
    )
    proposal_id, declared = distributions.propose_declare(
        platform, OFFICIALS[0], sukuk_token, distributions.KINDS["rent"], rent, record_block
    )
    s.say(
        f"holders of record at block {record_block}: {declared['holders']}; payout root {declared['root'][:18]}…"
    )
    s.carry(proposal_id, f"declare rent of {format_pkr(rent)} on PKSUK29")
    distribution_id = platform.contract("Distributor").read("distributionCount")
    paid = distributions.pay(platform, "issuer", distribution_id)
    s.lifecycle["rent"] = paid
    s.say(
        f"paid {paid['paid']}, held {paid['held']} (Gulf Horizon Capital is frozen); total {paid['total']} exactly"
    )
    try:
        retire = governance.propose(
            platform, OFFICIALS[0], registry, "setStatus", [building, int(AssetStatus.RETIRED)]
        )
        s.carry(retire, f"retire asset {building} (the sukuk's building)")
    except AmanatError as exc:
        s.say(f"REFUSED  retiring the building: [{exc.rule}] {exc.message}")
        s.refusals.append({"token": "PKSUK29", "rule": exc.rule, "reason": exc.message})

    s.step("A commodity receipt: wheat in PASSCO's Multan vault, capped by its attested reserve")
    wheat_auth = s.document(
        "wheat-auth.txt",
        "ECC decision 41/2026: receipts for strategic wheat reserves up to 100,000 tonnes.",
    )
    wheat = assets.register(
        platform,
        "issuer",
        AssetClass.COMMODITY_RESERVE,
        "PASSCO-MUL-WHEAT-01",
        "Strategic wheat reserve, PASSCO Multan vault (tonnes)",
        "Ministry of National Food Security",
        "ECC decision 41/2026",
        wheat_auth,
        100_000,
    )
    s.govern(registry, "setStatus", [wheat, int(AssetStatus.APPROVED)], f"approve asset {wheat}")
    s.govern(
        platform.contract("TokenFactory"),
        "createToken",
        tokens.tokenize_args(
            wheat,
            "PASSCO wheat receipt",
            "PKWHEAT",
            0,
            TokenRules(eligible_categories=all_but_retail),
        ),
        f"tokenize asset {wheat} as PKWHEAT",
    )
    report = s.document("wheat-count-2026-q4.txt", "Stock count, Multan vault: 40,000 tonnes.")
    assets.attest_reserve(platform, "reserve-auditor", wheat, 40_000, report)
    s.say("the reserve auditor attests 40,000 tonnes in the vault (report hash on chain)")
    wheat_token = tokens.token_for_asset(platform, wheat)
    s.govern(
        wheat_token, "mint", [platform.address_of("inb"), 35_000], "mint 35,000 PKWHEAT to inb"
    )
    over = tokens.mint_precheck(platform, wheat_token, platform.address_of("kla"), 10_000)
    s.say(
        f"REFUSED  mint of 10,000 PKWHEAT more: [{over.code.rule}] {over.code.reason}: {over.detail}"
    )
    s.refusals.append({"token": "PKWHEAT", "rule": over.code.rule, "reason": over.detail})

    s.step("Maturity: PKTB3MA is redeemed at par against PKRT, units burned in the same step")
    chain.advance_time(91 * DAY)
    s.say("embedded clock moved 91 days to maturity")
    maturity_notice = s.document(
        "mof-maturity-notice-pktb3ma.txt",
        "Ministry of Finance: PKTB3MA (3-month T-bill) reaches maturity and is redeemed at par "
        "against PKRT to the holders of record.",
    )
    s.govern(bill_token, "markMatured", [], "mark PKTB3MA matured", evidence=maturity_notice)
    s.refused_transfer(bill_token, "inb", "kla", 1_000, "matured")
    supply = bill_token.read("totalSupply")
    topup = cash.reference_hash("MoF budget allocation 2026-27/DS-14")
    s.govern(
        cash_token,
        "issueCash",
        [platform.manifest.address("Governance"), 10_000_000_00, bytes.fromhex(topup[2:])],
        "fund the treasury with PKR 10,000,000.00 for redemptions",
    )
    proposal_id, declared = distributions.propose_declare(
        platform,
        OFFICIALS[0],
        bill_token,
        distributions.KINDS["redemption"],
        supply * 100_00,
        chain.block_number(),
        evidence=maturity_notice,
    )
    s.carry(proposal_id, f"redeem {supply:,} PKTB3MA at par ({declared['total']})")
    distribution_id = platform.contract("Distributor").read("distributionCount")
    paid = distributions.pay(platform, "issuer", distribution_id)
    s.lifecycle["redemption"] = paid
    s.say(
        f"redeemed: {paid['paid']} paid to {paid['holders']} holders; "
        f"PKTB3MA supply now {bill_token.read('totalSupply')}"
    )
    s.govern(
        registry, "setStatus", [bill, int(AssetStatus.REDEEMED)], f"mark asset {bill} redeemed"
    )
    return bill, wheat
