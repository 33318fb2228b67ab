"""The JSON-RPC client's kept-alive connections: one per thread, a connection the node closed
while it was idle replaced before anything is sent on it, a node that is down a clear
ChainUnavailable."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from amanat.chain.node import AnvilNode
from amanat.chain.rpc import RpcClient
from amanat.errors import ChainUnavailable

GENESIS = 1_800_000_000


def test_connections_are_per_thread_and_replaced_when_the_node_closed_them(
    data_dir: Path,
) -> None:
    node = AnvilNode(data_dir)
    node.start(GENESIS)
    rpc = RpcClient(node.url, timeout=5)
    with ThreadPoolExecutor(4) as pool:  # concurrent calls, each thread on its own connection
        chain_ids = set(pool.map(lambda _: rpc.call("eth_chainId"), range(40)))
    assert chain_ids == {rpc.call("eth_chainId")}  # this thread's connection, now idle
    url = node.url
    node.stop()  # closes this thread's idle connection from the node's side
    node.start(GENESIS)
    assert node.url == url
    assert rpc.call("eth_blockNumber") == "0x0"  # a fresh connection, no error
    node.stop()
    with pytest.raises(ChainUnavailable, match="cannot reach the chain"):
        rpc.call("eth_blockNumber")


def test_bytes_past_a_reply_close_its_connection_and_are_never_taken_as_an_answer() -> None:
    """A node (or a proxy before it) that appends a second response to one reply, even one
    with the next call's id: the next call on that kept-alive connection would read it as its
    own answer. The bytes past the reply close the connection after it, and the next call is
    answered on a fresh one; an answer whose id is not the call's fails as ChainUnavailable."""
    import json
    import socket
    import threading

    def reply(answer: dict[str, object]) -> bytes:
        body = json.dumps(answer).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    answered = 0

    def serve() -> None:
        nonlocal answered
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            reader = connection.makefile("rb")
            while head := reader.readline():
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = json.loads(reader.read(length))
                answered += 1
                out = reply({"jsonrpc": "2.0", "id": request["id"], "result": head.decode()[:4]})
                if answered == 1:  # one reply with a stray answer appended
                    out += reply({"jsonrpc": "2.0", "id": request["id"] + 1, "result": "0xdead"})
                connection.sendall(out)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    rpc = RpcClient(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=5)
    try:
        assert rpc.call("eth_chainId") == "POST"
        assert rpc.call("eth_getTransactionCount") == "POST"  # not the stray "0xdead"
        assert rpc.call("eth_blockNumber") == "POST"
        assert answered == 3
    finally:
        listener.close()
