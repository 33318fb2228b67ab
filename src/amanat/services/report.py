"""The auditor's period report: cap tables at the start and end, every movement with its evidence
reference, approvals, valuations and distributions, as CSV, JSON or PDF.

The report is a function of the index and the period only: rows are ordered by chain position
(or id), times are the chain's block times or the stored decision times, and nothing records
when the report was made, so the same inputs give byte-identical files. The PDF is written here
(PDF 1.4, the standard Courier font, no /Info dates and no /ID) for the same reason.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from amanat.domain.governance import ActionType
from amanat.indexer import queries
from amanat.services.platform import Platform
from amanat.store.models import (
    ActionDecision,
    ActionRequest,
    ChainEvent,
    Institution,
    Token,
    User,
    Wallet,
)

ZERO_HASH = "0x" + "00" * 32
ZERO = "0x0000000000000000000000000000000000000000"
APPROVAL_EVENTS = ("ProposalCreated", "ProposalApproved", "ProposalExecuted", "ProposalCancelled")
VALUATION_EVENTS = ("ValuationSubmitted", "ValuationAccepted")
DISTRIBUTION_EVENTS = ("DistributionDeclared", "PayoutPaid")


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(platform: Platform, start: datetime, end: datetime) -> dict[str, Any]:
    """The report for the UTC days start..end (inclusive)."""
    first = int(start.timestamp())
    last = int((end + timedelta(days=1)).timestamp()) - 1
    with platform.store.session() as session:
        names = {
            w.address: i.legal_name
            for w, i in session.execute(
                select(Wallet, Institution).join(
                    Institution, Institution.id == Wallet.institution_id
                )
            ).tuples()
        }
        tokens = list(session.scalars(select(Token).order_by(Token.asset_id)))
        symbols = {t.address: t.symbol for t in tokens}
        events = list(
            session.scalars(
                select(ChainEvent)
                .where(ChainEvent.timestamp >= first, ChainEvent.timestamp <= last)
                .order_by(ChainEvent.block, ChainEvent.log_index)
            )
        )
        by_tx: dict[str, list[ChainEvent]] = {}
        for event in events:
            by_tx.setdefault(event.tx_hash, []).append(event)

        def cap_table(address: str, moment: int) -> list[dict[str, Any]]:
            return [
                {"holder": holder, "institution": names.get(holder), "balance": balance}
                for holder, balance in queries.cap_table_at_date(session, address, moment)
            ]

        token_rows = [
            {
                "asset": t.asset_id,
                "symbol": t.symbol,
                "address": t.address,
                "cap_table_start": cap_table(t.address, first - 1),
                "cap_table_end": cap_table(t.address, last),
            }
            for t in tokens
        ]
        movements = [
            _movement(e, symbols, names, by_tx[e.tx_hash])
            for e in events
            if e.contract_kind == "AssetToken" and e.event == "Transfer"
        ]
        approvals = [_approval(e) for e in events if e.event in APPROVAL_EVENTS]
        decisions = [
            {
                "request": request.id,
                "kind": request.kind,
                "summary": request.summary,
                "decision": decision.decision,
                "by": username,
                "at": _iso(int(_utc(decision.at).timestamp())),
                "tx": decision.tx_hash,
            }
            for decision, request, username in session.execute(
                select(ActionDecision, ActionRequest, User.username)
                .join(ActionRequest, ActionRequest.id == ActionDecision.request_id)
                .join(User, User.id == ActionDecision.user_id)
                .where(ActionDecision.at >= start, ActionDecision.at <= end + timedelta(days=1))
                .order_by(ActionDecision.id)
            ).tuples()
            if first <= _utc(decision.at).timestamp() <= last
        ]
        valuations = [
            {
                "block": e.block,
                "time": _iso(e.timestamp),
                "tx": e.tx_hash,
                "asset": e.asset_id,
                "event": e.event,
                "index": e.args.get("index"),
                "amount_minor": e.args.get("amountMinor"),
                "report_hash": e.args.get("reportHash"),
            }
            for e in events
            if e.event in VALUATION_EVENTS
        ]
        distributions = [
            {
                "block": e.block,
                "time": _iso(e.timestamp),
                "tx": e.tx_hash,
                "event": e.event,
                "args": e.args,
            }
            for e in events
            if e.event in DISTRIBUTION_EVENTS
        ]
    return {
        "period": {"from": start.strftime("%Y-%m-%d"), "to": end.strftime("%Y-%m-%d")},
        "chain_id": platform.manifest.chain_id,
        "tokens": token_rows,
        "movements": movements,
        "approvals": approvals,
        "decisions": decisions,
        "valuations": valuations,
        "distributions": distributions,
    }


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _movement(
    event: ChainEvent, symbols: dict[str, str], names: dict[str, str], same_tx: list[ChainEvent]
) -> dict[str, Any]:
    """A transfer, mint or burn, with the evidence of the governance action that caused it."""
    sender, receiver = event.args["sender"], event.args["receiver"]
    kind = "mint" if sender == ZERO else "burn" if receiver == ZERO else "transfer"
    reference = f"tx {event.tx_hash}"
    for other in same_tx:
        if other.event == "ProposalExecuted":
            reference = f"proposal {other.args['proposalId']}"
            if other.args.get("evidence", ZERO_HASH) != ZERO_HASH:
                reference += f" evidence {other.args['evidence']}"
        elif other.event == "EnforcementAction" and other.args.get("evidence", ZERO_HASH) != (
            ZERO_HASH
        ):
            kind = "enforcement"
    return {
        "block": event.block,
        "log_index": event.log_index,
        "time": _iso(event.timestamp),
        "tx": event.tx_hash,
        "token": symbols.get(event.contract, event.contract),
        "kind": kind,
        "from": None if sender == ZERO else sender,
        "from_institution": names.get(sender),
        "to": None if receiver == ZERO else receiver,
        "to_institution": names.get(receiver),
        "amount": event.args["value"],
        "evidence": reference,
    }


def _approval(event: ChainEvent) -> dict[str, Any]:
    args = event.args
    action = args.get("actionType")
    return {
        "block": event.block,
        "time": _iso(event.timestamp),
        "tx": event.tx_hash,
        "proposal": args["proposalId"],
        "event": event.event,
        "official": args.get("proposer") or args.get("official") or args.get("executor"),
        "action": ActionType(action).name.lower() if action is not None else None,
        "evidence": args.get("evidence") if args.get("evidence") != ZERO_HASH else None,
    }


# ------------------------------------------------------------------ rendering


def render(report: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    if fmt == "csv":
        return _csv(report)
    return _pdf(_lines(report))


CSV_COLUMNS = (
    "section",
    "token",
    "block",
    "time",
    "tx",
    "party",
    "counterparty",
    "amount",
    "reference",
)


def _rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The report as flat rows (the CSV, and the PDF's tables)."""
    rows: list[tuple[Any, ...]] = []
    for token in report["tokens"]:
        for section in ("cap_table_start", "cap_table_end"):
            for line in token[section]:
                rows.append(
                    (section, token["symbol"], "", "", "", line["holder"], line["institution"],
                     line["balance"], "")
                )  # fmt: skip
    for m in report["movements"]:
        rows.append(
            (f"movement:{m['kind']}", m["token"], m["block"], m["time"], m["tx"], m["from"], m["to"],
             m["amount"], m["evidence"])
        )  # fmt: skip
    for a in report["approvals"]:
        rows.append(
            (f"approval:{a['event']}", "", a["block"], a["time"], a["tx"], a["official"],
             f"proposal {a['proposal']}", "", a["evidence"] or a["action"] or "")
        )  # fmt: skip
    for d in report["decisions"]:
        rows.append(
            (f"decision:{d['decision']}", "", "", d["at"], d["tx"] or "", d["by"],
             f"request {d['request']} ({d['kind']})", "", d["summary"])
        )  # fmt: skip
    for v in report["valuations"]:
        rows.append(
            (f"valuation:{v['event']}", f"asset {v['asset']}", v["block"], v["time"], v["tx"], "",
             "", v["amount_minor"], v["report_hash"] or "")
        )  # fmt: skip
    for d in report["distributions"]:
        args = d["args"]
        rows.append(
            (f"distribution:{d['event']}", args.get("token", ""), d["block"], d["time"], d["tx"],
             args.get("holder", ""), f"distribution {args.get('distributionId')}",
             args.get("amount", args.get("total", "")), args.get("root", ""))
        )  # fmt: skip
    return rows


