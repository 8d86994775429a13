"""Rows per second into PostgreSQL next to SQLite, on the same sync (goal: PostgreSQL >= 0.8x).

One sync of a sandbox fleet (in this process, no latency) is recorded: every store operation
the job wrote, in order. The same operations are then written into a fresh SQLite file and a
fresh PostgreSQL schema, batched as the job batches them for each store (its ``batch_size``),
alternating which goes first, twice per round: the first pass inserts every row, the second
finds them all and updates their history (what a daily re-sync does). Rows per second = rows
in the operations / seconds spent in ``store.write``. The whole sync is also run into
each store, end to end, for the wall time a user sees (the API, not the store, bounds that).

Durability is alike on both sides: SQLite in WAL with ``synchronous=NORMAL`` (no fsync per
commit), PostgreSQL with fsync on and ``synchronous_commit=off``.

``python -m benchmarks.pg_rows [--cars N] [--rounds R] [--dsn postgresql://...]``: without
``--dsn`` (or FLINKEY_DATABASE_URL) a throwaway server is started with ``initdb`` (as the test
suite does); needs the ``postgres`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """A store that keeps every batch the job writes (and forwards it to an in-memory SQLite)."""

    def __init__(self) -> None:
        from flinkey_async.sync import SqliteStore

        self.inner = SqliteStore(":memory:")
        self.batches: list[list[Any]] = []
        self.format = "sqlite"
        self.batch_size = self.inner.batch_size

    @property
    def run_id(self) -> int | None:
        return self.inner.run_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, operations: Sequence[Any]) -> None:
        self.batches.append(list(operations))
        await self.inner.write(operations)


def rows_of(operations: list[Any]) -> int:
    return sum(len(getattr(op, "rows", getattr(op, "ids", ()))) for op in operations)


def batched(operations: list[Any], batch_size: int) -> list[list[Any]]:
    """The operations in batches as the job's writer makes them for a store of ``batch_size``."""
    batches: list[list[Any]] = []
    batch: list[Any] = []
    rows = 0
    for op in operations:
        batch.append(op)
        rows += len(getattr(op, "rows", ())) + 1 if hasattr(op, "rows") else 2
        if rows >= batch_size:
            batches.append(batch)
            batch, rows = [], 0
    if batch:
        batches.append(batch)
    return batches


async def record(cars: int) -> tuple[list[list[Any]], Any]:
    from flinkey_async import FlinkeyClient
    from flinkey_async.sandbox import Sandbox
    from flinkey_async.sync import SyncJob

    sandbox = Sandbox(cars=cars, seed=3, customers=2)
    await sandbox.__aenter__()
    recorder = Recorder()
    async with FlinkeyClient(**sandbox.client_kwargs()) as client:
        await recorder.inner.open()
        report = await SyncJob(client, recorder, customer_ids="all", concurrency=32).run()  # type: ignore[arg-type]
        await recorder.inner.close()
    assert report.ok, report.failures[:3]
    return recorder.batches, sandbox


async def replay(store: Any, operations: list[Any], passes: int = 2) -> list[float]:
    """Seconds spent in ``write`` per pass (each pass one run)."""
    seconds = []
    batches = batched(operations, store.batch_size)
    async with store:
        for _ in range(passes):
            await store.begin_run(source="bench", customer_ids=[])
            spent = 0.0
            for batch in batches:
                started = time.perf_counter()
                await store.write(batch)
                spent += time.perf_counter() - started
            await store.end_run("ok", {}, [])
            seconds.append(spent)
    return seconds


async def full_sync(sandbox: Any, store: Any) -> float:
    from flinkey_async import FlinkeyClient
    from flinkey_async.sync import SyncJob

    async with FlinkeyClient(**sandbox.client_kwargs()) as client, store:
        started = time.perf_counter()
        report = await SyncJob(client, store, customer_ids="all", concurrency=32).run()
        seconds = time.perf_counter() - started
    assert report.ok, report.failures[:3]
    return seconds


async def measure(dsn: str, cars: int, rounds: int) -> dict[str, Any]:
    from flinkey_async.sync import PostgresStore, SqliteStore

    batches, sandbox = await record(cars)
    operations = [op for batch in batches for op in batch]
    rows = rows_of(operations)
    results: dict[str, dict[str, list[float]]] = {
        kind: {"insert": [], "update": [], "sync": []} for kind in ("sqlite", "postgresql")
    }
    with tempfile.TemporaryDirectory() as directory:
        for r in range(rounds):
            order = ["sqlite", "postgresql"] if r % 2 == 0 else ["postgresql", "sqlite"]
            for kind in order:

                def store(tag: str, kind: str = kind, r: int = r) -> Any:
                    if kind == "sqlite":
                        return SqliteStore(Path(directory) / f"{tag}{r}.sqlite")
                    return PostgresStore(dsn, schema=f"bench_{tag}{r}_{os.getpid()}")

                insert, update = await replay(store("replay"), operations)
                results[kind]["insert"].append(rows / insert)
                results[kind]["update"].append(rows / update)
                results[kind]["sync"].append(await full_sync(sandbox, store("sync")))
    await sandbox.__aexit__(None, None, None)
    median = {k: {m: statistics.median(v) for m, v in d.items()} for k, d in results.items()}
    pg, lite = median["postgresql"], median["sqlite"]
    return {
        "cars": cars * 2,
        "rows_per_sync": rows,
        "batch_size": {
            "sqlite": SqliteStore(":memory:").batch_size,
            "postgresql": PostgresStore("postgresql://x").batch_size,
        },
        "rounds": rounds,
        "rows_per_second": {
            k: {"insert": round(v["insert"]), "update": round(v["update"])}
            for k, v in median.items()
        },
        "ratio_postgresql_to_sqlite": {
            "insert": round(pg["insert"] / lite["insert"], 2),
            "update": round(pg["update"] / lite["update"], 2),
        },
        "full_sync_seconds": {k: round(v["sync"], 2) for k, v in median.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cars", type=int, default=2000, help="cars per customer (2 customers)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dsn", default=os.environ.get("FLINKEY_DATABASE_URL"))
    args = parser.parse_args(argv)
    server = None
    dsn = args.dsn
    if not dsn:
        sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "bulk")]
        from _pgserver import PgServer, binaries  # type: ignore[import-not-found]

        bindir = binaries()
        if bindir is None:
            print("no PostgreSQL server binaries (initdb): pass --dsn", file=sys.stderr)
            return 2
        server = PgServer(bindir)
        server.start(durable=True)
        dsn = server.dsn(socket=True)  # SQLite is in the process: the nearest way to the server
    try:
        result = asyncio.run(measure(dsn, args.cars, args.rounds))
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
