"""The stores (SQLite, JSON Lines, PostgreSQL), driven directly with model rows (no API).

Tests that take ``make_store`` or ``opened`` run once per store (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flinkey_async import Car, Location, Product, ProductType, Service, User, UserData
from flinkey_async.sync import (
    JsonlStore,
    MarkDeleted,
    ReplaceSet,
    SqliteStore,
    StoreBusyError,
    StoreError,
    Upsert,
)
from flinkey_async.sync import _schema as schema

from .conftest import AnyStore as Store

CID = 7


def car(car_id: int, name: str | None = None) -> Car:
    return Car(car_id, name or f"car {car_id}", vin=f"VIN{car_id:05d}", license_plate=None)


def product(product_id: int) -> Product:
    return Product(
        product_id, f"U{product_id}", f"S{product_id}", "SAP-1", ProductType.BOX,
        datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
    )  # fmt: skip


def upsert_cars(*cars: Car) -> Upsert:
    return Upsert("cars", CID, [schema.car_row(c) for c in cars])


def car_products(car_id: int, *product_ids: int) -> ReplaceSet:
    return ReplaceSet("car_products", CID, car_id, [(car_id, p) for p in product_ids])


async def run(store: Store, *batches: list[Any], vanish: tuple[str, ...] = ()) -> int:
    run_id = await store.begin_run(source="test", customer_ids=[CID])
    for batch in batches:
        await store.write(batch)
    for table in vanish:
        await store.mark_vanished(table, CID)
    await store.end_run("ok", {"note": "test"}, [])
    return run_id


async def rows(store: Store, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    spec = schema.TABLES[table]
    return {tuple(r[k] for k in spec.primary_key): r for r in await store.rows(table)}


@pytest.fixture
async def opened(make_store: Any) -> AsyncIterator[Store]:
    async with make_store() as store:
        yield store


async def test_upserts_never_duplicate_and_record_history(make_store: Any) -> None:
    async with make_store() as store:
        first = await run(store, [upsert_cars(car(1), car(2))], [upsert_cars(car(1))])
        second = await run(store, [upsert_cars(car(1), car(2, "renamed"))])
        cars = await rows(store, "cars")
    assert set(cars) == {(CID, 1), (CID, 2)}
    one, two = cars[(CID, 1)], cars[(CID, 2)]
    assert (one["first_seen_run"], one["last_seen_run"], one["updated_in_run"]) == (
        first,
        second,
        first,
    )
    assert two["name"] == "renamed"
    assert two["updated_in_run"] == second
    assert one["deleted_in_run"] is None
    assert one["vin"] == "VIN00001"
    assert one["license_plate"] is None


async def test_rows_are_kept_per_customer(opened: Store) -> None:
    await opened.begin_run(source="test", customer_ids=[CID, CID + 1])
    await opened.write([upsert_cars(car(1)), Upsert("cars", CID + 1, [schema.car_row(car(1))])])
    await opened.mark_vanished("cars", CID + 1)
    await opened.end_run("ok", {}, [])
    assert len(await opened.rows("cars")) == 2


async def test_vanished_rows_are_marked_with_their_owned_sets(make_store: Any) -> None:
    async with make_store() as store:
        await run(
            store,
            [upsert_cars(car(1), car(2)), car_products(1, 10), car_products(2, 20)],
            vanish=("cars",),
        )
        second = await run(store, [upsert_cars(car(1)), car_products(1, 10)], vanish=("cars",))
        cars = await rows(store, "cars")
        links = await rows(store, "car_products")
        changes = None
        third = await store.begin_run(source="test", customer_ids=[CID])
        await store.write([upsert_cars(car(1), car(2)), car_products(2, 20)])
        changes = await store.run_changes([CID])
        await store.end_run("ok", {}, [])
        revived = await rows(store, "cars")
        revived_links = await rows(store, "car_products")
    assert cars[(CID, 2)]["deleted_in_run"] == second
    assert cars[(CID, 1)]["deleted_in_run"] is None
    assert links[(CID, 2, 20)]["deleted_in_run"] == second  # the car's products went with it
    assert links[(CID, 1, 10)]["deleted_in_run"] is None
    # Back upstream: alive again, counted as updated in the run that saw it back.
    assert revived[(CID, 2)]["deleted_in_run"] is None
    assert revived[(CID, 2)]["updated_in_run"] == third
    assert revived_links[(CID, 2, 20)]["deleted_in_run"] is None
    assert changes["cars"] == {"alive": 2, "seen": 2, "new": 0, "updated": 1, "deleted": 0}


async def test_a_set_is_replaced_per_parent(opened: Store) -> None:
    run1 = await run(opened, [upsert_cars(car(1), car(2)), car_products(1, 10, 11),
                              car_products(2, 20)])  # fmt: skip
    run2 = await run(opened, [car_products(1, 11, 12)])
    links = await rows(opened, "car_products")
    assert links[(CID, 1, 10)]["deleted_in_run"] == run2
    assert links[(CID, 1, 11)]["deleted_in_run"] is None
    assert links[(CID, 1, 12)]["first_seen_run"] == run2
    # Car 2 was not fetched in run 2: its set is left as it was.
    assert links[(CID, 2, 20)]["deleted_in_run"] is None
    assert links[(CID, 2, 20)]["last_seen_run"] == run1
    run3 = await run(opened, [car_products(1)])
    links = await rows(opened, "car_products")
    gone = {k for k, r in links.items() if r["deleted_in_run"] == run3}
    assert gone == {(CID, 1, 11), (CID, 1, 12)}


async def test_a_large_set_is_replaced_too(opened: Store) -> None:
    members = [(1, i) for i in range(1, 1201)]
    await run(opened, [ReplaceSet("group_cars", CID, 1, members)])
    run2 = await run(opened, [ReplaceSet("group_cars", CID, 1, members[:-1])])
    links = await rows(opened, "group_cars")
    assert [k for k, r in links.items() if r["deleted_in_run"] == run2] == [(CID, 1, 1200)]


async def test_location_is_a_one_row_set(opened: Store) -> None:
    where = Location(50.1, 8.6, datetime(2024, 5, 1, 12, tzinfo=UTC), None, 12345.5)
    await run(opened, [ReplaceSet("locations", CID, 1, [schema.location_row(1, where)])])
    row = (await rows(opened, "locations"))[(CID, 1)]
    assert (row["latitude"], row["longitude"], row["odometer"]) == (50.1, 8.6, 12345.5)
    assert row["date"] == "2024-05-01T12:00:00Z"
    gone = await run(opened, [ReplaceSet("locations", CID, 1, [])])
    assert (await rows(opened, "locations"))[(CID, 1)]["deleted_in_run"] == gone


async def test_users_and_services_are_flattened(opened: Store) -> None:
    user = User(3, "a@example.test", UserData("Ada", None))
    service = Service(4, "flinkey Go", True, datetime(2025, 1, 1, tzinfo=UTC), "ended")
    await run(opened, [Upsert("users", CID, [schema.user_row(user)]),
                       Upsert("services", CID, [schema.service_row(service)]),
                       Upsert("products", CID, [schema.product_row(product(5))])])  # fmt: skip
    assert (await rows(opened, "users"))[(CID, 3)]["first_name"] == "Ada"
    stored = (await rows(opened, "services"))[(CID, 4)]
    assert (stored["is_terminated"], stored["termination_date"]) == (1, "2025-01-01T00:00:00Z")
    stored_product = (await rows(opened, "products"))[(CID, 5)]
    assert stored_product["type"] == "flinkey Box"
    assert stored_product["dongle_termination_time_stamp"] == "2030-01-02T03:04:05Z"


async def test_mark_deleted_cascades(opened: Store) -> None:
    await run(
        opened, [Upsert("groups", CID, [(9, "g")]), ReplaceSet("group_users", CID, 9, [(9, 1)])]
    )
    gone = await run(opened, [MarkDeleted("groups", CID, [9])])
    assert (await rows(opened, "groups"))[(CID, 9)]["deleted_in_run"] == gone
    assert (await rows(opened, "group_users"))[(CID, 9, 1)]["deleted_in_run"] == gone


async def test_unseen_ids_are_the_deletion_candidates(opened: Store) -> None:
    await run(opened, [upsert_cars(car(1), car(2), car(3))])
    await opened.begin_run(source="test", customer_ids=[CID])
    await opened.write([upsert_cars(car(2))])
    assert await opened.unseen_ids("cars", CID) == [1, 3]
    await opened.end_run("ok", {}, [])


async def test_sync_runs_record_every_run(make_store: Any) -> None:
    async with make_store() as store:
        await run(store, [upsert_cars(car(1))])
        await run(store, [upsert_cars(car(1))])
        runs = await store.rows("sync_runs")
    assert [r["id"] for r in runs] == [1, 2]
    assert all(r["status"] == "ok" and r["finished_at"] for r in runs)


async def test_sqlite_file_is_wal_and_a_crashed_run_is_marked_abandoned(tmp_path: Path) -> None:
    path = tmp_path / "fleet.sqlite"
    store = SqliteStore(path)
    await store.open()
    await store.begin_run(source="test", customer_ids=[CID])
    await store.write([upsert_cars(car(1))])
    await store.close()  # as if the process died here: the run never ended
    async with SqliteStore(path) as again:
        runs = await again.rows("sync_runs")
    assert runs[0]["status"] == "abandoned"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("select count(*) from cars").fetchone()[0] == 1
    db.close()


async def test_a_batch_is_all_or_nothing(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "fleet.sqlite") as store:
        await store.begin_run(source="test", customer_ids=[CID])
        with pytest.raises(StoreError) as raised:
            await store.write([upsert_cars(car(1)), Upsert("cars", CID, [(2, "too", "few")])])
        assert isinstance(raised.value.__cause__, sqlite3.Error)
        assert await store.rows("cars") == []


async def test_a_batch_that_fails_in_the_database_is_all_or_nothing(make_store: Any) -> None:
    async with make_store() as store:
        await store.begin_run(source="test", customer_ids=[CID])
        with pytest.raises(StoreError, match="nope"):
            await store.write([upsert_cars(car(1)), MarkDeleted("nope", CID, [1])])
        await store.write([upsert_cars(car(2))])  # the store goes on
        await store.end_run("ok", {}, [])
        assert [r["id"] for r in await store.rows("cars")] == [2]


async def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not a usable sync store"):
        await SqliteStore(path).open()
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("create table meta (key text primary key, value text)")
        db.execute("insert into meta values ('schema_version', '99')")
    db.close()
    with pytest.raises(StoreError, match="schema 99"):
        await SqliteStore(other).open()


async def test_jsonl_files_change_only_when_a_run_finishes(tmp_path: Path) -> None:
    directory = tmp_path / "fleet"
    async with JsonlStore(directory) as store:
        first = await run(store, [upsert_cars(car(1), car(2))])
    before = (directory / "cars.jsonl").read_bytes()
    assert before.count(b"\n") == 2
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        f"{t}.jsonl" for t in (*schema.TABLES, "sync_runs")
    )  # one file per table, and the staging database is gone
    async with JsonlStore(directory) as store:
        await store.begin_run(source="test", customer_ids=[CID])
        await store.write([upsert_cars(car(1, "changed"), car(3))])
        await store.end_run("interrupted", {}, [])
    assert (directory / "cars.jsonl").read_bytes() == before
    async with JsonlStore(directory) as store:
        third = await run(store, [upsert_cars(car(1, "changed"), car(2))], vanish=("cars",))
        cars = await rows(store, "cars")
        runs = await store.rows("sync_runs")
    assert cars[(CID, 1)]["first_seen_run"] == first  # history carried over from the files
    assert cars[(CID, 1)]["updated_in_run"] == third
    assert (CID, 3) not in cars
    # The interrupted run is recorded too, and its id is not given out again.
    assert [(r["id"], r["status"]) for r in runs] == [(1, "ok"), (2, "interrupted"), (3, "ok")]
    assert runs[-1]["counts"] == {"note": "test"}


async def test_jsonl_rejects_a_broken_file(tmp_path: Path) -> None:
    directory = tmp_path / "fleet"
    directory.mkdir()
    (directory / "cars.jsonl").write_text('{"customer_id": 1, "id": 1\n')
    with pytest.raises(StoreError, match=r"cars.jsonl:1"):
        await JsonlStore(directory).open()
    assert not any(p.name.startswith(".flinkey") for p in directory.iterdir())


def test_row_builders_follow_the_table_columns() -> None:
    service = Service(4, "flinkey Go", False, None, "x")
    cases: list[tuple[str, Any, tuple[Any, ...]]] = [
        ("cars", car(1), schema.car_row(car(1))),
        ("products", product(5), schema.product_row(product(5))),
        ("services", service, schema.service_row(service)),
    ]
    for table, entity, row in cases:
        columns = ("id", *schema.TABLES[table].data)
        assert len(row) == len(columns)
        for column, value in zip(columns, row, strict=True):
            expected = getattr(entity, column)
            if isinstance(expected, datetime):
                expected = expected.isoformat().replace("+00:00", "Z")
            elif isinstance(expected, ProductType):
                expected = expected.value
            elif isinstance(expected, bool):
                expected = int(expected)
            assert value == expected, (table, column)


async def test_jsonl_records_failed_and_interrupted_runs_without_touching_the_entity_files(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "fleet"
    async with JsonlStore(directory) as store:
        await run(store, [upsert_cars(car(1))])
    entity_files = {t: (directory / f"{t}.jsonl").read_bytes() for t in schema.TABLES}
    error = {"what": "run", "error": "InvalidAPIKeyError", "message": "401 rejected"}
    for status, errors in (("failed", [error]), ("interrupted", [])):
        async with JsonlStore(directory) as store:
            await store.begin_run(source="test", customer_ids=[CID])
            await store.write([upsert_cars(car(1, "half-way"), car(2))])
            await store.end_run(status, {"requests": 3}, errors)
    assert {t: (directory / f"{t}.jsonl").read_bytes() for t in schema.TABLES} == entity_files
    async with JsonlStore(directory) as store:
        runs = await store.rows("sync_runs")
        assert await store.begin_run(source="test", customer_ids=[CID]) == 4
    assert [(r["id"], r["status"]) for r in runs] == [(1, "ok"), (2, "failed"), (3, "interrupted")]
    assert runs[1]["errors"] == [error]
    assert runs[2]["counts"] == {"requests": 3}
    assert all(r["finished_at"] for r in runs)


async def test_jsonl_writes_sync_runs_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flinkey_async.sync import _jsonl

    replaced: list[str] = []
    real = os.replace

    def spy(source: Any, target: Any) -> None:
        replaced.append(Path(target).name)
        real(source, target)

    monkeypatch.setattr(_jsonl.os, "replace", spy)  # type: ignore[attr-defined]
    async with JsonlStore(tmp_path / "fleet") as store:
        await run(store, [upsert_cars(car(1))])
    assert replaced[-1] == "sync_runs.jsonl"
    assert sorted(replaced) == sorted(f"{t}.jsonl" for t in (*schema.TABLES, "sync_runs"))


async def test_jsonl_a_run_that_died_is_recorded_abandoned_and_its_id_is_not_reused(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "fleet"
    async with JsonlStore(directory) as store:
        await run(store, [upsert_cars(car(1))])
    dying = JsonlStore(directory)
    await dying.open()
    assert await dying.begin_run(source="test", customer_ids=[CID]) == 2
    await dying.write([upsert_cars(car(2))])
    # The process dies: its staging file stays behind, nothing else happens.
    await dying._staging.close()
    dying._release_lock()
    async with JsonlStore(directory) as store:
        assert await store.begin_run(source="test", customer_ids=[CID]) == 3
        await store.end_run("ok", {}, [])
        runs = await store.rows("sync_runs")
        cars = await rows(store, "cars")
    assert [(r["id"], r["status"]) for r in runs] == [(1, "ok"), (2, "abandoned"), (3, "ok")]
    assert (CID, 2) not in cars  # what the dead run wrote was never published


async def test_jsonl_never_reuses_the_id_of_a_run_that_died_while_publishing(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "fleet"
    async with JsonlStore(directory) as store:
        await run(store, [upsert_cars(car(1))])
    # Run 2 replaced cars.jsonl, then died before sync_runs.jsonl was replaced.
    line = (directory / "cars.jsonl").read_text().replace('"last_seen_run":1', '"last_seen_run":2')
    assert '"last_seen_run":2' in line
    (directory / "cars.jsonl").write_text(line)
    async with JsonlStore(directory) as store:
        assert await store.begin_run(source="test", customer_ids=[CID]) == 3
        await store.end_run("ok", {}, [])


async def test_rows_from_another_entitys_list_do_not_count_as_seen(make_store: Any) -> None:
    async with make_store() as store:
        first = await run(store, [upsert_cars(car(1), car(2))])
        gone = await store.begin_run(source="test", customer_ids=[CID])
        # A group's member list shows cars 1 (renamed), 2 and 3; the car listing shows car 2.
        members = [schema.car_row(c) for c in (car(1, "renamed"), car(2), car(3))]
        await store.write([Upsert("cars", CID, members, seen=False), upsert_cars(car(2))])
        # Only the listing keeps a car from the deletion check: 1 and 3 are to be confirmed.
        assert await store.unseen_ids("cars", CID) == [1, 3]
        await store.write([MarkDeleted("cars", CID, [1])])
        # A late member list cannot bring a car back that its own GET found gone.
        await store.write([Upsert("cars", CID, [schema.car_row(car(1, "stale"))], seen=False)])
        await store.end_run("ok", {}, [])
        cars = await rows(store, "cars")
    assert cars[(CID, 1)]["name"] == "renamed"
    assert cars[(CID, 1)]["updated_in_run"] == gone
    assert (cars[(CID, 1)]["last_seen_run"], cars[(CID, 1)]["deleted_in_run"]) == (first, gone)
    assert (cars[(CID, 2)]["last_seen_run"], cars[(CID, 2)]["updated_in_run"]) == (gone, first)
    assert (cars[(CID, 3)]["first_seen_run"], cars[(CID, 3)]["last_seen_run"]) == (gone, 0)


async def test_a_deleted_car_or_product_leaves_its_groups_and_cars(opened: Store) -> None:
    await run(opened, [
        upsert_cars(car(1), car(2)),
        Upsert("products", CID, [schema.product_row(product(10)), schema.product_row(product(20))]),
        car_products(1, 10), car_products(2, 20),
        ReplaceSet("group_cars", CID, 9, [(9, 1), (9, 2)]),
        ReplaceSet("group_products", CID, 9, [(9, 10), (9, 20)]),
    ])  # fmt: skip
    gone = await run(opened, [MarkDeleted("cars", CID, [1]), MarkDeleted("products", CID, [20])])
    deleted = {
        (table, key[1:])
        for table in ("group_cars", "group_products", "car_products")
        for key, row in (await rows(opened, table)).items()
        if row["deleted_in_run"] == gone
    }
    assert deleted == {
        ("group_cars", (9, 1)),
        ("group_products", (9, 20)),
        ("car_products", (1, 10)),  # owned by the deleted car
        ("car_products", (2, 20)),  # the deleted product was in car 2
    }


async def test_a_customer_gone_upstream_takes_its_fleet_with_it(make_store: Any) -> None:
    other = CID + 1
    fleet = [
        Upsert("customers", None, [(CID, "stays"), (other, "goes")]),
        upsert_cars(car(1)),
        car_products(1, 10),
        Upsert("cars", other, [schema.car_row(car(1))]),
        ReplaceSet("car_products", other, 1, [(1, 10)]),
        Upsert("users", other, [schema.user_row(User(3, "a@example.test", UserData("A", "B")))]),
        ReplaceSet("group_users", other, 9, [(9, 3)]),
    ]
    async with make_store() as store:
        await run(store, fleet)
        gone = await store.begin_run(source="test", customer_ids=[CID])
        await store.write([Upsert("customers", None, [(CID, "stays")])])
        assert await store.unseen_ids("customers", None) == [other]
        await store.mark_vanished("customers", None)
        changes = await store.run_changes([CID, other])
        await store.end_run("ok", {}, [])
        tables = {name: await store.rows(name) for name in schema.TABLES}
    alive = {
        (name, row["customer_id"])
        for name, table_rows in tables.items()
        for row in table_rows
        if name != "customers" and row["deleted_in_run"] is None
    }
    assert alive == {("cars", CID), ("car_products", CID)}
    assert {r["id"]: r["deleted_in_run"] for r in tables["customers"]} == {CID: None, other: gone}
    assert changes["cars"]["deleted"] == 1
    assert changes["group_users"]["deleted"] == 1


# Several workers may share a PostgreSQL store (see test_workers.py): not refused there.
@pytest.mark.parametrize("make_store", ["sqlite", "jsonl"], indirect=True)
async def test_a_second_store_on_the_same_path_is_refused_while_the_first_is_open(
    make_store: Any,
) -> None:
    async with make_store() as first:
        await first.begin_run(source="test", customer_ids=[CID])
        await first.write([upsert_cars(car(1))])
        second = make_store()
        with pytest.raises(StoreBusyError, match=r"^another sync is running on "):
            await second.open()
        await second.close()  # harmless, and it must not disturb the first store
        if isinstance(first, SqliteStore):
            # Not marked "abandoned" by the second open.
            assert [r["status"] for r in await first.rows("sync_runs")] == ["running"]
        else:
            assert first._staging.path.exists()  # its staging file was left alone
        await first.write([upsert_cars(car(2))])  # the first run goes on
        await first.end_run("ok", {}, [])
        runs = await first.rows("sync_runs")
    assert [r["status"] for r in runs] == ["ok"]
    async with make_store() as again:  # once the first is closed, the store opens again
        assert len(await again.rows("cars")) == 2


def test_a_store_is_locked_against_another_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "fleet.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import asyncio, sys\n"
         "from flinkey_async.sync import SqliteStore\n"
         "async def main():\n"
         "    async with SqliteStore(sys.argv[1]):\n"
         "        print('open', flush=True)\n"
         "        sys.stdin.readline()\n"
         "asyncio.run(main())\n", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline().strip() == "open"

        async def try_open() -> None:
            async with SqliteStore(path):
                pass

        with pytest.raises(StoreBusyError, match=f"another sync is running on {path}"):
            asyncio.run(try_open())
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
    finally:
        if holder.poll() is None:  # pragma: no cover - a stuck child
            holder.kill()
            holder.wait()
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
    asyncio.run(try_open())  # free again


async def test_a_batch_that_touches_rows_twice_ends_as_one_by_one(
    make_store: Any, tmp_path: Path
) -> None:
    """Stores that gather a batch's operations (PostgreSQL) end where SQLite does."""
    where = Location(1.0, 2.0, None, None, 3.0)
    first = [
        upsert_cars(car(1), car(2), car(3)),
        car_products(1, 10, 11),
        ReplaceSet("locations", CID, 1, [schema.location_row(1, where)]),
    ]
    tricky = [
        Upsert("cars", CID, [schema.car_row(car(1, "from a group"))], seen=False),
        upsert_cars(car(1, "listed"), car(2)),
        car_products(1, 11, 12),
        car_products(1, 12, 13),  # the same set twice in one batch
        Upsert("cars", CID, [schema.car_row(car(3, "member"))], seen=False),
        MarkDeleted("cars", CID, [3]),
        Upsert("cars", CID, [schema.car_row(car(3, "too late"))], seen=False),
        ReplaceSet("locations", CID, 1, []),
        upsert_cars(car(4), car(4, "twice")),
    ]

    async def end_state(store: Any) -> dict[str, Any]:
        async with store:
            await run(store, first)
            await run(store, tricky)
            return {name: await store.rows(name) for name in ("cars", "car_products", "locations")}

    expected = await end_state(SqliteStore(tmp_path / "reference.sqlite"))
    assert await end_state(make_store()) == expected
    assert [r["name"] for r in expected["cars"]] == ["listed", "car 2", "member", "twice"]