def _csv(report: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in _rows(report):
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode()


def _lines(report: dict[str, Any]) -> list[str]:
    period = report["period"]
    lines = [
        f"Amanat auditor report  {period['from']} .. {period['to']} (UTC)",
        f"chain id {report['chain_id']}",
        "",
    ]
    titles = {
        "cap_table_start": "Cap table at the start",
        "cap_table_end": "Cap table at the end",
    }
    for token in report["tokens"]:
        for section, title in titles.items():
            lines.append(f"{title}: {token['symbol']} (asset {token['asset']})")
            lines.extend(
                f"  {t['holder']}  {t['balance']:>16,}  {t['institution'] or ''}"
                for t in token[section]
            )
            if not token[section]:
                lines.append("  (no holders)")
            lines.append("")
    sections = (
        ("Movements", report["movements"],
         lambda m: f"  {m['time']} {m['token']:<10} {m['kind']:<11} {m['amount']:>14,} "
                   f"{m['from'] or '-'} -> {m['to'] or '-'}  [{m['evidence']}]"),
        ("Approvals (on chain)", report["approvals"],
         lambda a: f"  {a['time']} proposal {a['proposal']:<4} {a['event']:<18} "
                   f"{a['official']} {a['action'] or ''} {a['evidence'] or ''}"),
        ("Maker-checker decisions", report["decisions"],
         lambda d: f"  {d['at']} request {d['request']:<4} {d['decision']:<9} by {d['by']}: "
                   f"{d['summary']}"),
        ("Valuations", report["valuations"],
         lambda v: f"  {v['time']} asset {v['asset']} {v['event']:<18} "
                   f"{v['amount_minor']:,} (minor units) report {v['report_hash'] or '-'}"),
        ("Distributions", report["distributions"],
         lambda d: f"  {d['time']} {d['event']:<20} "
                   + " ".join(f"{k}={v}" for k, v in sorted(d["args"].items()))),
    )  # fmt: skip
    for title, rows, fmt in sections:
        lines.append(f"{title}: {len(rows)}")
        lines.extend(fmt(row) for row in rows)  # type: ignore[no-untyped-call]
        lines.append("")
    return lines


PAGE_LINES = 58  # 9-point leading from y=566 leaves the footer line above the bottom margin
WRAP = 180


def _pdf(lines: list[str]) -> bytes:
    """A minimal deterministic PDF: A4 landscape pages of 7-point Courier text (4.2 points a
    character, so 180 characters fit between the margins)."""
    wrapped: list[str] = []
    for line in lines:
        while len(line) > WRAP:
            wrapped.append(line[:WRAP])
            line = "    " + line[WRAP:]
        wrapped.append(line)
    pages = [wrapped[i : i + PAGE_LINES] for i in range(0, len(wrapped), PAGE_LINES)] or [[]]
    objects: list[bytes] = []  # object n is objects[n - 1]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # the page tree, once the pages' numbers are known
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>"
    )
    kids = []
    for number, page in enumerate(pages, start=1):
        text = [b"BT /F1 7 Tf 9 TL 28 566 Td"]
        for line in page:
            text.append(b"(" + _pdf_text(line) + b") Tj T*")
        text.append(b"(" + _pdf_text(f"page {number} of {len(pages)}") + b") Tj ET")
        stream = b"\n".join(text)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 842 595] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _pdf_text(line: str) -> bytes:
    raw = line.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
