"""How the CLI prints: plain tables for people, one JSON document with --json, errors on one line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(none)"
    columns = list(columns or rows[0].keys())
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row.get(c)) for row in rows) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    header = line(columns)
    return "\n".join([header, "-" * len(header), *(line(r) for r in cells)])


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if _is_number(value):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print `data` as JSON, or `human` (or a rendering of data) for people."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=_json_default))
    elif human is not None:
        click.echo(human)
    elif isinstance(data, list):
        click.echo(table(data))
    elif isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            if isinstance(value, dict):
                click.echo(f"{key}:")
                for sub_key, sub_value in value.items():
                    click.echo(f"  {sub_key.ljust(width)}  {_cell(sub_value)}")
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                click.echo(f"{key}:")
                click.echo("  " + table(value).replace("\n", "\n  "))
            else:
                click.echo(f"{key.ljust(width)}  {_cell(value)}")
    else:
        click.echo(str(data))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)
