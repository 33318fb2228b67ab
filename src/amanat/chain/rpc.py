"""A lean JSON-RPC client over HTTP with batching; the one place requests reach the node."""

from __future__ import annotations

import itertools
from typing import Any

import requests

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
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
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
        return response.json()

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        reply = self._post(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        )
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Send several calls in one request; each result is a value or an RpcError."""
        if not calls:
            return []
        first = next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        for _ in range(len(calls) - 1):
            next(self._ids)
        replies = {reply["id"]: reply for reply in self._post(payload)}
        results: list[Any] = []
        for i, (method, _params) in enumerate(calls):
            reply = replies[first + i]
            results.append(
                RpcError(method, reply["error"]) if "error" in reply else reply["result"]
            )
        return results

    def is_up(self) -> bool:
        try:
            self.call("eth_chainId")
        except ChainUnavailable:
            return False
        return True
