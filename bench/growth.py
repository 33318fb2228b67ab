"""Growth: what one embedded chain costs as its history grows, and whether it still restarts exactly.

The throughput bench's workload (compliant transfers through `amanat.services.tokens.transfer_batch`,
batches of 250 across 100 holders) in rounds, mixed with a holder's own wallet sending ordinary
ERC-20 transfers (signed with eth-account, plain JSON-RPC, mined by the block producer). Each
round prints tx/s, the worst and median batch latency, node and service RSS and disk by component
(journal, history archive, snapshots, node files, store). At each checkpoint the node is stopped cleanly and
restarted, then SIGKILLed and recovered, both timed, and the chain is checked identical: latest
block hash (which commits to every earlier block), state root and every holder's balance.

Last line: `transfers N restart_max_s R recovery_max_s K node_rss_mb M disk_bytes_per_transfer D
tps_first F tps_last L`.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector

from amanat.chain.client import Chain
from amanat.chain.node import AnvilNode
from amanat.services import tokens

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import setup_amanat  # noqa: E402  (the bench next door)

TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu_wait_s(pids: list[int]) -> float:
    """Seconds the threads of `pids` have spent runnable but waiting for a CPU (Linux
    schedstat): on a shared machine, the part of a batch's time that is other processes' load."""
    waited = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                waited += int(stat.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
    return waited / 1e9


def _chain_pids(data_dir: Path) -> list[int]:
    """This process, the node and the block producer: every process a batch waits on."""
    node = AnvilNode(data_dir)
    producer = node.dir / "producer.pid"
    pids = [os.getpid(), node.pid() or 0]
    if producer.exists():
        pids.append(int(producer.read_text() or 0))
    return [p for p in pids if p and Path(f"/proc/{p}").exists()]


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


_COMPONENTS = ("journal", "history", "snapshots", "node", "store")


def _disk(data_dir: Path) -> dict[str, int]:
    journal = sum(_size(p) for p in data_dir.glob("journal.sqlite*"))
    history = sum(_size(p) for p in data_dir.glob("history.sqlite*"))
    snapshots = _size(data_dir / "node" / "snapshots")
    node = _size(data_dir / "node") - snapshots
    store = _size(data_dir) - journal - history - snapshots - node
    return {
        "journal": journal,
        "history": history,
        "snapshots": snapshots,
        "node": node,
        "store": store,
    }


def _wallet_transfers(
    url: str, key: bytes, token: str, receivers: list[str], count: int
) -> list[str]:
    """A holder's own wallet: `count` ERC-20 transfers of 1 unit, signed here, sent as JSON-RPC."""
    account = Account.from_key(key)

    def rpc(method: str, params: list[Any]) -> Any:
        reply = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30
        ).json()
        if "error" in reply:
            raise SystemExit(f"wallet: {method}: {reply['error']}")
        return reply["result"]

    nonce = int(rpc("eth_getTransactionCount", [account.address, "pending"]), 16)
    hashes = []
    for i in range(count):
        receiver = receivers[i % len(receivers)]
        data = TRANSFER + bytes(12) + bytes.fromhex(receiver[2:]) + (1).to_bytes(32, "big")
        tx = {
            "nonce": nonce + i,
            "gasPrice": int(rpc("eth_gasPrice", []), 16),
            "gas": tokens.TRANSFER_GAS_LIMIT,
            "to": token,
            "value": 0,
            "data": data,
            "chainId": 31337,
        }
        raw = account.sign_transaction(tx).raw_transaction
        hashes.append(rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()]))
    deadline = time.monotonic() + 30
    for tx_hash in hashes:
        while rpc("eth_getTransactionReceipt", [tx_hash]) is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"wallet transfer {tx_hash} not mined within 30 s")
            time.sleep(0.05)
    return hashes


def _fingerprint(chain: Chain, token: str, holders: list[str]) -> tuple[Any, ...]:
    latest = chain.rpc.call("eth_getBlockByNumber", ["latest", False])
    balances = chain.rpc.batch(
        [
            (
                "eth_call",
                [{"to": token, "data": "0x" + (BALANCE_OF + bytes(12)).hex() + h[2:]}, "latest"],
            )
            for h in holders
        ]
    )
    return latest["number"], latest["hash"], latest["stateRoot"], tuple(balances)


def began_at(perf: float) -> str:
    """The UTC wall time of a `time.perf_counter()` reading, to match the node's log."""
    return f"{datetime.fromtimestamp(time.time() - (time.perf_counter() - perf), UTC):%H:%M:%S.%f}"


def _checkpoint(data_dir: Path, token: str, holders: list[str]) -> tuple[float, float]:
    """Clean stop and start, then SIGKILL and recovery; both must give the identical chain."""
    node = AnvilNode(data_dir)
    before = _fingerprint(Chain.embedded(data_dir), token, holders)
    node.stop()
    started = time.perf_counter()
    restarted = Chain.embedded(data_dir)
    restart_s = time.perf_counter() - started
    if _fingerprint(restarted, token, holders) != before:
        raise SystemExit("divergence after a clean restart")
    node.stop(signal.SIGKILL)
    started = time.perf_counter()
    recovered = Chain.embedded(data_dir)
    recovery_s = time.perf_counter() - started
    if _fingerprint(recovered, token, holders) != before:
        raise SystemExit("divergence after SIGKILL recovery")
    return restart_s, recovery_s


