"""Markets: the cash leg (balances, supply), primary auctions (announce, sealed bids, reveal,
allocation preview, results), secondary DvP (instruct, affirm, settle, cancel, expire) and
distributions (pay, claim, progress).

Privileged steps (issuing cash, settling an auction, declaring a distribution, releasing a held
payout, marking a token matured) are maker-checker approval kinds: POST /approvals. Institutions
act with their own wallet key; a sealed bid is kept with that key, on the server, until the
bidder reveals it. Chain refusals answer 422 problem+json with the contract's reason."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from amanat.api.deps import IdempotencyKey, PlatformDep, ReaderDep, require
from amanat.api.routes_common import (
    AGENT,
    ERRORS,
    INSTITUTION,
    ISSUER,
    SIGNED_IN,
    YIELD_PATTERN,
    Address,
    Amount,
    Block,
    Count,
    Hash,
    Id,
    Listing,
    Page,
    Timestamp,
    TokenRef,
    Yield,
    address,
    chain_key,
    listing,
    page_of,
    require_own_wallet,
    run_post,
    scope_of,
    signing_key,
)
from amanat.api.routes_tokens import resolve
from amanat.domain.auction import Pricing, from_micro, parse_yield
from amanat.domain.money import format_pkr
from amanat.services import access, auctions, cash, distributions, dvp, public
from amanat.services.access import ALLOCATION_READERS, PAYERS
from amanat.services.accounts import Principal
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform

router = APIRouter(tags=["markets"], responses=ERRORS)

AuctionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Auction id")]
InstructionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="DvP instruction id")]
DistributionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Distribution id")]
WalletAddress = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]
DvPState = Literal["instructed", "affirmed", "settled", "cancelled", "expired"]
DistributionKind = Literal["coupon", "rent", "dividend", "redemption"]
Minor = Annotated[int, Field(ge=0)]

# -------------------------------------------------------------------- cash


class CashBalance(BaseModel):
    wallet: Address
    balance_minor: Minor
    locked_minor: Minor = Field(description="Locked for pending settlements (bids, DvP)")
    available_minor: Minor
    balance: str = Field(description="Formatted, e.g. PKR 1,000.00")
    may_hold: bool = Field(description="A verified institution, the treasury or an agent")


class CashSupply(BaseModel):
    symbol: str
    supply_minor: Minor
    supply: str
    treasury_minor: Minor = Field(description="Held by the treasury (Governance)")
    treasury: str


@router.get(
    "/cash/supply",
    response_model=CashSupply,
    summary="Cash outstanding and the treasury's balance (public aggregate)",
)
def cash_supply(platform: PlatformDep) -> dict[str, Any]:
    return cash.supply(platform)


@router.get(
    "/cash/balances/{wallet}",
    response_model=CashBalance,
    summary="A wallet's cash: balance, locked, available (an institution: its own wallets)",
)
def cash_balance(
    wallet: WalletAddress,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    require_own_wallet(platform, who, wallet)
    return cash.balance(platform, address(wallet))


# ---------------------------------------------------------------- auctions


PricingMethod = Annotated[
    Literal["uniform", "multiple"],
    Field(
        description="multiple: each accepted competitive bid pays its own yield, "
        "non-competitive the weighted average accepted yield (SBP's T-bills and PIBs); "
        "uniform: every accepted bid pays the cut-off yield"
    ),
]


class AuctionSummary(BaseModel):
    auction: Id
    token: Address
    symbol: str
    offered_units: Amount
    face_minor_per_unit: Amount
    close_time: Timestamp
    reveal_deadline: Timestamp
    settlement_date: Timestamp
    pricing: PricingMethod
    deposit_minor: Amount = Field(description="Paid in with each sealed bid, paisa")
    sealed_bids: Count = Field(description="Institutions with a sealed bid (one each)")
    revealed_bids: Count
    settled: bool


class AuctionEvent(BaseModel):
    event: str
    block: Block
    tx: Hash
    bidder: Address | None
    args: dict[str, Any] = Field(description="The event's other fields")


class BidResult(BaseModel):
    bidder: Address
    commitment: Hash | None = Field(description="The sealed bid's hash")
    sequence: Count | None = Field(description="Commitment order (ties at the cut-off)")
    deposit: str | None = Field(description="returned at reveal, or forfeited to the treasury")
    revealed_units: Count | None
    bid_yield: str | None = Field(description="Revealed yield; None: non-competitive or unopened")
    competitive: bool | None
    settled_units: Count | None
    settled_yield: str | None = Field(description="The yield the bidder paid, once settled")
    payment_minor: Minor | None
    refused: str | None = Field(description="Why settlement refused the bidder, if it did")


class AuctionOutcome(BaseModel):
    pricing: PricingMethod
    cutoff_yield: str
    issued_units: Count
    proceeds_minor: Minor
    proceeds: str


class AuctionDetail(AuctionSummary):
    bids: list[BidResult]
    outcome: AuctionOutcome | None = Field(description="Once settled")
    events: list[AuctionEvent]


class AnnounceIn(BaseModel):
    token: TokenRef
    offered_units: Amount
    face_minor_per_unit: Amount = Field(default=100_00, description="Face of a unit, paisa")
    close_time: Timestamp = Field(description="Bids close (unix time, chain clock)")
    reveal_deadline: Timestamp
    settlement_date: Timestamp
    pricing: PricingMethod = "multiple"
    deposit_minor: Amount = Field(
        default=10_000_00,
        description="Paise each sealed bid pays in; returned at reveal, forfeited to the "
        "treasury if the bid is not revealed",
    )


class BidIn(BaseModel):
    units: Amount
    bid_yield: Yield | None = Field(default=None, alias="yield")
    non_competitive: bool = Field(
        default=False, description="Take the weighted-average accepted yield (no yield given)"
    )

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_kind(self) -> BidIn:
        if (self.bid_yield is None) != self.non_competitive:
            raise ValueError("give either a yield or non_competitive: true")
        return self


class BidOut(BaseModel):
    """A committed sealed bid. Its units and yield are not echoed: they stay in the bidder's
    sealed file (encrypted) for the reveal, and out of the idempotency record."""

    auction: Id
    bidder: Address
    commitment: Hash
    competitive: bool


class RevealOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    auction: Id
    bidder: Address
    units: Amount
    bid_yield: str | None = Field(alias="yield", description="None: non-competitive")
    locked_cash_minor: Minor


class AllocationRow(BaseModel):
    bidder: Address
    bid_units: Amount
    bid_yield: str | None
    sequence: Count = Field(description="Commitment order (ties at the cut-off)")
    units: Count
    allocation_yield: str | None = Field(alias="yield")
    pricing: PricingMethod
    payment_minor: Minor
    payment: str

    model_config = ConfigDict(populate_by_name=True)


class AllocationOut(BaseModel):
    auction: Id
    cutoff: str
    days: Annotated[int, Field(ge=1)]
    units: Count = Field(description="Allotted in all (never more than offered)")
    payment_minor: Minor
    items: list[AllocationRow]


def _summary(platform: Platform, terms: dict[str, Any]) -> dict[str, Any]:
    keys = AuctionSummary.model_fields.keys() - {"symbol"}
    return {
        **{k: terms[k] for k in keys},
        "symbol": platform.token(terms["token"]).read("symbol"),
    }


def auction_results(shown: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Each bidder's commitment, reveal and settlement, and the auction's outcome, from the
    events of `auctions.show`."""
    bids: dict[str, dict[str, Any]] = {}
    outcome = None
    for e in shown["events"]:
        if e["event"] == "AuctionSettled":
            outcome = {
                "pricing": shown["pricing"],
                "cutoff_yield": str(from_micro(e["cutoffYieldMicro"])),
                "issued_units": e["issuedUnits"],
                "proceeds_minor": e["proceeds"],
                "proceeds": format_pkr(e["proceeds"]),
            }
        if "bidder" not in e:
            continue
        row = bids.setdefault(
            e["bidder"],
            {
                "bidder": e["bidder"],
                "commitment": None,
                "sequence": None,
                "deposit": None,
                "revealed_units": None,
                "bid_yield": None,
                "competitive": None,
                "settled_units": None,
                "settled_yield": None,
                "payment_minor": None,
                "refused": None,
            },
        )
        if e["event"] == "BidCommitted":
            row["commitment"], row["sequence"] = e["commitment"], e["sequence"]
            if e["deposit"]:
                row["deposit"] = f"paid {format_pkr(e['deposit'])}"
        elif e["event"] == "DepositReturned":
            row["deposit"] = f"returned {format_pkr(e['amount'])}"
        elif e["event"] == "DepositForfeited":
            row["deposit"] = f"forfeited {format_pkr(e['amount'])} to the treasury"
        elif e["event"] == "BidRevealed":
            row["revealed_units"] = e["units"]
            row["competitive"] = e["competitive"]
            if e["competitive"]:
                row["bid_yield"] = str(from_micro(e["yieldMicro"]))
        elif e["event"] == "BidSettled":
            row["settled_units"], row["payment_minor"] = e["units"], e["payment"]
            row["settled_yield"] = str(from_micro(e["yieldMicro"]))
        elif e["event"] == "BidRefused":
            row["refused"] = e["reason"]
    return list(bids.values()), outcome


