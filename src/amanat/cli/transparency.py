"""`amanat log …`, `amanat verify`, `amanat report` and `amanat reconcile`: the transparency and
audit commands, registered on the main command group by `amanat.cli.main`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from amanat.cli.common import (
    chain_indexer,
    chain_node,
    emit,
    reconciliation,
    reports,
    table,
    transparency,
    transparency_log,
)
from amanat.errors import AmanatError, InvalidInput

if TYPE_CHECKING:
    from amanat.services.platform import Platform


class VerificationFailed(AmanatError):
    rule = "verification-failed"


class ReconciliationDifference(AmanatError):
    rule = "reconciliation-difference"


def register(cli: click.Group, json_option: Any, pass_ctx: Any) -> None:
    """Add the commands to `cli` (the options and context decorators are main's)."""

    def synced(ctx: Any) -> Platform:
        platform: Platform = ctx.platform()
        chain_indexer.Indexer(platform.chain, platform.manifest, platform.store).sync()
        return platform

    @cli.group("log")
    def log_group() -> None:
        """The public transparency log (RFC 6962): entries, signed heads, proofs."""

    @log_group.command("entries")
    @click.option("--start", default=0, show_default=True, type=click.IntRange(min=0))
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
    @json_option
    @pass_ctx
    def log_entries(ctx: Any, start: int, limit: int, as_json: bool) -> None:
        """A page of log entries (index, kind, source, leaf hash)."""
        platform = synced(ctx)
        with platform.store.session() as session:
            rows = transparency.entries(session, start, limit)
        emit(
            rows,
            as_json,
            table(rows, ["index", "kind", "source", "leaf_hash"]),
        )

    @log_group.command("head")
    @click.option(
        "--size", type=click.IntRange(min=0), help="The head at this size (default latest)."
    )
    @json_option
    @pass_ctx
    def log_head(ctx: Any, size: int | None, as_json: bool) -> None:
        """The latest signed tree head (or the one at --size)."""
        platform: Platform = ctx.platform()
        with platform.store.session() as session:
            if size is not None:
                head: dict[str, Any] | None = transparency.head_at(session, size)
            else:
                head = transparency.latest_head(session)
        if head is None:
            raise InvalidInput("no tree head has been published yet: run `amanat log publish`")
        emit(head, as_json)

    @log_group.command("publish")
    @json_option
    @pass_ctx
    def log_publish(ctx: Any, as_json: bool) -> None:
        """Index the chain, sign a tree head over the whole log and anchor it on chain."""
        emit(transparency.publish(synced(ctx)), as_json)

    @log_group.command("proof")
    @click.argument("index", type=click.IntRange(min=0))
    @click.option("--size", type=click.IntRange(min=1), help="Tree size (default: latest head).")
    @json_option
    @pass_ctx
    def log_proof(ctx: Any, index: int, size: int | None, as_json: bool) -> None:
        """Inclusion proof of entry INDEX in the tree of --size entries."""
        platform: Platform = ctx.platform()
        with platform.store.session() as session:
            if size is None:
                head = transparency.latest_head(session)
                if head is None:
                    raise InvalidInput("no tree head yet: give --size or run `amanat log publish`")
                size = int(head["tree_size"])
            emit(transparency.inclusion_proof(session, index, size), as_json)

    @log_group.command("consistency")
    @click.argument("first", type=click.IntRange(min=0))
    @click.argument("second", type=click.IntRange(min=0))
    @json_option
    @pass_ctx
    def log_consistency(ctx: Any, first: int, second: int, as_json: bool) -> None:
        """Consistency proof that the tree of FIRST entries is a prefix of that of SECOND."""
        platform: Platform = ctx.platform()
        with platform.store.session() as session:
            emit(transparency.consistency_proof(session, first, second), as_json)

    @log_group.command("public-key")
    @json_option
    @pass_ctx
    def log_public_key(ctx: Any, as_json: bool) -> None:
        """The Ed25519 public key that verifies tree heads (base64)."""
        key = transparency.public_key_b64(ctx.platform())
        emit({"algorithm": "Ed25519", "public_key": key}, as_json, key)

    @log_group.command("export")
    @click.option("--out", "out", required=True, type=click.Path(path_type=Path))
    @json_option
    @pass_ctx
    def log_export(ctx: Any, out: Path, as_json: bool) -> None:
        """Write the public bundle for `amanat verify --bundle`: entries, heads, key, manifest."""
        platform = synced(ctx)
        bundle = transparency.bundle(platform)
        _write(out, (json.dumps(bundle, indent=1, sort_keys=True) + "\n").encode())
        with platform.store.session() as session:
            size = transparency_log.size(session)
        emit({"out": str(out), "entries": size, "heads": len(bundle["heads"])}, as_json)

    @cli.command("verify")
    @click.option("--api", "api_url", help="The platform's public API URL to fetch the log from.")
    @click.option(
        "--token",
        envvar="AMANAT_API_TOKEN",
        help="With --api: an auditor's or regulator's bearer token, to read chain events in full "
        "and check them against the chain (env AMANAT_API_TOKEN).",
    )
    @click.option(
        "--bundle", "bundle_path", type=click.Path(path_type=Path), help="An exported bundle."
    )
    @click.option(
        "--public-key",
        help="The platform's Ed25519 public key (base64 or hex); default: the one published.",
    )
    @click.option(
        "--manifest",
        "manifest_path",
        type=click.Path(path_type=Path),
        help="Deployment manifest JSON; default: the one published.",
    )
    @click.option(
        "--entry",
        "entry_indexes",
        multiple=True,
        type=click.IntRange(min=0),
        help="Check this entry's inclusion (repeatable; default first, middle, last).",
    )
    @click.option("--first", type=click.IntRange(min=0), help="Check consistency from this head…")
    @click.option("--second", type=click.IntRange(min=0), help="…to this head (both sizes).")
    @json_option
    @click.pass_context
    def verify_command(
        click_ctx: click.Context,
        api_url: str | None,
        token: str | None,
        bundle_path: Path | None,
        public_key: str | None,
        manifest_path: Path | None,
        entry_indexes: tuple[int, ...],
        first: int | None,
        second: int | None,
        as_json: bool,
    ) -> None:
        """Independently verify the log, its heads and anchors, and every token's supply against
        the chain (--rpc, or the embedded node). Needs no database. Exit 1 on any mismatch."""
        from amanat import verify

        if (api_url is None) == (bundle_path is None):
            raise InvalidInput("give exactly one of --api URL or --bundle FILE")
        if (first is None) != (second is None):
            raise InvalidInput("--first and --second go together")
        published = (
            verify.fetch_api(api_url, token) if api_url is not None else verify.load_bundle(bundle_path)  # type: ignore[arg-type]
        )
        key = verify.parse_public_key(public_key) if public_key else published.public_key
        if key is None:
            raise InvalidInput("no public key: give --public-key")
        manifest = _manifest(manifest_path) if manifest_path else published.manifest
        if manifest is None:
            raise InvalidInput("no deployment manifest: give --manifest")
        ctx = click_ctx.obj
        embedded_url = (  # this data directory's node, if it has one running
            chain_node.AnvilNode(ctx.settings.data_dir).status().url
            if (ctx.settings.data_dir / "node").is_dir()
            else None
        )
        rpc_url = ctx.settings.rpc_url or embedded_url
        if rpc_url is None:
            raise InvalidInput("no chain to check against: give --rpc URL")
        sizes = (first, second) if first is not None and second is not None else None
        history = None
        if rpc_url == embedded_url:  # this data directory's node: old history is in its archive
            from amanat.chain.archive import HistoryRpc
            from amanat.chain.journal import Journal

            history = HistoryRpc(
                rpc_url,
                Journal(ctx.settings.data_dir / "journal.sqlite"),
                batch_size=ctx.settings.rpc_batch_size,
                logs_range=ctx.settings.logs_range,
            )
        checks = verify.Verifier(
            published,
            rpc_url,
            key,
            manifest,
            batch_size=ctx.settings.rpc_batch_size,
            logs_range=ctx.settings.logs_range,
            rpc=history,
        ).run(list(entry_indexes), sizes)
        failed = [c for c in checks if not c.ok]
        emit(
            {"ok": not failed, "checks": [c.__dict__ for c in checks]},
            as_json,
            "\n".join(c.line() for c in checks),
        )
        if failed:
            names = sorted({c.name for c in failed})
            raise VerificationFailed(
                f"{len(failed)} check(s) failed ({', '.join(names)}): "
                + "; ".join(c.detail for c in failed)
            )

    @cli.command("report")
    @click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--format", "fmt", required=True, type=click.Choice(["csv", "json", "pdf"]))
    @click.option("--out", "out", required=True, type=click.Path(path_type=Path))
    @json_option
    @pass_ctx
    def report_command(
        ctx: Any, start: datetime, end: datetime, fmt: str, out: Path, as_json: bool
    ) -> None:
        """Auditor's report for a period (UTC days): cap tables at both ends, movements with
        their evidence, approvals, valuations, distributions. Same inputs, same bytes."""
        if end < start:
            raise InvalidInput(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}")
        platform = synced(ctx)
        data = reports.build(platform, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
        content = reports.render(data, fmt)
        _write(out, content)
        emit(
            {
                "out": str(out),
                "format": fmt,
                "bytes": len(content),
                "movements": len(data["movements"]),
                "tokens": len(data["tokens"]),
            },
            as_json,
        )

    @cli.command("reconcile")
    @json_option
    @pass_ctx
    def reconcile_command(ctx: Any, as_json: bool) -> None:
        """Reconcile chain, index, asset registry and cash token; exit 1 listing differences."""
        result = reconciliation.run(synced(ctx))
        emit(
            result,
            as_json,
            f"block {result['block']}: {result['checked']} checks, "
            f"{len(result['differences'])} difference(s)"
            + "".join(
                f"\n  [{d['check']}] {d['subject']}: {d['detail']}" for d in result["differences"]
            ),
        )
        if result["differences"]:
            raise ReconciliationDifference(
                f"{len(result['differences'])} reconciliation difference(s): "
                + "; ".join(f"{d['subject']}: {d['detail']}" for d in result["differences"])
            )


def _manifest(path: Path) -> dict[str, Any]:
    from amanat.verify import check_manifest

    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"manifest {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"manifest {path} is not JSON: {exc}") from None
    return check_manifest(data, str(path))


def _write(out: Path, content: bytes) -> None:
    if out.parent and not out.parent.exists():
        raise InvalidInput(f"directory {out.parent} does not exist")
    out.write_bytes(content)
