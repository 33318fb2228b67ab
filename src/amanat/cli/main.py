"""`amanat` commands. Every command takes --json; errors print one line and exit non-zero."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from amanat.cli import assets, institutions, lifecycle, markets, operations, tokens
from amanat.cli.common import (
    Context,
    emit_proposal,
    json_option,
    own_key_option,
    pass_ctx,
)
from amanat.cli.lazy import lazy_module
from amanat.cli.output import emit, table
from amanat.errors import AmanatError, InvalidInput

# Imported on first use: `amanat --help` and `--version` need none of these (see cli/lazy.py).
if TYPE_CHECKING:
    from amanat.chain import keys as keys_module
    from amanat.services import governance as gov
else:
    keys_module = lazy_module("amanat.chain.keys")
    gov = lazy_module("amanat.services.governance")


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


for _group in (
    *operations.COMMANDS,
    assets.asset,
    institutions.institution,
    tokens.token,
    *markets.GROUPS,
):
    cli.add_command(_group)
for _command in (
    *assets.PROPOSALS,
    *tokens.PROPOSALS,
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
