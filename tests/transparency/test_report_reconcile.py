"""`amanat report` gives byte-identical files for the same inputs, with cap tables, movements and
their evidence; `amanat reconcile` finds nothing on an honest index and names each difference
after the index is edited; the reconciliation API is for the auditor and the regulator."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import httpx
import pytest

from amanat.services.pilot import pilot_password
from tests.transparency.conftest import Published

PERIOD = ("--from", "2020-01-01", "--to", "2099-12-31")


@pytest.mark.parametrize("fmt", ["csv", "json", "pdf"])
def test_the_same_inputs_give_the_same_bytes(published: Published, fmt: str) -> None:
    root = published.bundle.parent
    first, second = root / f"first.{fmt}", root / f"second.{fmt}"
    # a new administrative action in between changes the log, not the report
    published.cli.run("report", *PERIOD, "--format", fmt, "--out", first)
    published.cli.run("log", "publish")
    published.cli.run("report", *PERIOD, "--format", fmt, "--out", second)
    content = first.read_bytes()
    assert content == second.read_bytes() and len(content) > 1000
    if fmt == "pdf":
        assert content.startswith(b"%PDF-1.4\n") and content.endswith(b"%%EOF\n")
        assert b"/CreationDate" not in content and b"/ID" not in content
        assert b"Cap table at the start: PKTB3M" in content


def test_report_content(published: Published) -> None:
    out = published.bundle.parent / "report.json"
    summary = published.cli.json("report", *PERIOD, "--format", "json", "--out", out)
    report = json.loads(out.read_text())
    assert summary["movements"] == len(report["movements"]) > 0
    tbill = next(t for t in report["tokens"] if t["symbol"] == "PKTB3M")
    assert tbill["cap_table_start"] == []  # nothing existed before the period
    assert sum(row["balance"] for row in tbill["cap_table_end"]) == 800_000
    assert {row["institution"] for row in tbill["cap_table_end"]} >= {"Indus National Bank"}
    kinds = {m["kind"] for m in report["movements"]}
    assert {"mint", "transfer"} <= kinds
    enforced = [m for m in report["movements"] if " evidence 0x" in m["evidence"]]
    assert enforced and all(m["evidence"].startswith("proposal ") for m in enforced)
    assert all(m["evidence"] for m in report["movements"])
    assert {a["event"] for a in report["approvals"]} >= {"ProposalCreated", "ProposalExecuted"}
    assert [v["event"] for v in report["valuations"]].count("ValuationAccepted") >= 1
    paid = [d for d in report["distributions"] if d["event"] == "PayoutPaid"]
    assert {d["event"] for d in report["distributions"]} >= {"DistributionDeclared", "PayoutPaid"}
    assert paid and all(d["args"]["amount"] > 0 for d in paid)
    table = published.bundle.parent / "content.csv"
    published.cli.run("report", *PERIOD, "--format", "csv", "--out", table)
    rows = list(csv.reader(io.StringIO(table.read_text())))
    assert rows[0] == ["section", "token", "block", "time", "tx", "party", "counterparty",
                       "amount", "reference"]  # fmt: skip
    assert sum(r[0].startswith("movement:") for r in rows) == len(report["movements"])


def test_report_refuses_bad_periods(published: Published) -> None:
    out = published.bundle.parent / "never.csv"
    backwards = published.cli.run(
        "report", "--from", "2026-02-01", "--to", "2026-01-01", "--format", "csv", "--out", out,
        expect=2,
    )  # fmt: skip
    assert "error [invalid-input]: --to 2026-01-01 is before --from 2026-02-01" in backwards.stderr
    nowhere = published.cli.run(
        "report", *PERIOD, "--format", "csv", "--out", out.parent / "no" / "r.csv", expect=2
    )
    assert "does not exist" in nowhere.stderr
    assert not out.exists()


def test_reconcile_finds_each_edit_of_the_index(published: Published) -> None:
    clean = published.cli.json("reconcile")
    assert clean["ok"] is True and clean["differences"] == [] and clean["checked"] > 10
    database = published.data_dir / "amanat.sqlite"
    with sqlite3.connect(database) as connection:
        row_id, balance = connection.execute(
            "SELECT id, balance FROM holdings WHERE to_block IS NULL AND balance > 0 "
            "ORDER BY id LIMIT 1"
        ).fetchone()
        connection.execute("UPDATE holdings SET balance = ? WHERE id = ?", (balance + 7, row_id))
    try:
        result = published.cli.run("reconcile", expect=1)
    finally:
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE holdings SET balance = ? WHERE id = ?", (balance, row_id))
    assert f"the index has {balance + 7:,}, the chain {balance:,}" in result.stdout
    assert "[holder-balance]" in result.stdout and "[total-supply]" in result.stdout
    assert result.stderr.startswith("error [reconciliation-difference]: 2 reconciliation")


def test_reconciliation_api_is_for_oversight(published: Published) -> None:
    def token(username: str) -> str:
        reply = httpx.post(
            f"{published.base_url}/auth/token",
            json={"username": username, "password": pilot_password(username)},
            trust_env=False,
        )
        return str(reply.json()["access_token"])

    url = f"{published.base_url}/reconciliations"
    auditor = {"Authorization": f"Bearer {token('auditor')}"}
    run = httpx.post(
        url, headers={"Authorization": f"Bearer {token('regulator')}"}, trust_env=False
    )
    assert run.status_code == 200 and run.json()["ok"] is True
    runs = httpx.get(url, headers=auditor, trust_env=False).json()["runs"]
    assert runs[0]["id"] == run.json()["id"] and runs[0]["ok"] is True
    assert httpx.get(url, trust_env=False).status_code == 401
    issuer = {"Authorization": f"Bearer {token('treasury')}"}
    assert httpx.post(url, headers=issuer, trust_env=False).status_code == 403
