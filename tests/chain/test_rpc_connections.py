"""The JSON-RPC client's kept-alive connections: one per thread, a connection the node closed
while it was idle replaced before anything is sent on it, a node that is down a clear
ChainUnavailable."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from amanat.chain.node import AnvilNode
from amanat.chain.rpc import RpcClient
from amanat.errors import ChainUnavailable

GENESIS = 1_800_000_000


def test_connections_are_per_thread_and_replaced_when_the_node_closed_them(
    data_dir: Path,
) -> None:
    node = AnvilNode(data_dir)
    node.start(GENESIS)
    rpc = RpcClient(node.url, timeout=5)
    with ThreadPoolExecutor(4) as pool:  # concurrent calls, each thread on its own connection
        chain_ids = set(pool.map(lambda _: rpc.call("eth_chainId"), range(40)))
    assert chain_ids == {rpc.call("eth_chainId")}  # this thread's connection, now idle
    url = node.url
    node.stop()  # closes this thread's idle connection from the node's side
    node.start(GENESIS)
    assert node.url == url
    assert rpc.call("eth_blockNumber") == "0x0"  # a fresh connection, no error
    node.stop()
    with pytest.raises(ChainUnavailable, match="cannot reach the chain"):
        rpc.call("eth_blockNumber")