def _detail(platform: Platform, auction_id: int, who: Principal | None) -> dict[str, Any]:
    shown = auctions.show(platform, auction_id)
    shown["events"] = public.auction_events(platform, who, shown["events"])
    bids, outcome = auction_results(shown)
    fixed = {"event", "block", "tx", "bidder", "auctionId"}
    return {
        **_summary(platform, shown),
        "bids": bids,
        "outcome": outcome,
        "events": [
            {
                "event": e["event"],
                "block": e["block"],
                "tx": e["tx"],
                "bidder": e.get("bidder"),
                "args": {k: v for k, v in e.items() if k not in fixed},
            }
            for e in shown["events"]
        ],
    }


@router.get(
    "/auctions",
    response_model=Page[AuctionSummary],
    summary="Primary auctions with their terms (public)",
)
def list_auctions(
    platform: PlatformDep,
    by: Annotated[
        Listing, Depends(listing(("auction", "close_time", "settlement_date"), "auction"))
    ],
    settled: bool | None = None,
    symbol: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")] = None,
) -> dict[str, Any]:
    rows = [_summary(platform, t) for t in auctions.list_auctions(platform)]
    return page_of(rows, by, settled=settled, symbol=symbol)


@router.get(
    "/auctions/{auction_id}",
    response_model=AuctionDetail,
    summary="An auction's terms, sealed commitments, reveals and settlement results (public)",
)
def get_auction(auction_id: AuctionId, platform: PlatformDep, who: ReaderDep) -> dict[str, Any]:
    return _detail(platform, auction_id, who)


