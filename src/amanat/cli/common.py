"""What every `amanat` command shares: the context (settings, platform), --json, --as, and the
options and submission of M-of-N proposals."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from amanat.cli.lazy import lazy_module
from amanat.cli.output import emit, table
from amanat.config import Settings
from amanat.domain.money import parse_units
from amanat.errors import InvalidInput

# The modules the commands use, imported on first use: `amanat --help`, `--version` and a read
# command load only what they run (see cli/lazy.py). Every command module takes them from here.
if TYPE_CHECKING:
    from amanat.chain import deploy as deployment
    from amanat.chain import keys as keys_module
    from amanat.chain import node as chain_node
    from amanat.cli import client as api_client
    from amanat.domain import auction as auction_terms
    from amanat.indexer import indexer as chain_indexer
    from amanat.services import assets as asset_service
    from amanat.services import (
        auctions,
        cash,
        distributions,
        dvp,
        identities,
        rotation,
        tokens,
        transparency,
    )
    from amanat.services import governance as gov
    from amanat.services import reconcile as reconciliation
    from amanat.services import report as reports
    from amanat.services.platform import Platform
    from amanat.store import log as transparency_log
else:
    api_client = lazy_module("amanat.cli.client")
    asset_service = lazy_module("amanat.services.assets")
    auction_terms = lazy_module("amanat.domain.auction")
    auctions = lazy_module("amanat.services.auctions")
    cash = lazy_module("amanat.services.cash")
    chain_indexer = lazy_module("amanat.indexer.indexer")
    chain_node = lazy_module("amanat.chain.node")
    deployment = lazy_module("amanat.chain.deploy")
    distributions = lazy_module("amanat.services.distributions")
    dvp = lazy_module("amanat.services.dvp")
    gov = lazy_module("amanat.services.governance")
    identities = lazy_module("amanat.services.identities")
    keys_module = lazy_module("amanat.chain.keys")
    reconciliation = lazy_module("amanat.services.reconcile")
    reports = lazy_module("amanat.services.report")
    rotation = lazy_module("amanat.services.rotation")
    tokens = lazy_module("amanat.services.tokens")
    transparency = lazy_module("amanat.services.transparency")
    transparency_log = lazy_module("amanat.store.log")

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(
        self,
        data_dir: str | None,
        rpc: str | None,
        api: str | None = None,
        api_user: str | None = None,
        key_file: Path | None = None,
        chain_id: int | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._rpc = rpc
        self._settings: Settings | None = None
        self._platform: Platform | None = None
        self.api = api
        self._api_user = api_user
        self._key_file = key_file
        self._chain_id = chain_id
        self._client: api_client.InstitutionClient | None = None

    def client(
        self, api: str | None = None, user: str | None = None, key_file: Path | None = None
    ) -> api_client.InstitutionClient:
        """Client mode (--api): the user's API client, signing with its own key file (a
        command's own --api, --as and --key, else the global ones)."""
        api, user = api or self.api, user or self._api_user
        key_file = key_file or self._key_file
        if api is None or not user or key_file is None:
            raise InvalidInput("client mode needs --api URL, --as USER and --key FILE together")
        if self._client is None:
            password = os.environ.get(api_client.PASSWORD_ENV) or click.prompt(
                f"API password of {user}", hide_input=True
            )
            self._client = api_client.open_client(
                api,
                user,
                key_file,
                password,
                self.settings.data_dir,
                self._chain_id,
            )
        return self._client

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.resolve(self._data_dir, self._rpc)
        return self._settings

    def platform(self, require_deployment: bool = True) -> Platform:
        if self._platform is None:
            from amanat.services.platform import Platform

            self._platform = Platform.open(self.settings, require_deployment)
            if self._key_file is not None and self.api is None:
                # the user's own key (--key FILE without --api): it signs for its file's name
                from amanat.chain.keys import load_keystore

                self._platform.provide_key(self._key_file.stem, load_keystore(self._key_file))
        return self._platform


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(function)


