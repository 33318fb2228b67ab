"""`amanat serve --workers N`: several processes serve the API over one data directory, each with
its own platform, while the background indexer runs once; reads say the block they are as of."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.support import Amanat, stop_node

HANG_GUARD_SECONDS = 180  # not a timing: only stops a test whose server never came up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"amanat serve exited with {server.returncode}: {server.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("amanat serve did not answer /health")


def test_two_worker_processes_serve_reads_of_one_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli = Amanat(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server: subprocess.Popen[str] | None = None
    try:
        cli.json("deploy")
        server = subprocess.Popen(
            [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(data_dir), "serve"]
            + ["--workers", "2", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=tmp_path,
            env=cli.env,
        )
        wait_healthy(url, server)
        workers = [
            child
            for child in psutil.Process(server.pid).children(recursive=True)
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert len(workers) == 2

        # each worker has its own listening socket on the port: a burst of connections is
        # spread over both (one shared socket let the first to wake accept them all)
        burst = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            while True:
                held = {
                    worker.pid: sum(
                        c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
                        for c in worker.net_connections(kind="tcp")
                    )
                    for worker in workers
                }
                if sum(held.values()) == len(burst) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert sum(held.values()) == len(burst)
            assert all(held.values()), held
        finally:
            for connection in burst:
                connection.close()

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _: httpx.get(f"{url}/assets", timeout=60), range(32)))
        assert {r.status_code for r in replies} == {200}
        blocks = {r.json()["block"] for r in replies}
        assert all(isinstance(b, int) and b > 0 for b in blocks)
        assert replies[0].json()["items"] == []  # deployed, nothing registered yet

        # a second server on the same port is refused, with the reason, though its workers
        # would bind with SO_REUSEPORT
        second = subprocess.run(
            [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(data_dir), "serve"]
            + ["--workers", "2", "--port", str(port)],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=tmp_path,
            env=cli.env,
            timeout=HANG_GUARD_SECONDS,
        )
        assert second.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=HANG_GUARD_SECONDS)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        stop_node(data_dir)
