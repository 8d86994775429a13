"""What only the PostgreSQL store has: a named schema, its version, DSNs that keep their secret.

The store's shared behaviour is tested with the others (``test_stores.py``, ``test_sync.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from flinkey_async import ValidationError
from flinkey_async.sync import PostgresStore, StoreError, Upsert, scrub_dsn
from flinkey_async.sync import _schema as schema

from ._pgserver import PASSWORD, PgServer

pytestmark = pytest.mark.postgres
asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra (asyncpg) is not installed")

CID = 7


async def test_tables_live_in_the_named_schema(pg_server: PgServer, pg_schema: str) -> None:
    async with PostgresStore(pg_server.dsn(), schema=pg_schema) as store:
        await store.begin_run(source="test", customer_ids=[CID])
        await store.write([Upsert("cars", CID, [(1, "a", None, "VIN1", None, None, None)])])
        await store.end_run("ok", {}, [])
    conn = await asyncpg.connect(pg_server.dsn())
    try:
        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                pg_schema,
            )
        }
        assert set(schema.TABLES) | {"sync_runs", "meta"} <= tables
        assert await conn.fetchval(f'SELECT name FROM "{pg_schema}".cars WHERE id = 1') == "a"
        assert await conn.fetchval("SELECT count(*) FROM information_schema.tables "
                                   "WHERE table_schema = 'public'") == 0  # fmt: skip
    finally:
        await conn.close()


async def test_a_newer_schema_version_is_refused(pg_server: PgServer, pg_schema: str) -> None:
    async with PostgresStore(pg_server.dsn(), schema=pg_schema):
        pass
    conn = await asyncpg.connect(pg_server.dsn())
    try:
        await conn.execute(f"UPDATE \"{pg_schema}\".meta SET value = '99'")
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="has store schema 99, this version writes 1"):
        await PostgresStore(pg_server.dsn(), schema=pg_schema).open()


def test_a_bad_schema_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="schema"):
        PostgresStore("postgresql://u@h/db", schema='x"; drop table cars; --')


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:pw@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgresql://u@h/db?password=pw&sslmode=require",
         "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgres://h/db", "postgres://h/db"),
        ("postgresql://u:p%40w@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
    ],
)  # fmt: skip
def test_a_dsn_is_shown_without_its_password(dsn: str, shown: str) -> None:
    assert scrub_dsn(dsn) == shown
    assert "pw" not in repr(PostgresStore(dsn)).replace("password", "")


@pytest.mark.parametrize("case", ["wrong password", "no such database", "no server", "not a url"])
async def test_a_connection_that_fails_is_one_line_without_the_password(
    pg_server: PgServer, case: str
) -> None:
    dsn = {
        "wrong password": pg_server.dsn(password=PASSWORD + "x"),
        "no such database": pg_server.dsn(database="nope"),
        "no server": f"postgresql://flinkey:{PASSWORD}@127.0.0.1:1/db",
        "not a url": f"postgresql://flinkey:{PASSWORD}@127.0.0.1:port/db",
    }[case]
    store = PostgresStore(dsn, connect_timeout=5)
    with pytest.raises(StoreError) as raised:
        await store.open()
    text = str(raised.value)
    assert text.startswith(f"cannot connect to {scrub_dsn(dsn)}: ")
    assert "\n" not in text
    assert PASSWORD not in text
    assert raised.value.__cause__ is None  # nothing that a traceback would print


async def test_a_run_whose_worker_died_is_abandoned_at_the_next_start(
    pg_server: PgServer, pg_schema: str
) -> None:
    store = PostgresStore(pg_server.dsn(), schema=pg_schema)
    await store.open()
    await store.begin_run(source="test", customer_ids=[CID])
    alive = PostgresStore(pg_server.dsn(), schema=pg_schema)
    await alive.open()  # the first worker still holds its run: not abandoned
    assert [r["status"] for r in await alive.rows("sync_runs")] == ["running"]
    await alive.close()
    store._conn.terminate()  # as if the process died: the connection ends, nothing else
    store._conn = None
    async with PostgresStore(pg_server.dsn(), schema=pg_schema) as again:
        runs: list[dict[str, Any]] = await again.rows("sync_runs")
    assert [r["status"] for r in runs] == ["abandoned"]
