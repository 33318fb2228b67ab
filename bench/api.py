"""API benchmark: the REST API served by `amanat serve --workers N` over the embedded chain, on
loopback only, against the package path in the same run.

The pilot scenario is played on a fresh embedded chain (`demo.load`) and the pilot users are
created, on SQLite or (with --database-url) PostgreSQL. Then `amanat serve --workers N` serves
that data directory on 127.0.0.1 (a free port), its background indexer following the chain. Then:

(a) reads: 50 concurrent clients (one asyncio loop, a keep-alive HTTP/1.1 connection each, the
    auditor's token, requests pre-built as bytes: they cost far less CPU than the server)
    alternate GET /tokens/PKTB3M/holders and GET /assets for ~10 s. The clients run in a child
    process so that they do not compete with this process's GIL. On PostgreSQL the phases (a)
    and (b) also report the CPU of the server processes serving the bench database (when it
    runs on this machine) and the sessions opened;
(b) API transfers: 50 concurrent clients (issue 14), spread over the institution users inb,
    kla and fepf, send compliant 1,000-unit PKTB3M transfers around a cycle inb -> kla -> fepf
    -> inb through POST /transfers (each with a fresh Idempotency-Key) for ~10 s, from a child
    process (one asyncio loop, a keep-alive connection each, as the readers); every transfer
    is pre-checked, journaled, mined, recorded under its key and audited before its 201. The
    bench reports the write latency (p50, p99) and the CPU per transfer of the server, the node
    and the clients, and for (c) the CPU per package transfer;
(b2) client-signed transfers: one client process per institution (its transactions take
    consecutive nonces) builds each transfer through POST /transactions/build, signs it locally
    with eth-account and submits it to POST /transactions, for ~10 s;
(c) package transfers: the same cycle through `amanat.services.tokens.transfer_batch` (batches
    of 250, pre-checked, journaled, mined together and confirmed) for ~10 s, in this process.

Every loop is bounded by time and by a request count. The server and the node are stopped at
the end. Last line: `api_transfers_per_s X client_signed_per_s C package_transfers_per_s Y
ratio R api_read_rps Z api_read_p50_ms P api_read_p99_ms W api_write_p50_ms Q
api_write_p99_ms V` (ratio = X / Y).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psutil
from sqlalchemy.pool import NullPool

from amanat import demo
from amanat.chain.node import AnvilNode
from amanat.config import DATABASE_ENV, Settings
from amanat.services import pilot, tokens
from amanat.services.platform import Platform

HOST = "127.0.0.1"
READ_CLIENTS = 50
READ_PATHS = ("/tokens/PKTB3M/holders", "/assets")
CYCLE = {"inb": "kla", "kla": "fepf", "fepf": "inb"}  # all PK institutions, PKTB3M-eligible
TRANSFER_CLIENTS = 50  # issue 14: 50 concurrent clients
TRANSFER_AMOUNT = 1_000
MAX_REQUESTS_PER_CLIENT = 100_000
PACKAGE_BATCH = 250
PACKAGE_AMOUNT = 100
MAX_PACKAGE_BATCHES = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Server:
    """`amanat serve --workers N` on the data directory, in a child process."""

    def __init__(self, data_dir: Path, workers: int, database_url: str | None) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
        if database_url:
            env[DATABASE_ENV] = database_url
        self.process = subprocess.Popen(
            [sys.executable, "-m", "amanat.cli.main", "--data-dir", str(data_dir), "serve"]
            + ["--workers", str(workers), "--port", str(self.port)],
            env=env,
            stdin=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server's processes (supervisor and workers)."""
        processes = [psutil.Process(self.process.pid)]
        processes += processes[0].children(recursive=True)
        return sum(p.cpu_times().user + p.cpu_times().system for p in processes)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"amanat serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=10).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("amanat serve did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def node_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds used so far by the embedded node (anvil) and its block producer."""
    node = AnvilNode(data_dir)
    pids = [pid for pid in (node.pid(), node.producer_pid()) if pid is not None]
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


class PostgresBackends:
    """The PostgreSQL server's share of a phase, for the bench database: the CPU of the backend
    processes serving it (when the server runs on this machine: their process titles name the
    database) and the sessions opened (`pg_stat_database`). A backend that exits during the
    phase takes its CPU with it: the sessions opened show such churn."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, make_url

        self.database = make_url(url).database
        self.engine = create_engine(url, poolclass=NullPool)

    def cpu(self) -> dict[int, float]:
        seconds = {}
        for process in psutil.process_iter(["cmdline"]):
            title = " ".join(process.info["cmdline"] or [])
            if title.startswith("postgres:") and f" {self.database} " in title:
                try:
                    times = process.cpu_times()
                except psutil.Error:  # exited meanwhile
                    continue
                seconds[process.pid] = times.user + times.system
        return seconds

    def sessions(self) -> int:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return int(
                connection.scalar(
                    text("SELECT sessions FROM pg_stat_database WHERE datname = :name"),
                    {"name": self.database},
                )
                or 0
            )

    def exited_cpu(self, backends: dict[int, float]) -> float:
        """CPU seconds of every backend of the whole cluster that has exited so far (its
        postmaster's reaped children: other databases' too), 0 if not found."""
        for pid in backends:
            try:
                times = psutil.Process(psutil.Process(pid).ppid()).cpu_times()
            except psutil.Error:
                continue
            return float(times.children_user + times.children_system)
        return 0.0

    def start(self) -> tuple[dict[int, float], int, float]:
        backends = self.cpu()
        return backends, self.sessions(), self.exited_cpu(backends)

    def since(self, start: tuple[dict[int, float], int, float]) -> tuple[float, int, float]:
        """CPU seconds of the database's live backends, sessions opened (this reading's own not
        counted) and CPU seconds of the cluster's backends that exited, since `start`."""
        before, sessions, exited = start
        opened = self.sessions() - sessions - 1
        backends = self.cpu()
        cpu = sum(seconds - before.get(pid, 0.0) for pid, seconds in backends.items())
        return cpu, opened, self.exited_cpu({**before, **backends}) - exited

    def report(self, start: tuple[dict[int, float], int, float], per: str, count: int) -> str:
        cpu, opened, exited = self.since(start)
        return (
            f"    PostgreSQL backends of {self.database}: {1000 * cpu / max(count, 1):.2f} ms of "
            f"CPU per {per}, {opened} sessions opened; backends that exited (whole cluster, "
            f"other databases too): {1000 * exited / max(count, 1):.2f} ms per {per}"
        )


