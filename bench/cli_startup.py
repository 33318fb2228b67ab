"""CLI start-up benchmark: how long `amanat --help`, `amanat --version` and read commands take.

The pilot scenario is played on a fresh embedded chain (`demo.load`) whose node is left running,
as after `amanat node start`. Then each command is run as a user runs it (`.venv/bin/amanat`, a
new process each time) `--runs` times. For each, the median wall-clock time and the median CPU
time (user + system of the child) are printed: on a shared machine the CPU time is the better
estimate of the wall-clock time on an idle one. The node is stopped at the end.

Goals (issue 14, item 5): --help and --version <= 0.3 s, a read command <= 0.8 s (aimed at
<= 0.65 s of CPU, a margin for the idle machine the goal is judged on).
Last line: `cli_help_s X cli_version_s Y cli_read_s Z cli_help_cpu_s A cli_version_cpu_s B
cli_read_cpu_s C` (the read figures: the slowest of the read commands).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amanat import demo
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.services.platform import Platform

AMANAT = Path(sys.executable).with_name("amanat")
READS = (
    ("asset", "list", "--json"),
    ("token", "list", "--json"),
    ("token", "show", "PKTB3M", "--json"),
    ("token", "holders", "PKTB3M", "--json"),
    ("institution", "list", "--json"),
    ("proposal", "list", "--json"),
    ("proposal", "show", "1", "--json"),
    ("auction", "list", "--json"),
    ("distribution", "list", "--json"),
    ("cash", "supply", "--json"),
    ("keys", "list", "--json"),
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of `argv` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    timed(argv, env)  # warm the file cache once
    samples = [timed(argv, env) for _ in range(runs)]
    return (
        statistics.median(wall for wall, _ in samples),
        statistics.median(cpu for _, cpu in samples),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command")
    args = parser.parse_args()
    runs = min(max(args.runs, 1), 50)
    # as installed: Python caches the compiled modules (PYTHONDONTWRITEBYTECODE would compile
    # Amanat's sources again in every run; the warm-up run writes the cache)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AMANAT_") and k != "PYTHONDONTWRITEBYTECODE"
    }

    work = Path(tempfile.mkdtemp(prefix="amanat-bench-cli-"))
    data_dir = work / "data"
    data_dir.mkdir()
    try:
        platform = Platform.open(Settings(data_dir), require_deployment=False)
        print("loading the pilot scenario ...", flush=True)
        demo.load(platform, lambda _line: None)
        base = [str(AMANAT), "--data-dir", str(data_dir)]
        figures: dict[str, tuple[float, float]] = {}
        for name, argv in (("help", ["--help"]), ("version", ["--version"])):
            figures[name] = measure([*base, *argv], env, runs)
            print(f"    amanat {argv[0]:<36} wall {figures[name][0]:.3f} s  cpu {figures[name][1]:.3f} s")
        reads = []
        for argv in READS:
            wall, cpu = measure([*base, *argv], env, runs)
            reads.append((wall, cpu))
            print(f"    amanat {' '.join(argv):<36} wall {wall:.3f} s  cpu {cpu:.3f} s")
        figures["read"] = (max(w for w, _ in reads), max(c for _, c in reads))
        print(f"    load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        print(
            " ".join(f"cli_{name}_s {wall:.3f}" for name, (wall, _) in figures.items())
            + " "
            + " ".join(f"cli_{name}_cpu_s {cpu:.3f}" for name, (_, cpu) in figures.items())
        )
        return 0
    finally:
        AnvilNode(data_dir).stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
