"""The read path: `GET /tokens/{ref}/holders` is answered from the index as of the block it holds
and `GET /assets` from the chain as of its head block; both name that block, cache hot reads by
it, and never wait for the chain lock that writers hold."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from amanat.api.read_cache import indexed_block
from amanat.services import accounts
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
