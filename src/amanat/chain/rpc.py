"""A lean JSON-RPC client over HTTP with batching; the one place requests reach the node.

Real nodes bound what one request may ask for (Besu: batches of at most 1,024 requests and
`eth_getLogs` over at most 5,000 blocks by default; geth: batches of 1,000), so every batch is
sent in chunks of `batch_size` requests and every log query is paged by `logs_range` blocks.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
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


MAX_HEADER_LINE = 65_536  # a node's reply head line longer than this is not HTTP we take
MAX_HEADER_LINES = 100


class _NodeConnection:
    """One kept-alive HTTP/1.1 connection to a plain http:// node. A request is written whole
    in one send; the reply's status line and headers are read by hand (Content-Length, chunked
    or until close): http.client parses every reply's headers with the e-mail package, which
    cost a write as much CPU as the call itself (an API transfer makes several)."""

    def __init__(self, host: str, port: int, target: str, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._timeout = timeout
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = self.sock.makefile("rb")
        self._head = (
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        ).encode()

    def post(self, body: bytes) -> tuple[int, bytes, bool]:
        """Send one request; its reply's status, body and whether the node closes after it.
        Raises OSError or ValueError if the reply is cut short or is not HTTP/1.x."""
        self.sock.sendall(b"%sContent-Length: %d\r\n\r\n%s" % (self._head, len(body), body))
        status_line = self._reader.readline(MAX_HEADER_LINE)
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ValueError("not an HTTP/1.x reply")
        status = int(rest[:3])
        close = version == b"HTTP/1.0"
        length: int | None = None
        chunked = False
        for _ in range(MAX_HEADER_LINES):
            line = self._reader.readline(MAX_HEADER_LINE)
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise ValueError("reply head cut short")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = close or b"close" in value.lower()
        else:
            raise ValueError("reply head too long")
        if chunked:
            content = self._chunks()
        elif length is not None:
            content = self._reader.read(length)
            if len(content) != length:
                raise ValueError("reply body cut short")
        else:
            content, close = self._reader.read(), True
        return status, content, close or self._more_than_asked()

    def _more_than_asked(self) -> bool:
        """Whether the node sent bytes past the reply (a second answer appended by a faulty
        node or proxy): the connection is then closed after this reply, so a later call never
        reads them as its own answer."""
        self.sock.setblocking(False)
        try:
            return bool(self._reader.peek(1))
        except OSError:
            return False
        finally:
            self.sock.settimeout(self._timeout)

    def _chunks(self) -> bytes:
        parts = []
        while size := int(self._reader.readline(MAX_HEADER_LINE).split(b";")[0], 16):
            part = self._reader.read(size + 2)
            if len(part) != size + 2:
                raise ValueError("reply chunk cut short")
            parts.append(part[:-2])
        while self._reader.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


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
        # operator's network) is reached through one kept-alive connection per thread
        # (`_NodeConnection`): a call then costs a fraction of its CPU through `requests`. TLS,
        # credentials and proxies keep going through `requests`.
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

    def _connection(self) -> _NodeConnection:
        """This thread's connection to the node: a new one if there is none, if it was made in
        another process (before a fork), or if the node closed it while it was idle (nothing is
        ever sent twice: a request that fails after it is sent is a ChainUnavailable)."""
        assert self._lean is not None
        held = getattr(self._connections, "held", None)
        if held is not None:
            pid, connection = held
            if pid == os.getpid() and not _readable(connection.sock):
                return connection  # type: ignore[no-any-return]
            self._drop_connection()
        host, port, target = self._lean
        connection = _NodeConnection(host, port, target, self.timeout)
        self._connections.held = (os.getpid(), connection)
        return connection

    def _drop_connection(self) -> None:
        """Close this thread's connection to the node, if it holds one."""
        held = getattr(self._connections, "held", None)
        if held is not None:
            held[1].close()
            self._connections.held = None

    def _post_lean(self, payload: Any) -> Any:
        body = json.dumps(payload, allow_nan=False).encode()
        try:
            connection = self._connection()
            status, content, close = connection.post(body)
        except (OSError, ValueError, OverflowError, MemoryError) as exc:
            self._drop_connection()
            raise ChainUnavailable(
                f"cannot reach the chain at {self.url}: {exc.__class__.__name__}"
            ) from None
        if close:
            self._drop_connection()
        if status != 200:
            raise ChainUnavailable(f"chain at {self.url} answered HTTP {status}")
        try:
            return json.loads(content)
        except ValueError:
            raise ChainUnavailable(f"chain at {self.url} answered with no JSON") from None

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        request_id = next(self._ids)
        reply = self._post(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
        )
        if not isinstance(reply, dict) or reply.get("id") != request_id:
            self._drop_connection()  # an answer to another request: nothing after it is trusted
            raise ChainUnavailable(f"chain at {self.url} answered another request than {method}")
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
