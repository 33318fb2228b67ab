"""`amanat` commands of the token register (list, show, holders, balance, history, pre-check,
transfer) and the proposals that act on a token (mint, burn, forced transfer, freeze, pause,
recover)."""

from __future__ import annotations

import sys
from typing import Any

import click

from amanat.cli.common import (
    UNITS,
    Context,
    emit,
    json_option,
    pass_ctx,
    proposal_options,
    rotation,
    submit_proposal,
    table,
    tokens,
)
from amanat.errors import InvalidInput

# --------------------------------------------------------------------- tokens


@click.group()
def token() -> None:
    """Tokens: show, holders, history, pre-check, transfer."""


@token.command("list")
@json_option
@pass_ctx
def token_list(ctx: Context, as_json: bool) -> None:
    """All tokens."""
    platform = ctx.platform()
    rows = [tokens.info(platform, t) for t in tokens.all_tokens(platform)]
    emit(
        rows,
        as_json,
        table(rows, ["asset", "symbol", "name", "total_supply", "holders", "paused", "address"]),
    )


@token.command("show")
@click.argument("token_ref", metavar="TOKEN")
@json_option
@pass_ctx
def token_show(ctx: Context, token_ref: str, as_json: bool) -> None:
    """A token's supply, holders and rules (TOKEN: asset id, symbol or address)."""
    platform = ctx.platform()
    emit(tokens.info(platform, tokens.resolve(platform, token_ref)), as_json)


@token.command("holders")
@click.argument("token_ref", metavar="TOKEN")
@click.option("--block", type=int, help="As of this block (default latest).")
@json_option
@pass_ctx
def token_holders(ctx: Context, token_ref: str, block: int | None, as_json: bool) -> None:
    """The cap table."""
    platform = ctx.platform()
    rows = tokens.holders(
        platform, tokens.resolve(platform, token_ref), block if block is not None else "latest"
    )
    emit(rows, as_json)


@token.command("balance")
@click.argument("token_ref", metavar="TOKEN")
@click.argument("wallet")
@json_option
@pass_ctx
def token_balance(ctx: Context, token_ref: str, wallet: str, as_json: bool) -> None:
    """A wallet's balance and frozen units."""
    platform = ctx.platform()
    bound = tokens.resolve(platform, token_ref)
    address = platform.address_of(wallet)
    emit(
        {
            "wallet": address,
            "balance": bound.read("balanceOf", address),
            "frozen": bound.read("getFrozenTokens", address),
            "wallet_frozen": bound.read("isFrozen", address),
        },
        as_json,
    )


@token.command("history")
@click.argument("token_ref", metavar="TOKEN")
@json_option
@pass_ctx
def token_history(ctx: Context, token_ref: str, as_json: bool) -> None:
    """Every transfer, enforcement action and rule change of a token."""
    platform = ctx.platform()
    rows = tokens.history(platform, tokens.resolve(platform, token_ref))
    emit(
        rows,
        as_json,
        "\n".join(
            f"block {r['block']:>6}  {r['event']:<18} "
            + " ".join(f"{k}={v}" for k, v in r.items() if k not in ("event", "block", "tx"))
            for r in rows
        )
        or "(none)",
    )


@token.command("precheck")
@click.argument("token_ref", metavar="TOKEN")
@click.option("--from", "sender", required=True)
@click.option("--to", "receiver", required=True)
@click.option("--amount", required=True, type=UNITS)
@json_option
@pass_ctx
def token_precheck(
    ctx: Context, token_ref: str, sender: str, receiver: str, amount: int, as_json: bool
) -> None:
    """Would this transfer pass every rule? Exit 3 and the rule if not."""
    platform = ctx.platform()
    verdict = tokens.precheck(
        platform,
        tokens.resolve(platform, token_ref),
        platform.address_of(sender),
        platform.address_of(receiver),
        amount,
    )
    emit(
        verdict.as_dict(),
        as_json,
        f"allowed: {verdict.detail}"
        if verdict.allowed
        else f"refused [{verdict.code.rule}]: {verdict.code.reason}: {verdict.detail}",
    )
    if not verdict.allowed:
        sys.exit(3)


