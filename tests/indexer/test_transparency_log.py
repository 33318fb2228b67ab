"""The transparency log as the indexer and the audit trail write it, on SQLite and PostgreSQL:
one canonical leaf per indexed event in chain order, reorganisations recorded and never erased,
audit entries without the user, and concurrent appends numbered without gap or duplicate."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import select

from amanat.domain import merkle
from amanat.domain.transparency import canonical_json
from amanat.services import audit
from amanat.store import log
from amanat.store.db import Store
from amanat.store.models import ChainEvent, LogEntry
from tests.indexer.conftest import ChainUnderTest, StoreFactory, mine, raw_transfer


def entries(store: Store) -> list[LogEntry]:
    with store.session() as session:
        return list(session.scalars(select(LogEntry).order_by(LogEntry.index)))


def test_every_indexed_event_is_a_canonical_leaf_in_chain_order(
    demo: ChainUnderTest, store: Any
) -> None:
    demo.indexer(store).sync()
    rows = entries(store)
    with store.session() as session:
        events = list(
            session.scalars(select(ChainEvent).order_by(ChainEvent.block, ChainEvent.log_index))
        )
        assert log.size(session) == len(rows) == len(events)
    assert [r.index for r in rows] == list(range(len(rows)))
    for row, event in zip(rows, events, strict=True):
        leaf = json.loads(row.leaf)
        assert canonical_json(leaf) == row.leaf
        assert row.leaf_hash == merkle.leaf_hash(row.leaf)
        assert row.kind == "chain_event" and row.source == f"chain:{event.block}:{event.log_index}"
        assert (leaf["block"], leaf["log_index"], leaf["event"]) == (
            event.block,
            event.log_index,
            event.event,
        )
        assert leaf["args"] == event.args and leaf["tx_hash"] == event.tx_hash


def test_a_reorganisation_is_recorded_and_nothing_logged_is_erased(
    small_chain: ChainUnderTest, new_store: StoreFactory
) -> None:
    chain, token = small_chain, small_chain.token("SMALL")
    rpc = chain.chain.rpc
    snapshot = rpc.call("evm_snapshot")
    fork = chain.head()
    raw_transfer(chain, "holder-a", token, "holder-c", 100)
    mine(chain)
    store = new_store()
    chain.indexer(store).sync()
    before = entries(store)
    assert json.loads(before[-1].leaf)["event"] == "Transfer"
    assert rpc.call("evm_revert", [snapshot]) is True
    raw_transfer(chain, "holder-b", token, "holder-d", 5)
    mine(chain, gap=9)
    mine(chain, gap=9)
    chain.indexer(store).sync()
    after = entries(store)
    assert [(r.index, r.leaf) for r in after[: len(before)]] == [(r.index, r.leaf) for r in before]
    marker = after[len(before)]
    assert marker.kind == "reorganisation"
    assert json.loads(marker.leaf) == {"type": "reorganisation", "kept_block": fork}
    replayed = [json.loads(r.leaf) for r in after[len(before) + 1 :]]
    assert [(e["event"], e["args"]["value"]) for e in replayed] == [("Transfer", 5)]


def test_audit_entries_are_logged_without_the_user(store: Any) -> None:
    with store.session() as session, session.begin():
        entry = audit.record(
            session, "approver-1", "approver", "POST", "/approvals/7/approve", "127.0.0.1", 200,
            "request:7", {"idempotency_key": "k-1"},
        )  # fmt: skip
    (row,) = entries(store)
    leaf = json.loads(row.leaf)
    assert row.kind == "audit" and row.source == f"audit:{entry.id}"
    assert leaf == {
        "type": "audit",
        "at": leaf["at"],
        "role": "approver",
        "action": "POST",
        "resource": "/approvals/7/approve",
        "status": 200,
        "approval_ref": "request:7",
        "entry_hash": entry.entry_hash,
    }
    assert b"approver-1" not in row.leaf and b"127.0.0.1" not in row.leaf


def test_concurrent_appends_are_numbered_without_gap_or_duplicate(store: Any) -> None:
    def writer(name: str) -> None:
        for i in range(10):
            with store.session() as session, session.begin():
                log.append(session, [("test", f"{name}:{i}", {"writer": name, "i": i})] * 2)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = entries(store)
    assert [r.index for r in rows] == list(range(80))
    # each transaction's two entries are adjacent: indexes follow commit order
    assert all(rows[i].source == rows[i + 1].source for i in range(0, 80, 2))
    assert len({r.source for r in rows}) == 40
