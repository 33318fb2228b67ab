"""Where Amanat keeps its data and which chain it talks to (embedded anvil unless an RPC URL is set)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amanat.errors import InvalidInput

DATA_DIR_ENV = "AMANAT_HOME"
RPC_ENV = "AMANAT_RPC"
DATABASE_ENV = "AMANAT_DATABASE_URL"
LOGS_RANGE_ENV = "AMANAT_LOGS_RANGE"
BATCH_SIZE_ENV = "AMANAT_RPC_BATCH_SIZE"
DEFAULT_BATCH_SIZE = 500  # requests per JSON-RPC batch; below Besu's 1,024 and geth's 1,000
DEFAULT_LOGS_RANGE = 5_000  # blocks per eth_getLogs request; Besu's --rpc-max-logs-range default
CONFIG_FILE = "amanat.toml"
HSM_PIN_ENV = "AMANAT_HSM_PIN"
PUBLISHER_ENV = "AMANAT_PUBLISHER_KEY"
DEFAULT_PUBLISHER_KEY = "publisher"
KEY_BACKENDS = ("keystore", "hsm")


@dataclass(frozen=True)
class HsmSettings:
    """`[hsm]` in amanat.toml: the PKCS#11 module and token; the user PIN is read, when a key
    is first used, from the environment variable `pin_env` (never from the file)."""

    module: str
    token: str
    pin_env: str = HSM_PIN_ENV


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    rpc_url: str | None = None
    database_url: str | None = None
    # The node's request limits (Besu: --rpc-max-logs-range, --rpc-http-max-batch-size).
    logs_range: int = DEFAULT_LOGS_RANGE
    rpc_batch_size: int = DEFAULT_BATCH_SIZE
    # Chain ids of production networks: a staging deployment profile is refused on them.
    production_chain_ids: tuple[int, ...] = ()
    # `[keys]`: key names held in the hardware token (`name = "hsm"`), the rest in key files.
    hsm: HsmSettings | None = None
    hsm_keys: frozenset[str] = frozenset()
    # The key that anchors the transparency log's tree heads (`[transparency] publisher`): after
    # governance rotates the publisher, the new key's name goes here.
    publisher_key: str = DEFAULT_PUBLISHER_KEY

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
        chain: dict[str, object] = {}
        values: dict[str, Any] = {}
        if config.exists():
            try:
                values = tomllib.loads(config.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise InvalidInput(f"{config} is not valid TOML: {exc}") from None
            chain = values.get("chain", {})
            url = url or values.get("chain", {}).get("rpc")
            database = database or values.get("store", {}).get("url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise InvalidInput(f"RPC URL {url!r} must start with http:// or https://")
        logs_range = _positive(
            "chain.logs_range",
            os.environ.get(LOGS_RANGE_ENV) or chain.get("logs_range"),
            DEFAULT_LOGS_RANGE,
        )
        batch_size = _positive(
            "chain.batch_size",
            os.environ.get(BATCH_SIZE_ENV) or chain.get("batch_size"),
            DEFAULT_BATCH_SIZE,
        )
        production = chain.get("production_chain_ids", [])
        if not isinstance(production, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in production
        ):
            raise InvalidInput(
                f"chain.production_chain_ids in {config} must be a list of chain ids, "
                f"not {production!r}"
            )
        hsm, hsm_keys = _key_backends(config, values)
        publisher = os.environ.get(PUBLISHER_ENV) or values.get("transparency", {}).get(
            "publisher", DEFAULT_PUBLISHER_KEY
        )
        if not isinstance(publisher, str) or not publisher:
            raise InvalidInput(
                f"transparency.publisher in {config} must name the publisher's key, "
                f"not {publisher!r}"
            )
        directory.mkdir(parents=True, exist_ok=True)
        return cls(
            data_dir=directory,
            rpc_url=url,
            database_url=database,
            logs_range=logs_range,
            rpc_batch_size=batch_size,
            production_chain_ids=tuple(production),
            hsm=hsm,
            hsm_keys=hsm_keys,
            publisher_key=publisher,
        )


def _key_backends(
    config: Path, values: dict[str, Any]
) -> tuple[HsmSettings | None, frozenset[str]]:
    """`[keys]` (name = "keystore" | "hsm") and `[hsm]` (module, token, pin_env)."""
    keys = values.get("keys", {})
    if not isinstance(keys, dict) or any(v not in KEY_BACKENDS for v in keys.values()):
        raise InvalidInput(
            f"[keys] in {config} maps key names to one of {', '.join(KEY_BACKENDS)}, not {keys!r}"
        )
    hsm_keys = frozenset(name for name, backend in keys.items() if backend == "hsm")
    section = values.get("hsm")
    if section is None:
        if hsm_keys:
            raise InvalidInput(
                f"{config} names keys held in a token ({', '.join(sorted(hsm_keys))}) "
                "but has no [hsm] section with module and token"
            )
        return None, hsm_keys
    if not isinstance(section, dict) or not all(
        isinstance(section.get(field), str) and section.get(field) for field in ("module", "token")
    ):
        raise InvalidInput(f"[hsm] in {config} needs module and token (text), not {section!r}")
    pin_env = section.get("pin_env", HSM_PIN_ENV)
    if not isinstance(pin_env, str) or not pin_env:
        raise InvalidInput(f"[hsm] pin_env in {config} must name an environment variable")
    return HsmSettings(section["module"], section["token"], pin_env), hsm_keys


def _positive(name: str, value: object, default: int) -> int:
    """A configured count (from the environment or amanat.toml) as a positive integer."""
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number of at least 1, not {value!r}") from None
    if number < 1:
        raise InvalidInput(f"{name} must be a whole number of at least 1, not {number}")
    return number
