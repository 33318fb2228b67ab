"""The HTTP server `amanat serve` runs (uvicorn on httptools and uvloop, serve.py): a request's
head is bounded. httptools (unlike h11, uvicorn's pure-Python parser) buffers a request line and
headers of any size, so without a bound one client could make a worker hold megabytes per
connection before the app sees anything."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from amanat import serve


async def _echo_head_size(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    size = sum(len(k) + len(v) for k, v in scope["headers"])
    while (await receive()).get("more_body"):  # read the body: an unread one resets the socket
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _exchange(port: int, *parts: bytes) -> bytes:
    """Send `parts` (one send each), close the sending side, read the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for part in parts:
            sock.sendall(part)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(1 << 16):
            reply += chunk
        return reply


def test_a_request_head_over_the_bound_is_refused_and_a_large_body_is_not() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        _echo_head_size,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        http=serve.HTTP_IMPLEMENTATION,
        loop=serve.EVENT_LOOP,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        ordinary = b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"t" * 4096
        assert _exchange(port, ordinary + b"\r\n\r\n").startswith(b"HTTP/1.1 200")
        # a head growing past the bound (its last kilobyte sent on its own: once the server
        # refuses, nothing is left unread for it to reset the connection over)
        head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Filler: "
        head += b"a" * (serve.MAX_REQUEST_HEAD_BYTES - len(head))
        refused = _exchange(port, head, b"a" * 1024)
        assert refused.startswith(b"HTTP/1.1 431"), refused[:100]
        assert b"application/problem+json" in refused and b"exceed 65536 bytes" in refused
        body = b"b" * (4 << 20)  # a large body behind a small head is the app's to judge
        post = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
        assert _exchange(port, post % len(body) + body).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
