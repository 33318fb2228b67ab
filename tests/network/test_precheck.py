"""Refusals never depend on eth_estimateGas reverting: some clients return a figure for a call
that will revert, so every write is run as an eth_call first and nothing is signed or sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amanat.chain.client import Chain, TransactionRefused, TxRequest
from amanat.chain.keys import dev_account
from amanat.chain.rpc import RpcClient
from tests.network.proxy import Limits, limited

# Init code that deploys a contract whose every call reverts: runtime PUSH1 0 PUSH1 0 REVERT.
ALWAYS_REVERTS = bytes.fromhex("6005600c60003960056000f3" + "60006000fd")


@pytest.fixture
def lenient_estimates(node_url: str) -> Iterator[str]:
    with limited(node_url, Limits(estimate_regardless=True)) as url:
        yield url


@pytest.mark.parametrize("gas", [None, 100_000], ids=["estimated", "fixed-gas"])
def test_a_call_that_reverts_is_refused_before_signing_even_if_estimated(
    lenient_estimates: str, node_url: str, tmp_path: Path, gas: int | None
):
    chain = Chain.network(lenient_estimates, tmp_path)
    deployer = dev_account(0)
    (created,) = chain.transact(deployer, [TxRequest(None, ALWAYS_REVERTS)])
    sender = dev_account(7).address
    nonce_before = RpcClient(node_url).call("eth_getTransactionCount", [sender, "latest"])
    journaled = chain.journal.count()
    with pytest.raises(TransactionRefused, match="refused the call"):
        chain.transact(
            dev_account(7),
            [TxRequest(created.contract_address, b"\x01", gas=gas, description="poke")],
        )
    assert RpcClient(node_url).call("eth_getTransactionCount", [sender, "latest"]) == nonce_before
    assert chain.journal.count() == journaled  # nothing signed, nothing acknowledged
