"""Fixtures of the chain-indexer tests: real anvil chains indexed into SQLite and PostgreSQL.

- `store` / `new_store`: parametrized over the backends. SQLite always (a file in tmp_path);
  PostgreSQL when AMANAT_TEST_DATABASE_URL is set and psycopg imports, otherwise that parameter
  is skipped with the reason. On PostgreSQL every new store starts from an empty database (the
  `public` schema is dropped and recreated, then `Store` migrates it), so tests are independent.
- `demo`: the pilot scenario (`amanat.demo.run`) once per session, its node left running for the
  tests to read; the tests never write to that chain. Stopped at the end of the session.
- `small_chain`: a fresh embedded chain per test with one token and a few holders, for tests
  that make the chain move (reorganisations). Its node is stopped at teardown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from amanat import demo as demo_scenario
from amanat.chain.client import Chain
from amanat.chain.deploy import Manifest
from amanat.chain.node import AnvilNode
from amanat.chain.signing import sign_legacy
from amanat.config import Settings
from amanat.domain.assets import AssetClass, AssetStatus
from amanat.domain.identity import COUNTRY_CODES, InvestorCategory
from amanat.domain.rules import TokenRules
from amanat.indexer.indexer import CURSOR, KINDS, Indexer
from amanat.services import assets, governance, identities, tokens
from amanat.services.platform import Bound, Platform
from amanat.store.db import Store
from amanat.store.models import ChainEvent, Holding, IndexedBlock, IndexerState, Token

POSTGRES_ENV = "AMANAT_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]
OFFICIALS = ["official-1", "official-2"]
ZERO = "0x" + "00" * 20

# ------------------------------------------------------------------ stores


def postgres_url() -> str:
    """The PostgreSQL test URL, or skip the PostgreSQL parameter saying why."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"PostgreSQL not configured: set {POSTGRES_ENV} "
            "(e.g. postgresql+psycopg://amanat:amanat@127.0.0.1:5432/amanat_test)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"PostgreSQL parameter skipped: psycopg does not import ({exc})")
    return url


def reset_postgres(url: str) -> None:
    """Empty the test database: drop and recreate the public schema."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


class StoreFactory:
    """Each call gives a new, empty, migrated store of one backend.

    SQLite: a new file each time. PostgreSQL: the same test database emptied again, so a
    store from an earlier call is gone (take what you need from it first)."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self.stores: list[Store] = []
        self.url = postgres_url() if backend == "postgresql" else None

    def __call__(self) -> Store:
        for store in self.stores:
            store.engine.dispose()
        if self.url is None:
            url = f"sqlite:///{self.directory / f'index-{len(self.stores)}.sqlite'}"
        else:
            reset_postgres(self.url)
            url = self.url
        store = Store(url)
        self.stores.append(store)
        return store

    def close(self) -> None:
        for store in self.stores:
            store.engine.dispose()


@pytest.fixture(params=BACKENDS)
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    factory = StoreFactory(request.param, tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def store(new_store: StoreFactory) -> Store:
    return new_store()


# ------------------------------------------------------------------ chains


@dataclass
class ChainUnderTest:
    data_dir: Path
    platform: Platform

    @property
    def chain(self) -> Chain:
        return self.platform.chain

    @property
    def manifest(self) -> Manifest:
        return self.platform.manifest

    def indexer(self, store: Store, confirmations: int = 0) -> Indexer:
        return Indexer(self.chain, self.manifest, store, confirmations=confirmations)

    def token(self, symbol: str) -> Bound:
        return tokens.resolve(self.platform, symbol)

    def tokens(self) -> list[Bound]:
        return tokens.all_tokens(self.platform)

    def address(self, name: str) -> str:
        return self.platform.address_of(name)

    def head(self) -> int:
        return self.chain.block_number()

    def amanat_logs(self, to_block: int | None = None) -> list[dict[str, Any]]:
        """Every log emitted by the deployment's contracts and its tokens, in chain order."""
        addresses = {self.manifest.address(k).lower() for k in KINDS}
        addresses |= {t.address.lower() for t in self.tokens()}
        logs = self.chain.get_logs(
            [],
            None,
            from_block=self.manifest.deployed_block,
            to_block=self.head() if to_block is None else to_block,
        )
        return [log for log in logs if log["address"].lower() in addresses]

    def balances(self, token: Bound, block: int | str = "latest") -> dict[str, int]:
        """Positive balances at `block`, read with balanceOf for every wallet that ever held."""
        wallets: set[str] = set()
        event = token.abi.events["Transfer"]
        for log in self.chain.get_logs(
            [token.address],
            ["0x" + event.topic.hex()],
            from_block=self.manifest.deployed_block,
            to_block=block,
        ):
            decoded = event.decode(
                [bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:])
            )
            wallets |= {decoded["sender"], decoded["receiver"]}
        wallets.discard(ZERO)
        found = {w: token.read("balanceOf", w, block=block) for w in wallets}
        return {w: b for w, b in found.items() if b > 0}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainUnderTest]:
    """The pilot scenario's chain (3 assets and tokens, mints, transfers, pause, a forced transfer
    with evidence, a freeze, a 91-day clock jump); read only by the tests."""
    data_dir = tmp_path_factory.mktemp("indexer-demo") / "data"
    try:
        summary = demo_scenario.run(data_dir, echo=lambda _line: None, keep_running=True)
        assert summary["blocks"] > 0
        platform = Platform.open(Settings.resolve(str(data_dir)))
        yield ChainUnderTest(data_dir, platform)
    finally:
        AnvilNode(data_dir).stop()


