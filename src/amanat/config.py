"""Where Amanat keeps its data and which chain it talks to (embedded anvil unless an RPC URL is set)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from amanat.errors import InvalidInput

DATA_DIR_ENV = "AMANAT_HOME"
RPC_ENV = "AMANAT_RPC"
DATABASE_ENV = "AMANAT_DATABASE_URL"
CONFIG_FILE = "amanat.toml"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    rpc_url: str | None = None
    database_url: str | None = None

    @property
    def embedded(self) -> bool:
        return self.rpc_url is None

    @property
    def store_url(self) -> str:
        """The off-chain store: PostgreSQL by URL, else SQLite in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'amanat.sqlite'}"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "deployment.json"

    @classmethod
    def resolve(
        cls,
        data_dir: str | None = None,
        rpc_url: str | None = None,
        database_url: str | None = None,
    ) -> Settings:
        """Command-line values first, then the environment, then <data dir>/amanat.toml."""
        directory = Path(data_dir or os.environ.get(DATA_DIR_ENV) or ".amanat").resolve()
        url = rpc_url or os.environ.get(RPC_ENV)
        database = database_url or os.environ.get(DATABASE_ENV)
        config = directory / CONFIG_FILE
        if config.exists():
            try:
                values = tomllib.loads(config.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise InvalidInput(f"{config} is not valid TOML: {exc}") from None
            url = url or values.get("chain", {}).get("rpc")
            database = database or values.get("store", {}).get("url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise InvalidInput(f"RPC URL {url!r} must start with http:// or https://")
        directory.mkdir(parents=True, exist_ok=True)
        return cls(data_dir=directory, rpc_url=url, database_url=database)
