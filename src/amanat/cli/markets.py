"""`amanat` commands for the instrument lifecycle: cash, auctions, DvP, distributions, reserves."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from amanat.cli.common import (
    UNITS,
    Context,
    as_option,
    asset_service,
    auction_terms,
    auctions,
    cash,
    distributions,
    dvp,
    emit,
    emit_proposal,
    json_option,
    pass_ctx,
    proposal_evidence,
    proposal_options,
    tokens,
)
from amanat.domain.distribution import KINDS as DISTRIBUTION_KINDS
from amanat.domain.distribution import PAY_BATCH
from amanat.domain.money import parse_pkr
from amanat.errors import InvalidInput

if TYPE_CHECKING:
    from amanat.services.platform import Platform

RELATIVE = re.compile(r"^\+(\d+)([mhd])$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def parse_when(platform: Platform, text: str) -> int:
    """A point in time: '+30m', '+24h', '+2d' from the chain's clock, or a UTC date-time
    'YYYY-MM-DD' / 'YYYY-MM-DDTHH:MM'."""
    relative = RELATIVE.match(text.strip())
    if relative:
        return platform.clock.chain_time() + int(relative[1]) * UNIT_SECONDS[relative[2]]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"time {text!r} is neither +N(m|h|d) nor a date-time like 2027-02-24T10:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


# ---------------------------------------------------------------------- cash


@click.group("cash")
def cash_group() -> None:
    """Tokenized PKR (the cash leg): balances and supply; issue with `propose issue-cash`."""


@cash_group.command("balance")
@click.argument("who")
@json_option
@pass_ctx
def cash_balance(ctx: Context, who: str, as_json: bool) -> None:
    """A wallet's cash: balance, locked for settlements, available."""
    emit(cash.balance(ctx.platform(), who), as_json)


@cash_group.command("supply")
@json_option
@pass_ctx
def cash_supply(ctx: Context, as_json: bool) -> None:
    """Cash outstanding and the treasury's balance."""
    emit(cash.supply(ctx.platform()), as_json)


@click.command("issue-cash")
@click.option("--to", "receiver", required=True, help="The depositing institution.")
@click.option("--amount", required=True, help="PKR, e.g. 1,000,000.00")
@click.option("--reference", required=True, help="The deposit's bank (RTGS) reference.")
@proposal_options
@pass_ctx
def propose_issue_cash(
    ctx: Context, receiver: str, amount: str, reference: str, **options: Any
) -> None:
    """Issue PKRT against an off-chain deposit."""
    platform = ctx.platform()
    minor = parse_pkr(amount)
    proposal_id = cash.propose_issue(
        platform,
        options["actor"],
        receiver,
        minor,
        reference,
        idempotency_key=options["idempotency_key"],
    )
    emit_proposal(platform, proposal_id, options["as_json"])


# ------------------------------------------------------------------ auctions


@click.group("auction")
def auction_group() -> None:
    """Primary auctions: announce, sealed bids, reveal, allocation; settle with `propose`."""


@auction_group.command("announce")
@click.argument("token")
@click.option("--units", required=True, type=UNITS, help="Units offered.")
@click.option("--face", default="100", show_default=True, help="Face value of a unit, PKR.")
@click.option("--close", "close_at", required=True, help="Bids close: +24h or a UTC date-time.")
@click.option("--reveal-by", required=True, help="Reveal deadline: +30h or a UTC date-time.")
@click.option("--settle", "settle_at", required=True, help="Settlement date: +2d or a date-time.")
@click.option(
    "--pricing",
    default="multiple",
    show_default=True,
    help="multiple: each accepted bid pays its own yield (SBP T-bills, PIBs); uniform: all "
    "pay the cut-off.",
)
@click.option(
    "--deposit",
    default="10,000",
    show_default=True,
    help="PKR each sealed bid pays in; returned at reveal, forfeited if not revealed.",
)
@as_option("issuer", "issuer")
@json_option
@pass_ctx
def auction_announce(
    ctx: Context,
    token: str,
    units: int,
    face: str,
    close_at: str,
    reveal_by: str,
    settle_at: str,
    pricing: str,
    deposit: str,
    actor: str,
    as_json: bool,
) -> None:
    """Announce an auction of a tokenized security."""
    platform = ctx.platform()
    face_minor = parse_pkr(face)
    if face_minor <= 0:
        raise InvalidInput(f"face value {face!r} must be positive")
    method = auction_terms.Pricing.parse(pricing)
    deposit_minor = parse_pkr(deposit)
    if deposit_minor <= 0:
        raise InvalidInput(f"deposit {deposit!r} must be positive: a sealed bid is not free")
    auction_id = auctions.announce(
        platform,
        actor,
        tokens.resolve(platform, token),
        units,
        face_minor,
        parse_when(platform, close_at),
        parse_when(platform, reveal_by),
        parse_when(platform, settle_at),
        method,
        deposit_minor,
    )
    emit(auctions.show(platform, auction_id), as_json)


