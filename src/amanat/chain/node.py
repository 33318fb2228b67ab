"""Run the embedded anvil node: a child process on 127.0.0.1 with automine off, data in the data dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amanat.chain.keys import DEV_MNEMONIC
from amanat.chain.rpc import RpcClient
from amanat.errors import AmanatError, ChainUnavailable

EMBEDDED_CHAIN_ID = 31337
BLOCK_GAS_LIMIT = 1_000_000_000
_REPO_ROOT = Path(__file__).resolve().parents[3]


def anvil_binary() -> str:
    """anvil from $AMANAT_ANVIL, the project's node_modules, or PATH.

    The npm package's .bin/anvil is a Node.js launcher; the native binary it wraps is run
    directly so that stopping (or killing) the node stops anvil itself."""
    override = os.environ.get("AMANAT_ANVIL")
    if override and Path(override).exists():
        return override
    for native in sorted(_REPO_ROOT.glob("node_modules/@foundry-rs/anvil-*/bin/anvil")):
        return str(native)
    found = shutil.which("anvil")
    if found is None:
        raise AmanatError("anvil is not installed: run `make` (npm package @foundry-rs/anvil)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class NodeStatus:
    running: bool
    pid: int | None
    url: str | None
    block: int | None


class AnvilNode:
    """The embedded chain process. Its state is rebuilt from Amanat's journal, not kept by anvil."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "node"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pid_file = self.dir / "anvil.pid"
        self.port_file = self.dir / "anvil.port"
        self.log_file = self.dir / "anvil.log"

    @property
    def port(self) -> int:
        if not self.port_file.exists():
            self.port_file.write_text(str(_free_port()))
        return int(self.port_file.read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        if not self.pid_file.exists():
            return None
        pid = int(self.pid_file.read_text())
        return pid if _alive(pid) else None

    def status(self) -> NodeStatus:
        pid = self.pid()
        if pid is None:
            return NodeStatus(False, None, None, None)
        try:
            block = int(RpcClient(self.url, timeout=5).call("eth_blockNumber"), 16)
        except ChainUnavailable:
            return NodeStatus(False, pid, self.url, None)
        return NodeStatus(True, pid, self.url, block)

    def start(self, genesis_timestamp: int, load_state: Path | None = None) -> None:
        """Start anvil (no automine, FIFO ordering, zero gas price) and wait until it answers."""
        if self.pid() is not None:
            raise AmanatError(f"the embedded node is already running (pid {self.pid()})")
        args = [
            anvil_binary(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(EMBEDDED_CHAIN_ID),
            "--no-mining",
            "--order",
            "fifo",
            "--timestamp",
            str(genesis_timestamp),
            "--mnemonic",
            DEV_MNEMONIC,
            "--accounts",
            "10",
            "--base-fee",
            "0",
            "--gas-price",
            "0",
            "--gas-limit",
            str(BLOCK_GAS_LIMIT),
            "--no-request-size-limit",
        ]
        if load_state is not None:
            args += ["--load-state", str(load_state)]
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        rpc = RpcClient(self.url, timeout=2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AmanatError(
                    f"anvil exited at start (code {process.returncode}); see {self.log_file}"
                )
            if rpc.is_up():
                return
            time.sleep(0.05)
        raise ChainUnavailable(f"anvil did not answer on {self.url} within 30 s")

    def stop(self, sig: int = signal.SIGTERM) -> bool:
        """Stop the node; SIGKILL simulates a crash. Returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.killpg(pid, sig)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.02)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True
