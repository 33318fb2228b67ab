"""Database connection and schema migration (Alembic), for SQLite by default or PostgreSQL by URL."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from amanat.store.group import GroupCommit

if TYPE_CHECKING:
    from amanat.store.async_reads import AsyncReads

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# A migration script's own revision and the one it revises (`down_revision = None` for the first).
REVISION_LINE = re.compile(r'^(revision|down_revision) = (?:"([^"]+)"|None)$', re.MULTILINE)


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'amanat.sqlite'}"


# The main engine's PostgreSQL connections per process (SQLAlchemy's default ceiling, 5 + 10
# overflow), all kept open once opened.
POOL_SIZE = 15


def make_engine(url: str) -> Engine:
    """The store's engine. On PostgreSQL a pool of POOL_SIZE connections kept open and no
    overflow (a caller finding them all in use waits for one): an overflow connection is closed
    as soon as it is handed back, so 50 concurrent API writers opened ~10 new sessions a second
    (a backend process forked and a SCRAM handshake each, ~10 ms of CPU)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        _set_pragmas(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=0)


# The read engine's PostgreSQL connections per process, all kept open (no overflow).
READ_POOL_SIZE = 8


def make_read_engine(url: str) -> Engine:
    """An engine for the hot path's single-statement reads: autocommit (no BEGIN, no ROLLBACK
    when a connection goes back to the pool: each statement sees what is committed when it
    runs) and no liveness ping per checkout (a caller that fails on a dropped connection falls
    back to the main engine; the pool discards the connection).

    On PostgreSQL a pool of its own of READ_POOL_SIZE connections kept open, and no overflow: a
    caller finding them all in use waits for one. An overflow connection is closed as soon as it
    is handed back, so under 50 concurrent readers every burst past the pool opened new sessions
    (a backend process forked and a SCRAM handshake each: ~240 sessions in a 5-second read
    bench, more CPU than the reads themselves; bench/README.md, API)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, isolation_level="AUTOCOMMIT")
        _set_pragmas(engine)
        return engine
    return create_engine(
        url, isolation_level="AUTOCOMMIT", pool_size=READ_POOL_SIZE, max_overflow=0
    )


def _set_pragmas(engine: Engine) -> None:
    """SQLite: write-ahead logging (readers never wait for the writer) and foreign keys."""

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection, _record):  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


MIGRATION_LOCK_KEY = 0x616D616E  # PostgreSQL advisory lock id ("aman")


def migrate(url: str) -> None:
    """Bring the schema to the latest migration; concurrent processes wait for each other."""
    from alembic import command  # imported here: ~0.5 s that only opening a store needs
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with _migration_lock(url):
        command.upgrade(config, "head")


def head_revision() -> str | None:
    """The newest migration: the one no other script revises, read from the scripts' revision
    lines so that a process whose store is up to date never imports Alembic (None when the
    scripts do not name exactly one; then opening a store always migrates)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for field, value in REVISION_LINE.findall(script.read_text()):
            if value:
                (revisions if field == "revision" else revised).add(value)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is already the newest migration's."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            return list(versions.scalars()) == [head]
    except SQLAlchemyError:  # no schema yet
        return False


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the file `path` (made if absent), held until the block ends, against
    every other holder: threads and processes alike."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        with file_lock(Path(f"{parsed.database}.migrate.lock")):
            yield
        return
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                try:
                    yield
                finally:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
        finally:
            engine.dispose()
        return
    yield


class Store:
    """An engine plus a session factory over a migrated database (migrated when opened, unless
    its schema is already the newest)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        if not at_head(self.engine):
            migrate(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine: Engine | None = None
        # concurrent writers' rows in one transaction; on SQLite the groups of the processes
        # sharing the file take turns on a file lock (a waiter is woken when it is free, where
        # SQLite's busy handler polls with sleeps of up to 100 ms)
        database = make_url(url).database if url.startswith("sqlite") else None
        writers = Path(f"{database}.writers.lock")
        self.group = GroupCommit(
            self.sessions,
            partial(file_lock, writers) if database not in (None, "", ":memory:") else None,
        )
        self._async_reads: AsyncReads | None = None

    @property
    def read_engine(self) -> Engine:
        """`make_read_engine`'s engine, made on first use (the API's hot reads)."""
        if self._read_engine is None:
            self._read_engine = make_read_engine(self.url)
        return self._read_engine

    @property
    def async_reads(self) -> AsyncReads | None:
        """Statements awaited on the event loop (`store.async_reads`), made on first use: on
        PostgreSQL only (None on SQLite, whose reads stay synchronous)."""
        if self._async_reads is None and make_url(self.url).get_backend_name() == "postgresql":
            from amanat.store.async_reads import AsyncReads  # psycopg: only for the API

            self._async_reads = AsyncReads(self.read_engine)
        return self._async_reads

    def session(self) -> Session:
        return self.sessions()
