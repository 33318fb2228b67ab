"""Group commit: the rows of concurrent callers in one process written in one transaction.

A caller hands its item, with the function that writes items of its kind, and waits. The caller
that finds the store's group free writes every item queued at that moment in one transaction
(each kind's function receives all the items of its kind, in arrival order, and is expected to
write them with one statement per kind of row), while the callers arriving meanwhile queue for
the next transaction; each returns once its item is committed. If a group's transaction fails,
each of its items is written alone in its own transaction when the database refused an item's
value (a key already taken, a value out of range: `ITEM_ERRORS`), so that failure stays the
caller's own; any other failure (the database unreachable, a lock timeout, a commit whose
outcome is unknown) is every item's, raised to each caller, and nothing is tried again. Waiting
callers sleep on a lock, not in the database's busy handler: one such transaction at a time per
process reaches the database, and with a lock file (SQLite) one at a time across the processes
sharing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

Write = Callable[[Session, list[Any]], None]


# A group's transaction that fails on one of these is tried again item by item: the database
# refused a value of one item (a key already taken, a value out of range), not the transaction.
ITEM_ERRORS = (IntegrityError, DataError)


@dataclass(eq=False)
class _Queued:
    write: Write
    item: Any
    order: int
    done: bool = False
    committed: bool = False
    error: BaseException | None = None


class GroupCommit:
    """One store's group commit in this process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        lock: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        # taken around each transaction, if given (`store.db.file_lock`)
        self._lock: Callable[[], AbstractContextManager[None]] = lock or nullcontext
        self._queue: list[_Queued] = []
        self._queue_guard = threading.Lock()
        self._writing = threading.Lock()  # held by the caller writing a group

    def commit(self, write: Write, item: Any, order: int = 0) -> None:
        """Commit `item`, written by `write`, in a group with the items queued beside it;
        raise its own error if it could not be. A group writes its kinds by ascending `order`
        (every process in the same order: no two groups wait for each other's rows)."""
        queued = _Queued(write, item, order)
        with self._queue_guard:
            self._queue.append(queued)
        with self._writing:
            if not queued.done:
                with self._queue_guard:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if not queued.committed:
            assert queued.error is not None
            raise queued.error

    def queued(self) -> int:
        """How many items wait for the next transaction."""
        with self._queue_guard:
            return len(self._queue)

    def _commit_group(self, group: list[_Queued]) -> None:
        """Commit the group; each item ends done, committed or with its error."""
        try:
            try:
                self._transaction(group)
            except ITEM_ERRORS:
                if len(group) == 1:
                    raise
                for queued in group:
                    try:
                        self._transaction([queued])
                    except Exception as own:  # noqa: BLE001 - the caller's own failure
                        queued.error = own
                    else:
                        queued.committed = True
            else:
                for queued in group:
                    queued.committed = True
        except BaseException as error:  # every item not committed fails with it
            for queued in group:
                if not queued.committed and queued.error is None:
                    queued.error = error
            if not isinstance(error, Exception):
                raise
        finally:
            for queued in group:
                queued.done = True

    def _transaction(self, group: list[_Queued]) -> None:
        kinds: dict[Write, list[Any]] = {}
        for queued in sorted(group, key=lambda q: q.order):
            kinds.setdefault(queued.write, []).append(queued.item)
        with self._lock(), self._sessions() as session, session.begin():
            for write, items in kinds.items():
                write(session, items)