def run(args: argparse.Namespace, data_dir: Path) -> str:
    platform, token, names = setup_amanat(data_dir, args.holders)
    holders = [platform.address_of(n) for n in names]
    wallet_key = bytes(platform.signer(names[0]).key)
    for name in names:
        platform.signer(name)
    rng = random.Random(11)
    done = 0
    tps: list[float] = []
    latencies: list[float] = []
    working: list[float] = []  # each batch's time less its processes' wait for a CPU
    restarts: list[float] = []
    recoveries: list[float] = []
    node_rss = 0.0
    next_checkpoint = args.checkpoint_every
    stop_at = time.monotonic() + args.minutes * 60 if args.minutes else None
    print(
        "round transfers tps worst_batch_s median_batch_s node_rss_mb service_rss_mb "
        "journal_mb history_mb snapshots_mb node_mb store_mb",
        file=sys.stderr,
    )
    while done < args.transfers and (stop_at is None or time.monotonic() < stop_at):
        count = min(args.round, args.transfers - done)
        plan = []
        for _ in range(count):
            sender, receiver = rng.sample(names, 2)
            plan.append((sender, token, receiver, rng.randint(1, 10)))
        round_latencies = []
        pids = _chain_pids(data_dir)
        started = time.perf_counter()
        for start in range(0, count, args.batch):
            began = time.perf_counter()
            waited_before = _cpu_wait_s(pids)
            results = tokens.transfer_batch(platform, plan[start : start + args.batch])
            round_latencies.append(time.perf_counter() - began)
            waited = _cpu_wait_s(pids) - waited_before
            working.append(max(0.0, round_latencies[-1] - waited))
            typical = statistics.median(latencies + round_latencies)
            if round_latencies[-1] > 3 * typical:
                print(
                    f"slow batch at {done + start} transfers: {round_latencies[-1]:.2f} s "
                    f"(median {typical:.2f} s), {waited:.2f} s of it runnable and waiting for a "
                    f"CPU (Amanat, node, producer), {began_at(began)} to "
                    f"{datetime.now(UTC):%H:%M:%S.%f} UTC, block {platform.chain.block_number()}",
                    file=sys.stderr,
                    flush=True,
                )
            if not all(r.get("settled") for r in results):
                raise SystemExit("a compliant transfer did not settle")
        tps.append(count / (time.perf_counter() - started))
        latencies += round_latencies
        _wallet_transfers(platform.chain.rpc.url, wallet_key, token.address, holders[1:], 5)
        done += count
        pid = AnvilNode(data_dir).pid()
        node_rss = max(node_rss, _rss_mb(pid) if pid else 0.0)
        disk = _disk(data_dir)
        print(
            f"{len(tps)} {done} {tps[-1]:.0f} {max(round_latencies):.2f} "
            f"{statistics.median(round_latencies):.2f} {node_rss:.0f} "
            f"{_rss_mb(os.getpid()):.0f} "
            + " ".join(f"{disk[k] / 2**20:.1f}" for k in _COMPONENTS),
            file=sys.stderr,
            flush=True,
        )
        out_of_time = stop_at is not None and time.monotonic() >= stop_at
        if done >= next_checkpoint or done >= args.transfers or out_of_time:
            platform.chain.wait_for_snapshot()
            restart_s, recovery_s = _checkpoint(data_dir, token.address, holders)
            restarts.append(restart_s)
            recoveries.append(recovery_s)
            print(
                f"checkpoint at {done}: restart {restart_s:.2f} s, recovery {recovery_s:.2f} s, "
                "identical chain",
                file=sys.stderr,
                flush=True,
            )
            next_checkpoint += args.checkpoint_every
    disk_total = sum(_disk(data_dir).values())
    print(
        f"worst batch {max(latencies):.2f} s, median {statistics.median(latencies):.2f} s; "
        f"less the time its processes waited for a CPU: worst {max(working):.2f} s, "
        f"median {statistics.median(working):.2f} s",
        file=sys.stderr,
    )
    return (
        f"transfers {done} restart_max_s {max(restarts):.2f} recovery_max_s {max(recoveries):.2f} "
        f"node_rss_mb {node_rss:.0f} disk_bytes_per_transfer {disk_total / done:.0f} "
        f"tps_first {tps[0]:.0f} tps_last {tps[-1]:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--round", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--holders", type=int, default=100)
    parser.add_argument("--checkpoint-every", type=int, default=100_000)
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop after the round that passes this many minutes (then a last checkpoint)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amanat-growth-") as tmp:
        try:
            line = run(args, Path(tmp))
        finally:
            AnvilNode(Path(tmp)).stop()
    print(line)


if __name__ == "__main__":
    main()
