"""The sync job against the sandbox: the store equals the ground truth, runs after runs.

Each test compares the alive rows of the store with the sandbox's state for the customer, for
every store (``make_store``, see ``conftest.py``). Edits between runs are made on the sandbox's
state, as if someone had changed the fleet in the flinkey Portal.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from flinkey_async import FlinkeyClient, ServerError, ValidationError
from flinkey_async import _fleet_kinds as fleet_kinds
from flinkey_async.sandbox import Sandbox
from flinkey_async.sync import TABLES, SqliteStore, SyncJob, SyncReport
from flinkey_async.sync import _schema as schema

from . import _truth as truth
from .conftest import StoreFactory, wait_until
from .test_fleet import client_tasks


async def sync(
    client: Any, make: StoreFactory, **options: Any
) -> tuple[SyncReport, dict[str, Any]]:
    """One run into a freshly opened store; the report and every table's rows afterwards."""
    options.setdefault("retry_delay", 0.01)
    async with make() as store:
        report = await SyncJob(client, store, **options).run()
        rows = await truth.store_rows(store)
    return report, rows


def assert_matches(sandbox: Sandbox, rows: dict[str, Any], cid: int | None = None) -> None:
    cid = sandbox.customer_id if cid is None else cid
    expected = truth.from_state(sandbox.state, cid)
    assert truth.differences(expected, truth.from_store(rows, cid)) == {}
    # Upserts keyed by id: one row per key, whatever happened.
    for name, table_rows in rows.items():
        if name != "sync_runs":
            keys = [tuple(r[c] for c in schema.TABLES[name].primary_key) for r in table_rows]
            assert len(keys) == len(set(keys)), name


def changed(rows: dict[str, Any], run_id: int) -> dict[str, dict[str, set[Any]]]:
    """Per table: the keys this run inserted, updated and marked deleted."""
    out: dict[str, dict[str, set[Any]]] = {}
    for name, spec in schema.TABLES.items():
        keys: dict[str, set[Any]] = {"new": set(), "updated": set(), "deleted": set()}
        for row in rows[name]:
            key = tuple(row[c] for c in spec.key)
            key = key[0] if len(key) == 1 else key
            if row["first_seen_run"] == run_id:
                keys["new"].add(key)
            elif row["updated_in_run"] == run_id:
                keys["updated"].add(key)
            if row["deleted_in_run"] == run_id:
                keys["deleted"].add(key)
        if any(keys.values()):
            out[name] = {k: v for k, v in keys.items() if v}
    return out


