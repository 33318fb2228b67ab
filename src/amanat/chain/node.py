"""Run the embedded anvil node: a child process on 127.0.0.1 with automine off, data in the data dir.

Beside anvil runs its block producer (`amanat.chain.producer`): stopping the node stops both, and
a producer whose node died (killed) exits by itself. Stopping waits until both have exited and
the port is free, so that the next start can bind it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amanat.chain.rpc import RpcClient
from amanat.errors import AmanatError, ChainUnavailable

EMBEDDED_CHAIN_ID = 31337
NODE_KEEPS_BLOCKS = 16  # blocks the node keeps whole; older ones are served by the archive
BLOCK_GAS_LIMIT = 1_000_000_000
STOP_WAIT_SECONDS = 60.0  # a node holding a large history takes seconds to release its memory
PORT_WAIT_SECONDS = 60.0
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


def process_alive(pid: int) -> bool:
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


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:`port` now (as anvil does, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _reap(pid: int) -> None:
    """Collect the exit status if `pid` is our child (a test or a bench started the node)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


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
        self.producer_pid_file = self.dir / "producer.pid"
        self.producer_log_file = self.dir / "producer.log"

    @property
    def port(self) -> int:
        if not self.port_file.exists():
            self.port_file.write_text(str(_free_port()))
        return int(self.port_file.read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        return _live_pid(self.pid_file)

    def producer_pid(self) -> int | None:
        return _live_pid(self.producer_pid_file)

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
        """Start anvil (no automine, FIFO ordering, zero gas price) and wait until it answers.

        Wallets see a zero-fee chain: gas price 0 reported (no minimum priority fee) and accepted."""
        if self.pid() is not None:
            raise AmanatError(f"the embedded node is already running (pid {self.pid()})")
        self._wait_for_free_port()
        from amanat.chain.keys import DEV_MNEMONIC  # signing libraries: only when starting

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
            "--disable-min-priority-fee",
            "--gas-limit",
            str(BLOCK_GAS_LIMIT),
            "--no-request-size-limit",
            # history lives in Amanat's archive (amanat.chain.archive): the node keeps state,
            # block headers and its latest blocks whole, so memory and snapshots stay bounded
            "--transaction-block-keeper",
            str(NODE_KEEPS_BLOCKS),
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

    def start_producer(self) -> None:
        """Start the block producer beside the running node unless one already runs: it mines a
        block whenever a transaction from anyone is pending, and exits when the node does.

        AMANAT_BLOCK_PRODUCER=off leaves it out, for tests that mine by hand (e.g. reorgs)."""
        if os.environ.get("AMANAT_BLOCK_PRODUCER", "on").lower() == "off":
            return
        anvil = self.pid()
        if anvil is None:
            raise ChainUnavailable("the embedded node is not running: `amanat node start`")
        if self.producer_pid() is not None:
            return
        with open(self.producer_log_file, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "amanat.chain.producer", str(self.dir.parent), str(anvil)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.producer_pid_file.write_text(str(process.pid))

    def stop(self, sig: int = signal.SIGTERM) -> bool:
        """Stop the node and its producer; SIGKILL simulates a crash. Returns whether it was
        running. Returns only once both processes have exited and the port is free."""
        pid = self.pid()
        if pid is None:
            producer = self.producer_pid()
            if producer is not None:  # a producer outliving its node stops by itself; help it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(producer, sig)
                self._wait_for_exit([producer], STOP_WAIT_SECONDS)
            self.producer_pid_file.unlink(missing_ok=True)
            return False
        pids = [pid] + [p for p in [self.producer_pid()] if p is not None]
        for group in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        if not self._wait_for_exit(pids, STOP_WAIT_SECONDS):
            for group in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
            self._wait_for_exit(pids, STOP_WAIT_SECONDS)
        self._wait_for_free_port()
        self.pid_file.unlink(missing_ok=True)
        self.producer_pid_file.unlink(missing_ok=True)
        return True

    def _wait_for_exit(self, pids: list[int], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for pid in pids:
                _reap(pid)
            if not any(process_alive(pid) for pid in pids):
                return True
            time.sleep(0.02)
        return False

    def _wait_for_free_port(self) -> None:
        """A node that has just exited may still hold its port while the kernel frees it."""
        deadline = time.monotonic() + PORT_WAIT_SECONDS
        while not port_is_free(self.port):
            if time.monotonic() > deadline:
                raise ChainUnavailable(
                    f"port {self.port} of the embedded node is still in use after "
                    f"{PORT_WAIT_SECONDS:.0f} s; is another node running there?"
                )
            time.sleep(0.05)


def _live_pid(pid_file: Path) -> int | None:
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    return pid if process_alive(pid) else None
