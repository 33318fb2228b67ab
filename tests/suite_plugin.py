"""The test session's services, shared by every suite (loaded with `-p tests.suite_plugin`).

- PostgreSQL: when AMANAT_TEST_DATABASE_URL is unset, a self-contained server (`pgserver`, from
  PyPI) is started for the session, so the PostgreSQL cases run on any machine. Under
  pytest-xdist each worker gets a database of its own (`<database>_<worker>`, created here), since
  the suites drop and recreate the `public` schema of the database they are given.
- xdist runs with `--dist loadscope` (the Makefile), with the scheduler below: its units of work
  are modules (every module's tests run on one worker, in order, so a module-scoped chain is
  built once), except tests/integration, one unit: its modules share a session chain that a
  worker would otherwise build again (and the demo it plays in the background). The units known
  to run longest go first (UNITS_FIRST); the rest, most tests first (xdist's own rule), so the
  short units come last and both workers finish together. (`loadgroup` would have kept a
  directory on one worker, but pytest 9 ignores the group suffix xdist 3.8 writes into node ids.)
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
# Directories whose modules form one unit of work (one worker runs them all, in order).
GROUPED = ("tests/integration",)
# The units that run longest, started first in this order (xdist's rule alone, most tests first,
# put the one-test modules last: a worker ran the last two alone for ~10 minutes of a loaded CI
# run): the CLI suite (its session chain, then ~170 tests, each in real processes), the state
# machine (one test, thousands of examples), the lifecycle on EthereumJS (one test, minutes of
# block time), the pilot's year in the browser (one test). bench/README.md, "Set-up and the test
# suite", has the measurements.
UNITS_FIRST = (
    "tests/integration",
    "tests/contracts/test_invariants.py",
    "tests/network/test_ethereumjs_lifecycle.py",
    "tests/web/test_pilot_year.py",
)
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
        os.environ[DATABASE_ENV] = database_beside(os.environ[DATABASE_ENV], worker)


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


def database_beside(url: str, suffix: str) -> str:
    """The URL of the database named as `url`'s with `_suffix` on the same server (an xdist
    worker's own, or a fixture's that other tests must not reset), created empty if absent."""
    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    name = f"{base.database}_{suffix}"
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


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its grouped directory, else its module."""
    module = nodeid.split("::", 1)[0]
    return next((d for d in GROUPED if module.startswith(d + "/")), module)


def order_by_unit(nodeids: list[str]) -> list[int]:
    """The positions of `nodeids` in the order xdist should hand them out: the units of
    UNITS_FIRST first, the others by their number of tests, most first; the order of the tests
    within a unit is kept (pytest's own, which groups a parametrized fixture's values)."""
    units = [work_unit(nodeid) for nodeid in nodeids]
    sizes = Counter(units)
    first = {unit: rank for rank, unit in enumerate(UNITS_FIRST)}
    return sorted(
        range(len(nodeids)),
        key=lambda i: (first.get(units[i], len(first)), -sizes[units[i]], units[i], i),
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every worker collects, in this order, and the scheduler hands out the units in it.
    items[:] = [items[i] for i in order_by_unit([item.nodeid for item in items])]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` by work_unit, in the collection's order (see the module docstring)."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # xdist's reordering (by size alone) would undo ours
    return UnitScheduling(config, log)


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
