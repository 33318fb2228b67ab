"""Hot reads cached by the block they are as of.

A read as of block N (a cap table, the asset register) is the same for every caller until the
index moves past N, so each serving process keeps the results of the latest few (key, block)
pairs. A newer block is a new key: nothing is ever invalidated, old entries simply age out.
Reads never take the chain lock; the block they are as of is the index's cursor.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from amanat.indexer.indexer import CURSOR
from amanat.store.models import IndexerState

T = TypeVar("T")
ENTRIES = 512


class BlockCache:
    """A bounded least-recently-used map from (read, arguments, block) to its result."""

    def __init__(self, entries: int = ENTRIES) -> None:
        self.entries = entries
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached result for `key` (which must name the block), computed on a miss. Two
        callers missing at once may both compute; both get an equal result."""
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]  # type: ignore[no-any-return]
        result = compute()
        with self._lock:
            self._results[key] = result
            while len(self._results) > self.entries:
                self._results.popitem(last=False)
        return result

    def peek(self, key: Hashable) -> Any | None:
        """The cached result for `key`, or None (nothing is computed)."""
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        return None


def json_body(model: type[BaseModel], body: dict[str, Any]) -> bytes:
    """`body` checked against `model` and serialised as FastAPI would for a response model. A
    cached read keeps these bytes, so a hot read skips validation and encoding."""
    return model.model_validate(body).model_dump_json(by_alias=True).encode()


def json_reply(content: bytes) -> Response:
    """A reply of serialised JSON (a fresh Response per request: middleware may add headers)."""
    return Response(content, media_type="application/json")


def indexed_block(db: Session | Connection) -> int | None:
    """The last block the index holds (None: nothing indexed yet). One Core query: it is on every
    cap table read's path."""
    block: int | None = db.scalar(CURSOR_QUERY)
    return block


# The index's cursor (the last block it holds), built once.
CURSOR_QUERY = select(IndexerState.block).where(IndexerState.name == CURSOR)
