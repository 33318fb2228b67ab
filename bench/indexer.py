"""Chain indexer: indexing speed from scratch, and the cap table of a 100,000-holder token as of a
past block.

(a) A token with --holders holders (default 2,000) and --transfers compliant transfers (default
    20,000, sent with `amanat.services.tokens.transfer_batch`) on the embedded chain; then
    `Indexer.sync()` into a fresh SQLite store is timed (with --index-postgres, also into
    PostgreSQL). Goal: >= 5,000 events/s.
(b) The `holdings` table filled directly, as the indexer writes it: 100,000 holders of one token
    with 2-3 balance ranges each over 100,000 blocks (plus a 10,000-holder second token), then
    `queries.cap_table(session, token, past_block)` is timed (median of 3 after one cold run),
    checked against the expected holders. SQLite, and PostgreSQL when AMANAT_TEST_DATABASE_URL is
    set and psycopg imports (in a schema of its own, dropped afterwards). Goal: <= 1 s.

Last line: `index_events_per_s X cap_table_100k_sqlite_s Y cap_table_100k_postgres_s Z`
(n/a where PostgreSQL is not available).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from eth_utils import keccak, to_checksum_address
from holders import BenchPlatform, bond_with_holders
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.indexer import queries
from amanat.indexer.indexer import Indexer
from amanat.services import tokens
from amanat.services.platform import Bound, Platform
from amanat.store.db import Store
from amanat.store.models import ChainEvent, Holding, Token

POSTGRES_ENV = "AMANAT_TEST_DATABASE_URL"
BENCH_SCHEMA = "amanat_bench_indexer"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ (a) indexing


def build_chain(data_dir: Path, holders: int, transfers: int, batch: int) -> BenchPlatform:
    started = time.perf_counter()
    platform = BenchPlatform.open(Settings.resolve(str(data_dir)), require_deployment=False)
    token, names = bond_with_holders(platform, "PK0000IDXBN1", "IDXBENCH", holders)
    log(f"setup: {holders} holders onboarded and minted in {time.perf_counter() - started:.1f} s")
    send_transfers(platform, token, names, transfers, batch)
    return platform


def send_transfers(
    platform: Platform, token: Bound, names: list[str], count: int, batch: int
) -> None:
    started = time.perf_counter()
    rng = random.Random(11)
    plan = []
    for _ in range(count):
        sender, receiver = rng.sample(names, 2)
        plan.append((sender, token, receiver, rng.randint(1, 10)))
    settled = 0
    for start in range(0, count, batch):
        results = tokens.transfer_batch(platform, plan[start : start + batch])
        settled += sum(1 for r in results if r.get("settled"))
    if settled != count:
        raise SystemExit(f"only {settled} of {count} transfers settled")
    log(
        f"chain: {count} transfers in {time.perf_counter() - started:.1f} s; "
        f"head block {platform.chain.block_number()}"
    )


def time_indexing(platform: Platform, store: Store, label: str) -> float:
    indexer = Indexer(platform.chain, platform.manifest, store)
    started = time.perf_counter()
    events = indexer.sync()
    elapsed = time.perf_counter() - started
    with store.session() as session:
        stored = session.scalar(select(func.count()).select_from(ChainEvent))
        holders = session.scalar(
            select(func.count()).where(Holding.to_block.is_(None), Holding.balance > 0)
        )
        token = session.scalar(select(Token.address))
    assert stored == events, f"sync reported {events} events, {stored} stored"
    supply = platform.token(token).read("totalSupply")
    with store.session() as session:
        table = queries.cap_table(session, token)
    assert sum(b for _, b in table) == supply, "indexed cap table does not add up to the supply"
    log(
        f"index ({label}): {events} events, {holders} open holdings, in {elapsed:.2f} s "
        f"= {events / elapsed:,.0f} events/s"
    )
    return events / elapsed


# ------------------------------------------------------------- (b) cap table 100k

Row = tuple[str, str, int, int, int | None]  # token, holder, balance, from_block, to_block
HISTORY_BLOCKS = 100_000
PAST_BLOCK = HISTORY_BLOCKS // 2
BIG_TOKEN = to_checksum_address(keccak(text="bench token")[:20])
OTHER_TOKEN = to_checksum_address(keccak(text="other token")[:20])


def generate_holdings(token: str, holders: int, seed: int) -> list[Row]:
    """Rows as the indexer writes them: each holder's balance over 2-3 consecutive half-open
    ranges [from_block, to_block), the last one open (to_block NULL); about one holder in ten has
    sold out (last balance 0). Holders are checksummed addresses, like the indexer's."""
    rng = random.Random(seed)
    rows: list[Row] = []
    for _ in range(holders):
        holder = to_checksum_address(rng.randbytes(20))
        ranges = rng.choice((2, 3))
        starts = sorted(rng.sample(range(1, HISTORY_BLOCKS), ranges))
        for i, start in enumerate(starts):
            last = i == ranges - 1
            balance = 0 if last and rng.random() < 0.1 else rng.randint(1, 10**9)
            rows.append((token, holder, balance, start, None if last else starts[i + 1]))
    return rows