@router.post(
    "/auctions",
    response_model=AuctionDetail,
    status_code=201,
    summary="Announce an auction of a tokenized security (issuer)",
)
def announce(
    body: AnnounceIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(ISSUER))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        auction_id = auctions.announce(
            platform,
            signing_key(platform, who),
            resolve(platform, body.token),
            body.offered_units,
            body.face_minor_per_unit,
            body.close_time,
            body.reveal_deadline,
            body.settlement_date,
            Pricing.parse(body.pricing),
            body.deposit_minor,
            idempotency_key=chain_key(who, key),
        )
        return _detail(platform, auction_id, who)

    return run_post(request, response, platform, who, key, 201, action)


@router.post(
    "/auctions/{auction_id}/bids",
    response_model=BidOut,
    status_code=201,
    summary="Commit a sealed bid with the institution's own key; the bid stays sealed until "
    "the bidder reveals it",
)
def bid(
    auction_id: AuctionId,
    body: BidIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        chosen = None if body.bid_yield is None else parse_yield(body.bid_yield)
        sealed = auctions.bid(
            platform,
            signing_key(platform, who),
            auction_id,
            body.units,
            chosen,
            idempotency_key=chain_key(who, key),
        )
        return {k: sealed[k] for k in ("auction", "bidder", "commitment", "competitive")}

    return run_post(request, response, platform, who, key, 201, action)


@router.post(
    "/auctions/{auction_id}/reveal",
    response_model=RevealOut,
    summary="Reveal the institution's sealed bid after the close; its face value in cash is locked",
)
def reveal(
    auction_id: AuctionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        return auctions.reveal(
            platform, signing_key(platform, who), auction_id, idempotency_key=chain_key(who, key)
        )

    return run_post(request, response, platform, who, key, 200, action)


@router.get(
    "/auctions/{auction_id}/allocation",
    response_model=AllocationOut,
    summary="Preview the allocation and payments at a cut-off yield (settle it with an "
    "approval of kind settle_auction)",
)
def allocation(
    auction_id: AuctionId,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*ALLOCATION_READERS))],
    cutoff: Annotated[str, Query(pattern=YIELD_PATTERN, description="e.g. 0.1195 or 11.95%")],
    days: Annotated[int, Query(ge=1, le=36_500, description="Days to maturity")],
) -> dict[str, Any]:
    rows = auctions.allocation(platform, auction_id, parse_yield(cutoff), days)
    return {
        "auction": auction_id,
        "cutoff": str(parse_yield(cutoff)),
        "days": days,
        "units": sum(r["units"] for r in rows),
        "payment_minor": sum(r["payment_minor"] for r in rows),
        "items": rows,
    }


