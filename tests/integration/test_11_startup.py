"""The CLI starts at once: `amanat --help`, `--version` and a read command import only what they
use. Checked by the modules a real `amanat` process has loaded when it finishes (never by timing;
bench/cli_startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from amanat.store.db import MIGRATIONS, head_revision
from tests.integration.support import Amanat

# Runs `amanat ARGS...` in this process, then prints the top-level packages it loaded to stderr.
HARNESS = """
import json, sys
sys.argv = ["amanat", *sys.argv[1:]]
from amanat.cli.main import main
try:
    main()
finally:
    print("LOADED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""

# The chain, store, signing and web stacks: a help or version screen needs none of them.
HEAVY = {"web3", "eth_account", "py_ecc", "alembic", "sqlalchemy", "eth_abi", "eth_utils", "rlp"}
HEAVY |= {"requests", "fastapi", "uvicorn", "cryptography", "argon2", "psycopg"}
# A read command reads the chain, but never signs, derives keys or migrates the store.
SIGNING_AND_MIGRATION = {"web3", "eth_account", "py_ecc", "eth_keyfile", "alembic"}
# A read of the chain alone (the asset or token register) opens neither the off-chain store (SQLAlchemy,
# the database driver) nor its data key (cryptography).
STORE = {"sqlalchemy", "psycopg", "cryptography"}
# No read decodes through eth-abi, hashes through eth-utils (which imports pydantic), encodes RLP or
# reaches the embedded node through requests: Amanat's own decoder and keccak do (chain/abi.py).
GENERAL_ETHEREUM_STACK = {"eth_abi", "eth_utils", "eth_typing", "pydantic", "rlp", "requests"}


def loaded_by(args: list[str], amanat: Amanat | None = None) -> set[str]:
    """The top-level packages loaded by `amanat ARGS...` run to completion (exit code 0)."""
    argv = [*(["--data-dir", str(amanat.data_dir)] if amanat else []), *args]
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, *argv],
        capture_output=True,
        text=True,
        timeout=180,
        env=amanat.env if amanat else None,
        cwd=amanat.cwd if amanat else None,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED "))
    return set(json.loads(line.removeprefix("LOADED ")))


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["token", "--help"], ["propose", "mint", "--help"]]
)
def test_help_and_version_import_no_chain_store_signing_or_web_stack(args: list[str]) -> None:
    assert loaded_by(args) & HEAVY == set()


@pytest.mark.parametrize("args", [["asset", "list", "--json"], ["token", "list", "--json"]])
def test_a_read_command_imports_no_signing_key_derivation_or_migration(
    amanat: Amanat, args: list[str]
) -> None:
    loaded = loaded_by(args, amanat)
    assert "click" in loaded
    assert loaded & SIGNING_AND_MIGRATION == set()


@pytest.mark.parametrize("args", [["asset", "list", "--json"], ["token", "list", "--json"]])
def test_a_read_of_the_chain_alone_loads_no_store(amanat: Amanat, args: list[str]) -> None:
    loaded = loaded_by(args, amanat)
    assert "Crypto" in loaded  # it did read the chain (and checksummed the addresses it read)
    assert loaded & (STORE | GENERAL_ETHEREUM_STACK) == set()


def test_a_read_of_the_store_runs_no_migration(
    amanat: Amanat, institutions: dict[str, Any], minted: dict[str, Any]
) -> None:
    """The institutions' names come from the off-chain store: opening a store already at the
    latest schema loads no Alembic (only a store behind the code is migrated)."""
    for args in (["institution", "list"], ["token", "holders", "PKTB3M"], ["proposal", "list"]):
        loaded = loaded_by([*args, "--json"], amanat)
        assert "sqlalchemy" in loaded  # it did open the store
        assert loaded & (SIGNING_AND_MIGRATION | GENERAL_ETHEREUM_STACK) == set()


def test_the_newest_schema_is_found_without_alembic_as_alembic_finds_it() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()
