"""A lean JSON-RPC client over HTTP with batching; the one place requests reach the node.

Real nodes bound what one request may ask for (Besu: batches of at most 1,024 requests and
`eth_getLogs` over at most 5,000 blocks by default; geth: batches of 1,000), so every batch is
sent in chunks of `batch_size` requests and every log query is paged by `logs_range` blocks.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import select
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from amanat.config import DEFAULT_BATCH_SIZE, DEFAULT_LOGS_RANGE
from amanat.errors import AmanatError, ChainUnavailable

# requests (urllib3, ~0.05 s to import) is imported when a node is first reached through it:
# the embedded node and any plain http:// node never are.
if TYPE_CHECKING:
    import requests


def _readable(sock: Any) -> bool:
    """Whether an idle kept-alive socket has something to read: the peer closed it."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


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
        self._session: requests.Session | None = None
        self._session_lock = threading.Lock()
        self._ids = itertools.count(1)
        parts = urlsplit(url)
        # A plain http:// node with no credentials in its URL (the embedded node, a node on the
        # operator's network) is reached through one kept-alive connection per thread: a call
        # then costs ~0.2 ms of CPU instead of ~0.8 through `requests`. TLS, credentials and
        # proxies keep going through `requests`.
        self._lean = (
            (
                parts.hostname,
                parts.port or 80,
                (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            )
            if parts.scheme == "http" and parts.hostname and not parts.username
            else None
        )
        self._connections = threading.local()

    def _post(self, payload: Any) -> Any:
        if self._lean is not None:
            return self._post_lean(payload)
        import requests

        with self._session_lock:
            if self._session is None:
                self._session = requests.Session()
                self._session.trust_env = False  # no proxy lookup per call: the node is named
            session = self._session
        try:
            response = session.post(self.url, json=payload, timeout=self.timeout)
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

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection to the node: a new one if there is none, if it was made in
        another process (before a fork), or if the node closed it while it was idle (nothing is
        ever sent twice: a request that fails after it is sent is a ChainUnavailable)."""
        assert self._lean is not None
        held = getattr(self._connections, "held", None)
        if held is not None:
            pid, connection = held
            idle_closed = connection.sock is not None and _readable(connection.sock)
            if pid == os.getpid() and not idle_closed:
                return connection  # type: ignore[no-any-return]
            connection.close()
        host, port, _target = self._lean
        connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        self._connections.held = (os.getpid(), connection)
        return connection

    def _post_lean(self, payload: Any) -> Any:
        assert self._lean is not None
        body = json.dumps(payload, allow_nan=False).encode()
        connection = self._connection()
        try:
            connection.request("POST", self._lean[2], body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise ChainUnavailable(
                f"cannot reach the chain at {self.url}: {exc.__class__.__name__}"
            ) from None
        if response.will_close:
            connection.close()
        if response.status != 200:
            raise ChainUnavailable(f"chain at {self.url} answered HTTP {response.status}")
        try:
            return json.loads(content)
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