async def test_sync_equals_the_ground_truth_and_a_second_run_changes_nothing(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    first, rows = await sync(client, make_store, concurrency=16, page_size=25)
    assert first.status == "ok"
    assert first.ok
    assert not first.failures
    assert_matches(sandbox, rows)
    assert first.changes["cars"]["new"] == len(sandbox.state.cars(sandbox.customer_id))
    assert first.requests == client.stats.requests
    second, again = await sync(client, make_store, concurrency=16, page_size=25)
    assert second.run_id == first.run_id + 1
    assert changed(again, second.run_id) == {}
    for name in schema.TABLES:
        assert len(again[name]) == len(rows[name])
        assert second.changes[name]["new"] == second.changes[name]["updated"] == 0
    assert [(r["id"], r["status"]) for r in again["sync_runs"]] == [(1, "ok"), (2, "ok")]
    recorded = again["sync_runs"][-1]
    counts = recorded["counts"] if "counts" in recorded else json.loads(recorded["counts_json"])
    assert counts["tables"]["cars"]["seen"] == len(sandbox.state.cars(sandbox.customer_id))
    assert counts["requests"] == second.requests


async def test_a_rerun_reflects_exactly_the_upstream_edits(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    state, cid = sandbox.state, sandbox.customer_id
    await sync(client, make_store)
    cars = state.cars(cid)
    renamed, deleted = cars[0], next(c for c in cars[1:] if state.products_of_car(cid, c.id))
    new = state.add_car(cid, "brand new car", vin="WVWZZZ1JZXW000001")
    state.update_car(cid, renamed.id, name="renamed upstream")
    deleted_products = {p.id for p in state.products_of_car(cid, deleted.id)}
    deleted_groups = {
        g.id for g in state.groups(cid) if deleted.id in state.member_ids(cid, g.id, "cars")
    }
    for product_id in deleted_products:
        state.unassign_product(cid, product_id)
    state.delete_car(cid, deleted.id)
    group = state.groups(cid)[0]
    gone_user = state.member_ids(cid, group.id, "users")[0]
    state.remove_member(cid, group.id, "users", gone_user)
    outsider = next(
        c.id for c in state.cars(cid) if c.id not in state.member_ids(cid, group.id, "cars")
    )
    state.add_member(cid, group.id, "cars", outsider)
    before = sandbox.counters.requests["GET /cars/{carId}"]

    report, rows = await sync(client, make_store)
    assert_matches(sandbox, rows)
    run = report.run_id
    got = changed(rows, run)
    assert got.pop("cars") == {"new": {new.id}, "updated": {renamed.id}, "deleted": {deleted.id}}
    assert got.pop("car_products") == {"deleted": {(deleted.id, p) for p in deleted_products}}
    assert got.pop("locations") == {"deleted": {deleted.id}}
    assert got.pop("group_users") == {"deleted": {(group.id, gone_user)}}
    group_cars = got.pop("group_cars")
    assert group_cars["new"] == {(group.id, outsider)}
    assert group_cars.get("deleted", set()) == {(g, deleted.id) for g in deleted_groups}
    # The user is still in another group, or gone: either way exactly as upstream.
    got.pop("users", None)
    assert got == {}
    # The deletion was confirmed by asking for the car: one 404, nothing else.
    assert sandbox.counters.requests["GET /cars/{carId}"] - before == 1
    assert report.changes["cars"]["deleted"] == 1


async def test_a_change_to_the_last_column_alone_is_an_update(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    state, cid = sandbox.state, sandbox.customer_id
    await sync(client, make_store)
    car = state.cars(cid)[3]
    assert TABLES["cars"].data[-1] == "model"  # the column a change comparison may miss
    state.update_car(cid, car.id, model=f"{car.model or ''} facelift")
    report, rows = await sync(client, make_store)
    assert_matches(sandbox, rows)
    assert changed(rows, report.run_id) == {"cars": {"updated": {car.id}}}
    assert report.changes["cars"]["updated"] == 1


async def test_every_customer_with_all(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    report, rows = await sync(client, make_store, customer_ids="all")
    assert report.customer_ids == tuple(sandbox.customer_ids)
    for cid in sandbox.customer_ids:
        assert_matches(sandbox, rows, cid)
    assert {(r["id"], r["name"]) for r in rows["customers"]} == {
        (c.id, c.name) for c in sandbox.state.customers
    }


async def test_a_job_without_a_customer_or_with_bad_options_is_refused_before_any_request(
    sandbox: Sandbox, make_store: StoreFactory
) -> None:
    kwargs = {**sandbox.client_kwargs(), "customer_id": None}
    async with FlinkeyClient(**kwargs) as client, make_store() as store:
        with pytest.raises(ValidationError, match="no customer") as caught:
            await SyncJob(client, store).run()
        assert caught.value.field == "customer_ids"
        for option in ("attempts", "page_size"):
            options: dict[str, Any] = {option: 0}
            with pytest.raises(ValidationError, match=option):
                SyncJob(client, store, customer_ids="all", **options)
        assert client.stats.requests == 0
        assert (await truth.store_rows(store))["sync_runs"] == []


FAULTS: dict[str, dict[str, Any]] = {
    "latency": {"latency": 0.002, "latency_jitter": 0.01},
    "500": {"error_rate_500": 0.1},
    "503": {"error_rate_503": 0.1},
    "429 with Retry-After": {"rate_limit_rate": 0.08, "retry_after": 1},
    "resets": {"reset_before_rate": 0.05, "reset_after_rate": 0.05},
    "truncated bodies": {"truncate_rate": 0.1},
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_the_store_equals_the_truth_under_faults(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory, fault: str
) -> None:
    state, cid = sandbox.state, sandbox.customer_id
    await sync(client, make_store)
    state.update_car(cid, state.cars(cid)[0].id, name="edited before the faulty run")
    state.add_car(cid, "added before the faulty run")
    sandbox.faults.set(**FAULTS[fault])
    report, rows = await sync(client, make_store, concurrency=12, page_size=20)
    sandbox.faults.clear()
    assert report.ok, report.failures
    assert_matches(sandbox, rows)
    assert sum(n for (_, kind), n in sandbox.counters.faults.items() if kind != "latency") > 0 or (
        fault == "latency"
    )
    assert sandbox.counters.created == {}  # a sync never creates anything upstream


async def test_tokens_expiring_and_revoked_during_the_run(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    sandbox.token_ttl = 1
    sandbox.faults.set(latency=0.004)

    async def revoke_every_so_often() -> None:
        while True:
            await asyncio.sleep(0.15)
            sandbox.revoke_tokens()

    revoker = asyncio.create_task(revoke_every_so_often())
    try:
        report, rows = await sync(client, make_store, concurrency=8)
    finally:
        revoker.cancel()
        await asyncio.gather(revoker, return_exceptions=True)
    assert report.ok, report.failures
    assert_matches(sandbox, rows)
    assert client.stats.token_requests >= 2
    assert client.stats.token_replays >= 1


async def test_cancelling_a_run_leaves_a_consistent_store_that_the_next_run_completes(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    state, cid = sandbox.state, sandbox.customer_id
    await sync(client, make_store)
    doomed = state.cars(cid)[-1].id
    state.delete_car(cid, doomed)  # would be marked deleted by a complete run
    state.update_car(cid, state.cars(cid)[0].id, name="renamed before the cut")
    sandbox.faults.set(latency=0.01)
    async with make_store() as store:
        job = SyncJob(client, store, concurrency=4, page_size=10, retry_delay=0.01)
        task = asyncio.create_task(job.run())
        await wait_until(lambda: job.progress.entities.get("car_products", 0) >= 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client_tasks()
        connector = client.session.connector if client.session else None
        assert connector is None or not connector._acquired
        rows = await truth.store_rows(store)
    runs = rows["sync_runs"]
    assert [r["status"] for r in runs][-1] in ("interrupted", "ok")
    # Consistent: nothing was marked deleted by the cut run, and every alive row is a row the
    # sandbox had at one point (the first run's copy, partly refreshed).
    cut = runs[-1]["id"] if runs[-1]["status"] == "interrupted" else None
    if cut is not None:
        assert not any(r["deleted_in_run"] == cut for name in schema.TABLES for r in rows[name])
    sandbox.faults.clear()
    report, rows = await sync(client, make_store)
    assert report.ok
    assert_matches(sandbox, rows)
    assert changed(rows, report.run_id)["cars"]["deleted"] == {doomed}


class CarsWithoutPageTwo:
    """``client.cars`` whose listing fails for good from the second page on."""

    def __init__(self, cars: Any) -> None:
        self._cars = cars

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cars, name)

    async def list(self, query: Any = None, *, customer_id: Any = None) -> Any:
        if query is not None and query.skip_value:
            raise ServerError(500, "Internal server error.", method="GET", path="/v3/cars")
        return await self._cars.list(query, customer_id=customer_id)


def client_with(client: FlinkeyClient, **parts: Any) -> Any:
    """The client with some resources replaced (for failures the sandbox cannot aim)."""
    names = ("cars", "products", "groups", "customers", "stats", "connector_limit", "base_url",
             "customer_id")  # fmt: skip
    return SimpleNamespace(**{**{n: getattr(client, n) for n in names}, **parts})


@pytest.mark.parametrize("confirm_deletions", [True, False])
async def test_a_listing_that_fails_marks_nothing_deleted(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory, confirm_deletions: bool
) -> None:
    # Without confirmation, every car the listing did not return would be marked deleted if a
    # listing with a hole counted as complete: the cars of the missing pages are alive.
    state, cid = sandbox.state, sandbox.customer_id
    await sync(client, make_store, page_size=20)
    broken = client_with(client, cars=CarsWithoutPageTwo(client.cars))
    report, rows = await sync(
        broken, make_store, page_size=20, attempts=2, confirm_deletions=confirm_deletions
    )
    assert report.status == "partial"
    assert [(f.what, f.key) for f in report.failures] == [("car listing", 20)]
    assert not any(r["deleted_in_run"] for r in rows["cars"])
    assert len(rows["cars"]) == len(state.cars(cid))
    assert rows["sync_runs"][-1]["status"] == "partial"
    errors = rows["sync_runs"][-1].get("errors") or json.loads(rows["sync_runs"][-1]["errors_json"])
    assert errors[0]["what"] == "car listing"
    assert errors[0]["error"] == "ServerError"


class GroupUsersFailing:
    """``client.groups`` whose user list of one group fails for good."""

    def __init__(self, groups: Any, group_id: int) -> None:
        self._groups = groups
        self._group_id = group_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._groups, name)

    async def users(self, group_id: int, *, customer_id: Any = None) -> Any:
        if group_id == self._group_id:
            path = f"/v3/groups/{group_id}/users"
            raise ServerError(500, "Internal server error.", method="GET", path=path)
        return await self._groups.users(group_id, customer_id=customer_id)


@pytest.mark.parametrize("label", [None, "renamed for people"])
async def test_a_failed_user_list_keeps_users_from_deletion_whatever_its_label(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory, label: str | None
) -> None:
    state, cid = sandbox.state, sandbox.customer_id
    await sync(client, make_store)
    groups = state.groups(cid)
    users_of = {g.id: set(state.member_ids(cid, g.id, "users")) for g in groups}
    # A group with a user no other group has: only its list shows that user.

    def elsewhere(group: int) -> set[int]:
        return set().union(*(users for other, users in users_of.items() if other != group))

    group_id = next(g for g, users in users_of.items() if users - elsewhere(g))
    broken = client_with(client, groups=GroupUsersFailing(client.groups, group_id))
    kind = fleet_kinds.GROUP_USERS
    original = kind.label
    if label is not None:
        object.__setattr__(kind, "label", label)  # a label is for people: renaming changes nothing
    try:
        report, rows = await sync(broken, make_store, attempts=1)
    finally:
        object.__setattr__(kind, "label", original)
    assert report.status == "partial"
    assert [(f.what, f.key) for f in report.failures] == [(label or original, group_id)]
    assert not any(r["deleted_in_run"] for r in rows["users"])


@pytest.fixture
async def big_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(cars=200, seed=5, customers=1) as sb:
        yield sb


async def test_memory_stays_flat_pages_are_requested_as_work_drains(big_sandbox: Sandbox) -> None:
    # The walk asks for the next page only when the previous page's requests are mostly done:
    # never more than two pages' worth of per-car work is queued.
    async with (
        FlinkeyClient(**big_sandbox.client_kwargs()) as client,
        SqliteStore(":memory:") as store,
    ):
        job = SyncJob(client, store, concurrency=4, page_size=10)
        peak = 0
        original = job._new_walk

        def spy(cid: int, **kwargs: Any) -> Any:
            walk = original(cid, **kwargs)
            real = walk._request_pages

            def watched() -> None:
                nonlocal peak
                real()
                peak = max(peak, len(walk._queue))

            walk._request_pages = watched  # type: ignore[method-assign]
            return walk

        job._new_walk = spy  # type: ignore[method-assign]
        report = await job.run()
    assert report.ok
    # Two pages of car work (2 requests per car), two of product work, the groups' member
    # lists (4 per group): far below the 2 * 200 + 280 requests of the whole fleet.
    groups = len(big_sandbox.state.groups(big_sandbox.customer_id))
    assert peak <= 2 * (2 * 10) + 2 * 10 + 4 * groups


class CustomersWithout:
    """``client.customers`` whose listing no longer shows some customers."""

    def __init__(self, customers: Any, hidden: set[int]) -> None:
        self._customers = customers
        self.hidden = hidden

    async def list(self) -> Any:
        return [c for c in await self._customers.list() if c.id not in self.hidden]


async def test_a_customer_gone_upstream_is_marked_deleted_with_its_whole_fleet(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    kept, gone = sandbox.customer_ids
    await sync(client, make_store, customer_ids="all")
    hiding = client_with(client, customers=CustomersWithout(client.customers, {gone}))
    report, rows = await sync(hiding, make_store, customer_ids="all")
    assert report.ok
    assert report.customer_ids == (kept,)
    assert_matches(sandbox, rows, kept)
    for name in schema.TABLES:
        if name == "customers":
            continue
        of_gone = [r for r in rows[name] if r["customer_id"] == gone]
        assert of_gone, name
        assert {r["deleted_in_run"] for r in of_gone} == {report.run_id}, name
    assert {r["id"]: r["deleted_in_run"] for r in rows["customers"]} == {
        kept: None,
        gone: report.run_id,
    }
    assert report.changes["cars"]["deleted"] == len(sandbox.state.cars(gone))


class StaleGroupCars:
    """``client.groups`` whose car lists were read before some cars were deleted upstream."""

    def __init__(self, groups: Any, stale: dict[int, Any]) -> None:
        self._groups = groups
        self.stale = stale

    def __getattr__(self, name: str) -> Any:
        return getattr(self._groups, name)

    async def cars(self, group_id: int, *, customer_id: Any = None) -> Any:
        if group_id in self.stale:
            return self.stale[group_id]
        return await self._groups.cars(group_id, customer_id=customer_id)


async def test_a_car_seen_only_in_a_group_list_is_still_checked_for_deletion(
    sandbox: Sandbox, client: FlinkeyClient, make_store: StoreFactory
) -> None:
    state, cid = sandbox.state, sandbox.customer_id
    groups = [g.id for g in state.groups(cid) if state.member_ids(cid, g.id, "cars")]
    assert len(groups) >= 2

    async def delete_behind_a_stale_list(group_id: int) -> tuple[int, Any]:
        stale = await client.groups.cars(group_id)
        victim = stale[-1].id
        for product in state.products_of_car(cid, victim):
            state.unassign_product(cid, product.id)
        state.delete_car(cid, victim)
        return victim, stale

    # A fresh store: the car is first known from the group's list, which still shows it.
    first_victim, first_list = await delete_behind_a_stale_list(groups[0])
    stale = StaleGroupCars(client.groups, {groups[0]: first_list})
    report, rows = await sync(client_with(client, groups=stale), make_store)
    assert report.ok
    assert_matches(sandbox, rows)
    victim_row = next(r for r in rows["cars"] if r["id"] == first_victim)
    assert victim_row["deleted_in_run"] == report.run_id
    # A store that had the car: the stale list must not keep it alive either.
    second_victim, second_list = await delete_behind_a_stale_list(groups[1])
    stale.stale = {groups[1]: second_list}
    report, rows = await sync(client_with(client, groups=stale), make_store)
    assert report.ok
    assert_matches(sandbox, rows)
    assert changed(rows, report.run_id)["cars"] == {"deleted": {second_victim}}
