"""`amanat` commands of the identity register: onboard, update, link a wallet, show, list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from amanat.cli.common import (
    Context,
    as_option,
    emit,
    identities,
    json_option,
    pass_ctx,
    table,
)
from amanat.domain.identity import InvestorCategory, parse_country
from amanat.errors import InvalidInput

# --------------------------------------------------------------- institutions


@click.group()
def institution() -> None:
    """Verified institutions (identities and wallets)."""


@institution.command("onboard")
@click.option("--name", required=True)
@click.option("--country", required=True, help="ISO-3166 numeric code or alpha-2 (PK, AE, ...).")
@click.option(
    "--category", required=True, type=click.Choice([c.name.lower() for c in InvestorCategory])
)
@click.option(
    "--kyc-file",
    type=click.Path(path_type=Path),
    required=True,
    help="JSON KYC record; only its SHA-256 goes on chain.",
)
@click.option("--kyc-expiry", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option(
    "--wallet", "wallets", multiple=True, required=True, help="Address or key name (repeatable)."
)
@click.option("--idempotency-key")
@as_option("registrar", "registrar")
@json_option
@pass_ctx
def institution_onboard(
    ctx: Context,
    name: str,
    country: str,
    category: str,
    kyc_file: Path,
    kyc_expiry: datetime,
    wallets: tuple[str, ...],
    idempotency_key: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Register an institution and its wallets."""
    platform = ctx.platform()
    number = identities.onboard(
        platform,
        actor,
        name,
        _kyc(kyc_file),
        parse_country(country),
        InvestorCategory.parse(category),
        int(kyc_expiry.replace(tzinfo=UTC).timestamp()),
        list(wallets),
        idempotency_key,
    )
    emit({"identity": number, "name": name}, as_json)


@institution.command("update")
@click.argument("identity_number", type=int)
@click.option("--country", required=True)
@click.option(
    "--category", required=True, type=click.Choice([c.name.lower() for c in InvestorCategory])
)
@click.option("--kyc-file", type=click.Path(path_type=Path), required=True)
@click.option("--kyc-expiry", type=click.DateTime(["%Y-%m-%d"]), required=True)
@as_option("registrar", "registrar")
@json_option
@pass_ctx
def institution_update(
    ctx: Context,
    identity_number: int,
    country: str,
    category: str,
    kyc_file: Path,
    kyc_expiry: datetime,
    actor: str,
    as_json: bool,
) -> None:
    """Renew or change an institution's KYC (a past expiry suspends it)."""
    platform = ctx.platform()
    identities.update(
        platform,
        actor,
        identity_number,
        _kyc(kyc_file),
        parse_country(country),
        InvestorCategory.parse(category),
        int(kyc_expiry.replace(tzinfo=UTC).timestamp()),
    )
    emit(identities.show(platform, identity_number), as_json)


@institution.command("link-wallet")
@click.argument("identity_number", type=int)
@click.argument("wallet")
@as_option("registrar", "registrar")
@json_option
@pass_ctx
def institution_link_wallet(
    ctx: Context, identity_number: int, wallet: str, actor: str, as_json: bool
) -> None:
    """Add a wallet to an institution."""
    address = identities.link_wallet(ctx.platform(), actor, identity_number, wallet)
    emit({"identity": identity_number, "wallet": address}, as_json)


@institution.command("show")
@click.argument("identity_number", type=int)
@json_option
@pass_ctx
def institution_show(ctx: Context, identity_number: int, as_json: bool) -> None:
    """One institution."""
    emit(identities.show(ctx.platform(), identity_number), as_json)


@institution.command("list")
@json_option
@pass_ctx
def institution_list(ctx: Context, as_json: bool) -> None:
    """All institutions."""
    rows = identities.list_identities(ctx.platform())
    emit(
        rows,
        as_json,
        table(rows, ["identity", "name", "country", "category", "verified", "wallets"]),
    )


def _kyc(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"KYC file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"KYC file {path} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(record, dict) or not record:
        raise InvalidInput(f"KYC file {path} must hold a non-empty JSON object")
    return record