# --------------------------------------------------------------------- DvP


class InstructionOut(BaseModel):
    instruction: Id
    seller: Address
    buyer: Address
    token: Address
    symbol: str
    units: Amount
    cash_minor: Amount
    cash: str
    deadline: Timestamp
    state: DvPState


class InstructIn(BaseModel):
    token: TokenRef
    buyer: Address
    units: Amount
    cash_minor: Amount = Field(description="PKR the buyer pays, in paisa")
    deadline: Timestamp = Field(description="Unix time (chain clock); then anyone may expire it")


def _own_party(platform: Platform, who: Principal, shown: dict[str, Any]) -> None:
    scope = scope_of(platform, who)
    if scope is not None and not {shown["seller"], shown["buyer"]} & scope.wallets:
        raise Forbidden(
            f"an institution sees only DvP instructions it is a party to "
            f"(instruction {shown['instruction']})",
            role=who.role.value,
        )


@router.get(
    "/dvp",
    response_model=Page[InstructionOut],
    summary="DvP instructions (an institution: those it is a party to)",
)
def list_instructions(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
    by: Annotated[
        Listing, Depends(listing(("instruction", "deadline", "state", "symbol"), "instruction"))
    ],
    state: DvPState | None = None,
    symbol: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")] = None,
) -> dict[str, Any]:
    rows = dvp.list_instructions(platform)
    scope = scope_of(platform, who)
    if scope is not None:
        rows = [r for r in rows if {r["seller"], r["buyer"]} & scope.wallets]
    return page_of(rows, by, state=state, symbol=symbol)


