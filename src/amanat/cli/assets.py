"""`amanat` commands of the asset register (register, documents, valuations, show, list) and the
proposals that decide on an asset (approve, set its status, accept a valuation, tokenize it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from amanat.cli.common import (
    UNITS,
    Context,
    as_option,
    asset_service,
    emit,
    json_option,
    pass_ctx,
    proposal_options,
    submit_proposal,
    table,
    tokens,
)
from amanat.domain.assets import AssetClass, AssetStatus, DocumentKind
from amanat.domain.identity import InvestorCategory, parse_country
from amanat.domain.money import parse_pkr
from amanat.domain.rules import TokenRules
from amanat.errors import InvalidInput

# --------------------------------------------------------------------- assets


@click.group()
def asset() -> None:
    """The asset register."""


@asset.command("register")
@click.option(
    "--class", "asset_class", required=True, type=click.Choice([c.name.lower() for c in AssetClass])
)
@click.option(
    "--legal-id", required=True, help="ISIN, cadastral parcel id or company registration no."
)
@click.option("--name", required=True)
@click.option("--ministry", required=True)
@click.option(
    "--authorisation", "authorisation_ref", required=True, help="Statutory authorisation reference."
)
@click.option("--authorisation-doc", type=click.Path(path_type=Path), required=True)
@click.option("--max-units", type=UNITS, required=True)
@click.option("--idempotency-key")
@as_option("issuer", "issuer")
@json_option
@pass_ctx
def asset_register(
    ctx: Context,
    asset_class: str,
    legal_id: str,
    name: str,
    ministry: str,
    authorisation_ref: str,
    authorisation_doc: Path,
    max_units: int,
    idempotency_key: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Register a government asset (status: proposed)."""
    platform = ctx.platform()
    doc_hash = asset_service.store_document(platform, authorisation_doc)
    asset_id = asset_service.register(
        platform,
        actor,
        AssetClass.parse(asset_class),
        legal_id,
        name,
        ministry,
        authorisation_ref,
        doc_hash,
        max_units,
        idempotency_key,
    )
    emit({"asset": asset_id, "authorisation_sha256": doc_hash}, as_json)


@asset.command("document")
@click.argument("asset_id", type=int)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--kind", required=True, type=click.Choice([k.name.lower() for k in DocumentKind]))
@as_option("issuer", "issuer")
@json_option
@pass_ctx
def asset_document(
    ctx: Context, asset_id: int, path: Path, kind: str, actor: str, as_json: bool
) -> None:
    """Attach a document (its SHA-256 goes on chain; the file is kept content-addressed)."""
    platform = ctx.platform()
    digest = asset_service.store_document(platform, path)
    asset_service.attach_document(platform, actor, asset_id, DocumentKind.parse(kind), digest)
    emit({"asset": asset_id, "sha256": digest}, as_json)