def as_option(default: str, role: str) -> Callable[[F], F]:
    return click.option(
        "--as", "actor", default=default, show_default=True, help=f"Key name of the {role}."
    )  # type: ignore[return-value]


def own_key_option(signed: str) -> Callable[[F], F]:
    """--key: the user's own Keystore V3 file, with which `signed` (e.g. 'the approval') is
    signed on this machine."""
    return click.option(
        "--key",
        "key_file",
        type=click.Path(path_type=Path),
        help=f"Your own Keystore V3 file (passphrase: AMANAT_KEY_PASSPHRASE): {signed} is signed "
        "here.",
    )  # type: ignore[return-value]


pass_ctx = click.make_pass_decorator(Context)


class UnitsType(click.ParamType):
    """A positive whole number of units, written as the API and the console take it ('100,000').

    Parsed by `domain.money.parse_units`, so a bad value is the CLI's own
    `error [invalid-input]: …` line (exit 2), never a click usage error."""

    name = "units"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return parse_units(value, what=param.name if param and param.name else "units")


UNITS = UnitsType()


def proposal_options(function: F) -> F:
    function = json_option(function)
    function = click.option("--idempotency-key")(function)
    function = click.option(
        "--evidence", help="0x SHA-256 of the legal basis (court order, notice)."
    )(function)
    function = click.option(
        "--evidence-file",
        type=click.Path(path_type=Path),
        help="The legal document; its SHA-256 becomes the evidence hash.",
    )(function)
    function = click.option(
        "--as",
        "actor",
        default="official-1",
        show_default=True,
        help="Key name of the proposing official.",
    )(function)
    return function


def proposal_evidence(platform: Any, options: dict[str, Any]) -> str | None:
    """The evidence hash of a proposal's --evidence, or of its --evidence-file (stored)."""
    if options["evidence_file"] is not None:
        return asset_service.store_document(platform, options["evidence_file"])
    return options["evidence"]


def submit_proposal(
    ctx: Context,
    target: Any,
    function: str,
    args: list[Any],
    actor: str,
    evidence: str | None,
    evidence_file: Path | None,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    platform = ctx.platform()
    evidence = proposal_evidence(platform, {"evidence": evidence, "evidence_file": evidence_file})
    proposal_id = gov.propose(
        platform, actor, target, function, args, evidence, idempotency_key=idempotency_key
    )
    emit_proposal(platform, proposal_id, as_json)


def emit_proposal(
    platform: Platform, proposal_id: int, as_json: bool, extra: dict[str, Any] | None = None
) -> None:
    """Print a proposal decoded into words (`extra` adds what the command computed with it)."""
    (detail,) = gov.describe(platform, [proposal_id])
    data = {**detail.as_dict(), **(extra or {})}
    emit(data, as_json, proposal_text(data, platform.settings.embedded, extra or {}))


def proposal_text(data: dict[str, Any], embedded: bool, extra: dict[str, Any]) -> str:
    """A decoded proposal for people: the call in words, evidence, timelock and history."""
    lines = [
        f"proposal {data['id']}: {data['action']}, {data['state'].replace('-', ' ')}",
        f"  call       {data['contract']}: {data['signature']}",
        *(f"    {a['name']}: {a['value']}" for a in data["arguments"]),
        f"  evidence   {data['evidence_text']}",
    ]
    if data["request"]:
        lines.append(f"  request    {data['request']}")
    lines += [
        f"  approvals  {data['approvals']} of {data['threshold']}",
        f"  created    {data['created']}; expires {data['expires']}",
        f"  timelock   {data['timelock']}",
    ]
    if embedded and data["state"] == "waiting-timelock":
        lines.append(
            f"             on the embedded chain, `amanat node advance-time "
            f"{data['executable_in']}` moves the clock there"
        )
    lines += [
        "  history:",
        "    " + table(data["history"], HISTORY_COLUMNS).replace("\n", "\n    "),
    ]
    for key, value in extra.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines += [f"{key}:", "  " + table(value).replace("\n", "\n  ")]
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


HISTORY_COLUMNS = ["at", "event", "by", "detail", "block", "tx"]
