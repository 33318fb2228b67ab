"""The API over a real embedded chain: one platform per store backend for the whole session.

The platform is opened in a temporary data directory, the pilot scenario is played on it
(`demo.load`), the pilot users are created and the index is brought up to date; the app is then
driven in-process with FastAPI's TestClient. Each backend's platform is opened once per session
(per xdist worker) and shared by every module, whichever order they run in. The store is SQLite and, when
AMANAT_TEST_DATABASE_URL is set, also PostgreSQL (its `public` schema is dropped and recreated
first, so point it at a database for tests only). The node is stopped at teardown.

Pilot passwords are hashed with cheap argon2 parameters here (sign-in costs ~10 ms instead of
~0.5 s); the hashing itself is what accounts.py configures in production.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from amanat import demo
from amanat.api.app import create_app
from amanat.chain.node import AnvilNode
from amanat.config import Settings
from amanat.indexer.indexer import Indexer
from amanat.services import accounts, pilot
from amanat.services.platform import Platform
from tests.suite_plugin import database_beside

DATABASE_ENV = "AMANAT_TEST_DATABASE_URL"

# The user signed in for each role (institution: Indus National Bank, wallet key "inb").
ROLE_USERS = {
    "issuer": "treasury",
    "approver": "approver-1",
    "registrar": "registrar",
    "valuer": "valuer",
    "agent": "enforcement",
    "auditor": "auditor",
    "regulator": "regulator",
    "institution": "inb",
}
ROLES = ["public", *ROLE_USERS]


@dataclass
class Api:
    platform: Platform
    app: FastAPI
    client: TestClient
    backend: str
    tokens: dict[str, str] = field(default_factory=dict)  # username -> bearer token

    def sign_in(self, username: str) -> str:
        if username not in self.tokens:
            reply = self.client.post(
                "/auth/token",
                json={"username": username, "password": pilot.pilot_password(username)},
            )
            assert reply.status_code == 200, reply.text
            self.tokens[username] = reply.json()["access_token"]
        return self.tokens[username]

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        """Headers of a request by a role ('public': none) or a username."""
        if who is None or who == "public":
            return dict(extra)
        username = ROLE_USERS.get(who, who)
        return {"Authorization": f"Bearer {self.sign_in(username)}", **extra}

    def get(self, path: str, who: str | None, **params: Any) -> Any:
        return self.client.get(path, headers=self.headers(who), params=params or None)

    def post(self, path: str, who: str | None, key: str | None = None, **kwargs: Any) -> Any:
        headers = self.headers(who, **({"Idempotency-Key": key} if key else {}))
        return self.client.post(path, headers=headers, **kwargs)

    def address(self, key_name: str) -> str:
        return self.platform.address_of(key_name)

    def sync(self) -> None:
        """Bring the index up to the chain head (the server does this in the background)."""
        Indexer(self.platform.chain, self.platform.manifest, self.platform.store).sync()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(
            not os.environ.get(DATABASE_ENV), reason=f"{DATABASE_ENV} is not set"
        ),
    ),
]


def open_api(data_dir: Path, backend: str) -> tuple[Platform, FastAPI]:
    database_url = None
    if backend == "postgresql":
        # its own database: the platform is kept for the worker's whole session (`ApiPool`),
        # while other tests reset the worker's database for their own platforms
        database_url = database_beside(os.environ[DATABASE_ENV], "api")
        _reset_postgres(database_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    platform = Platform.open(
        Settings(data_dir, database_url=database_url), require_deployment=False
    )
    demo.load(platform, lambda _line: None)
    pilot.create_pilot_users(platform)
    Indexer(platform.chain, platform.manifest, platform.store).sync()
    return platform, create_app(platform)


class ApiPool:
    """The API of each backend, opened the first time a test asks for it and kept open until the
    session ends (its node stopped then)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, stack: ExitStack) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._stack = stack
        self._opened: dict[str, Api] = {}

    def get(self, backend: str) -> Api:
        if backend not in self._opened:
            data_dir = self._tmp_path_factory.mktemp(f"api-{backend}") / "data"
            self._stack.callback(AnvilNode(data_dir).stop)
            platform, app = open_api(data_dir, backend)
            client = self._stack.enter_context(TestClient(app))
            self._opened[backend] = Api(platform, app, client, backend)
        return self._opened[backend]


@pytest.fixture(scope="session")
def api_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiPool]:
    """pytest keeps one value of a parametrized session fixture at a time: `api` alone would be
    torn down and opened again (the whole pilot scenario) at every switch between its backends,
    twice per module when xdist hands out one module at a time. Kept here, each worker opens
    each backend once, as a single-process run does."""
    with ExitStack() as stack:
        yield ApiPool(tmp_path_factory, stack)


@pytest.fixture(scope="session", params=BACKENDS)
def api(request: pytest.FixtureRequest, api_pool: ApiPool) -> Iterator[Api]:
    hasher = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield api_pool.get(request.param)
    finally:
        accounts._hasher = hasher