@asset.command("valuation")
@click.argument("asset_id", type=int)
@click.option("--amount", required=True, help="Value in PKR, e.g. 1,250,000.50")
@click.option("--date", "valuation_date", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--report", type=click.Path(path_type=Path), required=True)
@as_option("valuer", "valuer")
@json_option
@pass_ctx
def asset_valuation(
    ctx: Context,
    asset_id: int,
    amount: str,
    valuation_date: datetime,
    report: Path,
    actor: str,
    as_json: bool,
) -> None:
    """Submit a valuation (accepted later by governance)."""
    platform = ctx.platform()
    digest = asset_service.store_document(platform, report)
    index = asset_service.submit_valuation(
        platform,
        actor,
        asset_id,
        parse_pkr(amount),
        int(valuation_date.replace(tzinfo=UTC).timestamp()),
        digest,
    )
    emit({"asset": asset_id, "valuation": index, "report_sha256": digest}, as_json)


@asset.command("show")
@click.argument("asset_id", type=int)
@json_option
@pass_ctx
def asset_show(ctx: Context, asset_id: int, as_json: bool) -> None:
    """An asset with its documents and valuations."""
    emit(asset_service.show(ctx.platform(), asset_id), as_json)


@asset.command("list")
@json_option
@pass_ctx
def asset_list(ctx: Context, as_json: bool) -> None:
    """All registered assets."""
    rows = asset_service.list_assets(ctx.platform())
    emit(
        rows,
        as_json,
        table(rows, ["id", "class", "legal_id", "name", "status", "token", "current_value_minor"]),
    )


@click.command("approve-asset")
@click.argument("asset_id", type=int)
@proposal_options
@pass_ctx
def propose_approve_asset(ctx: Context, asset_id: int, **options: Any) -> None:
    """Approve a proposed asset for tokenization."""
    submit_proposal(
        ctx,
        ctx.platform().contract("AssetRegistry"),
        "setStatus",
        [asset_id, int(AssetStatus.APPROVED)],
        **options,
    )


@click.command("set-status")
@click.argument("asset_id", type=int)
@click.argument("status", type=click.Choice(["redeemed", "retired"]))
@proposal_options
@pass_ctx
def propose_set_status(ctx: Context, asset_id: int, status: str, **options: Any) -> None:
    """Mark an asset redeemed or retired."""
    submit_proposal(
        ctx,
        ctx.platform().contract("AssetRegistry"),
        "setStatus",
        [asset_id, int(AssetStatus.parse(status))],
        **options,
    )


@click.command("accept-valuation")
@click.argument("asset_id", type=int)
@click.argument("index", type=int)
@proposal_options
@pass_ctx
def propose_accept_valuation(ctx: Context, asset_id: int, index: int, **options: Any) -> None:
    """Accept a submitted valuation."""
    submit_proposal(
        ctx,
        ctx.platform().contract("AssetRegistry"),
        "acceptValuation",
        [asset_id, index],
        **options,
    )


@click.command("tokenize")
@click.argument("asset_id", type=int)
@click.option("--name", required=True)
@click.option("--symbol", required=True)
@click.option("--decimals", default=0, show_default=True, type=int)
@click.option(
    "--eligible",
    default="bank,insurer,pension_fund,mutual_fund,government_entity,foreign_institution",
    show_default=True,
    help="Comma-separated eligible investor categories.",
)
@click.option("--foreign-cap-bps", default=10000, show_default=True, type=int)
@click.option("--max-holders", default=0, show_default=True, type=int)
@click.option("--lockup-until", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--allow-countries", help="Comma-separated allow-list (ISO numeric or alpha-2).")
@click.option("--deny-countries", help="Comma-separated deny-list.")
@click.option("--holding-cap", default=0, show_default=True, type=int)
@click.option("--minimum-holding", default=0, show_default=True, type=int)
@click.option(
    "--maturity",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Maturity date (UTC); the token refuses markMatured before it. Omit for no fixed term.",
)
@proposal_options
@pass_ctx
def propose_tokenize(
    ctx: Context,
    asset_id: int,
    name: str,
    symbol: str,
    decimals: int,
    eligible: str,
    foreign_cap_bps: int,
    max_holders: int,
    lockup_until: datetime | None,
    allow_countries: str | None,
    deny_countries: str | None,
    holding_cap: int,
    minimum_holding: int,
    maturity: datetime | None,
    **options: Any,
) -> None:
    """Create the asset's token with its compliance rules and maturity date."""
    if allow_countries and deny_countries:
        raise InvalidInput("give either --allow-countries or --deny-countries, not both")
    listed = allow_countries or deny_countries or ""
    rules = TokenRules(
        eligible_categories=frozenset(InvestorCategory.parse(c) for c in eligible.split(",") if c),
        foreign_cap_bps=foreign_cap_bps,
        max_holders=max_holders,
        lockup_until=int(lockup_until.replace(tzinfo=UTC).timestamp()) if lockup_until else 0,
        country_mode="allow" if allow_countries else "deny" if deny_countries else "none",
        countries=tuple(parse_country(c) for c in listed.split(",") if c),
        holding_cap=holding_cap,
        minimum_holding=minimum_holding,
    )
    submit_proposal(
        ctx,
        ctx.platform().contract("TokenFactory"),
        "createToken",
        tokens.tokenize_args(
            asset_id,
            name,
            symbol,
            decimals,
            rules,
            int(maturity.replace(tzinfo=UTC).timestamp()) if maturity else 0,
        ),
        **options,
    )


PROPOSALS = (propose_approve_asset, propose_set_status, propose_accept_valuation, propose_tokenize)
