"""A long-lived network's request limits: log queries are paged by block range and JSON-RPC
batches are chunked, so Besu's defaults (5,000 blocks, 1,024 requests; scaled down here to 100
and 10) never refuse Amanat's reads; a refused batch is reported, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from amanat.chain.client import Chain, TxRequest
from amanat.chain.keys import dev_account
from amanat.chain.rpc import RpcClient, RpcError
from amanat.config import Settings
from amanat.errors import InvalidInput
from tests.network.proxy import Limits

# A contract whose constructor logs one event: LOG0 of 0 bytes, then an empty runtime.
LOGGING_CONSTRUCTOR = bytes.fromhex("60006000a0" + "60006000f3")


def test_batches_are_chunked_below_the_nodes_limit(proxy_url: str, limits: Limits):
    rpc = RpcClient(proxy_url, batch_size=limits.max_batch)
    results = rpc.batch([("eth_chainId", [])] * 25)
    assert results == ["0x7ea"] * 25
    assert limits.largest_batch == limits.max_batch and limits.refused == []


def test_a_whole_batch_error_object_fails_each_call_with_the_nodes_reason(
    proxy_url: str, limits: Limits
):
    rpc = RpcClient(proxy_url, batch_size=50)
    results = rpc.batch([("eth_chainId", [])] * 25)
    assert len(results) == 25
    assert all(isinstance(r, RpcError) for r in results)
    assert "exceeds max batch size" in str(results[0])


def test_logs_are_paged_by_the_configured_block_range(
    node_url: str, proxy_url: str, limits: Limits, tmp_path: Path
):
    chain = Chain.network(proxy_url, tmp_path, batch_size=10, logs_range=100)
    deployer = dev_account(0)
    (first,) = chain.transact(deployer, [TxRequest(None, LOGGING_CONSTRUCTOR, gas=100_000)])
    RpcClient(node_url).call("anvil_mine", [hex(450)])
    (second,) = chain.transact(deployer, [TxRequest(None, LOGGING_CONSTRUCTOR, gas=100_000)])
    assert second.block_number - first.block_number > 450
    addresses = [first.contract_address, second.contract_address]
    logs = chain.get_logs(addresses, from_block=first.block_number)  # type: ignore[list-item]
    assert [log["transactionHash"] for log in logs] == [first.tx_hash, second.tx_hash]
    assert limits.refused == []
    assert limits.logs_requests >= 5  # 450+ blocks in pages of 100


def test_request_limits_are_configurable_and_checked(tmp_path: Path, monkeypatch):
    assert Settings.resolve(str(tmp_path)).logs_range == 5000
    assert Settings.resolve(str(tmp_path)).rpc_batch_size == 500
    (tmp_path / "amanat.toml").write_text("[chain]\nlogs_range = 100\nbatch_size = 20\n")
    settings = Settings.resolve(str(tmp_path))
    assert (settings.logs_range, settings.rpc_batch_size) == (100, 20)
    monkeypatch.setenv("AMANAT_LOGS_RANGE", "0")
    with pytest.raises(InvalidInput, match="chain.logs_range must be a whole number of at least 1"):
        Settings.resolve(str(tmp_path))
