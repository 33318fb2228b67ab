"""A second, independent EVM implementation for network-mode tests: the EthereumJS execution
client (npm `@ethereumjs/client`, pinned in package-lock.json) on 127.0.0.1, single node, with a
custom post-merge genesis (chosen chain id, every fork to Prague at genesis, zero base fee) and a
small Engine-API block driver standing in for a consensus client.

Each block: engine_forkchoiceUpdatedV3 (with payload attributes) -> engine_getPayloadV4 ->
engine_newPayloadV4 -> engine_forkchoiceUpdatedV3 (the new head).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from amanat.chain.node import _free_port

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "node_modules" / ".bin" / "ethereumjs"
ZERO32 = "0x" + "00" * 32
ZERO20 = "0x" + "00" * 20
PRE_MERGE_FORKS = (
    "homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
    "constantinopleBlock", "petersburgBlock", "istanbulBlock", "berlinBlock", "londonBlock",
    "mergeNetsplitBlock",
)  # fmt: skip


def write_genesis(path: Path, chain_id: int, funded: list[str]) -> None:
    """A geth-style genesis: all forks through Prague at 0, post-merge, zero base fee."""
    config: dict[str, Any] = {"chainId": chain_id, **dict.fromkeys(PRE_MERGE_FORKS, 0)}
    config.update(
        terminalTotalDifficulty=0,
        terminalTotalDifficultyPassed=True,
        shanghaiTime=0,
        cancunTime=0,
        pragueTime=0,
    )
    genesis = {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(int(time.time()) - 1),
        "extraData": "0x",
        "gasLimit": hex(1_000_000_000),
        "difficulty": "0x0",
        "mixHash": ZERO32,
        "coinbase": ZERO20,
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": ZERO32,
        "baseFeePerGas": "0x0",
        "alloc": {address: {"balance": hex(10**24)} for address in funded},
    }
    path.write_text(json.dumps(genesis))


def _rpc(session: requests.Session, url: str, method: str, params: list[Any]) -> Any:
    reply = session.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30
    ).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


class BlockDriver:
    """Produces a block every `interval` seconds over the Engine API, and bursts on demand."""

    def __init__(self, rpc_url: str, engine_url: str, interval: float) -> None:
        self.rpc_url = rpc_url
        self.engine_url = engine_url
        self.interval = interval
        self.blocks = 0
        self._session = requests.Session()
        self._session.trust_env = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        head = _rpc(self._session, rpc_url, "eth_getBlockByNumber", ["latest", False])
        self._head, self._timestamp = head["hash"], int(head["timestamp"], 16)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.produce()
            except BaseException as exc:  # noqa: BLE001 - reported by the test through failure
                self.failure = exc
                return

    def produce(self, count: int = 1) -> None:
        """Build, import and select `count` blocks on top of the current head."""
        with self._lock:
            for _ in range(count):
                self._timestamp = max(self._timestamp + 1, int(time.time()))
                head = {
                    "headBlockHash": self._head,
                    "safeBlockHash": self._head,
                    "finalizedBlockHash": self._head,
                }
                attributes = {
                    "timestamp": hex(self._timestamp),
                    "prevRandao": ZERO32,
                    "suggestedFeeRecipient": ZERO20,
                    "withdrawals": [],
                    "parentBeaconBlockRoot": ZERO32,
                }
                chosen = self._engine("engine_forkchoiceUpdatedV3", [head, attributes])
                built = self._engine("engine_getPayloadV4", [chosen["payloadId"]])
                payload = built["executionPayload"]
                status = self._engine(
                    "engine_newPayloadV4",
                    [payload, [], ZERO32, built.get("executionRequests", [])],
                )
                if status["status"] != "VALID":
                    raise RuntimeError(f"the node refused its own payload: {status}")
                self._head = payload["blockHash"]
                self._engine(
                    "engine_forkchoiceUpdatedV3",
                    [
                        {
                            "headBlockHash": self._head,
                            "safeBlockHash": self._head,
                            "finalizedBlockHash": self._head,
                        },
                        None,
                    ],
                )
                self.blocks += 1

    def _engine(self, method: str, params: list[Any]) -> Any:
        return _rpc(self._session, self.engine_url, method, params)


@contextmanager
def ethereumjs_node(
    directory: Path, chain_id: int, funded: list[str], interval: float = 1.0
) -> Iterator[tuple[str, BlockDriver]]:
    """The EthereumJS client with its block driver; yields (RPC URL, driver). Always stopped."""
    directory.mkdir(parents=True, exist_ok=True)
    genesis = directory / "genesis.json"
    write_genesis(genesis, chain_id, funded)
    rpc_port, engine_port = _free_port(), _free_port()
    log = open(directory / "ethereumjs.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(BINARY),
            "--gethGenesis", str(genesis),
            "--dataDir", str(directory / "data"),
            "--rpc", "--rpcAddr", "127.0.0.1", "--rpcPort", str(rpc_port),
            "--rpcEngine", "--rpcEngineAddr", "127.0.0.1", "--rpcEnginePort", str(engine_port),
            "--rpcEngineAuth", "false",
            "--isSingleNode", "--maxPeers", "0", "--port", "0",
            "--logLevel", "warn", "--logLevelFile", "error", "--logRotate", "false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    driver: BlockDriver | None = None
    try:
        url = f"http://127.0.0.1:{rpc_port}"
        session = requests.Session()
        session.trust_env = False
        deadline = time.monotonic() + 60
        while True:
            try:
                _rpc(session, url, "eth_chainId", [])
                break
            except (requests.RequestException, RuntimeError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"EthereumJS did not start: {(directory / 'ethereumjs.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        driver = BlockDriver(url, f"http://127.0.0.1:{engine_port}", interval)
        driver.start()
        yield url, driver
    finally:
        if driver is not None:
            driver.stop()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
