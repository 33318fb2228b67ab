"""`amanat` commands of governance: the M-of-N proposals (list, show, approve, execute, cancel),
the maker-checker requests approved with an official's own key, and the `propose` group the
other areas add their proposals to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click

from amanat.cli.common import (
    Context,
    emit,
    emit_proposal,
    gov,
    json_option,
    keys_module,
    own_key_option,
    pass_ctx,
    table,
)
from amanat.errors import InvalidInput

# ------------------------------------------------------------------ proposals


@click.group()
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


@click.group()
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


@click.group()
def propose() -> None:
    """Propose a privileged action (needs M approvals; enforcement needs --evidence)."""


GROUPS = (proposal, approval, propose)
