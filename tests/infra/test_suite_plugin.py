"""The test session's services (tests/suite_plugin.py), checked on small pytest runs in real
subprocesses: skipped PostgreSQL and browser cases are counted, and fail the run when CI requires
every service; each xdist worker gets a PostgreSQL database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    tmp_path: Path, source: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(source)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "PYTHONPATH": str(ROOT),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", os.devnull, "-p", "tests.suite_plugin", *args],
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
