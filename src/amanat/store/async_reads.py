"""Single-statement reads on PostgreSQL awaited on the event loop: the API's hottest read
(`api.fast_reads`) without a hand-off to a worker thread.

Handing a read of ~0.1 ms to a worker thread and back (anyio's `to_thread`, the thread's wake-up,
the GIL going back and forth) and running it through SQLAlchemy's execution machinery cost an
API worker several times the statement itself (bench/README.md, API). Here a statement, built
with SQLAlchemy Core and compiled once for the store's dialect, is sent on one of a few psycopg
async connections of the running event loop: the loop goes on serving other requests while the
database answers, and nothing blocks it.

Each statement is bounded by TIMEOUT_SECONDS on the client (the caller gets TimeoutError, the
connection is dropped, never reused mid-statement) and twice that on the server
(`statement_timeout`, for a statement the client gave up on), so a stalled database holds a
request that long at most before the caller falls back to its full path. Connections are
autocommit (each statement sees what is committed when it runs) and belong to one event loop:
when called from another loop (a test client's), the idle ones are closed and a new pool is
opened there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import anyio
import psycopg
from sqlalchemy import Engine
from sqlalchemy.sql import Executable

POOL_SIZE = 4  # connections per event loop (a worker process has one loop)
TIMEOUT_SECONDS = 2.0


class AsyncReads:
    """Statements awaited on PostgreSQL connections of the running event loop."""

    def __init__(
        self, engine: Engine, size: int = POOL_SIZE, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._dialect = engine.dialect
        arguments, options = engine.dialect.create_connect_args(engine.url)
        # the server's bound, a backstop for a statement the client gave up on
        server_timeout = f"-c statement_timeout={int(2 * timeout * 1000)}"
        options["options"] = f"{options.get('options', '')} {server_timeout}".strip()
        self._connect = (tuple(arguments), dict(options))
        self._compiled: dict[Executable, tuple[str, dict[str, Any]]] = {}
        self.size = size
        self.timeout = timeout
        self._pool: _LoopPool | None = None
        self.executed = 0  # statements answered (for tests)

    async def first(
        self, statement: Executable, parameters: dict[str, Any]
    ) -> Sequence[Any] | None:
        """The first row of `statement` with `parameters` (its other bound values are the ones it
        was built with), or None. TimeoutError past `timeout`; any database error is raised."""
        sql, defaults = self._sql(statement)
        with anyio.fail_after(self.timeout):
            row = await self._loop_pool().first(sql, {**defaults, **parameters})
        self.executed += 1
        return row

    def _sql(self, statement: Executable) -> tuple[str, dict[str, Any]]:
        if statement not in self._compiled:
            compiled = statement.compile(dialect=self._dialect)  # type: ignore[attr-defined]
            self._compiled[statement] = (str(compiled), dict(compiled.params))
        return self._compiled[statement]

    def _loop_pool(self) -> _LoopPool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.loop is not loop:
            if self._pool is not None:
                self._pool.close_idle()
            self._pool = _LoopPool(loop, self.size, self._connect)
        return self._pool


class _LoopPool:
    """At most `size` connections of one event loop; a caller waits for a free one."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        size: int,
        connect: tuple[tuple[Any, ...], dict[str, Any]],
    ) -> None:
        self.loop = loop
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._connect = connect
        self.closed = False

    async def first(self, sql: str, parameters: dict[str, Any]) -> Sequence[Any] | None:
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._open()
            try:
                cursor = await connection.execute(sql, parameters)
                row = await cursor.fetchone()
            except BaseException:
                connection.pgconn.finish()  # broken, timed out or cancelled mid-statement
                raise
            if self.closed:  # another loop took over meanwhile
                connection.pgconn.finish()
            else:
                self._idle.append(connection)
        return row

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        arguments, options = self._connect
        return await psycopg.AsyncConnection.connect(*arguments, autocommit=True, **options)

    def close_idle(self) -> None:
        """Close the idle connections, and each busy one when it is handed back (their loop is no
        longer the one calling)."""
        self.closed = True
        for connection in self._idle:
            connection.pgconn.finish()
        self._idle.clear()
