"""Fixtures of the transparency and audit tests: the pilot scenario on a real embedded chain,
served live (uvicorn) for the public API, indexed, with two signed and anchored tree heads.

Between the two heads an institution user signs in through the API: an audit-trail entry, so
the second head covers one off-chain administrative action more than the first. The CLI runs as
real processes on the same data directory (`tests.integration.support.Amanat`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from amanat.chain.node import AnvilNode
from amanat.indexer.indexer import Indexer
from amanat.services import transparency
from amanat.services.pilot import pilot_password
from amanat.services.platform import Platform
from tests.integration.support import Amanat
from tests.web.support import live_console


@dataclass
class Published:
    platform: Platform
    base_url: str
    rpc_url: str
    cli: Amanat
    heads: list[dict[str, Any]]
    bundle: Path

    @property
    def data_dir(self) -> Path:
        return self.platform.settings.data_dir

    def verify(self, *args: str | Path, expect: int = 0) -> Any:
        """`amanat --rpc URL verify ARGS` with the platform key and manifest given explicitly."""
        return self.cli.run(
            "--rpc", self.rpc_url, "verify", *args,
            "--public-key", transparency.public_key_b64(self.platform),
            "--manifest", self.data_dir / "deployment.json",
            expect=expect,
        )  # fmt: skip

    def tampered(self, name: str, change: Any) -> Path:
        """A copy of the exported bundle with `change(bundle)` applied."""
        bundle = json.loads(self.bundle.read_text())
        change(bundle)
        path = self.bundle.with_name(name)
        path.write_text(json.dumps(bundle))
        return path


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("transparency")
    with live_console(root / "data") as live:
        platform = live.platform
        Indexer(platform.chain, platform.manifest, platform.store).sync()
        first = transparency.publish(platform)
        reply = httpx.post(
            live.url("/auth/token"),
            json={"username": "inb", "password": pilot_password("inb")},
            trust_env=False,
        )
        assert reply.status_code == 200, reply.text
        second = transparency.publish(platform)
        assert second["tree_size"] == first["tree_size"] + 1
        rpc_url = AnvilNode(platform.settings.data_dir).url
        cli = Amanat(platform.settings.data_dir)
        bundle = root / "bundle.json"
        cli.run("log", "export", "--out", bundle)
        yield Published(platform, live.base_url, rpc_url, cli, [first, second], bundle)
