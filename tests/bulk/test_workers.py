"""Several workers, one sync: each customer of a run synced by exactly one worker, a dead
worker's customer finished by another, and N workers giving the tables one worker gives.

Workers here are separate stores (each its own connection, as separate processes would have)
and separate clients on one event loop; ``test_pg_faults.py`` kills real processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flinkey_async import FlinkeyClient
from flinkey_async.sandbox import Sandbox
from flinkey_async.sync import PostgresStore, SyncJob, SyncReport
from flinkey_async.sync import _schema as schema

from . import _truth as truth
from ._pgserver import PgServer
from .conftest import FAST_RETRY, wait_until

pytestmark = pytest.mark.postgres
asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra (asyncpg) is not installed")


@pytest.fixture
async def big() -> AsyncIterator[Sandbox]:
    """2,000 cars of two customers."""
    async with Sandbox(cars=1000, seed=21, customers=2) as sb:
        yield sb


@pytest.fixture
async def medium() -> AsyncIterator[Sandbox]:
    async with Sandbox(cars=200, seed=22, customers=2) as sb:
        yield sb


async def worker(
    sandbox: Sandbox, dsn: str, schema_name: str, customers: Any = "all", **options: Any
) -> SyncReport:
    """One worker: its own client and its own store (connection)."""
    async with (
        FlinkeyClient(**sandbox.client_kwargs(), retry=FAST_RETRY) as client,
        PostgresStore(dsn, schema=schema_name) as store,
    ):
        return await SyncJob(
            client, store, customer_ids=customers, concurrency=16, retry_delay=0.01, **options
        ).run()


async def differences(dsn: str, a: str, b: str) -> dict[str, tuple[int, int]]:
    """Per table: rows only in ``a``, rows only in ``b`` (EXCEPT both ways, history aside but
    whether a row is alive)."""
    conn = await asyncpg.connect(dsn)
    out = {}
    try:
        for name, table in schema.TABLES.items():
            columns = ", ".join(
                [*table.primary_key, *table.data, "(deleted_in_run IS NULL) AS alive"]
            )
            only_a, only_b = [
                await conn.fetchval(
                    f'SELECT count(*) FROM (SELECT {columns} FROM "{x}".{name} '
                    f'EXCEPT SELECT {columns} FROM "{y}".{name}) AS d'
                )
                for x, y in ((a, b), (b, a))
            ]
            total = await conn.fetchval(f'SELECT count(*) FROM "{a}".{name}')
            assert total > 0 or name == "customers" or name.startswith("group_s"), name
            if only_a or only_b:
                out[name] = (only_a, only_b)
    finally:
        await conn.close()
    return out


async def fetch(dsn: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


@pytest.mark.slow
@pytest.mark.timeout(600)  # six syncs of 2,000 cars: minutes on a busy machine
async def test_two_workers_share_a_run_and_give_the_tables_one_worker_gives(
    pg_server: PgServer, big: Sandbox
) -> None:
    dsn, two, one = pg_server.dsn(), "workers_two", "workers_one"
    reports = await asyncio.gather(worker(big, dsn, two), worker(big, dsn, two))
    assert {r.run_id for r in reports} == {1}  # the second worker joined the first one's run
    assert all(r.status == "ok" for r in reports)
    (single,) = [await worker(big, dsn, one)]
    assert single.ok
    assert await differences(dsn, two, one) == {}

    # Each customer was claimed by exactly one worker, and each worker had one.
    claims = await fetch(
        dsn, f"SELECT customer_id, state, worker_id FROM {two}.run_customers WHERE run_id = 1"
    )
    assert sorted(r["customer_id"] for r in claims) == big.customer_ids
    assert {r["state"] for r in claims} == {"done"}
    assert len({r["worker_id"] for r in claims}) == 2
    parts = await fetch(dsn, f"SELECT customers_json FROM {two}.run_workers ORDER BY id")
    taken = [json.loads(p["customers_json"]) for p in parts]
    assert sorted(cid for part in taken for cid in part) == big.customer_ids
    runs = await fetch(dsn, f"SELECT status, counts_json FROM {two}.sync_runs")
    assert [r["status"] for r in runs] == ["ok"]
    counts = json.loads(runs[0]["counts_json"])
    assert counts["requests"] == sum(r.requests for r in reports)

    # The fleet changes upstream; two workers and one worker bring their copies up to date.
    state = big.state
    for cid in big.customer_ids:
        cars = state.cars(cid)
        state.update_car(cid, cars[0].id, name="renamed upstream")
        for product in state.products_of_car(cid, cars[1].id):
            state.unassign_product(cid, product.id)
        state.delete_car(cid, cars[1].id)
        state.add_car(cid, "new upstream")
    again = await asyncio.gather(worker(big, dsn, two), worker(big, dsn, two))
    assert {r.run_id for r in again} == {2}
    assert (await worker(big, dsn, one)).ok
    assert await differences(dsn, two, one) == {}
    rows = {name: await PostgresRows(dsn, two).rows(name) for name in schema.TABLES}
    for cid in big.customer_ids:
        expected = truth.from_state(state, cid)
        assert truth.differences(expected, truth.from_store(rows, cid)) == {}


class PostgresRows:
    """The rows of a schema as the stores give them (for the ground-truth comparison)."""

    def __init__(self, dsn: str, schema_name: str) -> None:
        self.store = PostgresStore(dsn, schema=schema_name)

    async def rows(self, table: str) -> list[dict[str, Any]]:
        async with self.store:
            return await self.store.rows(table)


async def test_a_dead_workers_customer_is_finished_by_another(
    pg_server: PgServer, medium: Sandbox, pg_schema: str
) -> None:
    dsn = pg_server.dsn()
    medium.faults.set(latency=0.002)
    async with (
        FlinkeyClient(**medium.client_kwargs(), retry=FAST_RETRY) as client,
        PostgresStore(dsn, schema=pg_schema) as doomed,
    ):
        job = SyncJob(client, doomed, customer_ids="all", concurrency=8)
        task = asyncio.create_task(job.run())
        await wait_until(lambda: job.progress.entities.get("car_products", 0) >= 30, within=60)
        # The worker's process dies: its connection ends without a word, its locks with it.
        doomed._conn.terminate()
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the dying worker sees
            await task
    medium.faults.clear()
    survivor = await worker(medium, dsn, pg_schema)
    assert survivor.ok
    runs = await fetch(dsn, f"SELECT id, status FROM {pg_schema}.sync_runs ORDER BY id")
    assert [(r["id"], r["status"]) for r in runs] == [(1, "abandoned"), (2, "ok")]
    rows = {name: await PostgresRows(dsn, pg_schema).rows(name) for name in schema.TABLES}
    for cid in medium.customer_ids:
        assert (
            truth.differences(truth.from_state(medium.state, cid), truth.from_store(rows, cid))
            == {}
        )


async def test_a_sync_of_a_customer_another_run_is_syncing_waits_for_it(
    pg_server: PgServer, medium: Sandbox, pg_schema: str
) -> None:
    dsn, (first, second) = pg_server.dsn(), medium.customer_ids
    # Two runs (different customer lists): both want customer ``first`` first.
    both, alone = await asyncio.gather(
        worker(medium, dsn, pg_schema, [first, second]), worker(medium, dsn, pg_schema, [first])
    )
    assert both.ok
    assert alone.ok
    assert both.run_id != alone.run_id
    claims = await fetch(
        dsn, f"SELECT run_id, customer_id, state FROM {pg_schema}.run_customers ORDER BY 1, 2"
    )
    # Each run synced the customer, or (the older run, once the newer one had started it)
    # skipped it: never back in time.
    older = min(both.run_id, alone.run_id)
    for claim in claims:
        assert claim["state"] in (("done", "skipped") if claim["run_id"] == older else ("done",))
    rows = {name: await PostgresRows(dsn, pg_schema).rows(name) for name in schema.TABLES}
    for cid in (first, second):
        assert (
            truth.differences(truth.from_state(medium.state, cid), truth.from_store(rows, cid))
            == {}
        )
    newest = await fetch(dsn, f"SELECT customer_id, run_id FROM {pg_schema}.customer_runs")
    assert {r["customer_id"]: r["run_id"] for r in newest}[first] == max(both.run_id, alone.run_id)
