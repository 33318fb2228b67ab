"""Primary auctions of T-bills: announce, sealed bids (commit, reveal), allocation, settlement.

A bidder's sealed bid (units, yield, salt) stays with the bidder's own client, in the data
directory of whoever holds its key and encrypted there with the data key, until it reveals after
the close: no one else, the issuer included, can read it before then. Each institution holds
one sealed bid per auction and pays the announced deposit with it, returned at reveal and
forfeited to the treasury if it never reveals. The allocation is computed from the revealed
bids on chain by `amanat.domain.auction` (ties at the cut-off by commitment order, priced by the
announced method) and settled by an M-of-N proposal: each bidder's units against its cash, all
or nothing per bidder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from amanat.chain.abi import decode_revert
from amanat.chain.client import IdempotencyConflict, Receipt
from amanat.domain.auction import (
    Bid,
    Pricing,
    allocate,
    commitment,
    from_micro,
    tbill_payment,
    yield_micro,
)
from amanat.domain.evm import to_checksum_address
from amanat.domain.money import format_pkr
from amanat.errors import AmanatError, InvalidInput, NotFound, RuleViolation
from amanat.services import governance, tokens
from amanat.services.platform import Bound, Platform, Prepared

AUCTION_EVENTS = (
    "AuctionAnnounced",
    "BidCommitted",
    "BidRevealed",
    "DepositReturned",
    "DepositForfeited",
    "BidSettled",
    "BidRefused",
    "BidReleased",
    "AuctionSettled",
)


def announce(
    platform: Platform,
    issuer: str,
    token: Bound,
    offered_units: int,
    face_minor_per_unit: int,
    close_time: int,
    reveal_deadline: int,
    settlement_date: int,
    pricing: Pricing,
    deposit_minor: int,
    idempotency_key: str | None = None,
) -> int:
    """Announce an auction (issuer's key) with its pricing method and the deposit each sealed
    bid pays in; returns its id."""
    if deposit_minor <= 0:
        raise InvalidInput(f"deposit {deposit_minor} must be positive: a sealed bid is not free")
    auction = platform.contract("Auction")
    (receipt,) = platform.chain.transact(
        platform.signer(issuer),
        [
            auction.tx(
                "announce",
                token.address,
                offered_units,
                face_minor_per_unit,
                close_time,
                reveal_deadline,
                settlement_date,
                int(pricing),
                deposit_minor,
                key=idempotency_key,
                description=f"announce {pricing.label}-price auction of {offered_units} units",
            )
        ],
    )
    return int(auction.events(receipt, "AuctionAnnounced")[0]["auctionId"])


def _sealed_path(platform: Platform, auction_id: int, wallet: str) -> Path:
    """Where a bid kept before bids were kept one file per commitment lies (still read)."""
    return platform.settings.data_dir / "sealed-bids" / f"auction-{auction_id}-{wallet}.sealed"


def _commitment_path(base: Path, sealed: str) -> Path:
    """The file of the bid whose commitment is `sealed` (0x-hex), beside `base`."""
    return base.with_name(f"{base.stem}-{sealed}.sealed")


@contextlib.contextmanager
def _bidding(base: Path) -> Iterator[None]:
    """One bid of a wallet in an auction at a time (threads and processes sharing the data
    directory): keeping its salt, sending its commitment and forgetting the bids it replaces.
    The lock files lie beside sealed-bids, which holds sealed bids only."""
    lock = base.parent.parent / "sealed-bid-locks" / base.with_suffix(".lock").name
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as error:
        raise _cannot_keep(error) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _cannot_keep(error: OSError) -> AmanatError:
    return AmanatError(
        f"the sealed bid cannot be kept ({error.strerror}); nothing was committed: the "
        "operator must make the data directory's sealed-bids writable, then bid again"
    )


def _keep_sealed(platform: Platform, path: Path, kept: dict[str, Any]) -> None:
    """Write a sealed bid (units, yield, salt) encrypted with the data key, atomically; refused
    (before anything is committed) when the data key is missing or the file cannot be written."""
    content = platform.cipher.seal(kept)
    temporary = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        temporary.replace(path)
    except OSError as error:
        raise _cannot_keep(error) from None


def _read_sealed(platform: Platform, path: Path) -> dict[str, Any] | None:
    """The sealed bid kept at `path`, or None. A bid kept in plaintext before bids were
    encrypted (`.json` beside it) is still read, so that it can be revealed."""
    if path.exists():
        return platform.cipher.open(path.read_bytes())
    legacy = path.with_suffix(".json")
    return dict(json.loads(legacy.read_text())) if legacy.exists() else None


def _kept_bids(
    platform: Platform, auction_id: int, wallet: str, base: Path
) -> list[tuple[Path, dict[str, Any]]]:
    """Every bid kept for `wallet` in the auction, each with the commitment its figures and salt
    make: one file per commitment it may have sent (the one the chain holds among them), then
    one kept the earlier way (one file per auction and wallet)."""
    kept = [
        (path, platform.cipher.open(path.read_bytes()))
        for path in sorted(base.parent.glob(f"{base.stem}-0x*.sealed"))
    ]
    legacy = _read_sealed(platform, base)
    if legacy is not None:
        kept.append((base, legacy))
    for _, bid in kept:
        salt = bytes.fromhex(bid["salt"])
        made = commitment(
            auction_id, wallet, bid["units"], bid["yield_micro"], bid["competitive"], salt
        )
        bid["commitment"] = "0x" + made.hex()
    return kept


def _on_chain(platform: Platform, auction_id: int, wallet: str) -> str:
    """The commitment the chain holds for `wallet` in the auction (0x-hex; zero if none)."""
    return "0x" + platform.contract("Auction").read("getBid", auction_id, wallet)[0].hex()


def _terms(platform: Platform, auction_id: int) -> dict[str, Any]:
    auction = platform.contract("Auction")
    count = auction.read("auctionCount")
    if not 1 <= auction_id <= count:
        raise NotFound(f"no auction {auction_id} (there are {count})", auction=auction_id)
    (
        token,
        offered,
        face,
        close_time,
        reveal_deadline,
        settlement_date,
        pricing,
        deposit,
        committed_count,
        _last_sequence,
        revealed_count,
        settled,
    ) = auction.read("getAuction", auction_id)
    return {
        "auction": auction_id,
        "token": token,
        "offered_units": offered,
        "face_minor_per_unit": face,
        "close_time": close_time,
        "reveal_deadline": reveal_deadline,
        "settlement_date": settlement_date,
        "pricing": Pricing(pricing).label,
        "deposit_minor": deposit,
        "deposit": format_pkr(deposit),
        "sealed_bids": committed_count,
        "revealed_bids": revealed_count,
        "settled": settled,
    }


def bid(
    platform: Platform,
    bidder: str,
    auction_id: int,
    units: int,
    yield_rate: Decimal | None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Commit a sealed bid; `yield_rate` None is a non-competitive bid. The bid itself is kept
    in the bidder's data directory for the reveal. A retry under the same idempotency key
    returns the bid already committed (with its salt), never a new one."""
    if units <= 0:
        raise InvalidInput(f"bid units {units} must be positive")
    terms = _terms(platform, auction_id)
    if units > terms["offered_units"]:
        raise InvalidInput(
            f"bid of {units} units is more than the {terms['offered_units']} offered"
        )
    signer = platform.signer(bidder)
    wallet = to_checksum_address(signer.address)
    base = _sealed_path(platform, auction_id, wallet)
    with _bidding(base):
        if platform.chain.seen(idempotency_key):
            return _bid_again(platform, signer, wallet, auction_id, base, idempotency_key)
        micro = 0 if yield_rate is None else yield_micro(yield_rate)
        salt = secrets.token_bytes(32)
        sealed = commitment(auction_id, wallet, units, micro, yield_rate is not None, salt)
        prepared = prepare_commit(platform, wallet, auction_id, sealed, idempotency_key)
        record = {"units": units, "yield_micro": micro, "competitive": yield_rate is not None}
        # The salt alone reveals the bid: it is kept (encrypted, one file per commitment) before
        # the commitment goes on chain, and forgotten only if the chain refused it. A send that
        # fails otherwise may have been journaled: its bid is kept, for its retry and its reveal.
        path = _commitment_path(base, "0x" + sealed.hex())
        _keep_sealed(
            platform, path, {**record, "salt": salt.hex(), "commitment": "0x" + sealed.hex()}
        )
        try:
            platform.send(signer, prepared)
        except (InvalidInput, RuleViolation):
            path.unlink(missing_ok=True)
            raise
        _forget_replaced(platform, auction_id, wallet, base)
    return {"auction": auction_id, "bidder": wallet, "commitment": "0x" + sealed.hex(), **record}


def _bid_again(
    platform: Platform,
    signer: Any,
    wallet: str,
    auction_id: int,
    base: Path,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """A retry of a bid journaled under `idempotency_key`: the kept bid whose commitment is the
    journaled one (any other is refused as a different request) is confirmed, never a new one."""
    for _, kept in _kept_bids(platform, auction_id, wallet, base):
        sealed = bytes.fromhex(kept["commitment"][2:])
        try:
            prepared = prepare_commit(platform, wallet, auction_id, sealed, idempotency_key)
            platform.send(signer, prepared)
        except IdempotencyConflict:
            continue
        _forget_replaced(platform, auction_id, wallet, base)
        return {
            "auction": auction_id,
            "bidder": wallet,
            "commitment": kept["commitment"],
            **{k: kept[k] for k in ("units", "yield_micro", "competitive")},
        }
    raise NotFound(
        f"the sealed bid committed under idempotency key {idempotency_key!r} in auction "
        f"{auction_id} is not kept in {base.parent}"
    )


def _forget_replaced(platform: Platform, auction_id: int, wallet: str, base: Path) -> None:
    """Once a commitment is confirmed, the kept bids the chain no longer holds are forgotten."""
    held = _on_chain(platform, auction_id, wallet)
    for path, kept in _kept_bids(platform, auction_id, wallet, base):
        if kept["commitment"] != held:
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)


def prepare_commit(
    platform: Platform,
    wallet: str,
    auction_id: int,
    sealed: bytes,
    idempotency_key: str | None = None,
) -> Prepared:
    """Wallet `wallet` commits the sealed bid `sealed` (its commitment hash: the bid and its
    salt stay with the bidder), refused if the auction has closed, the bidder may not hold the
    token, its institution already bids from another wallet, or it lacks the deposit."""
    terms = _terms(platform, auction_id)
    if not platform.chain.seen(idempotency_key):
        now = platform.clock.chain_time()
        if now >= terms["close_time"]:
            raise RuleViolation(
                "auction-closed",
                f"auction {auction_id} closed at {terms['close_time']} (now {now})",
            )
        verdict = tokens.eligibility_precheck(platform, platform.token(terms["token"]), wallet)
        if not verdict.allowed:
            raise verdict.refuse()
        _check_one_bid_and_deposit(platform, auction_id, wallet, terms["deposit_minor"])
    request = platform.contract("Auction").tx(
        "commit",
        auction_id,
        sealed,
        key=idempotency_key,
        description=f"sealed bid in auction {auction_id}",
    )

    def finish(_receipt: Receipt) -> dict[str, Any]:
        return {"auction": auction_id, "bidder": wallet, "commitment": "0x" + sealed.hex()}

    return Prepared(wallet, request, finish)


def _check_one_bid_and_deposit(
    platform: Platform, auction_id: int, wallet: str, deposit_minor: int
) -> None:
    """Before the chain is asked: one sealed bid per institution, and cash for the deposit of a
    first bid (a replacement from the same wallet pays none)."""
    identity = platform.contract("IdentityRegistry").read("identityNumberOf", wallet)
    holder = platform.contract("Auction").read("bidderOfIdentity", auction_id, identity)
    if int(holder, 16) == 0:
        cash = platform.contract("CashToken")
        available = cash.read("balanceOf", wallet) - cash.read("lockedOf", wallet)
        if available < deposit_minor:
            raise RuleViolation(
                "deposit-not-covered",
                f"a sealed bid in auction {auction_id} pays a deposit of "
                f"{format_pkr(deposit_minor)}; {wallet} has {format_pkr(available)} available",
                auction=auction_id,
            )
    elif to_checksum_address(holder) != wallet:
        raise RuleViolation(
            "one-bid-per-institution",
            f"this institution already has a sealed bid in auction {auction_id} from wallet "
            f"{to_checksum_address(holder)}; replace it from that wallet",
            auction=auction_id,
        )


def reveal(
    platform: Platform, bidder: str, auction_id: int, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Open the bidder's sealed bid after the close; its face value in cash is locked."""
    _terms(platform, auction_id)
    signer = platform.signer(bidder)
    wallet = to_checksum_address(signer.address)
    base = _sealed_path(platform, auction_id, wallet)
    held = _on_chain(platform, auction_id, wallet)
    sealed = next(
        (
            kept
            for _, kept in _kept_bids(platform, auction_id, wallet, base)
            if kept["commitment"] == held
        ),
        None,
    )
    if sealed is None:
        raise NotFound(
            f"no sealed bid of {bidder} for auction {auction_id} in {base.parent}"
            + (f" (the chain holds commitment {held})" if int(held, 16) else "")
        )
    return platform.send(
        signer,
        prepare_reveal(
            platform,
            wallet,
            auction_id,
            sealed["units"],
            sealed["yield_micro"],
            sealed["competitive"],
            bytes.fromhex(sealed["salt"]),
            idempotency_key,
        ),
    )


def prepare_reveal(
    platform: Platform,
    wallet: str,
    auction_id: int,
    units: int,
    micro: int,
    competitive: bool,
    salt: bytes,
    idempotency_key: str | None = None,
) -> Prepared:
    """Wallet `wallet` opens its sealed bid (units, yield in millionths, competitive, salt)."""
    _terms(platform, auction_id)
    auction = platform.contract("Auction")
    request = auction.tx(
        "reveal",
        auction_id,
        units,
        micro,
        competitive,
        salt,
        key=idempotency_key,
        description=f"reveal bid in auction {auction_id}",
    )

    def finish(receipt: Receipt) -> dict[str, Any]:
        (event,) = auction.events(receipt, "BidRevealed")
        return {
            "auction": auction_id,
            "bidder": wallet,
            "units": event["units"],
            "yield": None if not event["competitive"] else f"{from_micro(event['yieldMicro']):.4%}",
            "locked_cash_minor": event["lockedCash"],
        }

    return Prepared(wallet, request, finish)


def revealed_bids(platform: Platform, auction_id: int) -> list[Bid]:
    """The revealed bids in reveal order, each numbered by its commitment order on chain (the
    order ties at the cut-off are broken by)."""
    auction = platform.contract("Auction")
    events = [
        e for e in platform.decoded_logs(auction, ("BidRevealed",)) if e["auctionId"] == auction_id
    ]
    return [
        Bid(
            bidder=e["bidder"],
            amount=e["units"],
            yield_rate=from_micro(e["yieldMicro"]) if e["competitive"] else None,
            sequence=e["sequence"],
        )
        for e in events
    ]


def allocation(
    platform: Platform, auction_id: int, cutoff: Decimal, days_to_maturity: int
) -> list[dict[str, Any]]:
    """Every revealed bidder with its allocation (0 if none) and its payment at the yield the
    auction's pricing method gives it."""
    if isinstance(days_to_maturity, bool) or days_to_maturity < 1:
        raise InvalidInput(
            f"days to maturity must be at least 1, got {days_to_maturity!r}",
            days=days_to_maturity,
        )
    terms = _terms(platform, auction_id)
    bids = revealed_bids(platform, auction_id)
    if not bids:
        raise RuleViolation("no-bids", f"auction {auction_id} has no revealed bids")
    yield_micro(cutoff)  # the cut-off must be expressible on chain
    uniform = terms["pricing"] == Pricing.UNIFORM.label
    allocated = {a.bid.bidder: a for a in allocate(terms["offered_units"], bids, cutoff, uniform)}
    rows = []
    for b in bids:
        chosen = allocated.get(b.bidder)
        units = chosen.units if chosen else 0
        payment = (
            tbill_payment(units, terms["face_minor_per_unit"], chosen.yield_rate, days_to_maturity)
            if chosen
            else 0
        )
        rows.append(
            {
                "bidder": b.bidder,
                "bid_units": b.amount,
                "bid_yield": None if b.yield_rate is None else str(b.yield_rate),
                "sequence": b.sequence,
                "units": units,
                "yield": str(chosen.yield_rate) if chosen else None,
                "pricing": terms["pricing"],
                "payment_minor": payment,
                "payment": format_pkr(payment),
            }
        )
    return rows


def settlement(
    platform: Platform, auction_id: int, cutoff: Decimal, days_to_maturity: int
) -> tuple[list[Any], list[dict[str, Any]]]:
    """The arguments of `Auction.settle` for the allocation at `cutoff`, and its rows."""
    rows = allocation(platform, auction_id, cutoff, days_to_maturity)
    arguments = [
        auction_id,
        yield_micro(cutoff),
        [r["bidder"] for r in rows],
        [r["units"] for r in rows],
        [yield_micro(Decimal(r["yield"])) if r["units"] else 0 for r in rows],
        [r["payment_minor"] for r in rows],
    ]
    return arguments, rows


def propose_settlement(
    platform: Platform,
    official: str,
    auction_id: int,
    cutoff: Decimal,
    days_to_maturity: int,
    idempotency_key: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Propose the settlement of an auction with its allocation; returns (proposal, rows)."""
    arguments, rows = settlement(platform, auction_id, cutoff, days_to_maturity)
    proposal_id = governance.propose(
        platform,
        official,
        platform.contract("Auction"),
        "settle",
        arguments,
        idempotency_key=idempotency_key,
    )
    return proposal_id, rows


def show(platform: Platform, auction_id: int) -> dict[str, Any]:
    """An auction's terms and everything that happened in it, from the chain's events."""
    terms = _terms(platform, auction_id)
    events = []
    for e in platform.decoded_logs(platform.contract("Auction"), AUCTION_EVENTS):
        if e.get("auctionId") != auction_id:
            continue
        row = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in e.items()}
        if e["event"] == "BidRefused":
            row["reason"] = _revert_text(e["reason"])
        events.append(row)
    return {**terms, "events": events}


def list_auctions(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("Auction").read("auctionCount")
    return [_terms(platform, i) for i in range(1, count + 1)]


def _revert_text(data: bytes) -> str:
    return decode_revert(data) or "refused without a reason"
