"""The read path: `GET /tokens/{ref}/holders` is answered from the index as of the block it holds
and `GET /assets` from the chain as of its head block; both name that block, cache hot reads by
it, and never wait for the chain lock that writers hold."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from amanat.api.read_cache import indexed_block
from tests.api.conftest import Api

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