@router.get(
    "/dvp/{instruction_id}",
    response_model=InstructionOut,
    summary="One DvP instruction (an institution: if it is a party)",
)
def get_instruction(
    instruction_id: InstructionId,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    shown = dvp.show(platform, instruction_id)
    _own_party(platform, who, shown)
    return shown


@router.post(
    "/dvp",
    response_model=InstructionOut,
    status_code=201,
    summary="Sell units against cash (the institution as seller): the transfer is pre-checked "
    "against the token's rules and the units are locked",
)
def instruct(
    body: InstructIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        return dvp.instruct(
            platform,
            signing_key(platform, who),
            resolve(platform, body.token),
            address(body.buyer),
            body.units,
            body.cash_minor,
            body.deadline,
            chain_key(who, key),
            counterparty_detail=access.counterparty_detail(who),
        )

    return run_post(request, response, platform, who, key, 201, action)


def _step(
    step: str,
    instruction_id: int,
    request: Request,
    response: Response,
    platform: Platform,
    who: Principal,
    key: str | None,
    party: bool = True,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        shown = dvp.show(platform, instruction_id)
        if party:
            _own_party(platform, who, shown)
        key_name = signing_key(platform, who)
        dvp.check_step(shown, platform.address_of(key_name), step)
        return getattr(dvp, step)(  # type: ignore[no-any-return]
            platform, key_name, instruction_id, idempotency_key=chain_key(who, key)
        )

    return run_post(request, response, platform, who, key, 200, action)


@router.post(
    "/dvp/{instruction_id}/affirm",
    response_model=InstructionOut,
    summary="The buyer affirms: its cash is locked",
)
def affirm(
    instruction_id: InstructionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    return _step("affirm", instruction_id, request, response, platform, who, key)


@router.post(
    "/dvp/{instruction_id}/settle",
    response_model=InstructionOut,
    summary="Settle an affirmed instruction, both legs at once (either party)",
)
def settle(
    instruction_id: InstructionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    return _step("settle", instruction_id, request, response, platform, who, key)


@router.post(
    "/dvp/{instruction_id}/cancel",
    response_model=InstructionOut,
    summary="Cancel before settlement (either party); both legs are released",
)
def cancel(
    instruction_id: InstructionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    return _step("cancel", instruction_id, request, response, platform, who, key)


@router.post(
    "/dvp/{instruction_id}/expire",
    response_model=InstructionOut,
    summary="Expire an instruction past its deadline, releasing both legs (any institution, or "
    "an agent with a signing key)",
)
def expire(
    instruction_id: InstructionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION, AGENT))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    return _step("expire", instruction_id, request, response, platform, who, key, party=False)


# ----------------------------------------------------------- distributions


class DistributionOut(BaseModel):
    distribution: Id
    token: Address
    symbol: str
    kind: DistributionKind
    record_block: Block
    total_minor: Minor
    total: str
    root: Hash | None = Field(
        description="Merkle root of the payout list; null: withheld with the holder count"
    )
    holders: Count | None = Field(
        description="Holders of record; null: withheld, fewer than the disclosure threshold"
    )
    depth: Count | None = Field(description="null: withheld with the holder count")
    payouts_made: Count | None = Field(description="null: withheld with the holder count")
    paid_minor: Minor | None = Field(
        description="null: withheld from the public, as it would give away a few holders' shares"
    )
    paid: str | None
    held_minor: Minor | None = Field(
        description="Payouts to frozen holders, held until released; null: withheld"
    )
    held: str | None
    complete: bool | None = Field(description="null: withheld with the holder count")


class PaidOut(DistributionOut):
    transactions: Count
    gas_used: Count
    blocks: Count


class PayIn(BaseModel):
    batch_size: Annotated[int, Field(ge=1, le=distributions.PAY_BATCH)] = distributions.PAY_BATCH


class ClaimOut(BaseModel):
    distribution: Id
    holder: Address
    amount_minor: Minor


@router.get(
    "/distributions",
    response_model=Page[DistributionOut],
    summary="Coupons, rent, dividends and redemptions with their paid and held totals (public)",
)
def list_distributions(
    platform: PlatformDep,
    who: ReaderDep,
    by: Annotated[
        Listing, Depends(listing(("distribution", "record_block", "total_minor"), "distribution"))
    ],
    kind: DistributionKind | None = None,
    symbol: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")] = None,
    complete: bool | None = None,
) -> dict[str, Any]:
    rows = [public.distribution(row, who) for row in distributions.list_distributions(platform)]
    return page_of(rows, by, kind=kind, symbol=symbol, complete=complete)


@router.get(
    "/distributions/{distribution_id}",
    response_model=DistributionOut,
    summary="One distribution and its progress (public)",
)
def get_distribution(
    distribution_id: DistributionId, platform: PlatformDep, who: ReaderDep
) -> dict[str, Any]:
    return public.distribution(distributions.show(platform, distribution_id), who)


@router.post(
    "/distributions/{distribution_id}/pay",
    response_model=PaidOut,
    summary="Push every payout not yet made with the caller's key (issuer or paying agent); a "
    "frozen holder's payout is held",
)
def pay(
    distribution_id: DistributionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*PAYERS))],
    body: PayIn | None = None,
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    batch = (body or PayIn()).batch_size

    def action() -> dict[str, Any]:
        return distributions.pay(platform, signing_key(platform, who), distribution_id, batch)

    return run_post(request, response, platform, who, key, 200, action)


@router.post(
    "/distributions/{distribution_id}/claim",
    response_model=ClaimOut,
    summary="Claim the institution's own payout with its Merkle proof",
)
def claim(
    distribution_id: DistributionId,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(INSTITUTION))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        return distributions.claim(
            platform,
            signing_key(platform, who),
            distribution_id,
            idempotency_key=chain_key(who, key),
        )

    return run_post(request, response, platform, who, key, 200, action)
