"""Durability under crashes: acknowledged transactions are never lost and never applied twice.

A worker process submits a workload of operations through Amanat's chain gateway (each op is a
transaction carrying its op number, sent with an idempotency key, acknowledged once journaled),
in multi-sender batches as the throughput bench sends them (each batch interleaves many senders
in one block), and records every acknowledgement it receives. Beside it an outside sender, a
separate process standing for a holder's own wallet, signs its transactions with eth-account
and sends them over plain JSON-RPC; its op counts as acknowledged once the wallet has seen its
receipt. Meanwhile this script SIGKILLs the worker, the anvil node, or both, at random moments,
many times, restarting the worker each time (which recovers: adopts blocks, rebuilds anvil from
snapshot + journal, resends what is pending). At the end every block is scanned: an acknowledged
op missing from the chain is lost; an op found in more than one transaction is duplicated.

Last line: `acked N lost L duplicated D` (goal: L = 0, D = 0); N counts Amanat's ops and the
wallet's.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SINK = "0x000000000000000000000000000000000000a11a"
WALLET_SINK = "0x000000000000000000000000000000000000a11b"
SENDERS = 20
BATCH = 50
WALLET_KEY = b"\x5a" * 32


def worker(data_dir: Path, ops: int, ack_log: Path) -> None:
    """Submit ops [first unacknowledged .. ops) in batches, logging each acknowledgement."""
    from amanat.chain.client import Chain, TxRequest
    from amanat.chain.keys import dev_account

    chain = Chain.embedded(data_dir, snapshot_every=40)
    done = _acked(ack_log)
    todo = [op for op in range(ops) if op not in done]
    with open(ack_log, "a") as log:
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            items = [
                (
                    dev_account(1 + (op * 7919) % SENDERS),
                    TxRequest(SINK, op.to_bytes(8, "big"), gas=30_000, idempotency_key=f"op-{op}"),
                )
                for op in batch
            ]
            hashes = chain.submit_batch(items)
            log.write("".join(f"{op} {h}\n" for op, h in zip(batch, hashes, strict=True)))
            log.flush()
            os.fsync(log.fileno())


def wallet(data_dir: Path, ops: int, ack_log: Path) -> None:
    """A holder's own wallet: op k is the wallet's transaction with nonce k, signed once with
    eth-account (so a resend is the very same transaction), sent over plain JSON-RPC and
    acknowledged once its receipt is seen. While the node is down it retries."""
    import requests
    from eth_account import Account
    from eth_utils import keccak, to_checksum_address

    account = Account.from_key(WALLET_KEY)
    port_file = data_dir / "node" / "anvil.port"

    def rpc(method: str, params: list[object]) -> object:
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        reply = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=5
        ).json()
        if "error" in reply:
            raise RuntimeError(reply["error"].get("message", ""))
        return reply["result"]

    done = _acked(ack_log)
    with open(ack_log, "a") as log:
        for op in range(ops):
            if op in done:
                continue
            raw = account.sign_transaction(
                {
                    "nonce": op,
                    "gasPrice": 0,
                    "gas": 40_000,
                    "to": to_checksum_address(WALLET_SINK),
                    "value": 0,
                    "data": op.to_bytes(8, "big"),
                    "chainId": 31337,
                }
            ).raw_transaction
            tx_hash = "0x" + keccak(bytes(raw)).hex()
            while True:
                try:
                    if rpc("eth_getTransactionReceipt", [tx_hash]) is not None:
                        break
                    try:
                        rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
                    except RuntimeError as exc:  # already in the pool, or mined meanwhile
                        if "nonce too low" not in str(exc) and "already" not in str(exc):
                            raise
                except (OSError, requests.RequestException):
                    pass  # the node is down: a wallet retries
                time.sleep(0.1)
            log.write(f"{op} {tx_hash}\n")
            log.flush()
            os.fsync(log.fileno())


def _acked(ack_log: Path) -> dict[int, str]:
    acked: dict[int, str] = {}
    if ack_log.exists():
        for line in ack_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:  # a torn last line was never acknowledged to anyone
                acked[int(parts[0])] = parts[1]
    return acked


def _start_worker(
    data_dir: Path, ops: int, ack_log: Path, role: str = "--worker"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            role,
            str(data_dir),
            "--ops",
            str(ops),
            "--ack-log",
            str(ack_log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_node(data_dir: Path) -> bool:
    pid_file = data_dir / "node" / "anvil.pid"
    try:
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        return False
    return True


def run(
    data_dir: Path, ops: int, wallet_ops: int, kills: int, seed: int
) -> tuple[int, int, int, dict[str, int]]:
    from amanat.chain.node import AnvilNode

    rng = random.Random(seed)
    ack_log = data_dir / "acks.log"
    wallet_log = data_dir / "wallet-acks.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    counts = {"worker": 0, "node": 0, "both": 0}
    process = _start_worker(data_dir, ops, ack_log)
    while not (data_dir / "node" / "anvil.port").exists() and process.poll() is None:
        time.sleep(0.05)
    wallet_process = _start_worker(data_dir, wallet_ops, wallet_log, "--wallet")
    for _ in range(kills):
        time.sleep(rng.uniform(0.2, 1.5))
        if process.poll() is not None:  # finished, or died with its node: go on
            process = _start_worker(data_dir, ops, ack_log)
            time.sleep(rng.uniform(0.2, 1.0))
        target = rng.choice(["worker", "node", "both"])
        if target in ("worker", "both"):
            process.kill()
            process.wait()
        if target in ("node", "both"):
            _kill_node(data_dir)
        counts[target] += 1
        if process.poll() is not None:
            process = _start_worker(data_dir, ops, ack_log)
    # Let the workload finish, restarting the worker if a node kill made it stop.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.wait() == 0:
            break
        process = _start_worker(data_dir, ops, ack_log)
    # The wallet may still be sending after the worker is done. As `amanat serve` would, keep
    # the node (and its block producer) up for it: a node killed after the worker's last
    # restart is started again by a worker run that has nothing left to send.
    while wallet_process.poll() is None and time.monotonic() < deadline:
        if AnvilNode(data_dir).pid() is None:
            _start_worker(data_dir, ops, ack_log).wait(timeout=120)
        time.sleep(0.2)
    wallet_process.wait(timeout=max(1.0, deadline - time.monotonic()))
    acked, wallet_acked = _acked(ack_log), _acked(wallet_log)
    on_chain, wallet_on_chain = _ops_on_chain(data_dir)
    lost = sum(1 for op in acked if on_chain.get(op, 0) == 0)
    lost += sum(1 for op in wallet_acked if wallet_on_chain.get(op, 0) == 0)
    duplicated = sum(1 for n in [*on_chain.values(), *wallet_on_chain.values()] if n > 1)
    return len(acked) + len(wallet_acked), lost, duplicated, counts


def _ops_on_chain(data_dir: Path) -> tuple[dict[int, int], dict[int, int]]:
    """How many times each op is on chain: Amanat's, and the wallet's."""
    from amanat.chain.client import Chain
    from amanat.chain.node import AnvilNode

    chain = Chain.embedded(data_dir, snapshot_every=40)
    try:
        head = chain.block_number()
        found: dict[str, dict[int, int]] = {SINK: {}, WALLET_SINK: {}}
        for start in range(1, head + 1, 200):
            numbers = range(start, min(head, start + 199) + 1)
            blocks = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers])
            for block in blocks:
                for tx in block["transactions"]:
                    sink = (tx.get("to") or "").lower()
                    if sink in found:
                        op = int(tx["input"], 16)
                        found[sink][op] = found[sink].get(op, 0) + 1
        return found[SINK], found[WALLET_SINK]
    finally:
        AnvilNode(data_dir).stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--wallet-ops", type=int, help="the outside wallet's transactions (default ops / 10)"
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--wallet", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ack-log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.ops, args.ack_log)
        return
    if args.wallet:
        wallet(args.wallet, args.ops, args.ack_log)
        return
    wallet_ops = args.ops // 10 if args.wallet_ops is None else args.wallet_ops
    with tempfile.TemporaryDirectory(prefix="amanat-crash-") as tmp:
        started = time.monotonic()
        acked, lost, duplicated, counts = run(
            Path(tmp), args.ops, wallet_ops, args.kills, args.seed
        )
        print(
            f"{args.kills} kills (worker {counts['worker']}, node {counts['node']}, both "
            f"{counts['both']}) in {time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )
    print(f"acked {acked} lost {lost} duplicated {duplicated}")


if __name__ == "__main__":
    main()
