"""A year of the pilot's market after the pilot scenario (`make run`, `amanat serve --pilot`).

`amanat.demo` shows each rule once with five institutions; this module continues from where it
ends and plays `months` of market activity (twelve by default) through the same services an
operator uses, so that the portal's charts, the cap tables and the disclosure groups have
something to show:

- 27 more institutions across every investor category and seven countries (32 in all), the
  pilot's five renewed at their annual KYC review, and PKRT issued to each against RTGS deposits;
- a 5-year PIB whose holdings are migrated from the legacy register, and the Ijara sukuk placed
  with more holders;
- each quarter the Debt Office's auction calendar (three 3-month T-bills registered, approved
  and tokenized), the valuer's reports on the building, the sukuk and the land parcel (accepted
  2-of-3), the reserve auditor's count of the wheat, and the parcel's ground rent;
- each month a multiple-price auction of that month's bill: sealed bids from about 25
  institutions, reveals, the cut-off at the marginal accepted yield, settlement 2-of-3;
- each week three secondary DvP trades between six institutions in the latest bill (enough
  parties for the day's price to be published);
- at each bill's maturity (84 days) its redemption at par; the PIB's coupons and the sukuk's
  rent on their dates.

Every privileged step is proposed by one official, approved by a second and executed by a third
(2 of 3), the embedded chain's clock moved past each timelock as the demo does. To keep
`make run` short the independent steps of one moment are sent together: the proposals of a
batch in one block, their approvals in the next, their executions after the timelock; bids,
reveals, onboardings and valuation reports in parallel; transfers with `tokens.transfer_batch`.
The tests' scenario (`demo.load`) is unchanged: only `serve --pilot` (and tests that ask for it)
play the year.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from amanat.chain.client import Receipt
from amanat.demo import AUCTION_DEPOSIT_MINOR, DAY, INSTITUTIONS, OFFICIALS, Scenario
from amanat.domain.assets import AssetClass, AssetStatus
from amanat.domain.auction import Pricing, tbill_payment, valid_cutoffs
from amanat.domain.daycount import Calendar, add_months
from amanat.domain.distribution import KINDS
from amanat.domain.identity import COUNTRY_CODES, InvestorCategory
from amanat.domain.instruments import FixedRateBond, IjaraSukuk
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
from amanat.services.platform import Bound, Platform, Prepared, read_many

T = TypeVar("T")
R = TypeVar("R")

MONTHS = 12
TENOR_DAYS = 84  # SBP's 3-month bill, as announced in days
FACE_MINOR = 100_00  # PKR 100 a unit
OFFERED_UNITS = 5_000_000  # PKR 500 million face a month
PARALLEL = 8
HOUR = 3600

B, INS, PEN, MF, GOV, FOR, RET, BD = (
    InvestorCategory.BANK,
    InvestorCategory.INSURER,
    InvestorCategory.PENSION_FUND,
    InvestorCategory.MUTUAL_FUND,
    InvestorCategory.GOVERNMENT_ENTITY,
    InvestorCategory.FOREIGN_INSTITUTION,
    InvestorCategory.RETAIL,
    InvestorCategory.BROKER_DEALER,
)

# The institutions onboarded at the start of the year (key, name, country, category); with the
# pilot's five, 32 institutions. Names are invented.
YEAR_INSTITUTIONS = [
    ("mgb", "Margalla Bank", "PK", B),
    ("ccb", "Chenab Commercial Bank", "PK", B),
    ("mbc", "Mehran Bank of Commerce", "PK", B),
    ("bib", "Bolan Islamic Bank", "PK", B),
    ("kmb", "Khyber Mercantile Bank", "PK", B),
    ("sgi", "Sutlej General Insurance", "PK", INS),
    ("ttk", "Thar Takaful", "PK", INS),
    ("hzl", "Hunza Life Assurance", "PK", INS),
    ("ptpf", "Punjab Teachers Pension Fund", "PK", PEN),
    ("kppf", "Khyber Pakhtunkhwa Pension Fund", "PK", PEN),
    ("immf", "Indus Money Market Fund", "PK", MF),
    ("cif", "Crescent Income Fund", "PK", MF),
    ("jiif", "Jhelum Islamic Income Fund", "PK", MF),
    ("prpt", "Railways Provident Trust", "PK", GOV),
    ("wprf", "Water and Power Reserve Fund", "PK", GOV),
    ("nhsf", "Highways Sinking Fund", "PK", GOV),
    ("dci", "Doha Crescent Investments", "QA", FOR),
    ("rgam", "Riyadh Gulf Asset Management", "SA", FOR),
    ("klsf", "Kuala Lumpur Sukuk Fund", "MY", FOR),
    ("tfc", "Thames Frontier Capital", "GB", FOR),
    ("sedf", "Straits Emerging Debt Fund", "SG", FOR),
    ("bosc", "Bosphorus Capital", "TR", FOR),
    ("ksec", "Karachi Securities", "PK", BD),
    ("lcm", "Lahore Capital Markets", "PK", BD),
    ("itb", "Islamabad Treasury Brokers", "PK", BD),
    ("retail-0002", "Retail investor R-0002", "PK", RET),
    ("retail-0003", "Retail investor R-0003", "PK", RET),
]
ALL_INSTITUTIONS = [*INSTITUTIONS, *YEAR_INSTITUTIONS]
SUKUK_COUNTRIES = {"PK", "AE", "SA", "QA", "MY"}
CATEGORY = {key: category for key, _, _, category in ALL_INSTITUTIONS}
COUNTRY = {key: country for key, _, country, _ in ALL_INSTITUTIONS}
# The wallet frozen on PKSUK29 by the pilot's AML notice: it keeps what it holds.
FROZEN_ON_SUKUK = "ghc"


@dataclass(frozen=True)
class Action:
    """One governed call of a batch."""

    target: Bound
    function: str
    args: list[Any]
    what: str
    evidence: str | None = None


@dataclass
class Bill:
    month: int
    asset: int
    symbol: str
    token: Bound | None = None
    auction: int | None = None
    settle_at: int = 0
    matures_at: int = 0
    redeemed: bool = False


@dataclass
class Outcome:
    """What the year did, for the summary and the tests."""

    auctions: list[dict[str, Any]] = field(default_factory=list)
    dvp_days: list[dict[str, Any]] = field(default_factory=list)
    valuations: dict[int, int] = field(default_factory=dict)
    distributions: list[dict[str, Any]] = field(default_factory=list)
    redemptions: list[str] = field(default_factory=list)


def parallel(action: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`action` on each item in threads: their transactions share blocks (the chain gateway
    groups concurrent writers); results in the items' order."""
    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(action, items))


