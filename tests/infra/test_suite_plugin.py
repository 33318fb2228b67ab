"""The test session's services (tests/suite_plugin.py), checked on small pytest runs in real
subprocesses: skipped PostgreSQL and browser cases are counted, and fail the run when CI requires
every service; each xdist worker gets a PostgreSQL database of its own; xdist hands out the
longest units first and keeps tests/integration on one worker.

The inner runs load only the plugins they use (xdist and this suite's): the installed ones that
pytest loads by itself (titanoboa's, schemathesis', hypothesis') cost ~5 s of CPU per process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.suite_plugin import order_by_unit, work_unit

ROOT = Path(__file__).resolve().parents[2]

SKIPS = '''
import pytest

def test_postgresql_case():
    pytest.skip("PostgreSQL not configured: set AMANAT_TEST_DATABASE_URL")

def test_browser_case():
    pytest.skip("no Chromium at /usr/bin/chromium: apt-get install chromium")

def test_other_skip():
    pytest.skip("not on this platform")

def test_runs():
    assert True
'''

WORKER_DATABASES = '''
import os
from sqlalchemy import create_engine, make_url, text

def check():
    url = os.environ["AMANAT_TEST_DATABASE_URL"]
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert make_url(url).database.endswith("_" + worker)
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT current_database()")).scalar_one() == (
            make_url(url).database
        )
    engine.dispose()

def test_one():
    check()

def test_two():
    check()
'''


def run_pytest(
    tmp_path: Path, source: str | None, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    if source is not None:
        (tmp_path / "test_inner.py").write_text(source)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "PYTHONPATH": str(ROOT),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        **env,
    }
    plugins = ["-p", "xdist.plugin", "-p", "tests.suite_plugin"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(tmp_path), *plugins]
        + list(args),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def without(*names: str) -> dict[str, str]:
    return {name: "" for name in names}


def test_skipped_postgresql_and_browser_cases_are_counted_with_their_reasons(
    tmp_path: Path,
) -> None:
    done = run_pytest(
        tmp_path,
        SKIPS,
        "test_inner.py",
        **without("AMANAT_TEST_REQUIRE_SERVICES"),
        AMANAT_TEST_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/unused",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 PostgreSQL cases skipped:" in done.stdout
    assert "1 x PostgreSQL not configured: set AMANAT_TEST_DATABASE_URL" in done.stdout
    assert "1 browser cases skipped:" in done.stdout
    assert "1 x no Chromium at /usr/bin/chromium" in done.stdout


def test_a_skipped_postgresql_or_browser_case_fails_the_run_when_ci_requires_every_service(
    tmp_path: Path,
) -> None:
    done = run_pytest(
        tmp_path,
        SKIPS,
        "test_inner.py",
        AMANAT_TEST_REQUIRE_SERVICES="1",
        AMANAT_TEST_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/unused",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 PostgreSQL cases skipped (an error: AMANAT_TEST_REQUIRE_SERVICES is set):" in (
        done.stdout
    )


def test_each_xdist_worker_gets_a_postgresql_database_of_its_own(tmp_path: Path) -> None:
    if not os.environ.get("AMANAT_TEST_DATABASE_URL"):
        pytest.skip("PostgreSQL not configured: set AMANAT_TEST_DATABASE_URL or install pgserver")
    done = run_pytest(tmp_path, WORKER_DATABASES, "test_inner.py", "-n", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


RECORDED = '''
import os

def test_{name}_{index}():
    with open(os.environ["AMANAT_TEST_RECORD"], "a") as record:
        record.write(os.environ["PYTEST_XDIST_WORKER"] + " {path}\\n")
'''


def test_xdist_runs_the_longest_units_first_and_tests_integration_on_one_worker(
    tmp_path: Path,
) -> None:
    units = {  # path -> number of tests
        "tests/integration/test_a.py": 3,
        "tests/integration/test_b.py": 3,
        "tests/contracts/test_invariants.py": 1,
        "tests/network/test_ethereumjs_lifecycle.py": 1,
        "tests/domain/test_many.py": 8,
        "tests/chain/test_few.py": 2,
    }
    for path, count in units.items():
        module = tmp_path / path
        module.parent.mkdir(parents=True, exist_ok=True)
        name = module.stem.removeprefix("test_")
        module.write_text(
            "".join(RECORDED.format(name=name, index=i, path=path) for i in range(count))
        )
    record = tmp_path / "record.txt"
    done = run_pytest(
        tmp_path, None, "tests", "-n", "2", "--dist", "loadscope", AMANAT_TEST_RECORD=str(record)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line.split() for line in record.read_text().splitlines()]
    assert len(ran) == sum(units.values())
    integration_workers = {worker for worker, path in ran if path.startswith("tests/integration/")}
    assert len(integration_workers) == 1, ran
    first = {}  # each worker's first test: the first two units of UNITS_FIRST, one each
    for worker, path in ran:
        first.setdefault(worker, path)
    assert sorted(first.values()) == [
        "tests/contracts/test_invariants.py",
        "tests/integration/test_a.py",
    ], ran


def test_units_are_ordered_longest_first_then_by_size() -> None:
    nodeids = [
        "tests/chain/test_few.py::test_1",
        "tests/domain/test_many.py::test_1",
        "tests/integration/test_b.py::test_1",
        "tests/web/test_pilot_year.py::test_1",
        "tests/domain/test_many.py::test_2[sqlite]",
        "tests/domain/test_many.py::test_2[postgresql]",
        "tests/network/test_ethereumjs_lifecycle.py::test_1",
        "tests/integration/test_a.py::test_1",
        "tests/contracts/test_invariants.py::test_1",
    ]
    ordered = [nodeids[i] for i in order_by_unit(nodeids)]
    assert ordered == [
        "tests/integration/test_b.py::test_1",  # one unit, its collection order kept
        "tests/integration/test_a.py::test_1",
        "tests/contracts/test_invariants.py::test_1",
        "tests/network/test_ethereumjs_lifecycle.py::test_1",
        "tests/web/test_pilot_year.py::test_1",
        "tests/domain/test_many.py::test_1",  # then the most tests first
        "tests/domain/test_many.py::test_2[sqlite]",
        "tests/domain/test_many.py::test_2[postgresql]",
        "tests/chain/test_few.py::test_1",
    ]
    assert work_unit("tests/integration/test_a.py::test_1") == "tests/integration"
    assert work_unit("tests/domain/test_many.py::test_2[sqlite]") == "tests/domain/test_many.py"
