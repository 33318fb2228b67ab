"""`amanat` commands. Every command takes --json; errors print one line and exit non-zero."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from amanat.cli import lifecycle, markets
from amanat.cli.common import (
    UNITS,
    Context,
    as_option,
    emit_proposal,
    json_option,
    own_key_option,
    pass_ctx,
    proposal_options,
    submit_proposal,
)
from amanat.cli.lazy import lazy_module
from amanat.cli.output import emit, table
from amanat.domain.assets import AssetClass, AssetStatus, DocumentKind
from amanat.domain.identity import InvestorCategory, parse_country
from amanat.domain.money import parse_pkr
from amanat.domain.rules import TokenRules
from amanat.errors import AmanatError, InvalidInput

# Imported on first use: `amanat --help` and `--version` need none of these (see cli/lazy.py).
if TYPE_CHECKING:
    from amanat.chain import deploy as deployment
    from amanat.chain import keys as keys_module
    from amanat.chain import node as chain_node
    from amanat.services import assets as asset_service
    from amanat.services import governance as gov
    from amanat.services import identities, rotation, tokens
else:
    deployment = lazy_module("amanat.chain.deploy")
    keys_module = lazy_module("amanat.chain.keys")
    chain_node = lazy_module("amanat.chain.node")
    asset_service = lazy_module("amanat.services.assets")
    gov = lazy_module("amanat.services.governance")
    identities = lazy_module("amanat.services.identities")
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


# ---------------------------------------------------------------------- node


@cli.group()
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


@cli.command("deploy")
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


@cli.group()
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
        from amanat.chain.keys import dev_account
        from amanat.services.platform import DEV_ROLES

        rows += [
            {"name": n, "address": dev_account(i).address, "kind": "development (embedded only)"}
            for n, i in DEV_ROLES.items()
        ]
    emit(rows, as_json)


# --------------------------------------------------------------------- assets


@cli.group()
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


# --------------------------------------------------------------- institutions


@cli.group()
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


@propose.command("approve-asset")
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


@propose.command("set-status")
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


@propose.command("accept-valuation")
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


@propose.command("tokenize")
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


# ---------------------------------------------------------------------- demo


@cli.command("demo")
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


@cli.command("serve")
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


for _group in markets.GROUPS:
    cli.add_command(_group)
for _command in markets.PROPOSALS:
    propose.add_command(_command)
for _command in markets.ASSET_COMMANDS:
    asset.add_command(_command)
for _command in lifecycle.INSTITUTION_COMMANDS:
    institution.add_command(_command)
for _command in lifecycle.PROPOSALS:
    propose.add_command(_command)
for _command in lifecycle.PROPOSAL_COMMANDS:
    proposal.add_command(_command)
from amanat.cli import transparency as _transparency  # noqa: E402 - registers on `cli`

_transparency.register(cli, json_option, pass_ctx)


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