def send_all(platform: Platform, items: list[tuple[str, Prepared]]) -> list[Receipt]:
    """Prepared writes (key name, write) signed, journaled and mined together; their receipts
    (a write's `finish` reads its result back: called only where the result is needed). One
    that fails on chain stops the year with its description."""
    if not items:
        return []
    hashes = platform.chain.submit_batch(
        [(platform.signer(key), prepared.request) for key, prepared in items]
    )
    receipts = platform.chain.confirm(hashes)
    for receipt, (_, prepared) in zip(receipts, items, strict=True):
        if not receipt.status:
            raise AmanatError(
                f"{prepared.request.description or 'a transaction'} failed on chain in block "
                f"{receipt.block_number} ({receipt.tx_hash})"
            )
    return receipts


def _day(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, UTC).date()


def _at(day: date, hour: int = 5) -> int:
    """A day's `hour` o'clock UTC (05:00 UTC is 10:00 in Islamabad) as a timestamp."""
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())


class Year:
    def __init__(self, s: Scenario, months: int) -> None:
        self.s = s
        self.platform = s.platform
        self.chain = s.platform.chain
        self.months = months
        self.rng = random.Random(2027)
        self.outcome = Outcome()
        self.pending: list[Action] = []  # governed steps that wait for the next batch
        self.bills: list[Bill] = []
        start = _day(self.chain.block_timestamp()).toordinal() + 1
        self.start = date.fromordinal(start)
        self.end = _at(add_months(self.start, months))
        self.registry = self.platform.contract("AssetRegistry")
        self.distributor = self.platform.contract("Distributor")
        self.governance = self.platform.contract("Governance")
        self.settlement = self.platform.contract("Settlement")

    # ------------------------------------------------------------ helpers

    def advance_to(self, timestamp: int) -> None:
        now = self.platform.clock.chain_time()
        if timestamp > now:
            self.chain.advance_time(timestamp - now)

    def govern_all(self, actions: list[Action], summary: str | None = None) -> None:
        """Each action (after those pending) proposed by official-1 (all in one block),
        approved by official-2 (2 of 3), the clock moved past the longest timelock, executed by
        official-3. `summary` describes `actions` in the output instead of one line each."""
        whats = [a.what for a in self.pending]
        whats += [summary] if summary and actions else [a.what for a in actions]
        actions = [*self.pending, *actions]
        self.pending = []
        if not actions:
            return
        proposer = self.platform.signer(OFFICIALS[0]).address
        receipts = send_all(
            self.platform,
            [
                (
                    OFFICIALS[0],
                    governance.prepare_propose(
                        self.platform, proposer, a.target, a.function, a.args, a.evidence
                    ),
                )
                for a in actions
            ],
        )
        self.carry_all(self.proposal_ids(receipts), whats)

    def proposal_ids(self, receipts: list[Receipt]) -> list[int]:
        events = self.governance.events
        return [int(events(r, "ProposalCreated")[0]["proposalId"]) for r in receipts]

    def carry_all(self, proposal_ids: list[int], whats: list[str]) -> None:
        approver = self.platform.signer(OFFICIALS[1]).address
        send_all(
            self.platform,
            [
                (OFFICIALS[1], governance.prepare_approve(self.platform, approver, number))
                for number in proposal_ids
            ],
        )
        # each proposal's stored state: its timelock ends at `ready` (the sixth field)
        stored = read_many([(self.governance, "getProposal", (n,)) for n in proposal_ids])
        ready = max(proposal[5] for proposal in stored)
        waiting = ready > self.platform.clock.chain_time()
        self.advance_to(ready)
        executor = self.platform.signer(OFFICIALS[2]).address
        send_all(
            self.platform,
            [
                (OFFICIALS[2], governance.prepare_execute(self.platform, executor, number))
                for number in proposal_ids
            ],
        )
        first, last = proposal_ids[0], proposal_ids[-1]
        numbers = f"proposal {first}" if first == last else f"proposals {first}-{last}"
        self.s.say(
            f"{numbers} ({'; '.join(whats)}): proposed by {OFFICIALS[0]}, approved by "
            f"{OFFICIALS[1]} (2 of 3), executed by {OFFICIALS[2]}"
            + (" after the timelock on the embedded clock" if waiting else "")
        )

    def base_yield(self, timestamp: int) -> Decimal:
        """The pilot's market yield: 11.50% easing by 7 bp a month."""
        months = (timestamp - _at(self.start)) / (30.4 * DAY)
        return (Decimal("0.1150") - Decimal(int(months * 7)) / 10_000).quantize(Decimal("0.0001"))

    def balances(self, token: Bound, keys: list[str]) -> dict[str, int]:
        values = read_many(
            [(token, "balanceOf", (self.platform.address_of(k),)) for k in keys]
            + [(token, "settlementLocked", (self.platform.address_of(k),)) for k in keys]
        )
        return {k: values[i] - values[len(keys) + i] for i, k in enumerate(keys)}

    # ------------------------------------------------------------ the year

    def run(self) -> dict[str, Any]:
        s = self.s
        s.step(
            f"A year of the pilot's market from {self.start} to {_day(self.end)} "
            "(embedded clock moved forward)"
        )
        self.advance_to(_at(self.start))
        self.setup()
        agenda: list[tuple[int, int, Callable[[], None]]] = []
        for month in range(self.months):
            first = add_months(self.start, month)
            if month % 3 == 0:
                agenda.append((_at(first), 0, partial(self.quarter, month)))
            monday = first + timedelta(days=(7 - first.weekday()) % 7)
            agenda.append((_at(monday), 1, partial(self.auction, month)))
        friday = self.start + timedelta(days=(4 - self.start.weekday()) % 7)
        while _at(friday) < self.end:
            agenda.append((_at(friday), 2, self.dvp_week))
            friday += timedelta(days=7)
        agenda += [(when, 3, partial(self.coupon, which)) for when, which in self.coupon_dates()]
        agenda.sort(key=lambda item: (item[0], item[1]))
        for when, _order, event in agenda:
            self.advance_to(when)
            self.mature_due()
            event()
        self.advance_to(self.end)
        self.mature_due()
        self.govern_all([])
        return self.summary()

    # ------------------------------------------------------------ set-up

    def setup(self) -> None:
        s, platform = self.s, self.platform
        s.step(f"The registrar onboards {len(YEAR_INSTITUTIONS)} more institutions")
        expiry = _at(self.start) + 2 * 365 * DAY

        def onboard(row: tuple[str, str, str, InvestorCategory]) -> int:
            key, name, country, category = row
            record = {
                "legal_name": name,
                "registration_no": f"REG-{key.upper()}",
                "country": country,
                "contact": f"compliance@{key}.example",
            }
            return identities.onboard(
                platform,
                "registrar",
                name,
                record,
                COUNTRY_CODES[country],
                category,
                expiry,
                [key],
            )

        numbers = parallel(onboard, YEAR_INSTITUTIONS)
        countries = sorted({c for _, _, c, _ in ALL_INSTITUTIONS})
        s.say(
            f"identities {min(numbers)}-{max(numbers)}: {len(ALL_INSTITUTIONS)} institutions in "
            f"all, in {len(countries)} countries ({', '.join(countries)}) and "
            f"{len(set(CATEGORY.values()))} categories"
        )
        registry = platform.contract("IdentityRegistry")

        def renew(key: str) -> None:
            number = registry.read("identityNumberOf", platform.address_of(key))
            country, category, _ = registry.read("identityOf", number)
            identities.update(
                platform,
                "registrar",
                number,
                identities.kyc_record(platform, number),
                country,
                InvestorCategory(category),
                expiry,
            )

        parallel(renew, [key for key, *_ in INSTITUTIONS])
        s.say(f"the pilot's {len(INSTITUTIONS)} institutions pass their annual KYC review")

        s.step("The central bank issues PKRT against RTGS deposits; the treasury is funded")
        cash_token = platform.contract("CashToken")
        actions = []
        for key, _name, _country, category in ALL_INSTITUTIONS:
            amount = {B: 5_000_000_000_00, RET: 50_000_000_00}.get(category, 2_000_000_000_00)
            reference = cash.reference_hash(f"SBP RTGS deposit {key.upper()}-{self.start.year}")
            actions.append(
                Action(
                    cash_token,
                    "issueCash",
                    [platform.address_of(key), amount, bytes.fromhex(reference[2:])],
                    f"{format_pkr(amount)} to {key}",
                )
            )
        budget = cash.reference_hash(f"MoF debt service allocation {self.start.year}")
        actions.append(
            Action(
                cash_token,
                "issueCash",
                [
                    platform.manifest.address("Governance"),
                    5_000_000_000_00,
                    bytes.fromhex(budget[2:]),
                ],
                "PKR 5,000,000,000.00 to the treasury for coupons, rent and redemptions",
            )
        )
        self.govern_all(
            actions,
            f"issue PKRT to {len(ALL_INSTITUTIONS)} institutions "
            f"({format_pkr(sum(a.args[1] for a in actions[:-1]))}) and "
            f"{format_pkr(actions[-1].args[1])} to the treasury for coupons, rent and redemptions",
        )

        s.step("A 5-year PIB: holdings migrated from the legacy register; the sukuk is placed")
        self.pib_issue = add_months(self.start, -5)
        self.pib = FixedRateBond(self.pib_issue, add_months(self.pib_issue, 60), Decimal("0.1225"))
        auth = s.document(
            "pib-auth.txt",
            "Notification F.4(3)-DM/2026-88: 5-year fixed-rate Pakistan Investment Bond, "
            "12.25% semi-annual, up to 20,000,000 units of PKR 100; holdings in the legacy "
            "register move to the tokenized register.",
        )
        pib_asset = assets.register(
            platform,
            "issuer",
            AssetClass.BOND,
            f"PK0PIB5Y{self.pib_issue:%y%m}",
            f"5-year PIB 12.25% ({self.pib.maturity:%b %Y})",
            "Ministry of Finance (Debt Office)",
            "Notification F.4(3)-DM/2026-88",
            auth,
            20_000_000,
        )
        self.govern_all(
            [
                Action(
                    self.registry,
                    "setStatus",
                    [pib_asset, int(AssetStatus.APPROVED)],
                    f"approve asset {pib_asset}",
                )
            ]
        )
        self.govern_all(
            [
                Action(
                    platform.contract("TokenFactory"),
                    "createToken",
                    tokens.tokenize_args(
                        pib_asset,
                        "PIB 5Y 12.25%",
                        "PKPIB5Y",
                        0,
                        TokenRules(
                            eligible_categories=frozenset(InvestorCategory) - {RET},
                            foreign_cap_bps=2500,
                        ),
                    ),
                    f"tokenize asset {pib_asset} as PKPIB5Y",
                )
            ]
        )
        self.pib_token = tokens.token_for_asset(platform, pib_asset)
        holders = [k for k, *_ in ALL_INSTITUTIONS if CATEGORY[k] is not RET]
        foreign = [k for k in holders if CATEGORY[k] is FOR][:3]
        domestic = [k for k in holders if CATEGORY[k] is not FOR]
        amounts = [self.rng.randrange(20, 120) * 10_000 for _ in domestic]
        amounts += [self.rng.randrange(10, 30) * 10_000 for _ in foreign]
        receivers = domestic + foreign
        self.govern_all(
            [
                Action(
                    self.pib_token,
                    "batchMint",
                    [[platform.address_of(k) for k in receivers], amounts],
                    f"mint {sum(amounts):,} PKPIB5Y to {len(receivers)} holders of record",
                )
            ]
        )
        sukuk = tokens.resolve(platform, "PKSUK29")
        placed = [
            k
            for k, *_ in ALL_INSTITUTIONS
            if COUNTRY[k] in SUKUK_COUNTRIES and k not in ("inb", "fepf", FROZEN_ON_SUKUK)
        ]
        results = tokens.transfer_batch(
            platform,
            [("inb", sukuk, k, self.rng.randrange(2, 12) * 1_000) for k in placed],
        )
        refused = [r for r in results if not r["allowed"]]
        if refused:
            raise AmanatError(f"sukuk placement refused: {refused}")
        s.say(
            f"PKPIB5Y: {sum(amounts):,} units to {len(receivers)} holders; PKSUK29: Indus "
            f"National Bank places units with {len(placed)} holders in "
            f"{', '.join(sorted(SUKUK_COUNTRIES))} (one transfer batch)"
        )

    # ------------------------------------------------------------ each quarter

    def quarter(self, month: int) -> None:
        s, platform = self.s, self.platform
        first = add_months(self.start, month)
        s.step(f"Quarter from {first}: auction calendar, valuations, reserve count, ground rent")
        bills: list[tuple[int, date, int]] = []
        for offset in range(3):
            if month + offset >= self.months:
                break
            issue = add_months(self.start, month + offset)
            number = len(self.bills) + len(bills) + 1
            bills.append((month + offset, issue, number))

        def register(item: tuple[int, date, int]) -> Bill:
            m, issue, number = item
            auth = s.document(
                f"tbill-calendar-{issue:%Y-%m}.txt",
                f"Notification F.4(1)-DM/{issue.year}-{200 + number}: auction of 3-month Market "
                f"Treasury Bills on {issue + timedelta(days=1)}, up to {OFFERED_UNITS:,} units of PKR 100.",
            )
            asset = assets.register(
                platform,
                "issuer",
                AssetClass.T_BILL,
                f"PK0TB3M{issue:%y%m%d}",
                f"3-month Market Treasury Bill (auction of {issue:%b %Y})",
                "Ministry of Finance (Debt Office)",
                f"Notification F.4(1)-DM/{issue.year}-{200 + number}",
                auth,
                OFFERED_UNITS,
            )
            return Bill(m, asset, f"TB3M{issue:%y%m}")

        new = [register(item) for item in bills]
        self.bills += new
        sukuk = tokens.resolve(platform, "PKSUK29").read("assetId")
        land = tokens.resolve(platform, "ISBG5423").read("assetId")
        building = self.registry.read("underlyingOf", sukuk)
        reports = [
            (sukuk, "the sukuk (usufruct of Pak Secretariat Block C)", 52_000_000_000_00, 150),
            (land, "land parcel G-5/1-423", 1_850_000_000_00, 250),
            (building, "Pak Secretariat Block C", 61_000_000_000_00, 120),
        ]
        quarter_number = month // 3 + 1

        def value(report: tuple[int, str, int, int]) -> int:
            asset, what, base, growth_bps = report
            amount = base * (10_000 + growth_bps * quarter_number) // 10_000
            document = s.document(
                f"valuation-{asset}-{first}.txt",
                f"Valuation report, {what}, as of {first}: {format_pkr(amount)}",
            )
            index = assets.submit_valuation(
                platform, "valuer", asset, amount, _at(first) - DAY, document
            )
            self.outcome.valuations[asset] = self.outcome.valuations.get(asset, 0) + 1
            return index

        indexes = parallel(value, reports)
        wheat_asset = tokens.resolve(platform, "PKWHEAT").read("assetId")
        count = s.document(
            f"wheat-count-{first}.txt",
            f"Stock count, Multan vault, {first}: {40_000 + 1_500 * quarter_number:,} tonnes.",
        )
        assets.attest_reserve(
            platform, "reserve-auditor", wheat_asset, 40_000 + 1_500 * quarter_number, count
        )
        actions = [
            Action(self.registry, "acceptValuation", [a, i], f"accept valuation of asset {a}")
            for (a, *_), i in zip(reports, indexes, strict=True)
        ]
        actions += [
            Action(
                self.registry,
                "setStatus",
                [b.asset, int(AssetStatus.APPROVED)],
                f"approve asset {b.asset}",
            )
            for b in new
        ]
        self.govern_all(actions)
        rules = TokenRules(
            eligible_categories=frozenset(InvestorCategory) - {RET}, foreign_cap_bps=2500
        )
        self.govern_all(
            [
                Action(
                    platform.contract("TokenFactory"),
                    "createToken",
                    tokens.tokenize_args(b.asset, f"3M T-Bill {b.symbol[4:]}", b.symbol, 0, rules),
                    f"tokenize asset {b.asset} as {b.symbol}",
                )
                for b in new
            ]
        )
        for b in new:
            b.token = tokens.token_for_asset(platform, b.asset)
        s.say(
            f"calendar: {', '.join(b.symbol for b in new)}; valuations accepted for assets "
            f"{sukuk}, {land}, {building}; wheat reserve attested"
        )
        parcel = tokens.resolve(platform, "ISBG5423")
        self.declare_and_pay([(parcel, KINDS["rent"], parcel.read("totalSupply") * 2_500_00)])

    # ------------------------------------------------------------ each month

    def auction(self, month: int) -> None:
        s, platform = self.s, self.platform
        bill = next(b for b in self.bills if b.month == month)
        assert bill.token is not None
        s.step(f"Auction of {bill.symbol}: multiple price, sealed bids, settlement 2-of-3")
        now = platform.clock.chain_time()
        close, reveal_by, settle_at = now + DAY, now + DAY + 6 * HOUR, now + 2 * DAY
        auction_id = auctions.announce(
            platform,
            "issuer",
            bill.token,
            OFFERED_UNITS,
            FACE_MINOR,
            close,
            reveal_by,
            settle_at,
            Pricing.MULTIPLE,
            AUCTION_DEPOSIT_MINOR,
        )
        bill.auction, bill.settle_at = auction_id, settle_at
        bill.matures_at = settle_at + TENOR_DAYS * DAY
        base = self.base_yield(now)
        # every primary dealer and institution bids; three foreign institutions bid small
        # amounts at keen yields (the bill's foreign ownership is capped at 25%)
        domestic = [k for k, *_ in ALL_INSTITUTIONS if CATEGORY[k] not in (RET, FOR)]
        foreign = self.rng.sample([k for k, *_ in ALL_INSTITUTIONS if CATEGORY[k] is FOR], 3)
        bids: list[tuple[str, int, Decimal | None]] = []
        for key in domestic:
            if CATEGORY[key] in (PEN, GOV) and self.rng.random() < 0.5:
                bids.append((key, self.rng.randrange(5, 20) * 10_000, None))
            else:
                rate = base + Decimal(self.rng.randrange(-8, 16)) / 10_000
                bids.append((key, self.rng.randrange(20, 60) * 10_000, rate))
        for key in foreign:
            rate = base + Decimal(self.rng.randrange(-10, -2)) / 10_000
            bids.append((key, self.rng.randrange(5, 20) * 10_000, rate))
        parallel(lambda b: auctions.bid(platform, b[0], auction_id, b[1], b[2]), bids)
        self.advance_to(close)
        parallel(lambda b: auctions.reveal(platform, b[0], auction_id), bids)
        self.advance_to(settle_at)
        cutoff = max(valid_cutoffs(OFFERED_UNITS, auctions.revealed_bids(platform, auction_id)))
        proposal_id, rows = auctions.propose_settlement(
            platform, OFFICIALS[0], auction_id, cutoff, TENOR_DAYS
        )
        self.carry_all([proposal_id], [f"settle auction {auction_id}"])
        issued = sum(r["units"] for r in rows)
        proceeds = sum(r["payment_minor"] for r in rows)
        self.outcome.auctions.append(
            {
                "auction": auction_id,
                "symbol": bill.symbol,
                "bids": len(bids),
                "cutoff": str(cutoff),
                "issued": issued,
                "proceeds_minor": proceeds,
            }
        )
        s.say(
            f"auction {auction_id}: {len(bids)} sealed bids, cut-off {cutoff:.2%}; {issued:,} "
            f"{bill.symbol} issued to {sum(1 for r in rows if r['units'])} bidders for "
            f"{format_pkr(proceeds)}; matures {_day(bill.matures_at)}"
        )

    # ------------------------------------------------------------ each week

    def dvp_week(self) -> None:
        """Three trades between six institutions in the latest bill, so the day's price is
        published (no party can subtract its own trades to learn fewer than three others')."""
        platform = self.platform
        now = platform.clock.chain_time()
        live = [
            b
            for b in self.bills
            if b.auction and b.settle_at <= now and b.matures_at > now + 2 * DAY
        ]
        if not live:
            return
        bill = live[-1]
        assert bill.token is not None
        domestic = [
            k for k, *_ in ALL_INSTITUTIONS if CATEGORY[k] not in (RET, FOR) and COUNTRY[k] == "PK"
        ]
        held = self.balances(bill.token, domestic)
        sellers = [k for k in self.rng.sample(domestic, len(domestic)) if held[k] >= 100_000][:3]
        buyers = [k for k in self.rng.sample(domestic, len(domestic)) if k not in sellers][:3]
        if len(sellers) < 3:
            return
        days_left = (bill.matures_at - now) // DAY
        rate = self.base_yield(now) + Decimal(self.rng.randrange(-5, 6)) / 10_000
        trades = []
        for seller, buyer in zip(sellers, buyers, strict=True):
            units = min(self.rng.randrange(5, 30) * 10_000, held[seller] // 2 // 1_000 * 1_000)
            price = tbill_payment(units, FACE_MINOR, rate, days_left)
            trades.append((seller, buyer, units, price))
        receipts = send_all(
            platform,
            [
                (
                    seller,
                    dvp.prepare_instruct(
                        platform,
                        platform.address_of(seller),
                        bill.token,
                        platform.address_of(buyer),
                        units,
                        price,
                        now + DAY,
                    ),
                )
                for seller, buyer, units, price in trades
            ],
        )
        instructions = [
            int(self.settlement.events(r, "DvPInstructed")[0]["instructionId"]) for r in receipts
        ]
        for step in ("affirm", "settle"):
            send_all(
                platform,
                [
                    (buyer, dvp.prepare_step(platform, platform.address_of(buyer), number, step))
                    for (_, buyer, _, _), number in zip(trades, instructions, strict=True)
                ],
            )
        self.outcome.dvp_days.append(
            {
                "day": str(_day(now)),
                "symbol": bill.symbol,
                "trades": len(trades),
                "yield": str(rate),
                "instructions": instructions,
            }
        )
        self.s.say(
            f"{_day(now)} secondary DvP in {bill.symbol}: {len(trades)} trades, "
            f"{sum(t[2] for t in trades):,} units at {rate:.2%} ({days_left} days to maturity)"
        )

    # ------------------------------------------------------------ maturities

    def mature_due(self) -> None:
        """Redeem at par every bill whose maturity has come: marked matured 2-of-3 with the
        Debt Office's notice, the redemption declared and paid; the asset marked redeemed in the
        next governed batch."""
        now = self.platform.clock.chain_time()
        due = [b for b in self.bills if b.auction and not b.redeemed and b.matures_at <= now]
        if not due:
            return
        s = self.s
        s.step(f"Maturity: {', '.join(b.symbol for b in due)} redeemed at par against PKRT")
        notices = {
            b.symbol: s.document(
                f"mof-maturity-notice-{b.symbol}.txt",
                f"Ministry of Finance: {b.symbol} matures on {_day(b.matures_at)} and is redeemed "
                "at par against PKRT to the holders of record.",
            )
            for b in due
        }
        self.govern_all(
            [
                Action(b.token, "markMatured", [], f"mark {b.symbol} matured", notices[b.symbol])
                for b in due
                if b.token is not None
            ]
        )
        self.declare_and_pay(
            [
                (b.token, KINDS["redemption"], b.token.read("totalSupply") * FACE_MINOR)
                for b in due
                if b.token is not None
            ],
            {b.token.address: notices[b.symbol] for b in due if b.token is not None},
        )
        for b in due:
            b.redeemed = True
            self.outcome.redemptions.append(b.symbol)
            self.pending.append(
                Action(
                    self.registry,
                    "setStatus",
                    [b.asset, int(AssetStatus.REDEEMED)],
                    f"mark asset {b.asset} redeemed",
                )
            )

    # ------------------------------------------------------------ coupons and rent

    def coupon_dates(self) -> list[tuple[int, str]]:
        """The PIB's coupon dates and the sukuk's rent dates within the year."""
        calendar = Calendar()
        dates = [
            (_at(p.payment), "pib") for p in self.pib.schedule(calendar) if self.within(p.payment)
        ]
        dates += [
            (_at(r.period.payment), "sukuk")
            for r in self.lease().rental_schedule(FACE_MINOR, calendar)
            if self.within(r.period.payment)
        ]
        return dates

    def within(self, day: date) -> bool:
        return _at(self.start) < _at(day) < self.end

    @staticmethod
    def lease() -> IjaraSukuk:
        return IjaraSukuk(date(2026, 1, 15), date(2029, 1, 15), Decimal("0.1050"))

    def coupon(self, which: str) -> None:
        calendar = Calendar()
        now = _day(self.platform.clock.chain_time())
        if which == "pib":
            token = self.pib_token
            period = max(
                (p for p in self.pib.schedule(calendar) if p.payment <= now),
                key=lambda p: p.payment,
            )
            total = self.pib.coupon_amount(token.read("totalSupply") * FACE_MINOR, period)
            self.s.step(f"PKPIB5Y coupon for {period.start} to {period.end} at 12.25%")
            self.declare_and_pay([(token, KINDS["coupon"], total)])
        else:
            token = tokens.resolve(self.platform, "PKSUK29")
            payment = max(
                (
                    r
                    for r in self.lease().rental_schedule(
                        token.read("totalSupply") * FACE_MINOR, calendar
                    )
                    if r.period.payment <= now
                ),
                key=lambda r: r.period.payment,
            )
            self.s.step(
                f"PKSUK29 Ijara rent for {payment.period.start} to {payment.period.end} "
                "(a frozen holder's rent is held)"
            )
            self.declare_and_pay([(token, KINDS["rent"], payment.rent_minor)])

    def declare_and_pay(
        self,
        items: list[tuple[Bound, int, int]],
        evidence: dict[str, str] | None = None,
    ) -> None:
        """Distributions (token, kind, total) to the holders of record at the latest
        block: proposed together, carried 2-of-3, then paid by the paying agent."""
        if not items:
            return
        platform = self.platform
        record_block = self.chain.block_number()
        proposer = platform.signer(OFFICIALS[0]).address
        prepared = []
        whats = []
        for token, kind, total in items:
            function, arguments, summary = distributions.declaration(
                platform, token, kind, total, record_block
            )
            prepared.append(
                (
                    OFFICIALS[0],
                    governance.prepare_propose(
                        platform,
                        proposer,
                        platform.contract("Distributor"),
                        function,
                        arguments,
                        (evidence or {}).get(token.address),
                    ),
                )
            )
            whats.append(f"{summary['kind']} of {summary['total']} on {summary['symbol']}")
        proposal_ids = self.proposal_ids(send_all(platform, prepared))
        first = self.distributor.read("distributionCount") + 1
        self.carry_all(proposal_ids, whats)
        last = self.distributor.read("distributionCount")
        for number in range(first, last + 1):
            paid = distributions.pay(platform, "issuer", number)
            self.outcome.distributions.append(
                {
                    "distribution": number,
                    "kind": paid["kind"],
                    "symbol": paid.get("symbol"),
                    "paid": paid["paid"],
                    "held": paid["held"],
                    "holders": paid["holders"],
                }
            )
            self.s.say(
                f"distribution {number} ({paid['kind']}): paid {paid['paid']} to "
                f"{paid['holders']} holders, held {paid['held']}"
            )

    # ------------------------------------------------------------ summary

    def summary(self) -> dict[str, Any]:
        o = self.outcome
        self.s.step("The year in figures")
        self.s.say(
            f"{len(ALL_INSTITUTIONS)} institutions; {len(o.auctions)} auctions; "
            f"{len(o.dvp_days)} DvP days ({sum(d['trades'] for d in o.dvp_days)} trades); "
            f"{sum(o.valuations.values())} valuation reports; {len(o.distributions)} "
            f"distributions; {len(o.redemptions)} bills redeemed"
        )
        return {
            "start": str(self.start),
            "end": str(_day(self.end)),
            "institutions": len(ALL_INSTITUTIONS),
            "auctions": o.auctions,
            "dvp_days": o.dvp_days,
            "valuations": o.valuations,
            "distributions": o.distributions,
            "redemptions": o.redemptions,
        }


def headline(year: dict[str, Any]) -> str:
    """One line on what `play` did."""
    trades = sum(d["trades"] for d in year["dvp_days"])
    return (
        f"pilot year {year['start']} to {year['end']} (chain time): {year['institutions']} "
        f"institutions, {len(year['auctions'])} auctions, {trades} secondary DvP trades on "
        f"{len(year['dvp_days'])} days, {sum(year['valuations'].values())} valuation reports, "
        f"{len(year['distributions'])} distributions paid, {len(year['redemptions'])} bills "
        "redeemed"
    )


def play(platform: Platform, echo: Callable[[str], None], months: int = MONTHS) -> dict[str, Any]:
    """Play `months` of the pilot's market on a platform where `demo.load` has run."""
    if not 1 <= months <= 24:
        raise AmanatError(f"a pilot year of {months} months: give 1 to 24")
    return Year(Scenario(platform, echo), months).run()
