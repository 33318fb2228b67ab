"""The test session's services, shared by every suite (loaded with `-p tests.suite_plugin`).

- PostgreSQL: when AMANAT_TEST_DATABASE_URL is unset, a self-contained server (`pgserver`, from
  PyPI) is started for the session, so the PostgreSQL cases run on any machine. Under
  pytest-xdist each worker gets a database of its own (`<database>_<worker>`, created here), since
  the suites drop and recreate the `public` schema of the database they are given.
- xdist runs with `--dist loadscope` (the Makefile): every module's tests run on one worker, in
  order, so a module-scoped chain is built once. (`loadgroup` would keep a whole directory on one
  worker, but pytest 9 ignores the group suffix xdist 3.8 writes into node ids, so its groups
  never formed.) The longest directories are handed out first.
- Skipped PostgreSQL and browser cases are counted and printed with their reasons; when
  AMANAT_TEST_REQUIRE_SERVICES is set (by .ci/run), any such skip fails the run.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

DATABASE_ENV = "AMANAT_TEST_DATABASE_URL"
REQUIRE_ENV = "AMANAT_TEST_REQUIRE_SERVICES"
# Directories that run longest (the CLI suite runs ~70 tests in real processes), by rank.
LONGEST_FIRST = {"integration": 0, "api": 1}
# What a skip reason names, by the service it lacked.
SERVICES = {
    "PostgreSQL": ("postgresql", DATABASE_ENV.lower(), "psycopg"),
    "browser": ("chromium", "amanat_chromium", "playwright"),
    "hardware token": ("softhsm",),
}

_skipped: dict[str, Counter[str]] = {service: Counter() for service in SERVICES}
_pgserver: Any = None


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and not os.environ.get(DATABASE_ENV):
        _start_pgserver()
    if worker is not None and os.environ.get(DATABASE_ENV):
        os.environ[DATABASE_ENV] = _worker_database(os.environ[DATABASE_ENV], worker)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _pgserver
    if _pgserver is not None:
        _pgserver.cleanup()
        _pgserver = None


def _start_pgserver() -> None:
    """Start a private PostgreSQL server for this session, if `pgserver` is installed."""
    global _pgserver
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" (harmless)
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError:
            return
        directory = Path(tempfile.mkdtemp(prefix="amanat-pgserver-"))
        _pgserver = pgserver.get_server(directory, cleanup_mode="delete")
    uri = _pgserver.get_uri()  # postgresql://postgres:@/postgres?host=<socket directory>
    os.environ[DATABASE_ENV] = uri.replace("postgresql://", "postgresql+psycopg://", 1)


def _worker_database(url: str, worker: str) -> str:
    """The URL of this xdist worker's own database, created (empty) if it does not exist."""
    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The longest directories first, so that xdist starts them at once rather than last (a
    # stable sort: the order within a directory is kept).
    items.sort(key=lambda item: LONGEST_FIRST.get(_directory(item), len(LONGEST_FIRST)))


def _directory(item: pytest.Item) -> str:
    """The directory under tests/ that holds the test ("" if none)."""
    parts = Path(str(item.path)).parts
    return parts[parts.index("tests") + 1] if "tests" in parts[:-1] else ""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.skipped or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    reason = _reason(report)
    if reason is None:
        return
    for service, words in SERVICES.items():
        if any(word in reason.lower() for word in words):
            _skipped[service][reason] += 1
            return


def _reason(report: pytest.TestReport) -> str | None:
    if hasattr(report, "wasxfail"):
        return None
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") or not os.environ.get(REQUIRE_ENV):
        return
    if any(_skipped.values()) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for service, reasons in _skipped.items():
        if not reasons:
            continue
        verdict = f" (an error: {REQUIRE_ENV} is set)" if os.environ.get(REQUIRE_ENV) else ""
        terminalreporter.write_line(
            f"{sum(reasons.values())} {service} cases skipped{verdict}:", red=bool(verdict)
        )
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"    {count} x {reason}")