@auction_group.command("bid")
@click.argument("auction_id", type=int)
@click.option("--units", required=True, type=UNITS)
@click.option("--yield", "rate", help="Bid yield, e.g. 0.1195 or 11.95%.")
@click.option("--non-competitive", is_flag=True, help="Take the average accepted yield.")
@as_option("inb", "bidding institution")
@json_option
@pass_ctx
def auction_bid(
    ctx: Context,
    auction_id: int,
    units: int,
    rate: str | None,
    non_competitive: bool,
    actor: str,
    as_json: bool,
) -> None:
    """Commit a sealed bid (kept in your data directory until you reveal)."""
    if (rate is None) == (not non_competitive):
        raise InvalidInput("give either --yield or --non-competitive")
    if ctx.api is not None:  # client mode: only the commitment reaches the platform
        micro = 0 if rate is None else auction_terms.yield_micro(auction_terms.parse_yield(rate))
        sealed_dir = ctx.settings.data_dir / "sealed-bids"
        emit(ctx.client().bid(auction_id, units, micro, rate is not None, sealed_dir), as_json)
        return
    emit(
        auctions.bid(
            ctx.platform(),
            actor,
            auction_id,
            units,
            None if rate is None else auction_terms.parse_yield(rate),
        ),
        as_json,
    )


@auction_group.command("reveal")
@click.argument("auction_id", type=int)
@as_option("inb", "bidding institution")
@json_option
@pass_ctx
def auction_reveal(ctx: Context, auction_id: int, actor: str, as_json: bool) -> None:
    """Reveal your sealed bid after the close; its face value in cash is locked."""
    if ctx.api is not None:  # client mode: the bid kept in this data directory
        sealed_dir = ctx.settings.data_dir / "sealed-bids"
        emit(ctx.client().reveal(auction_id, sealed_dir), as_json)
        return
    emit(auctions.reveal(ctx.platform(), actor, auction_id), as_json)


@auction_group.command("allocation")
@click.argument("auction_id", type=int)
@click.option("--cutoff", required=True, help="Cut-off yield, e.g. 0.1195 or 11.95%.")
@click.option("--days", required=True, type=click.IntRange(min=1), help="Days to maturity.")
@json_option
@pass_ctx
def auction_allocation(
    ctx: Context, auction_id: int, cutoff: str, days: int, as_json: bool
) -> None:
    """Preview the allocation and payments at a cut-off yield."""
    rows = auctions.allocation(ctx.platform(), auction_id, auction_terms.parse_yield(cutoff), days)
    emit(rows, as_json)


@auction_group.command("show")
@click.argument("auction_id", type=int)
@json_option
@pass_ctx
def auction_show(ctx: Context, auction_id: int, as_json: bool) -> None:
    """An auction's terms and its events (commitments, reveals, settlement)."""
    emit(auctions.show(ctx.platform(), auction_id), as_json)


@auction_group.command("list")
@json_option
@pass_ctx
def auction_list(ctx: Context, as_json: bool) -> None:
    """All auctions."""
    rows = auctions.list_auctions(ctx.platform())
    emit(rows, as_json)


@click.command("settle-auction")
@click.argument("auction_id", type=int)
@click.option("--cutoff", required=True, help="Cut-off yield, e.g. 0.1195 or 11.95%.")
@click.option("--days", required=True, type=click.IntRange(min=1), help="Days to maturity.")
@proposal_options
@pass_ctx
def propose_settle_auction(
    ctx: Context, auction_id: int, cutoff: str, days: int, **options: Any
) -> None:
    """Settle an auction with the allocation at the cut-off (DvP per bidder)."""
    platform = ctx.platform()
    proposal_id, rows = auctions.propose_settlement(
        platform,
        options["actor"],
        auction_id,
        auction_terms.parse_yield(cutoff),
        days,
        idempotency_key=options["idempotency_key"],
    )
    emit_proposal(platform, proposal_id, options["as_json"], {"allocation": rows})


# ----------------------------------------------------------------------- DvP


@click.group("dvp")
def dvp_group() -> None:
    """Secondary delivery versus payment: instruct, affirm, settle, cancel, expire."""