@token.command("transfer")
@click.argument("token_ref", metavar="TOKEN")
@click.option("--to", "receiver", required=True)
@click.option("--amount", required=True, type=UNITS)
@click.option("--idempotency-key")
@click.option(
    "--as",
    "actor",
    help="Key name of the sending institution's wallet (not in client mode: --api).",
)
@json_option
@pass_ctx
def token_transfer(
    ctx: Context,
    token_ref: str,
    receiver: str,
    amount: int,
    idempotency_key: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Transfer units from your wallet (pre-checked; refused before sending if a rule forbids).
    In client mode (--api) the transfer is signed here with --key; --to is a 0x address."""
    if ctx.api is not None:
        if not receiver.startswith("0x"):
            raise InvalidInput(f"in client mode give the receiver's 0x address, not {receiver!r}")
        client = ctx.client()
        emit(client.act("transfer", token=token_ref, to=receiver, amount=amount), as_json)
        return
    if actor is None:
        raise InvalidInput("name the sending wallet with --as (or use client mode: --api)")
    platform = ctx.platform()
    result = tokens.transfer(
        platform, actor, tokens.resolve(platform, token_ref), receiver, amount, idempotency_key
    )
    emit(result, as_json)


@click.command("mint")
@click.argument("token")
@click.option("--to", "receiver", required=True)
@click.option("--amount", required=True, type=UNITS)
@proposal_options
@pass_ctx
def propose_mint(ctx: Context, token: str, receiver: str, amount: int, **options: Any) -> None:
    """Issue units within the statutory authorisation (pre-checked now)."""
    platform = ctx.platform()
    bound = tokens.resolve(platform, token)
    to = platform.address_of(receiver)
    verdict = tokens.mint_precheck(platform, bound, to, amount)
    if not verdict.allowed:
        raise verdict.refuse()
    submit_proposal(ctx, bound, "mint", [to, amount], **options)


@click.command("burn")
@click.argument("token")
@click.option("--wallet", required=True)
@click.option("--amount", required=True, type=UNITS)
@proposal_options
@pass_ctx
def propose_burn(ctx: Context, token: str, wallet: str, amount: int, **options: Any) -> None:
    """Cancel units held by a wallet (redemption)."""
    platform = ctx.platform()
    submit_proposal(
        ctx,
        tokens.resolve(platform, token),
        "burn",
        [platform.address_of(wallet), amount],
        **options,
    )


@click.command("forced-transfer")
@click.argument("token")
@click.option("--from", "sender", required=True)
@click.option("--to", "receiver", required=True)
@click.option("--amount", required=True, type=UNITS)
@proposal_options
@pass_ctx
def propose_forced_transfer(
    ctx: Context, token: str, sender: str, receiver: str, amount: int, **options: Any
) -> None:
    """Move units on a court order or statute (evidence required)."""
    platform = ctx.platform()
    submit_proposal(
        ctx,
        tokens.resolve(platform, token),
        "forcedTransfer",
        [platform.address_of(sender), platform.address_of(receiver), amount],
        **options,
    )


@click.command("freeze")
@click.argument("token")
@click.option("--wallet", required=True)
@click.option("--amount", type=UNITS, help="Freeze only this many units.")
@click.option("--release", is_flag=True, help="Unfreeze instead.")
@proposal_options
@pass_ctx
def propose_freeze(
    ctx: Context, token: str, wallet: str, amount: int | None, release: bool, **options: Any
) -> None:
    """Freeze (or with --release unfreeze) a wallet or part of its units (evidence required)."""
    platform = ctx.platform()
    address = platform.address_of(wallet)
    if amount is None:
        function, args = "setAddressFrozen", [address, not release]
    else:
        function = "unfreezePartialTokens" if release else "freezePartialTokens"
        args = [address, amount]
    submit_proposal(ctx, tokens.resolve(platform, token), function, args, **options)


@click.command("pause")
@click.argument("token")
@click.option("--resume", is_flag=True, help="Unpause instead.")
@proposal_options
@pass_ctx
def propose_pause(ctx: Context, token: str, resume: bool, **options: Any) -> None:
    """Stop (or resume) all ordinary transfers of a token."""
    submit_proposal(
        ctx, tokens.resolve(ctx.platform(), token), "unpause" if resume else "pause", [], **options
    )


@click.command("recover")
@click.argument("token")
@click.option("--lost", required=True, help="The wallet whose key was lost.")
@click.option("--new", "new_wallet", required=True, help="A wallet linked to the same institution.")
@proposal_options
@pass_ctx
def propose_recover(ctx: Context, token: str, lost: str, new_wallet: str, **options: Any) -> None:
    """Move a lost wallet's units (TOKEN: an asset token, or PKRT for its cash) to the
    institution's new wallet (evidence required)."""
    platform = ctx.platform()
    target = rotation.recovery_target(platform, token)
    lost_address, new_address = platform.address_of(lost), platform.address_of(new_wallet, new=True)
    if options["evidence"] or options["evidence_file"] is not None:  # else refused for that
        rotation.check_recovery(platform, target, lost_address, new_address)
    submit_proposal(
        ctx,
        target,
        "recoveryAddress",
        [lost_address, new_address, "0x" + "00" * 20],
        **options,
    )


PROPOSALS = (
    propose_mint,
    propose_burn,
    propose_forced_transfer,
    propose_freeze,
    propose_pause,
    propose_recover,
)