def sign_in(url: str, username: str) -> str:
    reply = httpx.post(
        f"{url}/auth/token",
        json={"username": username, "password": pilot.pilot_password(username)},
        timeout=30,
    )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_load(
    url: str, token: str, seconds: float
) -> tuple[dict[str, list[float]], Counter[int], float]:
    """The read phase, in a child process; also returns the CPU seconds the clients used.

    The clients cost the server's machine as little CPU as possible, so that the phase measures
    the server: one asyncio loop, one keep-alive HTTP/1.1 connection per client, each request
    built once as bytes, each reply read by its Content-Length (the server always sends one)."""
    return asyncio.run(_read_load(url, token, seconds))


async def _read_load(
    url: str, token: str, seconds: float
) -> tuple[dict[str, list[float]], Counter[int], float]:
    host, port = url.removeprefix("http://").split(":")
    requests = {
        path: (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()
        for path in READ_PATHS
    }
    latencies: dict[str, list[float]] = {path: [] for path in READ_PATHS}
    statuses: Counter[int] = Counter()
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(READ_CLIENTS)]
    began_cpu = cpu_seconds()
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        reader, writer = connections[index]
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            path = READ_PATHS[(n + index) % len(READ_PATHS)]
            began = time.perf_counter()
            writer.write(requests[path])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            await reader.readexactly(length)
            latencies[path].append((time.perf_counter() - began) * 1000)
            statuses[int(head[9:12])] += 1
        writer.close()

    await asyncio.gather(*(client(i) for i in range(READ_CLIENTS)))
    return latencies, statuses, cpu_seconds() - began_cpu