@dvp_group.command("instruct")
@click.argument("token")
@click.option("--to", "buyer", required=True, help="The buyer.")
@click.option("--units", required=True, type=UNITS)
@click.option("--cash", "price", required=True, help="PKR the buyer pays, e.g. 1,944,064.00")
@click.option("--deadline", default="+1d", show_default=True, help="+N(m|h|d) or a date-time.")
@click.option("--idempotency-key")
@as_option("inb", "selling institution")
@json_option
@pass_ctx
def dvp_instruct(
    ctx: Context,
    token: str,
    buyer: str,
    units: int,
    price: str,
    deadline: str,
    idempotency_key: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Sell units against cash: your units are locked until settled, cancelled or expired."""
    platform = ctx.platform()
    emit(
        dvp.instruct(
            platform,
            actor,
            tokens.resolve(platform, token),
            buyer,
            units,
            parse_pkr(price),
            parse_when(platform, deadline),
            idempotency_key,
        ),
        as_json,
    )


def _dvp_step(name: str, doc: str, default_actor: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("instruction_id", type=int)
    @as_option(default_actor, "party")
    @json_option
    @pass_ctx
    def command(ctx: Context, instruction_id: int, actor: str, as_json: bool) -> None:
        if ctx.api is not None and name != "expire":  # client mode: signed here with --key
            emit(ctx.client().act(f"dvp_{name}", instruction=instruction_id), as_json)
            return
        emit(getattr(dvp, name)(ctx.platform(), actor, instruction_id), as_json)

    return command


for _name, _doc, _default in (
    ("affirm", "The buyer affirms: its cash is locked.", "kla"),
    ("settle", "Settle an affirmed instruction: both legs at once.", "kla"),
    ("cancel", "Cancel before settlement (either party); both legs released.", "inb"),
    ("expire", "Expire an instruction past its deadline (anyone).", "inb"),
):
    dvp_group.add_command(_dvp_step(_name, _doc, _default))


@dvp_group.command("show")
@click.argument("instruction_id", type=int)
@json_option
@pass_ctx
def dvp_show(ctx: Context, instruction_id: int, as_json: bool) -> None:
    """One DvP instruction."""
    emit(dvp.show(ctx.platform(), instruction_id), as_json)


@dvp_group.command("list")
@json_option
@pass_ctx
def dvp_list(ctx: Context, as_json: bool) -> None:
    """All DvP instructions."""
    rows = dvp.list_instructions(ctx.platform())
    emit(rows, as_json)


# ------------------------------------------------------------- distributions


@click.group("distribution")
def distribution_group() -> None:
    """Coupons, rent, dividends and redemptions: pay, claim, show; declare with `propose`."""


@distribution_group.command("pay")
@click.argument("distribution_id", type=int)
@click.option("--batch", default=PAY_BATCH, show_default=True, type=int)
@as_option("issuer", "paying agent")
@json_option
@pass_ctx
def distribution_pay(
    ctx: Context, distribution_id: int, batch: int, actor: str, as_json: bool
) -> None:
    """Push every payout not yet made (frozen holders' payouts are held)."""
    emit(distributions.pay(ctx.platform(), actor, distribution_id, batch), as_json)


@distribution_group.command("claim")
@click.argument("distribution_id", type=int)
@as_option("inb", "holder")
@json_option
@pass_ctx
def distribution_claim(ctx: Context, distribution_id: int, actor: str, as_json: bool) -> None:
    """Claim your own payout with its Merkle proof (client mode: signed here with --key)."""
    if ctx.api is not None:
        emit(ctx.client().act("claim", distribution=distribution_id), as_json)
        return
    emit(distributions.claim(ctx.platform(), actor, distribution_id), as_json)


@distribution_group.command("show")
@click.argument("distribution_id", type=int)
@json_option
@pass_ctx
def distribution_show(ctx: Context, distribution_id: int, as_json: bool) -> None:
    """A distribution and its progress."""
    emit(distributions.show(ctx.platform(), distribution_id), as_json)


@distribution_group.command("list")
@json_option
@pass_ctx
def distribution_list(ctx: Context, as_json: bool) -> None:
    """All distributions."""
    rows = distributions.list_distributions(ctx.platform())
    emit(rows, as_json)


@click.command("distribution")
@click.argument("token")
@click.option(
    "--kind", required=True, type=click.Choice(list(DISTRIBUTION_KINDS)), help="What is paid."
)
@click.option("--total", help="PKR to distribute in all, e.g. 2,600,000.00")
@click.option("--per-unit", help="PKR per unit of record instead, e.g. 6.00 (coupon, dividend).")
@click.option("--record-block", type=click.IntRange(min=0), help="Holders of record at block.")
@click.option("--record-date", help="Holders of record at a UTC date-time (or +N / now).")
@proposal_options
@pass_ctx
def propose_distribution(
    ctx: Context,
    token: str,
    kind: str,
    total: str | None,
    per_unit: str | None,
    record_block: int | None,
    record_date: str | None,
    **options: Any,
) -> None:
    """Declare a distribution to the holders of record, drawn from the treasury."""
    platform = ctx.platform()
    if (total is None) == (per_unit is None):
        raise InvalidInput("give either --total or --per-unit")
    if (record_block is None) == (record_date is None):
        raise InvalidInput("give either --record-block or --record-date")
    if record_date is not None:
        moment = (
            platform.clock.chain_time()
            if record_date == "now"
            else parse_when(platform, record_date)
        )
        record_block = distributions.record_block_for(platform, moment)
    assert record_block is not None
    bound = tokens.resolve(platform, token)
    if total is not None:
        total_minor = parse_pkr(total)
    else:
        assert per_unit is not None
        total_minor = distributions.total_for_per_unit(
            platform, bound, parse_pkr(per_unit), record_block
        )
    proposal_id, summary = distributions.propose_declare(
        platform,
        options["actor"],
        bound,
        distributions.KINDS[kind],
        total_minor,
        record_block,
        idempotency_key=options["idempotency_key"],
        evidence=proposal_evidence(platform, options),
    )
    emit_proposal(platform, proposal_id, options["as_json"], {"plan": summary})


@click.command("release-held")
@click.argument("distribution_id", type=int)
@click.option("--holder", required=True)
@click.option("--to", "receiver", help="Wallet paid (default: the holder).")
@proposal_options
@pass_ctx
def propose_release_held(
    ctx: Context, distribution_id: int, holder: str, receiver: str | None, **options: Any
) -> None:
    """Pay out a held payout once its cause is resolved; to a wallet other than the holder's
    only with --evidence."""
    platform = ctx.platform()
    proposal_id = distributions.propose_release(
        platform,
        options["actor"],
        distribution_id,
        holder,
        receiver or holder,
        proposal_evidence(platform, options),
    )
    emit_proposal(platform, proposal_id, options["as_json"])


@click.command("close-distribution")
@click.argument("distribution_id", type=int)
@proposal_options
@pass_ctx
def propose_close_distribution(ctx: Context, distribution_id: int, **options: Any) -> None:
    """Close a distribution that cannot complete; the unpaid rest returns to the treasury
    (payouts not made are forfeited: give --evidence)."""
    platform = ctx.platform()
    proposal_id = distributions.propose_close(
        platform, options["actor"], distribution_id, proposal_evidence(platform, options)
    )
    emit_proposal(platform, proposal_id, options["as_json"])


@click.command("mature")
@click.argument("token")
@proposal_options
@pass_ctx
def propose_mature(ctx: Context, token: str, **options: Any) -> None:
    """Mark a token matured: transfers stop, only redemption remains (give --evidence: the
    maturity or early-redemption notice)."""
    platform = ctx.platform()
    proposal_id = distributions.propose_maturity(
        platform, options["actor"], tokens.resolve(platform, token), proposal_evidence(platform, options)
    )
    emit_proposal(platform, proposal_id, options["as_json"])


# ------------------------------------------------------------ asset register


@click.command("attest-reserve")
@click.argument("asset_id", type=int)
@click.option("--quantity", required=True, type=click.IntRange(min=0), help="Units in the vault.")
@click.option("--report", required=True, type=click.Path(path_type=Path), help="Audit report.")
@as_option("reserve-auditor", "reserve auditor")
@json_option
@pass_ctx
def asset_attest_reserve(
    ctx: Context, asset_id: int, quantity: int, report: Path, actor: str, as_json: bool
) -> None:
    """Attest a commodity reserve; minting is capped by the latest attestation."""
    platform = ctx.platform()
    report_hash = asset_service.store_document(platform, report)
    index = asset_service.attest_reserve(platform, actor, asset_id, quantity, report_hash)
    emit(
        {"asset": asset_id, "attestation": index, "quantity": quantity, "report": report_hash},
        as_json,
    )


@click.command("link-underlying")
@click.argument("sukuk_id", type=int)
@click.argument("underlying_id", type=int)
@as_option("issuer", "issuer")
@json_option
@pass_ctx
def asset_link_underlying(
    ctx: Context, sukuk_id: int, underlying_id: int, actor: str, as_json: bool
) -> None:
    """Tie a proposed sukuk to its underlying asset (which then cannot be retired)."""
    platform = ctx.platform()
    asset_service.link_underlying(platform, actor, sukuk_id, underlying_id)
    emit(asset_service.show(platform, sukuk_id), as_json)


GROUPS = (cash_group, auction_group, dvp_group, distribution_group)
PROPOSALS = (
    propose_issue_cash,
    propose_settle_auction,
    propose_distribution,
    propose_release_held,
    propose_close_distribution,
    propose_mature,
)
ASSET_COMMANDS = (asset_attest_reserve, asset_link_underlying)
