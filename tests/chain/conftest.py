"""Fixtures for chain-layer tests: a fresh embedded anvil chain per test, always stopped after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amanat.chain.client import Chain
from amanat.chain.node import AnvilNode


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    AnvilNode(tmp_path).stop()


@pytest.fixture
def chain(data_dir: Path) -> Chain:
    return Chain.embedded(data_dir, snapshot_every=3)
