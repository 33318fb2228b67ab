"""Fixtures for network-mode tests: an anvil standing in for a network node, behind a proxy
that enforces Besu's request limits scaled down, always stopped afterwards."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from amanat.chain.node import _free_port, anvil_binary
from amanat.chain.rpc import RpcClient
from tests.network.proxy import Limits, limited


@contextmanager
def anvil(*args: str) -> Iterator[str]:
    """An anvil node on a free local port with `args`; yields its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [anvil_binary(), "--port", str(port), "--chain-id", "2026", "--silent", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not RpcClient(url, timeout=1).is_up():
            assert time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait()


@pytest.fixture(scope="module")
def node_url() -> Iterator[str]:
    """An automining anvil (a network node: Amanat does not produce its blocks)."""
    with anvil() as url:
        yield url


@pytest.fixture
def limits() -> Limits:
    return Limits(max_batch=10, max_logs_range=100)


@pytest.fixture
def proxy_url(node_url: str, limits: Limits) -> Iterator[str]:
    with limited(node_url, limits) as url:
        yield url
