"""Block production on the embedded chain, and the producer process that serves wallets.

`mine_block`, `adopt_blocks` and `record_block` are the one way a block gets into the journal:
every transaction in it is journaled with its raw bytes, whoever signed it (Amanat, or a holder's
own wallet over plain JSON-RPC), so that replay rebuilds the block exactly.

The producer process (`python -m amanat.chain.producer DATA_DIR ANVIL_PID`, started beside the
node by `AnvilNode.start_producer`) mines a block within a second of any transaction becoming
pending while Amanat runs the node. Amanat mines its own transactions as it sends them; this
serves everyone else. It takes the same chain lock as every Amanat process and exits when its
node does. It imports no signing or ABI code, so that it is ready at once.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from amanat.chain.archive import Archive
from amanat.chain.journal import Journal, JournalBlock, JournalTx
from amanat.chain.node import AnvilNode, process_alive
from amanat.chain.rpc import RpcClient, RpcError
from amanat.errors import AmanatError

POLL_SECONDS = 0.25


@contextmanager
def chain_file_lock(path: Path) -> Iterator[None]:
    """The lock that serialises block production across processes sharing a data directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def journal_block(block: dict[str, Any]) -> JournalBlock:
    return JournalBlock(
        number=int(block["number"], 16),
        timestamp=int(block["timestamp"], 16),
        hash=block["hash"],
        tx_hashes=tuple(block["transactions"]),
    )


def outside_txs(rpc: RpcClient, unknown: list[str]) -> list[JournalTx]:
    """The raw bytes, sender and nonce of transactions the journal does not hold."""
    if not unknown:
        return []
    replies = rpc.batch(
        [("eth_getRawTransactionByHash", [h]) for h in unknown]
        + [("eth_getTransactionByHash", [h]) for h in unknown]
    )
    for reply in replies:
        if isinstance(reply, RpcError):
            raise reply
    return [
        JournalTx(tx_hash, tx["from"], int(tx["nonce"], 16), bytes.fromhex(raw[2:]))
        for tx_hash, raw, tx in zip(
            unknown, replies[: len(unknown)], replies[len(unknown) :], strict=True
        )
    ]


def record_block(rpc: RpcClient, journal: Journal, block: JournalBlock) -> None:
    """Journal a block the node mined, with the raw bytes of every transaction in it that
    Amanat did not sign (from `eth_getRawTransactionByHash`), then archive its header and
    receipts (`amanat.chain.archive`) while the node holds them whole."""
    journal.record_block(block, outside_txs(rpc, journal.unknown(block.tx_hashes)))
    Archive.beside(journal).record_from(rpc, block)


def journal_pool(rpc: RpcClient, journal: Journal, own_pending: int) -> None:
    """Before mining: journal (as pending) the ready transactions in the node's pool that Amanat
    did not sign, if there are more ready than Amanat's own `own_pending`."""
    if pending_count(rpc) <= own_pending:
        return
    journal.record_outside(outside_txs(rpc, journal.unknown(pool_hashes(rpc, ("pending",)))))


def pool_hashes(rpc: RpcClient, parts: tuple[str, ...] = ("pending", "queued")) -> list[str]:
    """The hashes of the transactions in the node's pool: ready ("pending") and waiting behind a
    nonce gap ("queued")."""
    content = rpc.call("txpool_content")
    return [
        tx["hash"]
        for part in parts
        for by_nonce in content.get(part, {}).values()
        for tx in by_nonce.values()
    ]


def adopt_blocks(rpc: RpcClient, journal: Journal) -> int:
    """Journal the blocks the node mined that the journal missed (a process died between
    mining and journaling). Returns the node's head."""
    journal_head = journal.head()
    known = journal_head.number if journal_head else 0
    head = int(rpc.call("eth_blockNumber"), 16)
    for number in range(known + 1, head + 1):
        record_block(
            rpc, journal, journal_block(rpc.call("eth_getBlockByNumber", [hex(number), False]))
        )
    return head


def clock_time(journal: Journal, latest: int) -> int:
    """The embedded chain's clock: wall time plus the offset `Chain.advance_time` added, never
    before the latest block (`latest`). The next block is stamped with it; between blocks it runs
    on, so it is the time a transaction sent now runs at."""
    offset = int(journal.get_meta("clock_offset") or 0)
    return max(latest, int(time.time()) + offset)


def mine_block(rpc: RpcClient, journal: Journal, own_pending: int = 0) -> JournalBlock:
    """Mine one block at the chain clock (wall time plus any advance, never before the last
    block) and journal it; `own_pending` is how many of Amanat's transactions the pool holds.
    The caller holds the chain lock."""
    journal_pool(rpc, journal, own_pending)
    head = journal.head()
    timestamp = clock_time(journal, head.timestamp if head else 0)
    rpc.call("evm_mine", [{"timestamp": timestamp}])
    block = journal_block(rpc.call("eth_getBlockByNumber", ["latest", False]))
    record_block(rpc, journal, block)
    return block


def pending_count(rpc: RpcClient) -> int:
    """Transactions the node holds ready to run (not those waiting behind a nonce gap)."""
    return int(rpc.call("txpool_status").get("pending", "0x0"), 16)


def run(data_dir: Path, anvil_pid: int) -> None:
    """Mine pending transactions until the node process `anvil_pid` is gone."""
    node = AnvilNode(data_dir)
    rpc = RpcClient(node.url, timeout=60)
    journal = Journal(data_dir / "journal.sqlite")
    lock_path = data_dir / "chain.lock"
    while process_alive(anvil_pid):
        try:
            if pending_count(rpc):
                with chain_file_lock(lock_path):
                    journal_head = journal.head()
                    if adopt_blocks(rpc, journal) < (journal_head.number if journal_head else 0):
                        return  # the node lost blocks: Amanat rebuilds it on its next start
                    if pending_count(rpc):
                        mine_block(rpc, journal)
        except AmanatError as exc:  # the node is stopping or restarting: check it again
            if not process_alive(anvil_pid):
                break
            print(f"block producer: {exc}", file=sys.stderr, flush=True)
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    run(Path(sys.argv[1]), int(sys.argv[2]))
