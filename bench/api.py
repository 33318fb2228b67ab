"""API benchmark: the REST API served by uvicorn over the embedded chain, on loopback only.

The pilot scenario is played on a fresh embedded chain (`demo.load`), the pilot users are
created, and the app is served by uvicorn on 127.0.0.1 (a free port) in a background thread,
with the background indexer running as under `amanat serve`. Then:

(a) read latency: 50 concurrent clients (threads, one httpx client each, the auditor's token)
    alternate GET /tokens/PKTB3M/holders and GET /assets for ~10 s. The clients run in a child
    process so that they do not compete with the server for this process's GIL;
(b) transfer throughput: institution users (inb, kla, fepf, 4 clients each) send compliant
    1,000-unit PKTB3M transfers around a cycle inb -> kla -> fepf -> inb through POST /transfers
    (each with an Idempotency-Key) for ~10 s; every transfer is pre-checked, journaled, mined
    and audited before its 201.

Every loop is bounded by time and by a request count. The node is stopped at the end.
Last line: `api_read_p50_ms X api_read_p99_ms Y api_transfers_per_s Z`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import uvicorn

from amanat import demo
from amanat.api.app import create_app
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.serve import IndexerThread
from amanat.services import pilot
from amanat.services.platform import Platform

HOST = "127.0.0.1"
READ_CLIENTS = 50
READ_PATHS = ("/tokens/PKTB3M/holders", "/assets")
CYCLE = {"inb": "kla", "kla": "fepf", "fepf": "inb"}  # all PK institutions, PKTB3M-eligible
TRANSFER_CLIENTS_PER_USER = 4
TRANSFER_AMOUNT = 1_000
MAX_REQUESTS_PER_CLIENT = 100_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Server:
    """uvicorn serving the app in a background thread."""

    def __init__(self, platform: Platform) -> None:
        self.indexer = IndexerThread(platform)
        self.app = create_app(platform)
        self.app.state.indexer = self.indexer
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host=HOST, port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self.indexer.start()
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.indexer.stopped.set()
        self.indexer.join(timeout=30)


def sign_in(url: str, username: str) -> str:
    reply = httpx.post(
        f"{url}/auth/token",
        json={"username": username, "password": pilot.pilot_password(username)},
        timeout=30,
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def read_load(url: str, token: str, seconds: float) -> tuple[dict[str, list[float]], Counter[int]]:
    latencies: dict[str, list[float]] = {path: [] for path in READ_PATHS}
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(READ_CLIENTS)

    def client(index: int) -> None:
        mine: dict[str, list[float]] = {path: [] for path in READ_PATHS}
        seen: Counter[int] = Counter()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            start.wait()
            deadline = time.monotonic() + seconds
            for n in range(MAX_REQUESTS_PER_CLIENT):
                if time.monotonic() >= deadline:
                    break
                path = READ_PATHS[(n + index) % len(READ_PATHS)]
                began = time.perf_counter()
                reply = http.get(path)
                mine[path].append((time.perf_counter() - began) * 1000)
                seen[reply.status_code] += 1
        with lock:
            for path, values in mine.items():
                latencies[path].extend(values)
            statuses.update(seen)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(READ_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def transfer_load(
    url: str, platform: Platform, tokens: dict[str, str], seconds: float
) -> tuple[int, float, Counter[str]]:
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    clients = [user for user in CYCLE for _ in range(TRANSFER_CLIENTS_PER_USER)]
    start = threading.Barrier(len(clients) + 1)
    receivers = {user: platform.address_of(receiver) for user, receiver in CYCLE.items()}

    def client(user: str) -> None:
        seen: Counter[str] = Counter()
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        body = {"token": "PKTB3M", "to": receivers[user], "amount": TRANSFER_AMOUNT}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            start.wait()
            deadline = time.monotonic() + seconds
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                if time.monotonic() >= deadline:
                    break
                reply = http.post(
                    "/transfers", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
                )
                if reply.status_code == 201:
                    seen["settled"] += 1
                else:
                    seen[f"{reply.status_code} {reply.json().get('rule')}"] += 1
        with lock:
            outcomes.update(seen)

    threads = [threading.Thread(target=client, args=(user,)) for user in clients]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return outcomes["settled"], time.monotonic() - began, outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 120.0)

    work = Path(tempfile.mkdtemp(prefix="amanat-bench-api-"))
    data_dir = work / "data"
    data_dir.mkdir()
    server: Server | None = None
    try:
        platform = Platform.open(Settings(data_dir), require_deployment=False)
        print("loading the pilot scenario and users ...", flush=True)
        demo.load(platform, lambda _line: None)
        pilot.create_pilot_users(platform)
        server = Server(platform)
        server.start()
        print(f"serving on {server.url}", flush=True)
        tokens = {user: sign_in(server.url, user) for user in ("auditor", *CYCLE)}
        while httpx.get(f"{server.url}/health").json()["indexer_lag"] not in (0, None):
            time.sleep(0.2)

        print(f"(a) reads: {READ_CLIENTS} clients for {seconds:.0f} s ...", flush=True)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            latencies, statuses = pool.apply(read_load, (server.url, tokens["auditor"], seconds))
        every = [v for values in latencies.values() for v in values]
        for path, values in latencies.items():
            print(
                f"    GET {path:<24} {len(values):>6} requests  p50 "
                f"{statistics.median(values):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms"
            )
        print(
            f"    all: {len(every)} requests, {len(every) / seconds:.0f}/s, "
            f"statuses {dict(statuses)}"
        )

        print(
            f"(b) transfers: {len(CYCLE) * TRANSFER_CLIENTS_PER_USER} clients for "
            f"{seconds:.0f} s ...",
            flush=True,
        )
        settled, elapsed, outcomes = transfer_load(server.url, platform, tokens, seconds)
        print(f"    {settled} settled in {elapsed:.1f} s; outcomes {dict(outcomes)}")
        health = httpx.get(f"{server.url}/health").json()
        verify = httpx.get(
            f"{server.url}/audit/verify",
            headers={"Authorization": f"Bearer {tokens['auditor']}"},
            timeout=120,
        ).json()
        print(f"    health {health}; audit chain ok {verify['ok']} ({verify['entries']} entries)")

        p50, p99 = statistics.median(every), percentile(every, 0.99)
        print(
            f"api_read_p50_ms {p50:.1f} api_read_p99_ms {p99:.1f} "
            f"api_transfers_per_s {settled / elapsed:.1f}"
        )
        return 0
    finally:
        if server is not None:
            server.stop()
        AnvilNode(data_dir).stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
