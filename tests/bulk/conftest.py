"""Fixtures of the bulk tests: a small seeded sandbox, a client pointed at it, and the stores.

``make_store`` gives each store-taking test once per store: SQLite, JSON Lines and PostgreSQL.
The PostgreSQL server is started once per session (see ``_pgserver``); where no server binary
is installed its tests are skipped, except in CI (``CI`` or ``FLINKEY_REQUIRE_POSTGRES`` set),
where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flinkey_async import FlinkeyClient, RetryPolicy
from flinkey_async.sandbox import Sandbox
from flinkey_async.sync import JsonlStore, PostgresStore, SqliteStore

from ._pgserver import PgServer, binaries

FAST_RETRY = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, retry_after_cap=5)
"""Retries as in production, waits shortened so that fault tests stay quick."""

AnyStore = SqliteStore | JsonlStore | PostgresStore
StoreFactory = Callable[[], AnyStore]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(cars=60, seed=11, customers=2) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[FlinkeyClient]:
    async with FlinkeyClient(**sandbox.client_kwargs(), retry=FAST_RETRY) as c:
        yield c


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``condition`` on the running loop until it holds (fail after ``within`` seconds)."""
    async with asyncio.timeout(within):
        for _ in iter(int, 1):  # forever, until the timeout
            if condition():
                return
            await asyncio.sleep(0.002)


def _postgres_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("FLINKEY_REQUIRE_POSTGRES"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this session (skipped where none is installed, outside CI)."""
    missing = None
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        missing = "asyncpg is not installed (pip install -e '.[test]')"
    bindir = binaries()
    if bindir is None:
        missing = "no PostgreSQL server binaries (initdb) found; install Debian's postgresql"
    if missing is not None:
        if _postgres_required():
            pytest.fail(f"CI needs PostgreSQL: {missing}")
        pytest.skip(missing)
    assert bindir is not None
    server = PgServer(bindir)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        server.stop()
        if _postgres_required():
            pytest.fail(f"cannot start PostgreSQL: {exc}")
        pytest.skip(f"cannot start PostgreSQL: {exc}")
    yield server
    server.stop()


_schemas = itertools.count(1)


@pytest.fixture
def pg_schema(pg_server: PgServer) -> str:
    """A schema name of this test alone (tests share the server, not their tables)."""
    return f"t{os.getpid()}_{next(_schemas)}"


@pytest.fixture(params=["sqlite", "jsonl", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A factory of one store kind; every store it makes shares the same place."""
    if request.param == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        schema: str = request.getfixturevalue("pg_schema")

        def make_pg() -> AnyStore:
            return PostgresStore(server.dsn(), schema=schema)

        return make_pg

    def make() -> AnyStore:
        if request.param == "sqlite":
            return SqliteStore(tmp_path / "fleet.sqlite")
        return JsonlStore(tmp_path / "fleet-jsonl")

    return make


def store_kind(store: Any) -> str:
    return str(store.format)