HOLDERS = ["holder-a", "holder-b", "holder-c", "holder-d"]


def build_small_chain(data_dir: Path) -> ChainUnderTest:
    """Deploy, register and approve one asset, tokenize it as SMALL (banks only), onboard four
    PK banks and mint 1,000 to holder-a and 500 to holder-b."""
    platform = Platform.open(Settings.resolve(str(data_dir)), require_deployment=False)
    platform.deploy_development()
    asset_id = assets.register(
        platform,
        "issuer",
        AssetClass.BOND,
        "PK0000SMALL1",
        "Small test bond",
        "Ministry of Finance",
        "Test authorisation",
        "0x" + "22" * 32,
        10**9,
    )
    governance.govern(
        platform,
        OFFICIALS,
        platform.contract("AssetRegistry"),
        "setStatus",
        [asset_id, int(AssetStatus.APPROVED)],
        advance_clock=True,
    )
    rules = TokenRules(eligible_categories=frozenset({InvestorCategory.BANK}))
    governance.govern(
        platform,
        OFFICIALS,
        platform.contract("TokenFactory"),
        "createToken",
        tokens.tokenize_args(asset_id, "Small bond", "SMALL", 0, rules),
        advance_clock=True,
    )
    token = tokens.token_for_asset(platform, asset_id)
    expiry = platform.chain.block_timestamp() + 365 * 86400
    for name in HOLDERS:
        identities.onboard(
            platform,
            "registrar",
            name,
            {"name": name},
            COUNTRY_CODES["PK"],
            InvestorCategory.BANK,
            expiry,
            [name],
        )
    governance.govern(
        platform,
        OFFICIALS,
        token,
        "batchMint",
        [[platform.address_of("holder-a"), platform.address_of("holder-b")], [1_000, 500]],
        advance_clock=True,
    )
    return ChainUnderTest(data_dir, platform)


@pytest.fixture
def small_chain(tmp_path: Path) -> Iterator[ChainUnderTest]:
    data_dir = tmp_path / "chain"
    try:
        yield build_small_chain(data_dir)
    finally:
        AnvilNode(data_dir).stop()


# ------------------------------------------------- raw chain control (reorganisations)


def raw_transfer(
    under: ChainUnderTest, holder: str, token: Bound, receiver: str, amount: int
) -> str:
    """Send a token transfer straight to the node (eth_sendRawTransaction), outside Amanat's
    journal, so that blocks can later be abandoned with evm_revert. Not mined here."""
    signer = under.platform.signer(holder)
    rpc = under.chain.rpc
    nonce = int(rpc.call("eth_getTransactionCount", [signer.address, "pending"]), 16)
    raw = sign_legacy(
        bytes(signer.key),
        nonce=nonce,
        gas_price=0,
        gas=tokens.TRANSFER_GAS_LIMIT,
        to=bytes.fromhex(token.address[2:]),
        value=0,
        data=token.encode("transfer", under.address(receiver), amount),
        chain_id=under.chain.chain_id,
    )
    return str(rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()]))


def mine(under: ChainUnderTest, gap: int = 1) -> int:
    """Mine one block `gap` seconds after the latest; returns its number. Fails if a pending
    transaction reverted."""
    rpc = under.chain.rpc
    rpc.call("evm_mine", [{"timestamp": under.chain.block_timestamp() + gap}])
    block = rpc.call("eth_getBlockByNumber", ["latest", False])
    for tx_hash in block["transactions"]:
        receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
        assert receipt["status"] == "0x1", f"transaction {tx_hash} reverted"
    return int(block["number"], 16)


# ------------------------------------------------------------------ index content


def index_content(store: Store, with_blocks: bool = False) -> dict[str, Any]:
    """Everything the indexer wrote, in a canonical form (holding row ids left out)."""
    with store.session() as session:
        events = [
            (
                e.block,
                e.log_index,
                e.tx_hash,
                e.contract,
                e.contract_kind,
                e.event,
                e.asset_id,
                e.wallet,
                e.timestamp,
                e.args,
            )
            for e in session.scalars(
                select(ChainEvent).order_by(ChainEvent.block, ChainEvent.log_index)
            )
        ]
        holdings = sorted(
            (tuple(r) for r in session.execute(
                select(
                    Holding.token, Holding.holder, Holding.balance, Holding.from_block,
                    Holding.to_block,
                )
            )),
            key=repr,
        )  # fmt: skip
        token_rows = sorted(
            (t.address, t.asset_id, t.symbol, t.name, t.created_block)
            for t in session.scalars(select(Token))
        )
        state = session.get(IndexerState, CURSOR)
        content: dict[str, Any] = {
            "events": events,
            "holdings": holdings,
            "tokens": token_rows,
            "cursor": state.block if state else None,
        }
        blocks = {b.number: (b.hash, b.timestamp) for b in session.scalars(select(IndexedBlock))}
        if with_blocks:
            content["blocks"] = blocks
        else:
            # Cursor blocks depend on how the work was split into batches; the blocks that carry
            # events do not.
            event_blocks = {e[0] for e in events}
            content["event_blocks"] = {n: v for n, v in blocks.items() if n in event_blocks}
        return content


def full_index(under: ChainUnderTest, new_store: Callable[[], Store]) -> dict[str, Any]:
    """The content of a single from-scratch sync of the chain as it is now."""
    store = new_store()
    under.indexer(store).sync()
    return index_content(store)
