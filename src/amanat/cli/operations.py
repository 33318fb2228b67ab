"""`amanat` commands that run the platform: the embedded node, the contracts' deployment, the
signing keys, the pilot demo and the server."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from amanat.cli.common import (
    Context,
    chain_node,
    deployment,
    emit,
    json_option,
    pass_ctx,
)
from amanat.errors import AmanatError, InvalidInput

# ---------------------------------------------------------------------- node


@click.group()
def node() -> None:
    """The embedded chain (anvil, automine off, rebuilt from Amanat's journal)."""


@node.command("start")
@json_option
@pass_ctx
def node_start(ctx: Context, as_json: bool) -> None:
    """Start the embedded node, restoring its state from snapshot + journal."""
    _require_embedded(ctx)
    platform = ctx.platform(require_deployment=False)
    status = chain_node.AnvilNode(ctx.settings.data_dir).status()
    emit(
        {
            "running": status.running,
            "pid": status.pid,
            "url": status.url,
            "block": platform.chain.block_number(),
        },
        as_json,
    )


@node.command("stop")
@json_option
@pass_ctx
def node_stop(ctx: Context, as_json: bool) -> None:
    """Stop the embedded node (its state is kept in the journal)."""
    _require_embedded(ctx)
    stopped = chain_node.AnvilNode(ctx.settings.data_dir).stop()
    emit({"stopped": stopped}, as_json, "stopped" if stopped else "not running")


@node.command("status")
@json_option
@pass_ctx
def node_status(ctx: Context, as_json: bool) -> None:
    """Whether the embedded node runs, its URL and block height."""
    _require_embedded(ctx)
    status = chain_node.AnvilNode(ctx.settings.data_dir).status()
    emit(status.__dict__, as_json)
    if not status.running:
        sys.exit(1)


@node.command("advance-time")
@click.argument("seconds", type=click.IntRange(min=1))
@json_option
@pass_ctx
def node_advance_time(ctx: Context, seconds: int, as_json: bool) -> None:
    """Move the embedded chain's clock forward (simulation: timelocks, maturities)."""
    _require_embedded(ctx)
    timestamp = ctx.platform(require_deployment=False).chain.advance_time(seconds)
    emit({"block_timestamp": timestamp}, as_json, f"chain time is now {_when(timestamp)}")


def _require_embedded(ctx: Context) -> None:
    if not ctx.settings.embedded:
        raise InvalidInput("node commands manage the embedded chain; --rpc points elsewhere")


# -------------------------------------------------------------------- deploy


@click.command("deploy")
@click.option(
    "--officials",
    default="official-1,official-2,official-3",
    show_default=True,
    help="Comma-separated key names or addresses of the approving officials.",
)
@click.option("--threshold", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--registrar", default="registrar", show_default=True)
@click.option("--issuer", default="issuer", show_default=True)
@click.option("--valuer", default="valuer", show_default=True)
@click.option("--reserve-auditor", default="reserve-auditor", show_default=True)
@click.option(
    "--publisher",
    default="publisher",
    show_default=True,
    help="Key name or address that anchors the transparency log's tree heads.",
)
@click.option(
    "--as", "actor", default="deployer", show_default=True, help="Key name of the deployer."
)
@click.option(
    "--timelocks",
    "timelocks",
    default="production",
    show_default=True,
    metavar="production|staging|FILE",
    help="Timelock profile: production delays, staging (10 s; refused on a chain id in "
    "chain.production_chain_ids), or a TOML/JSON file of action = seconds.",
)
@json_option
@pass_ctx
def deploy_command(
    ctx: Context,
    officials: str,
    threshold: int,
    registrar: str,
    issuer: str,
    valuer: str,
    reserve_auditor: str,
    publisher: str,
    actor: str,
    timelocks: str,
    as_json: bool,
) -> None:
    """Deploy the contracts and write the deployment manifest."""
    if ctx.settings.manifest_path.exists():
        raise InvalidInput(f"already deployed (manifest {ctx.settings.manifest_path})")
    platform = ctx.platform(require_deployment=False)
    profile, delays = deployment.timelock_profile(
        timelocks, platform.chain.chain_id, ctx.settings.production_chain_ids
    )
    setup = deployment.GovernanceSetup(
        officials=tuple(platform.address_of(o) for o in officials.split(",")),
        threshold=threshold,
        registrars=(platform.address_of(registrar),),
        issuers=(platform.address_of(issuer),),
        valuers=(platform.address_of(valuer),),
        timelocks=delays,
        reserve_auditors=(platform.address_of(reserve_auditor),),
        publishers=(platform.address_of(publisher),),
    )
    manifest = deployment.deploy(platform.chain, platform.signer(actor), setup, profile)
    platform.set_manifest(manifest)
    emit({name: c.address for name, c in manifest.contracts.items()}, as_json)


# ---------------------------------------------------------------------- keys


@click.group()
def keys() -> None:
    """Signing keys (Keystore V3 files, encrypted with AMANAT_KEY_PASSPHRASE)."""


@keys.command("new")
@click.argument("name")
@click.option(
    "--passphrase",
    envvar="AMANAT_KEY_PASSPHRASE",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
)
@json_option
@pass_ctx
def keys_new(ctx: Context, name: str, passphrase: str, as_json: bool) -> None:
    """Create an encrypted key NAME."""
    from amanat.chain.keys import Keyring

    address = Keyring(ctx.settings.data_dir / "keys").create(name, passphrase)
    emit({"name": name, "address": address}, as_json)


@keys.command("hsm-new")
@click.argument("name")
@json_option
@pass_ctx
def keys_hsm_new(ctx: Context, name: str, as_json: bool) -> None:
    """Generate key NAME inside the hardware token of amanat.toml's [hsm] (it never leaves the
    token); list NAME under [keys] as "hsm" to sign with it."""
    from amanat.chain.hsm import generate_key, token_config

    address = generate_key(token_config(ctx.settings), name)
    emit({"name": name, "address": address, "kind": "hardware token"}, as_json)


@keys.command("list")
@json_option
@pass_ctx
def keys_list(ctx: Context, as_json: bool) -> None:
    """Keys in the data directory (and, on the embedded chain, the development roles)."""
    from amanat.chain.keys import Keyring

    keyring = Keyring(ctx.settings.data_dir / "keys")
    rows = [{"name": n, "address": keyring.address(n), "kind": "keystore"} for n in keyring.names()]
    if ctx.settings.hsm_keys:
        from amanat.chain.hsm import HsmSigner, token_config

        try:
            config = token_config(ctx.settings)
            addresses = {n: HsmSigner(config, n).address for n in ctx.settings.hsm_keys}
        except AmanatError as exc:  # the token is unreachable or its PIN unset: say so
            addresses = {n: f"unknown ({exc})" for n in ctx.settings.hsm_keys}
        rows += [
            {"name": n, "address": addresses[n], "kind": "hardware token"}
            for n in sorted(ctx.settings.hsm_keys)
        ]
    if ctx.settings.embedded:
        from amanat.chain.keys import DEV_ADDRESSES  # known: no key derivation to list them
        from amanat.services.platform import DEV_ROLES

        rows += [
            {"name": n, "address": DEV_ADDRESSES[i], "kind": "development (embedded only)"}
            for n, i in DEV_ROLES.items()
        ]
    emit(rows, as_json)


# ---------------------------------------------------------------------- demo


@click.command("demo")
@click.option("--keep-running", is_flag=True, help="Leave the demo's node running afterwards.")
@json_option
@pass_ctx
def demo_command(ctx: Context, keep_running: bool, as_json: bool) -> None:
    """Run the pilot scenario from nothing on a fresh embedded chain."""
    from amanat import demo

    if not ctx.settings.embedded:
        raise InvalidInput("the demo runs on the embedded chain only")
    summary = demo.run(
        ctx.settings.data_dir / "demo",
        echo=(lambda _m: None) if as_json else click.echo,
        keep_running=keep_running,
    )
    if as_json:
        emit(summary, True)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port", default=0, type=click.IntRange(min=0, max=65535), help="0 picks a free port."
)
@click.option(
    "--pilot",
    is_flag=True,
    help="Embedded only: load the pilot scenario and users if nothing is deployed.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Processes serving requests (the background indexer and publisher run once).",
)
@pass_ctx
def serve_command(ctx: Context, host: str, port: int, pilot: bool, workers: int) -> None:
    """Serve the API, operator console and public portal (embedded mode: also run the node); in
    the background index the chain, publish and anchor a tree head each minute and reconcile
    every ten minutes."""
    from amanat.serve import serve

    serve(ctx.settings, host, port, pilot, click.echo, workers)


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


COMMANDS = (node, deploy_command, keys, demo_command, serve_command)
