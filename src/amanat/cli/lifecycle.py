"""`amanat` commands of the key lifecycle: an institution's wallet rotated (holdings moved by its
own transfers, the old wallet unlinked), an official or the tree-head publisher replaced through
governance, and a timelock restarted after an official's removal stopped it."""

from __future__ import annotations

from typing import Any

import click

from amanat.cli.common import (
    Context,
    as_option,
    emit,
    emit_proposal,
    gov,
    json_option,
    pass_ctx,
    proposal_evidence,
    proposal_options,
    proposal_text,
    rotation,
    table,
)


@click.command("move-holdings")
@click.option("--to", "new_wallet", required=True, help="A wallet linked to the same institution.")
@click.option(
    "--as",
    "holder",
    required=True,
    help="Key name of the wallet the holdings are in: the transfers are signed with it.",
)
@json_option
@pass_ctx
def institution_move_holdings(ctx: Context, new_wallet: str, holder: str, as_json: bool) -> None:
    """Move every unit and the unlocked cash of your wallet to your institution's new wallet,
    with your own signed transfers (wallet rotation; then `institution unlink-wallet`)."""
    result = rotation.move_holdings(ctx.platform(), holder, new_wallet)
    lines = [f"moved from {result['from']} to {result['to']}:", table(result["moved"])]
    if result["staying"]:
        lines.append("staying (recover them by governance): " + "; ".join(result["staying"]))
    emit(result, as_json, "\n".join(lines))


@click.command("unlink-wallet")
@click.argument("wallet")
@as_option("registrar", "registrar")
@json_option
@pass_ctx
def institution_unlink_wallet(ctx: Context, wallet: str, actor: str, as_json: bool) -> None:
    """Unlink an emptied wallet from its institution (refused while it holds units, cash or a
    sealed bid's deposit): it can then neither send nor receive."""
    result = rotation.unlink_wallet(ctx.platform(), actor, wallet)
    emit(
        result,
        as_json,
        f"wallet {result['wallet']} unlinked from identity {result['identity']} "
        f"(tx {result['tx']}); its wallets now: {', '.join(result['wallets']) or '(none)'}",
    )


def _emit_rotation(ctx: Context, result: dict[str, Any], role: str, as_json: bool) -> None:
    platform = ctx.platform()
    details = [d.as_dict() for d in gov.describe(platform, result["proposals"])]
    appoint, remove = result["proposals"]
    after = (
        " Then name the new key in amanat.toml ([transparency] publisher) and restart "
        "`amanat serve`."
        if role == "publisher"
        else ""
    )
    note = (
        f"execute proposal {appoint} (appoint) before proposal {remove} (remove): removing first "
        f"would leave fewer {role}s and stop the timelocks of open proposals.{after}"
    )
    emit(
        {**result, "details": details, "note": note},
        as_json,
        "\n\n".join([*(proposal_text(d, platform.settings.embedded, {}) for d in details), note]),
    )


@click.command("rotate-official")
@click.option("--old", required=True, help="The official's key name or address to remove.")
@click.option("--new", "new", required=True, help="The new official's key name or address.")
@proposal_options
@pass_ctx
def propose_rotate_official(ctx: Context, old: str, new: str, **options: Any) -> None:
    """Replace an official: two proposals, appoint NEW then remove OLD (the threshold stays
    valid; OLD's approvals of open proposals stop counting once it is removed)."""
    platform = ctx.platform()
    result = rotation.propose_official_rotation(
        platform,
        options["actor"],
        old,
        new,
        proposal_evidence(platform, options),
        options["idempotency_key"],
    )
    _emit_rotation(ctx, result, "official", options["as_json"])


@click.command("rotate-publisher")
@click.option("--old", required=True, help="The publisher's key name or address to remove.")
@click.option("--new", "new", required=True, help="The new publisher's key name or address.")
@proposal_options
@pass_ctx
def propose_rotate_publisher(ctx: Context, old: str, new: str, **options: Any) -> None:
    """Replace the transparency log's tree-head publisher: two proposals, appoint NEW then
    remove OLD; OLD can no longer anchor once removed."""
    platform = ctx.platform()
    result = rotation.propose_publisher_rotation(
        platform,
        options["actor"],
        old,
        new,
        proposal_evidence(platform, options),
        options["idempotency_key"],
    )
    _emit_rotation(ctx, result, "publisher", options["as_json"])


@click.command("restart-timelock")
@click.argument("proposal_id", type=int)
@click.option("--as", "actor", required=True, help="Key name of an official.")
@json_option
@pass_ctx
def proposal_restart_timelock(ctx: Context, proposal_id: int, actor: str, as_json: bool) -> None:
    """Restart the timelock of a proposal that an official's removal (or a raised threshold)
    stopped, when it still has its approvals."""
    platform = ctx.platform()
    gov.restart_timelock(platform, actor, proposal_id)
    emit_proposal(platform, proposal_id, as_json)


INSTITUTION_COMMANDS = (institution_move_holdings, institution_unlink_wallet)
PROPOSALS = (propose_rotate_official, propose_rotate_publisher)
PROPOSAL_COMMANDS = (proposal_restart_timelock,)
