"""The embedded node keeps only its latest blocks whole; older history is served from Amanat's
archive (`amanat.chain.archive`), after a restart too, to the indexer, `reconcile` and `verify`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from amanat.chain.archive import ARCHIVE_MARGIN, Archive
from amanat.chain.client import Chain
from amanat.chain.node import NODE_KEEPS_BLOCKS, AnvilNode
from amanat.chain.rpc import RpcClient
from amanat.indexer.indexer import Indexer
from amanat.services import reconcile
from amanat.store.db import Store
from amanat.store.models import ChainEvent
from tests.transparency.conftest import Published


def _events(store: Store) -> list[tuple[int, int, str, str]]:
    with store.session() as session:
        rows = session.scalars(select(ChainEvent).order_by(ChainEvent.block, ChainEvent.log_index))
        return [(e.block, e.log_index, e.tx_hash, e.event) for e in rows]


def test_history_the_node_pruned_is_served_from_the_archive_after_a_restart(
    published: Published, tmp_path: Path
) -> None:
    platform = published.platform
    node = AnvilNode(published.data_dir)
    node_rpc = RpcClient(node.url)  # the node itself, without the archive
    head = node_rpc.call("eth_getBlockByNumber", ["latest", False])
    latest = int(head["number"], 16)
    first = platform.manifest.deployed_block
    assert latest > first + NODE_KEEPS_BLOCKS + ARCHIVE_MARGIN  # the pilot's first blocks are old
    # the node no longer holds the deployment's block whole: its receipts are gone
    assert node_rpc.call("eth_getBlockReceipts", [hex(first)]) == []

    node.stop()  # a clean restart: the latest snapshot (state, no history) + the journal
    restarted = Chain.embedded(published.data_dir)
    assert node_rpc.call("eth_getBlockByNumber", ["latest", False])["hash"] == head["hash"]

    # every journaled block, old or recent, with its transactions and their receipts
    blocks = list(restarted.journal.blocks_after(-1))
    assert blocks[-1].number == latest
    answers = restarted.rpc.batch(
        [("eth_getBlockByNumber", [hex(b.number), False]) for b in blocks]
        + [("eth_getBlockReceipts", [hex(b.number)]) for b in blocks]
    )
    headers, receipts = answers[: len(blocks)], answers[len(blocks) :]
    for block, header, block_receipts in zip(blocks, headers, receipts, strict=True):
        assert header["hash"] == block.hash
        assert tuple(header["transactions"]) == block.tx_hashes
        assert tuple(r["transactionHash"] for r in block_receipts) == block.tx_hashes
    deployment_tx = next(b for b in blocks if b.number == first).tx_hashes[0]
    assert restarted.rpc.call("eth_getTransactionReceipt", [deployment_tx])["status"] == "0x1"
    full = restarted.rpc.call("eth_getBlockByNumber", [hex(first), True])["transactions"]
    assert full[0] == restarted.rpc.call("eth_getTransactionByHash", [deployment_tx])
    assert full[0]["hash"] == deployment_tx and full[0]["input"].startswith("0x")

    # recent blocks: what the archive holds is what the node answers
    archive = Archive.beside(restarted.journal)
    recent = range(latest - 5, latest + 1)
    for number in recent:
        for full_transactions in (False, True):
            assert archive.header(number, full_transactions, node_rpc) == node_rpc.call(
                "eth_getBlockByNumber", [hex(number), full_transactions]
            )
        assert archive.receipts(number, node_rpc) == node_rpc.call(
            "eth_getBlockReceipts", [hex(number)]
        )
    assert archive.logs({}, recent[0], latest, node_rpc) == node_rpc.call(
        "eth_getLogs", [{"fromBlock": hex(recent[0]), "toBlock": hex(latest)}]
    )

    # a fresh index of the whole chain equals the platform's own, from the first block on
    Indexer(restarted, platform.manifest, platform.store).sync()
    fresh = Store(f"sqlite:///{tmp_path / 'fresh-index.sqlite'}")
    Indexer(restarted, platform.manifest, fresh).sync()
    events = _events(fresh)
    assert events == _events(platform.store)
    assert events[0][0] == first

    assert reconcile.run(platform)["ok"] is True
    report = published.verify("--bundle", published.bundle, "--json").json
    assert report["ok"] is True, [c for c in report["checks"] if not c["ok"]]
