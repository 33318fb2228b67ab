"""`amanat` commands. Every command takes --json; errors print one line and exit non-zero.

This module holds the root group, its global options and the entry point; the commands live in
one module an area (operations, assets, institutions, governance, tokens, markets, lifecycle,
transparency) and are attached here."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click

from amanat.cli import (
    assets,
    governance,
    institutions,
    lifecycle,
    markets,
    operations,
    tokens,
    transparency,
)
from amanat.cli.common import Context, json_option, pass_ctx
from amanat.errors import AmanatError


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


for _group in (
    *operations.COMMANDS,
    assets.asset,
    institutions.institution,
    *governance.GROUPS,
    tokens.token,
    *markets.GROUPS,
):
    cli.add_command(_group)
for _command in (*assets.PROPOSALS, *tokens.PROPOSALS, *markets.PROPOSALS, *lifecycle.PROPOSALS):
    governance.propose.add_command(_command)
for _command in markets.ASSET_COMMANDS:
    assets.asset.add_command(_command)
for _command in lifecycle.INSTITUTION_COMMANDS:
    institutions.institution.add_command(_command)
for _command in lifecycle.PROPOSAL_COMMANDS:
    governance.proposal.add_command(_command)
transparency.register(cli, json_option, pass_ctx)


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
        import logging  # only here: a command that succeeds never loads it

        log = Path.cwd() / "amanat-error.log"
        log.write_text(traceback.format_exc())
        logging.getLogger("amanat").debug("internal error", exc_info=True)
        click.echo(f"internal error: {exc.__class__.__name__}: {exc} (details in {log})", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
