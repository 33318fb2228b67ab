"""`amanat` commands. Every command takes --json; errors print one line and exit non-zero."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from amanat.cli import assets, institutions, lifecycle, markets, operations
from amanat.cli.common import (
    UNITS,
    Context,
    emit_proposal,
    json_option,
    own_key_option,
    pass_ctx,
    proposal_options,
    submit_proposal,
)
from amanat.cli.lazy import lazy_module
from amanat.cli.output import emit, table
from amanat.errors import AmanatError, InvalidInput

# Imported on first use: `amanat --help` and `--version` need none of these (see cli/lazy.py).
if TYPE_CHECKING:
    from amanat.chain import keys as keys_module
    from amanat.services import governance as gov
    from amanat.services import rotation, tokens
else:
    keys_module = lazy_module("amanat.chain.keys")
    gov = lazy_module("amanat.services.governance")
    rotation = lazy_module("amanat.services.rotation")
    tokens = lazy_module("amanat.services.tokens")


@click.group()
@click.option("--data-dir", envvar="AMANAT_HOME", help="Data directory (default ./.amanat).")
@click.option("--rpc", envvar="AMANAT_RPC", help="EVM JSON-RPC URL; embedded anvil if unset.")
@click.option(
    "--api",
    envvar="AMANAT_API",
    help="Client mode: the platform's API URL. Writes are built there, signed here with --key "
    "and submitted; the key never leaves this machine.",
)
@click.option(
    "--as", "api_user", help="Client mode: your API user (password: AMANAT_API_PASSWORD)."
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path),
    help="Client mode: your Keystore V3 file (passphrase: AMANAT_KEY_PASSPHRASE).",
)
@click.option(
    "--chain-id",
    type=int,
    envvar="AMANAT_CHAIN_ID",
    help="Client mode: the chain id to sign for (default: the first one the API reported, kept "
    "in the data directory).",
)
@click.version_option(package_name="amanat")
@click.pass_context
def cli(
    ctx: click.Context,
    data_dir: str | None,
    rpc: str | None,
    api: str | None,
    api_user: str | None,
    key_file: Path | None,
    chain_id: int | None,
) -> None:
    """Amanat: tokenize state-owned assets and manage them in the open."""
    ctx.obj = Context(data_dir, rpc, api, api_user, key_file, chain_id)


# ------------------------------------------------------------------ proposals


@cli.group()
def proposal() -> None:
    """M-of-N proposals: list, show, approve, execute, cancel."""


@proposal.command("list")
@json_option
@pass_ctx
def proposal_list(ctx: Context, as_json: bool) -> None:
    """All proposals: the call in words, state, approvals and when each becomes executable."""
    rows = [p.as_dict() for p in gov.describe(ctx.platform())]
    emit(rows, as_json, table(rows, ["id", "state", "approvals", "threshold", "call", "timelock"]))


@proposal.command("show")
@click.argument("proposal_id", type=int)
@json_option
@pass_ctx
def proposal_show(ctx: Context, proposal_id: int, as_json: bool) -> None:
    """One proposal: the call in words, its evidence, timelock and history."""
    emit_proposal(ctx.platform(), proposal_id, as_json)


class OfficialStep(NamedTuple):
    """An official's step on a proposal: its API action, its service and who takes it."""

    action: str
    run: Callable[[Any, Any, int], Any]
    taker: str


def _official_step(
    ctx: Context,
    step: OfficialStep,
    proposal_id: int,
    actor: str | None,
    key_file: Path | None,
    api: str | None,
    as_json: bool,
) -> None:
    """Take `step` on a proposal: in client mode built through the API and signed here; else
    signed with the official's own key file (--key) or the key named by --as."""
    if api or ctx.api:
        client = ctx.client(api=api, user=actor, key_file=key_file)
        emit(client.act(step.action, proposal=proposal_id), as_json)
        return
    platform = ctx.platform()
    if key_file is not None:
        step.run(platform, keys_module.load_keystore(key_file), proposal_id)
    elif actor:
        step.run(platform, actor, proposal_id)
    else:
        raise InvalidInput(
            f"name the {step.taker} official's key with --as, or sign with your own key file: --key"
        )
    emit_proposal(platform, proposal_id, as_json)


@proposal.command("approve")
@click.argument("proposal_id", type=int)
@click.option(
    "--as",
    "actor",
    help="Key name of the approving official; in client mode (--api) your API user.",
)
@own_key_option("the approval")
@click.option(
    "--api",
    help="Client mode: build the approval through the platform's API, sign it here with --key "
    "and submit it there (it records it on the request the proposal carries).",
)
@json_option
@pass_ctx
def proposal_approve(
    ctx: Context,
    proposal_id: int,
    actor: str | None,
    key_file: Path | None,
    api: str | None,
    as_json: bool,
) -> None:
    """Approve a proposal with an official's own key."""
    step = OfficialStep("proposal_approve", gov.approve, "approving")
    _official_step(ctx, step, proposal_id, actor, key_file, api, as_json)


