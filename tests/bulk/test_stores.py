"""The SQLite and JSON Lines stores, driven directly with model rows (no server)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flinkey_async import Car, Location, Product, ProductType, Service, User, UserData
from flinkey_async.sync import JsonlStore, MarkDeleted, ReplaceSet, SqliteStore, StoreError, Upsert
from flinkey_async.sync import _schema as schema

CID = 7

Store = SqliteStore | JsonlStore


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


@pytest.fixture(params=["sqlite", "jsonl"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    def make() -> Store:
        if request.param == "sqlite":
            return SqliteStore(tmp_path / "fleet.sqlite")
        return JsonlStore(tmp_path / "fleet")

    return make


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
        first, second, first
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
    assert [r["status"] for r in runs] == ["ok", "ok"]
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