def transfer_load(
    url: str, tokens: dict[str, str], receivers: dict[str, str], seconds: float
) -> tuple[int, float, Counter[str], list[float], float]:
    """The API-transfer phase, in a child process: TRANSFER_CLIENTS concurrent clients (one
    asyncio loop, a keep-alive HTTP/1.1 connection each, spread over the cycle's institution
    users), each sending POST /transfers with a fresh Idempotency-Key as soon as its previous
    reply came. Returns the transfers settled, the elapsed time, the outcomes, every write's
    latency (ms) and the CPU seconds the clients used."""
    return asyncio.run(_transfer_load(url, tokens, receivers, seconds))


async def _transfer_load(
    url: str, tokens: dict[str, str], receivers: dict[str, str], seconds: float
) -> tuple[int, float, Counter[str], list[float], float]:
    host, port = url.removeprefix("http://").split(":")
    users = list(CYCLE)
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    connections = [await asyncio.open_connection(host, int(port)) for _ in range(TRANSFER_CLIENTS)]
    began_cpu = cpu_seconds()
    began = time.monotonic()
    deadline = began + seconds

    async def client(index: int) -> None:
        reader, writer = connections[index]
        user = users[index % len(users)]
        body = json.dumps(
            {"token": "PKTB3M", "to": receivers[user], "amount": TRANSFER_AMOUNT}
        ).encode()
        head = (
            f"POST /transfers HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {tokens[user]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nAccept: application/json\r\n"
        )
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            sent = time.perf_counter()
            writer.write(f"{head}Idempotency-Key: {uuid.uuid4()}\r\n\r\n".encode() + body)
            reply_head = await reader.readuntil(b"\r\n\r\n")
            length = int(reply_head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            reply = await reader.readexactly(length)
            latencies.append((time.perf_counter() - sent) * 1000)
            status = int(reply_head[9:12])
            if status == 201:
                outcomes["settled"] += 1
            else:
                outcomes[f"{status} {json.loads(reply).get('rule')}"] += 1
        writer.close()

    await asyncio.gather(*(client(i) for i in range(TRANSFER_CLIENTS)))
    elapsed = time.monotonic() - began
    return outcomes["settled"], elapsed, outcomes, latencies, cpu_seconds() - began_cpu


def client_signed_load(
    url: str, bearer: str, secret: bytes, receiver: str, seconds: float
) -> tuple[int, float, Counter[str]]:
    """One institution's client process: build through the API, sign locally with its own key
    (eth-account, as any outside client) and submit the raw transaction, for `seconds`. One
    process per wallet: a wallet's transactions take consecutive nonces."""
    from eth_account import Account

    seen: Counter[str] = Counter()
    body = {"action": "transfer", "token": "PKTB3M", "to": receiver, "amount": TRANSFER_AMOUNT}
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        began = time.monotonic()
        deadline = began + seconds
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            built = http.post("/transactions/build", json=body)
            if built.status_code != 200:
                seen[f"build {built.status_code} {built.json().get('rule')}"] += 1
                continue
            unsigned = {k: v for k, v in built.json().items() if k not in ("action", "from")}
            raw = bytes(Account.sign_transaction(unsigned, secret).raw_transaction)
            reply = http.post("/transactions", json={"raw": "0x" + raw.hex()})
            if reply.status_code == 200:
                seen["settled"] += 1
            else:
                seen[f"{reply.status_code} {reply.json().get('rule')}"] += 1
    return seen["settled"], time.monotonic() - began, seen


def package_load(platform: Platform, seconds: float) -> tuple[int, float, Counter[str]]:
    """Compliant transfers around the cycle through `transfer_batch`, in batches, for `seconds`."""
    token = tokens.resolve(platform, "PKTB3M")
    users = list(CYCLE)
    plan = [
        (users[i % len(users)], token, CYCLE[users[i % len(users)]], PACKAGE_AMOUNT)
        for i in range(PACKAGE_BATCH)
    ]
    outcomes: Counter[str] = Counter()
    began = time.monotonic()
    for _ in range(MAX_PACKAGE_BATCHES):
        if time.monotonic() - began >= seconds:
            break
        for result in tokens.transfer_batch(platform, plan):
            outcomes["settled" if result.get("settled") else f"refused {result.get('rule')}"] += 1
    return outcomes["settled"], time.monotonic() - began, outcomes


def reset_postgres(url: str) -> None:
    """Empty the benchmark database: drop and recreate its public schema."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument("--workers", type=int, default=2, help="amanat serve --workers")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL for the store (a database for benchmarks only: its public schema is "
        "dropped first); default SQLite in the data directory",
    )
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 120.0)
    workers = min(max(args.workers, 1), 16)

    work = Path(tempfile.mkdtemp(prefix="amanat-bench-api-"))
    data_dir = work / "data"
    data_dir.mkdir()
    server: Server | None = None
    try:
        if args.database_url:
            reset_postgres(args.database_url)
        settings = Settings(data_dir, database_url=args.database_url)
        platform = Platform.open(settings, require_deployment=False)
        backend = "postgresql" if args.database_url else "sqlite"
        print(f"loading the pilot scenario and users ({backend}) ...", flush=True)
        demo.load(platform, lambda _line: None)
        pilot.create_pilot_users(platform)
        server = Server(data_dir, workers, args.database_url)
        server.wait_ready()
        print(f"serving on {server.url} with {workers} workers", flush=True)
        bearer = {user: sign_in(server.url, user) for user in ("auditor", *CYCLE)}
        while httpx.get(f"{server.url}/health").json()["indexer_lag"] not in (0, None):
            time.sleep(0.2)

        postgres = PostgresBackends(args.database_url) if args.database_url else None
        print(f"(a) reads: {READ_CLIENTS} clients for {seconds:.0f} s ...", flush=True)
        postgres_start = postgres.start() if postgres else None
        server_cpu, node_cpu = server.cpu_seconds(), node_cpu_seconds(data_dir)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            latencies, statuses, client_cpu = pool.apply(
                read_load, (server.url, bearer["auditor"], seconds)
            )
        server_cpu = server.cpu_seconds() - server_cpu
        node_cpu = node_cpu_seconds(data_dir) - node_cpu
        every = [v for values in latencies.values() for v in values]
        for path, values in latencies.items():
            print(
                f"    GET {path:<24} {len(values):>6} requests  p50 "
                f"{statistics.median(values):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms"
            )
        read_rps = len(every) / seconds
        print(f"    all: {len(every)} requests, {read_rps:.0f}/s, statuses {dict(statuses)}")
        print(
            f"    CPU per read: server {1000 * server_cpu / len(every):.2f} ms, "
            f"node {1000 * node_cpu / len(every):.2f} ms, "
            f"clients {1000 * client_cpu / len(every):.2f} ms ({os.cpu_count()} cores)"
        )
        if postgres and postgres_start:
            print(postgres.report(postgres_start, "read", len(every)))

        print(f"(b) API transfers: {TRANSFER_CLIENTS} clients for {seconds:.0f} s ...", flush=True)
        receivers = {user: platform.address_of(receiver) for user, receiver in CYCLE.items()}
        postgres_start = postgres.start() if postgres else None
        server_cpu, node_cpu = server.cpu_seconds(), node_cpu_seconds(data_dir)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            settled, elapsed, outcomes, write_ms, writer_cpu = pool.apply(
                transfer_load, (server.url, bearer, receivers, seconds)
            )
        server_cpu = server.cpu_seconds() - server_cpu
        node_cpu = node_cpu_seconds(data_dir) - node_cpu
        api_tps = settled / elapsed
        write_p50, write_p99 = statistics.median(write_ms), percentile(write_ms, 0.99)
        print(f"    {settled} settled in {elapsed:.1f} s; outcomes {dict(outcomes)}")
        print(f"    write latency p50 {write_p50:.1f} ms  p99 {write_p99:.1f} ms")
        print(
            f"    CPU per API transfer: server {1000 * server_cpu / max(settled, 1):.2f} ms, "
            f"node {1000 * node_cpu / max(settled, 1):.2f} ms, "
            f"clients {1000 * writer_cpu / max(settled, 1):.2f} ms"
        )
        if postgres and postgres_start:
            print(postgres.report(postgres_start, "API transfer", settled))
        health = httpx.get(f"{server.url}/health").json()
        verify = httpx.get(
            f"{server.url}/audit/verify",
            headers={"Authorization": f"Bearer {bearer['auditor']}"},
            timeout=120,
        ).json()
        print(f"    health {health}; audit chain ok {verify['ok']} ({verify['entries']} entries)")

        print(f"(b2) client-signed transfers: {len(CYCLE)} client processes ...", flush=True)
        with multiprocessing.get_context("spawn").Pool(len(CYCLE)) as pool:
            runs = pool.starmap(
                client_signed_load,
                [
                    (
                        server.url,
                        bearer[user],
                        bytes(platform.signer(user).key),
                        platform.address_of(receiver),
                        seconds,
                    )
                    for user, receiver in CYCLE.items()
                ],
            )
        signed_elapsed = max(elapsed for _, elapsed, _ in runs)  # the clients' own loops
        signed_settled = sum(settled for settled, _, _ in runs)
        signed_outcomes = sum((seen for _, _, seen in runs), Counter[str]())
        client_signed_tps = signed_settled / signed_elapsed
        print(
            f"    {signed_settled} settled in {signed_elapsed:.1f} s; "
            f"outcomes {dict(signed_outcomes)}"
        )

        print(f"(c) package transfers (transfer_batch of {PACKAGE_BATCH}) for {seconds:.0f} s ...")
        package_cpu, node_cpu = cpu_seconds(), node_cpu_seconds(data_dir)
        server_cpu = server.cpu_seconds()  # its indexer follows these transfers too
        package_settled, package_elapsed, package_outcomes = package_load(platform, seconds)
        package_cpu = cpu_seconds() - package_cpu
        node_cpu = node_cpu_seconds(data_dir) - node_cpu
        server_cpu = server.cpu_seconds() - server_cpu
        package_tps = package_settled / package_elapsed
        print(
            f"    CPU per package transfer: this process "
            f"{1000 * package_cpu / max(package_settled, 1):.2f} ms, "
            f"node {1000 * node_cpu / max(package_settled, 1):.2f} ms, "
            f"server (its indexer) {1000 * server_cpu / max(package_settled, 1):.2f} ms"
        )
        print(
            f"    {package_settled} settled in {package_elapsed:.1f} s; "
            f"outcomes {dict(package_outcomes)}"
        )
        print(f"    load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        p50, p99 = statistics.median(every), percentile(every, 0.99)
        print(
            f"api_transfers_per_s {api_tps:.1f} client_signed_per_s {client_signed_tps:.1f} "
            f"package_transfers_per_s {package_tps:.1f} "
            f"ratio {api_tps / package_tps if package_tps else 0:.3f} api_read_rps {read_rps:.0f} "
            f"api_read_p50_ms {p50:.1f} api_read_p99_ms {p99:.1f} "
            f"api_write_p50_ms {write_p50:.1f} api_write_p99_ms {write_p99:.1f}"
        )
        return 0
    finally:
        if server is not None:
            server.stop()
        AnvilNode(data_dir).stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
