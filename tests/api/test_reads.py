"""The read path: `GET /tokens/{ref}/holders` is answered from the index as of the block it holds
and `GET /assets` from the chain as of its head block; both name that block, cache hot reads by
it, and never wait for the chain lock that writers hold."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import Connection, event, text, update

from amanat.api.read_cache import CURSOR_QUERY, indexed_block
from amanat.services import accounts
from amanat.store.async_reads import AsyncReads
from amanat.store.db import POOL_SIZE, READ_POOL_SIZE
from amanat.store.models import AccessToken, User
from tests.api.conftest import Api
from tests.api.test_workflow import assert_problem

HANG_GUARD_SECONDS = 120  # not a timing: only stops a deadlocked test


def cursor(api: Api) -> int:
    with api.platform.store.session() as session:
        block = indexed_block(session)
    assert block is not None
    return block


def test_the_asset_register_names_the_block_it_is_as_of(api: Api) -> None:
    before = api.get("/assets", "public")
    assert before.status_code == 200, before.text
    assert before.json()["block"] == api.platform.chain.block_number()

    api.platform.chain.advance_time(1)  # a new block, the register unchanged
    after = api.get("/assets", "public")
    assert after.json()["block"] == api.platform.chain.block_number() > before.json()["block"]
    assert after.json()["items"] == before.json()["items"]


def test_the_cap_table_is_as_of_the_indexed_block_not_the_chain_head(api: Api) -> None:
    api.sync()
    indexed = cursor(api)
    api.platform.chain.advance_time(1)  # a new block the index has not seen yet
    assert api.platform.chain.block_number() > indexed
    before = api.get("/tokens/PKTB3M/holders", "auditor").json()
    assert before["block"] == indexed
    api.sync()
    after = api.get("/tokens/PKTB3M/holders", "auditor").json()
    assert after["block"] == api.platform.chain.block_number()
    assert after["items"] == before["items"]


def test_the_cap_table_and_register_of_one_block_are_the_same_on_every_read(api: Api) -> None:
    api.sync()
    first = [api.get("/tokens/PKTB3M/holders", "auditor").json() for _ in range(3)]
    assets = [api.get("/assets", "public").json() for _ in range(3)]
    assert first[0]["block"] == cursor(api) and first[0]["items"]
    assert first[1:] == first[:1] * 2 and assets[1:] == assets[:1] * 2
    assert api.get("/tokens/PKTB3M/holders", "auditor", limit=1).json()["items"] == [
        first[0]["items"][0]
    ]


def test_reads_are_served_while_a_writer_holds_the_chain_lock(api: Api) -> None:
    api.sync()
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with api.platform.chain.locked():
            held.set()
            release.wait(HANG_GUARD_SECONDS)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(HANG_GUARD_SECONDS)
        with ThreadPoolExecutor(2) as pool:
            assets = pool.submit(api.get, "/assets", "public")
            holders = pool.submit(api.get, "/tokens/PKTB3M/holders", "auditor")
            replies = [f.result(timeout=HANG_GUARD_SECONDS) for f in (assets, holders)]
        assert [r.status_code for r in replies] == [200, 200]
        assert not release.is_set()  # the lock was still held while both were answered
    finally:
        release.set()
        thread.join()


def test_hot_reads_take_the_fast_path_with_the_same_reply_and_checks(api: Api) -> None:
    """A cached hot read is answered before the framework (`amanat.api.fast_reads`): the same
    bytes and headers as the full path, the same role check, and a signed-out token refused by
    the very next read."""
    api.sync()
    token, _ = accounts.sign_in(api.platform.store, "auditor", "auditor-pilot-pass", "10.4.0.1")
    bearer = {"Authorization": f"Bearer {token}"}
    fast = api.app.state.fast_reads
    for path, headers in (("/tokens/PKTB3M/holders", bearer), ("/assets", {})):
        first = api.client.get(path, headers=headers)  # fills the cache (full path)
        served = fast.served
        second = api.client.get(path, headers=headers)
        assert fast.served == served + 1, path  # answered by the fast path
        assert (second.status_code, second.content) == (first.status_code, first.content)
        for name in ("content-type", "cache-control", "x-content-type-options"):
            assert second.headers[name] == first.headers[name], name
        assert second.headers["cache-control"] == "no-store"
        assert second.headers["x-content-type-options"] == "nosniff"
    # a bearer token on the public register is not checked, as on the full path
    assert (
        api.client.get("/assets", headers={"Authorization": "Bearer nonsense"}).status_code == 200
    )
    # an institution may not read a cap table: refused with the full path's problem
    assert_problem(api.get("/tokens/PKTB3M/holders", "institution"), 403, "forbidden")
    assert_problem(
        api.client.get("/tokens/PKTB3M/holders", headers={"Authorization": "Bearer nonsense"}),
        401,
        "unauthenticated",
    )
    # signed out: the next read is refused, though the reply it would get is cached
    assert api.client.post("/auth/revoke", headers=bearer, json={"token": token}).status_code == 204
    assert_problem(api.client.get("/tokens/PKTB3M/holders", headers=bearer), 401, "unauthenticated")


def test_a_hot_cap_table_read_is_one_statement(api: Api) -> None:
    """The bearer check and the index's cursor are one statement (one round trip), awaited on the
    event loop on PostgreSQL (`Store.async_reads`: no worker thread, no statement through the
    synchronous engines) and run on the read engine on SQLite."""
    api.sync()
    store = api.platform.store
    path, headers = "/tokens/PKTB3M/holders", api.headers("auditor")
    first = api.client.get(path, headers=headers)  # fills the cache (full path)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    fast, reads = api.app.state.fast_reads, store.async_reads
    served, executed = fast.served, reads.executed if reads is not None else 0
    engines = (store.engine, store.read_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        second = api.client.get(path, headers=headers)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert fast.served == served + 1  # answered by the fast path
    if api.backend == "postgresql":
        assert reads is not None and reads.executed == executed + 1
        assert statements == []
    else:
        assert reads is None
        assert len(statements) == 1, statements
        assert "access_tokens" in statements[0] and "indexer_state" in statements[0]


def test_a_hot_read_refuses_an_expired_token_or_a_deactivated_user_at_once(api: Api) -> None:
    """The fast path's one statement checks what `accounts.authenticate` checks: the very next
    cap table read after a token expires or its user is deactivated is refused (401, by the
    full path), though the reply it would get is cached."""
    api.sync()
    store, fast = api.platform.store, api.app.state.fast_reads
    username = f"fast-reads-{api.backend}"
    accounts.create_user(store, username, "fast-reads-pass", accounts.Role.AUDITOR)
    tokens = [accounts.sign_in(store, username, "fast-reads-pass", "10.4.0.2")[0] for _ in "ab"]
    path = "/tokens/PKTB3M/holders"
    for token in tokens:
        api.client.get(path, headers={"Authorization": f"Bearer {token}"})  # fills the cache
    token_hash = hashlib.sha256(tokens[0].encode()).hexdigest()
    for token, refuse in (
        (tokens[0], update(AccessToken).where(AccessToken.token_hash == token_hash)),
        (tokens[1], update(User).where(User.username == username)),
    ):
        bearer = {"Authorization": f"Bearer {token}"}
        served = fast.served
        assert api.client.get(path, headers=bearer).status_code == 200
        assert fast.served == served + 1
        values = {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}
        with store.session() as session, session.begin():
            session.execute(refuse.values(values if token == tokens[0] else {"active": False}))
        assert_problem(api.client.get(path, headers=bearer), 401, "unauthenticated")
        assert fast.served == served + 1


def test_async_reads_never_block_the_loop_and_give_up_on_a_stalled_database(api: Api) -> None:
    """A statement awaited on PostgreSQL lets the event loop serve others meanwhile, and one the
    database does not answer in time (a table locked by a migration) raises TimeoutError
    instead of holding its request; the pool goes on with fresh connections. SQLite has none."""
    store = api.platform.store
    if api.backend != "postgresql":
        assert store.async_reads is None
        return
    reads = AsyncReads(store.read_engine, size=1, timeout=1.0)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.01)

    async def scenario(locker: Connection) -> None:
        assert (await reads.first(CURSOR_QUERY, {}))[0] == indexed  # type: ignore[index]
        locker.execute(text("LOCK TABLE indexer_state IN ACCESS EXCLUSIVE MODE"))
        async with anyio.create_task_group() as others:
            others.start_soon(tick)
            with pytest.raises(TimeoutError):
                await reads.first(CURSOR_QUERY, {})
            others.cancel_scope.cancel()
        assert ticks > 1  # the loop went on while the statement waited
        locker.rollback()
        assert (await reads.first(CURSOR_QUERY, {}))[0] == indexed  # type: ignore[index]

    api.sync()
    indexed = cursor(api)
    with store.engine.connect() as locker:
        anyio.run(scenario, locker, backend_options={"use_uvloop": True})


def test_postgresql_connections_are_kept_open_past_a_burst(api: Api) -> None:
    """On PostgreSQL every connection a store's engines open stays in their pools: after as
    many connections as a pool allows were in use at once, using as many again opens none (an
    overflow connection closed on its return made every burst of concurrent requests open new
    sessions: a server process forked and a SCRAM handshake each). SQLite opens no sessions."""
    if api.backend != "postgresql":
        return
    store = api.platform.store
    for engine, size in ((store.engine, POOL_SIZE), (store.read_engine, READ_POOL_SIZE)):
        opened: list[object] = []

        def connected(dbapi_connection: Any, _record: Any, opened: list[object] = opened) -> None:
            opened.append(dbapi_connection)

        event.listen(engine, "connect", connected)
        try:
            for burst in range(2):
                with ExitStack() as held:
                    for _ in range(size):
                        held.enter_context(engine.connect()).execute(text("SELECT 1"))
                if burst == 0:
                    opened.clear()
            assert opened == [], f"{len(opened)} sessions opened by the second burst"
        finally:
            event.remove(engine, "connect", connected)
