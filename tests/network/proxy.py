"""A JSON-RPC proxy that enforces a real node's request limits in front of a test node.

Besu refuses `eth_getLogs` over more than `--rpc-max-logs-range` blocks (default 5,000) and
batches of more than `--rpc-http-max-batch-size` requests (default 1,024) with one error
object; tests scale the limits down so that they cross them. Optionally it also mimics a client
whose `eth_estimateGas` returns a figure for a call that will revert.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

# Besu's codes and messages (JsonRpcError.EXCEEDS_RPC_MAX_BATCH_SIZE / ..._BLOCK_RANGE).
BATCH_TOO_LARGE = {"code": -32005, "message": "Number of requests exceeds max batch size"}
RANGE_TOO_LARGE = {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"}


@dataclass
class Limits:
    """What the proxy refuses, and what it saw."""

    max_batch: int = 1024
    max_logs_range: int = 5000
    estimate_regardless: bool = False  # answer eth_estimateGas with a figure even if it reverts
    largest_batch: int = 0
    logs_requests: int = 0
    refused: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)


def _number(tag: Any, head: int) -> int:
    if isinstance(tag, str) and tag.startswith("0x"):
        return int(tag, 16)
    return head if tag in (None, "latest", "pending", "safe", "finalized") else 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = self.server.answer(body)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, limits: Limits) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.limits = limits
        self.session = requests.Session()
        self.session.trust_env = False
        self.guard = threading.Lock()

    def forward(self, payload: Any) -> Any:
        return self.session.post(self.upstream, json=payload, timeout=60).json()

    def answer(self, body: Any) -> Any:
        limits = self.limits
        if isinstance(body, list):
            with self.guard:
                limits.largest_batch = max(limits.largest_batch, len(body))
            if len(body) > limits.max_batch:
                limits.refused.append(f"batch of {len(body)}")
                return {"jsonrpc": "2.0", "id": None, "error": BATCH_TOO_LARGE}
            return [self.one(request) for request in body]
        return self.one(body)

    def one(self, request: dict[str, Any]) -> Any:
        limits = self.limits
        method = request.get("method")
        limits.methods.append(str(method))
        if method == "eth_getLogs":
            limits.logs_requests += 1
            query = (request.get("params") or [{}])[0]
            head = int(self.forward(_request("eth_blockNumber", []))["result"], 16)
            first = _number(query.get("fromBlock", "latest"), head)
            last = _number(query.get("toBlock", "latest"), head)
            if last - first + 1 > limits.max_logs_range:
                limits.refused.append(f"logs over {last - first + 1} blocks")
                return {"jsonrpc": "2.0", "id": request.get("id"), "error": RANGE_TOO_LARGE}
        if method == "eth_estimateGas" and limits.estimate_regardless:
            reply = self.forward(request)
            if "error" in reply:
                return {"jsonrpc": "2.0", "id": request.get("id"), "result": hex(500_000)}
            return reply
        return self.forward(request)


def _request(method: str, params: list[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}


@contextmanager
def limited(upstream: str, limits: Limits) -> Iterator[str]:
    """Serve the proxy on a free local port while the block runs; yields its URL."""
    server = _Server(upstream, limits)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
