"""A lean JSON-RPC client over HTTP with batching; the one place requests reach the node.

Real nodes bound what one request may ask for (Besu: batches of at most 1,024 requests and
`eth_getLogs` over at most 5,000 blocks by default; geth: batches of 1,000), so every batch is
sent in chunks of `batch_size` requests and every log query is paged by `logs_range` blocks.
"""

from __future__ import annotations

import itertools
from typing import Any

import requests

from amanat.config import DEFAULT_BATCH_SIZE, DEFAULT_LOGS_RANGE
from amanat.errors import AmanatError, ChainUnavailable


class RpcError(AmanatError):
    """The node answered a call with an error object."""

    rule = "rpc-error"

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message', error)}", code=error.get("code"))
        self.method = method
        self.error = error
        self.data = error.get("data")


class RpcClient:
    def __init__(
        self,
        url: str,
        timeout: float = 60.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        logs_range: int = DEFAULT_LOGS_RANGE,
    ) -> None:
        if batch_size < 1:
            raise AmanatError(f"the JSON-RPC batch size must be at least 1, not {batch_size}")
        if logs_range < 1:
            raise AmanatError(f"the eth_getLogs block range must be at least 1, not {logs_range}")
        self.url = url
        self.timeout = timeout
        self.batch_size = batch_size
        self.logs_range = logs_range
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy lookup per call: the node is local or named
        self._ids = itertools.count(1)

    def _post(self, payload: Any) -> Any:
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ChainUnavailable(
                f"cannot reach the chain at {self.url}: {exc.__class__.__name__}"
            ) from None
        if response.status_code != 200:
            raise ChainUnavailable(f"chain at {self.url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ChainUnavailable(f"chain at {self.url} answered with no JSON") from None

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        reply = self._post(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        )
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Send several calls in as few requests as the node accepts (chunks of `batch_size`);
        each result is a value or an RpcError, in the order of `calls`."""
        results: list[Any] = []
        for start in range(0, len(calls), self.batch_size):
            results.extend(self._batch_chunk(calls[start : start + self.batch_size]))
        return results

    def _batch_chunk(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        first = next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        for _ in range(len(calls) - 1):
            next(self._ids)
        answer = self._post(payload)
        if isinstance(answer, dict):
            # The node refused the whole batch with one error object (e.g. Besu's "Number of
            # requests exceeds max batch size"): every call in it failed with that error.
            error = answer.get("error") or {"message": f"unexpected batch answer {answer!r}"}
            return [RpcError(method, error) for method, _ in calls]
        replies = {reply.get("id"): reply for reply in answer if isinstance(reply, dict)}
        results: list[Any] = []
        for i, (method, _params) in enumerate(calls):
            reply = replies.get(first + i)
            if reply is None:
                results.append(RpcError(method, {"message": "the node sent no answer"}))
            elif "error" in reply:
                results.append(RpcError(method, reply["error"]))
            else:
                results.append(reply["result"])
        return results

    def get_logs(
        self, query: dict[str, Any], from_block: int, to_block: int
    ) -> list[dict[str, Any]]:
        """eth_getLogs for `query` (address, topics) over blocks from_block..to_block inclusive,
        paged by `logs_range` blocks (the pages go in batches); oldest first."""
        pages = [
            (start, min(start + self.logs_range - 1, to_block))
            for start in range(from_block, to_block + 1, self.logs_range)
        ]
        replies = self.batch(
            [
                ("eth_getLogs", [{**query, "fromBlock": hex(start), "toBlock": hex(end)}])
                for start, end in pages
            ]
        )
        logs: list[dict[str, Any]] = []
        for reply in replies:
            if isinstance(reply, RpcError):
                raise reply
            logs.extend(reply)
        return logs

    def is_up(self) -> bool:
        try:
            self.call("eth_chainId")
        except ChainUnavailable:
            return False
        return True
