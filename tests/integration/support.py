"""Running `amanat` in real processes, and the values the integration tests share."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PARALLEL = 2
COMMAND_TIMEOUT = 180
# AMANAT_IT_TIMING=FILE appends "seconds exit-code command" for every command run.
TIMING_LOG = os.environ.get("AMANAT_IT_TIMING")

TBILL_MAX = 1_000_000
LAND_MAX = 10_000
KYC_EXPIRY = "2031-12-31"

# key name -> (public name, country, category)
INSTITUTIONS = {
    "inb": ("Indus National Bank", "PK", "bank"),
    "kla": ("Karakoram Life Assurance", "PK", "insurer"),
    "ghc": ("Gulf Horizon Capital (UAE)", "AE", "foreign_institution"),
    "retail": ("Retail investor R-0001", "PK", "retail"),
}

MINTS = [  # asset id, receiver, units
    (1, "inb", 500_000),
    (1, "kla", 200_000),
    (2, "inb", LAND_MAX),  # the whole authorisation
]


# Read commands run once, concurrently, after the mints; their JSON serves several modules.
CATALOGUE = [
    "node status",
    "keys list",
    "asset list",
    "asset show 2",
    "institution list",
    "institution show 1",
    "proposal list",
    "proposal show 1",
    "token list",
    "token show PKTB3M",
    "token show 2",
    "token holders 1",
    "token holders 1 --block 1",
    "token balance 1 inb",
    "token history 1",
    "token history 2",
    "token precheck 1 --from inb --to kla --amount 1000",
]


def sha256_file(path: Path) -> str:
    return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def kyc_sha256(record: dict[str, Any]) -> str:
    """The documented hash of a KYC record: SHA-256 of its canonical JSON."""
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "0x" + hashlib.sha256(canonical.encode()).hexdigest()


def utc_timestamp(date: str) -> int:
    return int(datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())


# ----------------------------------------------------------------- running the CLI


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"`amanat {' '.join(self.args)}` printed no JSON ({exc}):\n{self.describe()}"
            ) from None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


Args = Sequence[str | int | Path]
Started = tuple[list[str], "subprocess.Popen[str]", float]


class Amanat:
    """The `amanat` command on one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # The CLI writes amanat-error.log to its working directory on an internal error.
        self.cwd = data_dir.parent
        # Nothing from the caller's Amanat environment (chain, store, keys): the data directory
        # decides everything. AMANAT_ANVIL, where anvil is, stays.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AMANAT_") or k == "AMANAT_ANVIL"
        }
        self.deployed: dict[str, str] = {}

    def start(self, *args: str | int | Path) -> Started:
        """Start `amanat --data-dir DIR ARGS...` without waiting for it (see `finish`)."""
        self.cwd.mkdir(parents=True, exist_ok=True)
        argv = [str(a) for a in args]
        process = subprocess.Popen(
            [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(self.data_dir), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=self.cwd,
            env=self.env,
        )
        return argv, process, time.monotonic()

    def finish(self, started: Started, expect: int | None = 0) -> Result:
        """Wait for a started command; check it printed no traceback and (unless expect is
        None) its exit code."""
        argv, process, started_at = started
        try:
            stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        result = Result(argv, process.returncode, stdout, stderr)
        if TIMING_LOG:
            with open(TIMING_LOG, "a") as log:
                elapsed = time.monotonic() - started_at
                log.write(f"{elapsed:6.2f} {process.returncode:3d} {' '.join(argv)}\n")
        assert "Traceback" not in result.output, f"`amanat {' '.join(argv)}`: {result.describe()}"
        if expect is not None:
            assert result.returncode == expect, (
                f"`amanat {' '.join(argv)}` expected exit {expect}: {result.describe()}"
            )
        return result

    def run(self, *args: str | int | Path, expect: int | None = 0) -> Result:
        """Run `amanat --data-dir DIR ARGS...`; check the exit code (unless expect is None)."""
        return self.finish(self.start(*args), expect)

    def json(self, *args: str | int | Path) -> Any:
        return self.run(*args, "--json").json

    def run_many(self, commands: Sequence[Args], expect: int | None = 0) -> list[Result]:
        """Run independent commands concurrently; results in the order given."""
        with ThreadPoolExecutor(PARALLEL) as pool:
            futures = [pool.submit(self.run, *c, expect=expect) for c in commands]
            return [f.result() for f in futures]

    def json_many(self, commands: Sequence[Args]) -> list[Any]:
        return [r.json for r in self.run_many([[*c, "--json"] for c in commands])]

    def refused(self, *args: str | int | Path, code: int, rule: str) -> Result:
        """A command that must fail with `code` and one error line naming `rule`."""
        result = self.run(*args, expect=code)
        assert f"[{rule}]" in result.output, f"expected rule {rule}: {result.describe()}"
        return result

    def govern(
        self,
        proposals: Sequence[Args],
        approver: str = "official-2",
        executor: str = "official-1",
    ) -> dict[str, Any]:
        """Propose (official-1), approve (official-2), pass the timelock, execute; every step
        through the CLI. Returns the JSON each step printed. The first proposal is made before
        the others (which are made at once), so it takes the next proposal number."""
        first, *rest = [[*p, "--as", "official-1"] for p in proposals]
        proposed = [self.json(*first), *self.json_many(rest)]
        approved = self.json_many(
            [["proposal", "approve", p["id"], "--as", approver] for p in proposed]
        )
        advanced = None
        waiting = [a for a in approved if a["state"] == "waiting-timelock"]
        if waiting:
            delay = max(a["ready_at"] - a["created_at"] for a in waiting) + 1
            advanced = self.json("node", "advance-time", delay)
        executed = self.json_many(
            [["proposal", "execute", p["id"], "--as", executor] for p in proposed]
        )
        return {
            "proposed": proposed,
            "approved": approved,
            "advanced": advanced,
            "executed": executed,
        }


def stop_node(data_dir: Path) -> None:
    """`amanat node stop` on a data directory (retried: the CLI may be failing); if the node's pid
    file still names a live anvil afterwards, end that process by its id."""
    if not data_dir.exists():
        return
    for _attempt in range(3):
        process = subprocess.run(
            [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(data_dir), "node", "stop"],
            capture_output=True,
            cwd=data_dir.parent,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if process.returncode == 0:
            break
        time.sleep(1)
    pid_file = data_dir / "node" / "anvil.pid"
    try:
        pid = int(pid_file.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"anvil" in command:
        os.kill(pid, signal.SIGTERM)


def balances(cli: Amanat, token: str | int) -> dict[str, int]:
    """wallet address -> balance, from `token holders`."""
    return {row["wallet"]: row["balance"] for row in cli.json("token", "holders", token)}