def expected_at(rows: list[Row], block: int) -> dict[str, int]:
    return {
        holder: balance
        for _, holder, balance, start, end in rows
        if start <= block and (end is None or end > block) and balance > 0
    }


def load_holdings(store: Store, rows: list[Row]) -> None:
    """Bulk load: the holdings indexes are dropped, the rows inserted in from_block order, as
    the indexer inserts them over time (COPY on PostgreSQL, one executemany on SQLite), and the
    same indexes created again, so the table ends up with the migration's schema."""
    columns = ("token", "holder", "balance", "from_block", "to_block")
    table = Holding.__table__
    with store.engine.begin() as connection:
        for index in table.indexes:
            index.drop(connection)
    if store.engine.dialect.name == "postgresql":
        raw = store.engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY holdings ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:
        with store.engine.begin() as connection:
            connection.execute(table.insert(), [dict(zip(columns, r, strict=True)) for r in rows])
    with store.engine.begin() as connection:
        for index in table.indexes:
            index.create(connection)
    store.engine.dispose()  # the timed queries run on fresh connections


def time_cap_table(store: Store, label: str, rows: list[Row], expected: dict[str, int]) -> float:
    """Median time of cap_table(big token, PAST_BLOCK) over 3 runs after a first one; the result
    is checked each time. Then the same after ANALYZE, for information."""
    started = time.perf_counter()
    with store.session() as session, session.begin():
        session.add(Token(address=BIG_TOKEN, asset_id=1, symbol="BIG", name="Big", created_block=1))
        session.add(
            Token(address=OTHER_TOKEN, asset_id=2, symbol="OTHER", name="Other", created_block=1)
        )
    load_holdings(store, rows)
    log(
        f"cap table ({label}): {len(rows):,} holding rows loaded in {time.perf_counter() - started:.1f} s"
    )

    def probe() -> float:
        with store.session() as session:
            began = time.perf_counter()
            table = queries.cap_table(session, BIG_TOKEN, PAST_BLOCK)
            elapsed = time.perf_counter() - began
        assert dict(table) == expected, "cap table as of the past block is wrong"
        assert [b for _, b in table] == sorted((b for _, b in table), reverse=True)
        return elapsed

    first = probe()
    median = statistics.median(probe() for _ in range(3))
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    analyzed = statistics.median(probe() for _ in range(3))
    log(
        f"cap table ({label}): {len(expected):,} holders as of block {PAST_BLOCK}: first run "
        f"{first:.3f} s, median {median:.3f} s; after ANALYZE median {analyzed:.3f} s"
    )
    return median


def postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        log(f"PostgreSQL: skipped ({POSTGRES_ENV} is not set)")
        return None
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        log(f"PostgreSQL: skipped (psycopg does not import: {exc})")
        return None
    return url


def postgres_bench_store(url: str) -> Store:
    """A store in a schema of its own, so the benchmark never touches the test data."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    engine.dispose()
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={BENCH_SCHEMA}"})
    return Store(scoped.render_as_string(hide_password=False))


def drop_postgres_bench(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=2_000)
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--cap-table-holders", type=int, default=100_000)
    parser.add_argument(
        "--index-postgres", action="store_true", help="also time the indexing into PostgreSQL"
    )
    args = parser.parse_args()
    pg = postgres_url()
    pg_figure = "n/a"
    with tempfile.TemporaryDirectory(prefix="amanat-bench-indexer-") as tmp:
        root = Path(tmp)
        data_dir = root / "chain"
        try:
            platform = build_chain(data_dir, args.holders, args.transfers, args.batch)
            events_per_s = time_indexing(
                platform, Store(f"sqlite:///{root / 'index.sqlite'}"), "sqlite"
            )
            if pg and args.index_postgres:
                try:
                    time_indexing(platform, postgres_bench_store(pg), "postgresql")
                finally:
                    drop_postgres_bench(pg)
        finally:
            AnvilNode(data_dir).stop()
        started = time.perf_counter()
        rows = generate_holdings(BIG_TOKEN, args.cap_table_holders, seed=1)
        expected = expected_at(rows, PAST_BLOCK)
        rows += generate_holdings(OTHER_TOKEN, args.cap_table_holders // 10, seed=2)
        rows.sort(key=lambda row: row[3])  # the indexer writes ranges as blocks go by
        log(
            f"cap table: {args.cap_table_holders:,} holders + {args.cap_table_holders // 10:,} of "
            f"another token, {len(rows):,} rows generated in {time.perf_counter() - started:.1f} s"
        )
        sqlite_s = time_cap_table(
            Store(f"sqlite:///{root / 'captable.sqlite'}"), "sqlite", rows, expected
        )
        if pg:
            try:
                pg_s = time_cap_table(postgres_bench_store(pg), "postgresql", rows, expected)
                pg_figure = f"{pg_s:.3f}"
            finally:
                drop_postgres_bench(pg)
    print(
        f"index_events_per_s {events_per_s:.0f} cap_table_100k_sqlite_s {sqlite_s:.3f} "
        f"cap_table_100k_postgres_s {pg_figure}"
    )


if __name__ == "__main__":
    main()
