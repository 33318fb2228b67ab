"""The history archive at its edges: a log query across the archive/node boundary while blocks
are mined, a block journaled but never archived (a worker died between the two), and a log
query without fromBlock (JSON-RPC: "latest")."""

from __future__ import annotations

from typing import Any

import pytest

from amanat.chain.archive import Archive
from amanat.chain.client import Chain, TxRequest
from amanat.chain.journal import JournalBlock
from amanat.chain.keys import dev_account
from amanat.chain.node import NODE_KEEPS_BLOCKS
from amanat.chain.rpc import RpcClient
from amanat.errors import AmanatError

# init code of a contract whose code logs its call data (LOG0) and stops
EMITTER_RUNTIME = bytes.fromhex("365f5f37365fa000")
EMITTER_INIT = bytes.fromhex("67") + EMITTER_RUNTIME + bytes.fromhex("5f5260086018f3")


def _emitter(chain: Chain) -> str:
    (receipt,) = chain.transact(dev_account(1), [TxRequest(None, EMITTER_INIT, gas=100_000)])
    assert receipt.contract_address is not None
    return receipt.contract_address


def _log_blocks(chain: Chain, emitter: str, count: int, start: int) -> list[int]:
    """`count` blocks, each with one log; their numbers."""
    return [
        chain.transact(
            dev_account(1), [TxRequest(emitter, (start + i).to_bytes(8, "big"), gas=50_000)]
        )[0].block_number
        for i in range(count)
    ]


def test_a_log_query_across_the_boundary_misses_no_block_mined_meanwhile(chain: Chain) -> None:
    emitter = _emitter(chain)
    logged = _log_blocks(chain, emitter, 2 * NODE_KEEPS_BLOCKS, 0)
    archive: Archive = chain.rpc.archive  # type: ignore[attr-defined]
    scan = archive.logs
    mined: list[int] = []

    def scan_while_blocks_are_mined(*args: Any) -> list[dict[str, Any]]:
        found = scan(*args)
        if not mined:  # a long scan: more than the archive's margin of blocks mined meanwhile
            mined.extend(_log_blocks(chain, emitter, NODE_KEEPS_BLOCKS + 2, 1000))
        return found

    archive.logs = scan_while_blocks_are_mined  # type: ignore[method-assign]
    logs = chain.rpc.call("eth_getLogs", [{"fromBlock": "0x0", "address": emitter}])
    del archive.logs
    served = [int(log["blockNumber"], 16) for log in logs]
    assert mined  # the scan did run
    assert served[: len(logged)] == logged  # every block, once, oldest first
    assert served == sorted(set(served))
    # no fromBlock: JSON-RPC's "latest", not the whole history
    latest = chain.rpc.call("eth_getLogs", [{"address": emitter}])
    assert {int(log["blockNumber"], 16) for log in latest} <= {chain.block_number()}
    assert len(latest) <= 1


def test_a_block_journaled_but_not_archived_is_repaired_or_refused_never_empty(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    emitter = _emitter(chain)
    archive: Archive = chain.rpc.archive  # type: ignore[attr-defined]
    record_from = archive.record_from
    lost: list[int] = []

    def dies_before_archiving_once(rpc: RpcClient, block: JournalBlock) -> None:
        if len(lost) < 1 + bool(repairable):
            lost.append(block.number)  # the worker died after journaling: nothing archived
            return
        record_from(rpc, block)

    repairable: list[int] = []
    monkeypatch.setattr(archive, "record_from", dies_before_archiving_once)
    _log_blocks(chain, emitter, 3, 0)  # the first block is lost, later ones archived
    monkeypatch.setattr(archive, "record_from", record_from)
    (gap,) = lost
    assert archive.holds(chain.journal.head()) and not archive.holds(_journaled(chain, gap))
    # the node still holds the block whole: recovery archives it, though later ones are archived
    chain.recover()
    assert archive.holds(_journaled(chain, gap))
    _log_blocks(chain, emitter, NODE_KEEPS_BLOCKS + 2, 10)
    assert chain.rpc.call("eth_getBlockReceipts", [hex(gap)])[0]["status"] == "0x1"

    # lost, then pruned before any read (a process mined blocks and died before journaling
    # them): recovery and reads refuse, rather than answer the block empty
    repairable.append(1)
    monkeypatch.setattr(archive, "record_from", dies_before_archiving_once)
    _log_blocks(chain, emitter, 2, 100)
    monkeypatch.setattr(archive, "record_from", record_from)
    pruned = lost[-1]
    node = RpcClient(chain.rpc.url)
    node.call("anvil_mine", [hex(NODE_KEEPS_BLOCKS + 2)])
    assert node.call("eth_getBlockReceipts", [hex(pruned)]) == []
    with pytest.raises(AmanatError, match=f"block {pruned} "):
        chain.recover()
    with pytest.raises(AmanatError, match=f"block {pruned} "):
        chain.rpc.call("eth_getBlockReceipts", [hex(pruned)])
    with pytest.raises(AmanatError, match=f"block {pruned} "):
        chain.rpc.call("eth_getLogs", [{"fromBlock": "0x0", "address": emitter}])


def _journaled(chain: Chain, number: int) -> JournalBlock:
    return next(b for b in chain.journal.blocks_after(number - 1) if b.number == number)
