"""What every `amanat` command shares: the context (settings, platform), --json, --as, and the
options and submission of M-of-N proposals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from amanat.cli.lazy import lazy_module
from amanat.cli.output import emit
from amanat.config import Settings
from amanat.domain.money import parse_units

if TYPE_CHECKING:
    from amanat.services import assets as asset_service
    from amanat.services import governance as gov
    from amanat.services.platform import Platform
else:
    asset_service = lazy_module("amanat.services.assets")
    gov = lazy_module("amanat.services.governance")

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, data_dir: str | None, rpc: str | None) -> None:
        self._data_dir = data_dir
        self._rpc = rpc
        self._settings: Settings | None = None
        self._platform: Platform | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.resolve(self._data_dir, self._rpc)
        return self._settings

    def platform(self, require_deployment: bool = True) -> Platform:
        if self._platform is None:
            from amanat.services.platform import Platform

            self._platform = Platform.open(self.settings, require_deployment)
        return self._platform


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(function)


def as_option(default: str, role: str) -> Callable[[F], F]:
    return click.option(
        "--as", "actor", default=default, show_default=True, help=f"Key name of the {role}."
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
    emit(gov.show(platform, proposal_id).as_dict(), as_json)