@cli.group()
def approval() -> None:
    """Maker-checker requests, approved and executed by an official with its own key (client
    mode)."""


@approval.command("approve")
@click.argument("request_id", type=int)
@own_key_option("the approval")
@json_option
@pass_ctx
def approval_approve(ctx: Context, request_id: int, key_file: Path | None, as_json: bool) -> None:
    """Approve a maker-checker request with your own key, through the API (--api URL --as USER):
    the proposal of its call if yours is the first approval, else the approval of its proposal.
    What the API built is checked against the request before it is signed."""
    emit(ctx.client(key_file=key_file).approve_request(request_id), as_json)


@approval.command("execute")
@click.argument("request_id", type=int)
@own_key_option("the execute")
@json_option
@pass_ctx
def approval_execute(ctx: Context, request_id: int, key_file: Path | None, as_json: bool) -> None:
    """Execute a maker-checker request whose timelock has passed, with your own key, through the
    API (--api URL --as USER): the execute of its proposal, checked before it is signed; the
    request records it."""
    emit(ctx.client(key_file=key_file).execute_request(request_id), as_json)


@proposal.command("execute")
@click.argument("proposal_id", type=int)
@click.option(
    "--as",
    "actor",
    help="Key name of an official; in client mode (--api) your API user.",
)
@own_key_option("the execute")
@click.option(
    "--api",
    help="Client mode: build the execute through the platform's API, sign it here with --key "
    "and submit it there (it records it on the request the proposal carries).",
)
@json_option
@pass_ctx
def proposal_execute(
    ctx: Context,
    proposal_id: int,
    actor: str | None,
    key_file: Path | None,
    api: str | None,
    as_json: bool,
) -> None:
    """Execute an approved proposal after its timelock, with an official's own key."""
    step = OfficialStep("proposal_execute", gov.execute, "executing")
    _official_step(ctx, step, proposal_id, actor, key_file, api, as_json)


@proposal.command("cancel")
@click.argument("proposal_id", type=int)
@click.option("--as", "actor", required=True, help="Key name of the proposer.")
@json_option
@pass_ctx
def proposal_cancel(ctx: Context, proposal_id: int, actor: str, as_json: bool) -> None:
    """Withdraw your own proposal."""
    platform = ctx.platform()
    gov.cancel(platform, actor, proposal_id)
    emit_proposal(platform, proposal_id, as_json)


# ------------------------------------------------------------------- propose


@cli.group()
def propose() -> None:
    """Propose a privileged action (needs M approvals; enforcement needs --evidence)."""


@propose.command("mint")
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


@propose.command("burn")
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


@propose.command("forced-transfer")
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


@propose.command("freeze")
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


@propose.command("pause")
@click.argument("token")
@click.option("--resume", is_flag=True, help="Unpause instead.")
@proposal_options
@pass_ctx
def propose_pause(ctx: Context, token: str, resume: bool, **options: Any) -> None:
    """Stop (or resume) all ordinary transfers of a token."""
    submit_proposal(
        ctx, tokens.resolve(ctx.platform(), token), "unpause" if resume else "pause", [], **options
    )


@propose.command("recover")
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


# --------------------------------------------------------------------- tokens


@cli.group()
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


for _group in (
    *operations.COMMANDS,
    assets.asset,
    institutions.institution,
    *markets.GROUPS,
):
    cli.add_command(_group)
for _command in (
    *assets.PROPOSALS,
    *markets.PROPOSALS,
    *lifecycle.PROPOSALS,
):
    propose.add_command(_command)
for _command in markets.ASSET_COMMANDS:
    assets.asset.add_command(_command)
for _command in lifecycle.INSTITUTION_COMMANDS:
    institutions.institution.add_command(_command)
for _command in lifecycle.PROPOSAL_COMMANDS:
    proposal.add_command(_command)
from amanat.cli import transparency as _transparency  # noqa: E402 - registers on `cli`

_transparency.register(cli, json_option, pass_ctx)


def main() -> None:
    """Entry point: run the CLI, turning every error into one line and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AmanatError as exc:
        click.echo(f"error [{exc.rule}]: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback to users
        log = Path.cwd() / "amanat-error.log"
        log.write_text(traceback.format_exc())
        logging.getLogger("amanat").debug("internal error", exc_info=True)
        click.echo(f"internal error: {exc.__class__.__name__}: {exc} (details in {log})", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
