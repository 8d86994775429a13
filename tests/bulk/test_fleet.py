"""The fleet snapshot, auto-paging and get_many, end to end against the sandbox."""

from __future__ import annotations

import asyncio
import math
from contextlib import aclosing
from typing import Any

import aiohttp
import pytest

from flinkey_async import (
    FlinkeyClient,
    InvalidAPIKeyError,
    NotFoundError,
    Product,
    ServerError,
    ValidationError,
)
from flinkey_async import _fleet_kinds as fleet_kinds
from flinkey_async._engine import BoundedRunner
from flinkey_async._fleet import FleetResource, FleetSnapshot
from flinkey_async._paging import iterate, iterate_pages
from flinkey_async.odata import Query, fields
from flinkey_async.sandbox import Sandbox

from . import _truth as truth
from .conftest import FAST_RETRY, wait_until


def fleet_of(client: FlinkeyClient) -> FleetResource:
    """``client.fleet`` (built here the same way if the client does not carry it)."""
    fleet = getattr(client, "fleet", None)
    if isinstance(fleet, FleetResource):
        return fleet
    return FleetResource(
        client.cars, client.products, client.groups, connector_limit=client.connector_limit
    )


def client_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the library still alive (the sandbox's server tasks share the loop)."""
    alive = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "flinkey_async" in filename and "sandbox" not in filename:
            alive.append(task)
    return alive


class InFlight:
    """An aiohttp trace that counts requests in flight and keeps the peak."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._start)
        self.config.on_request_end.append(self._end)
        self.config.on_request_exception.append(self._end)

    async def _start(self, *_: Any) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    async def _end(self, *_: Any) -> None:
        self.now -= 1


async def test_snapshot_equals_the_ground_truth(sandbox: Sandbox, client: FlinkeyClient) -> None:
    snapshot = await fleet_of(client).snapshot(concurrency=16, page_size=25)
    assert isinstance(snapshot, FleetSnapshot)
    assert snapshot.complete, snapshot.failures
    cid = sandbox.customer_id
    expected = truth.from_state(sandbox.state, cid)
    assert truth.differences(expected, truth.from_snapshot(snapshot)) == {}
    # The expected 404s were data: the fleet has cars without products and without location,
    # and products without a service, and the snapshot says so with () and None.
    empty = [car_id for car_id, products in snapshot.car_products.items() if not products]
    assert empty
    assert all(snapshot.car_locations[car_id] is None for car_id in empty)
    assert None in snapshot.product_services.values()
    assert len(snapshot.car_products) == len(snapshot.cars) == len(snapshot.car_locations)
    assert len(snapshot.product_services) == len(snapshot.products)
    # One listing per kind (paged), then one request per entity and sub-resource; a car
    # without products is not asked for its location (the answer is known: none).
    counts = sandbox.state.counts(cid)
    pages = (counts["cars"] // 25 + 1) + (counts["products"] // 25 + 1) + 1
    with_products = counts["cars"] - len(empty)
    per_entity = counts["cars"] + with_products + counts["products"] + 4 * counts["groups"]
    assert snapshot.requests == pages + per_entity
    assert sandbox.counters.requests["GET /cars/{carId}/location"] == with_products
    assert sandbox.counters.requests["GET /cars"] == counts["cars"] // 25 + 1


async def test_snapshot_of_another_customer(sandbox: Sandbox, client: FlinkeyClient) -> None:
    other = sandbox.customer_ids[1]
    snapshot = await fleet_of(client).snapshot(customer_id=other)
    assert (
        truth.differences(truth.from_state(sandbox.state, other), truth.from_snapshot(snapshot))
        == {}
    )


async def test_requests_in_flight_never_exceed_the_concurrency(sandbox: Sandbox) -> None:
    sandbox.faults.set(latency=0.003)
    gauge = InFlight()
    async with (
        aiohttp.ClientSession(trace_configs=[gauge.config]) as session,
        FlinkeyClient(**sandbox.client_kwargs(), session=session) as client,
    ):
        await fleet_of(client).snapshot(concurrency=5)
    assert gauge.peak == 5


async def test_the_connection_pool_binds_the_concurrency(sandbox: Sandbox) -> None:
    gauge = InFlight()
    async with (
        aiohttp.ClientSession(trace_configs=[gauge.config]) as session,
        FlinkeyClient(**sandbox.client_kwargs(), session=session, connector_limit=3) as client,
    ):
        fleet = fleet_of(client)
        runner = fleet.runner(concurrency=50)
        assert runner.concurrency == 3
        snapshot = await fleet.snapshot(runner=runner)
    assert snapshot.complete
    assert gauge.peak <= 3


class FailingCarProducts:
    """``client.cars`` whose products endpoint always fails for one car (as after retries)."""

    def __init__(self, cars: Any, car_id: int, *, vanish: Sandbox | None = None) -> None:
        self._cars = cars
        self.car_id = car_id
        self.vanish = vanish
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cars, name)

    async def products(self, car_id: int, query: Any = None, *, customer_id: Any = None) -> Any:
        if car_id == self.car_id:
            self.calls += 1
            if self.vanish is None:
                raise ServerError(500, "Internal server error.", method="GET", path="/x")
            # Deleted elsewhere between the listing and this request.
            self.vanish.state.delete_car(self.vanish.customer_id, car_id)
        return await self._cars.products(car_id, query, customer_id=customer_id)


async def test_one_failing_car_does_not_sink_the_snapshot(
    sandbox: Sandbox, client: FlinkeyClient
) -> None:
    victim = sandbox.state.cars(sandbox.customer_id)[7].id
    cars = FailingCarProducts(client.cars, victim)
    fleet = FleetResource(cars, client.products, client.groups)
    snapshot = await fleet.snapshot(concurrency=8, attempts=3)
    assert not snapshot.complete
    (failure,) = snapshot.failures
    assert (failure.what, failure.key, failure.attempts) == ("car products", victim, 3)
    assert isinstance(failure.error, ServerError)
    assert "ServerError: 500" in failure.message
    assert cars.calls == 3
    assert victim not in snapshot.car_products
    assert len(snapshot.car_products) == len(snapshot.cars) - 1
    with pytest.raises(ServerError) as raised:
        snapshot.raise_for_failures()
    assert "1 part(s)" in raised.value.__notes__[0]


@pytest.mark.parametrize(
    ("option", "bad"), [("attempts", 0), ("attempts", 1.5), ("concurrency", 0), ("page_size", 0)]
)
async def test_a_bad_snapshot_option_is_refused_before_any_request(
    client: FlinkeyClient, option: str, bad: object
) -> None:
    options: dict[str, Any] = {option: bad}
    with pytest.raises(ValidationError, match=option) as caught:
        await fleet_of(client).snapshot(**options)
    assert caught.value.field == option
    assert client.stats.requests == 0


async def test_a_car_deleted_during_the_walk_is_left_out(
    sandbox: Sandbox, client: FlinkeyClient
) -> None:
    victim = sandbox.state.cars(sandbox.customer_id)[3].id
    fleet = FleetResource(
        FailingCarProducts(client.cars, victim, vanish=sandbox), client.products, client.groups
    )
    snapshot = await fleet.snapshot()
    assert snapshot.complete
    assert victim not in {car.id for car in snapshot.cars}
    assert victim not in snapshot.car_products
    assert victim not in snapshot.car_locations


async def test_a_rejected_api_key_ends_the_snapshot_at_once(sandbox: Sandbox) -> None:
    kwargs = {**sandbox.client_kwargs(), "api_key": "not-the-key"}
    async with FlinkeyClient(**kwargs) as client:
        with pytest.raises(InvalidAPIKeyError):
            await fleet_of(client).snapshot()
        assert client.stats.requests <= 3 + client.connector_limit


async def test_cancelling_a_snapshot_cancels_every_request(sandbox: Sandbox) -> None:
    sandbox.faults.set(latency=0.05)
    gauge = InFlight()
    async with (
        aiohttp.ClientSession(trace_configs=[gauge.config]) as session,
        FlinkeyClient(**sandbox.client_kwargs(), session=session) as client,
    ):
        task = asyncio.create_task(fleet_of(client).snapshot(concurrency=12))
        await wait_until(lambda: sandbox.counters.requests["GET /cars/{carId}/products"] >= 12)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client_tasks()
        assert gauge.now == 0
        connector = session.connector
        assert connector is not None
        assert not connector._acquired  # no connection left checked out


async def test_get_cars_yields_each_car_or_its_error(
    sandbox: Sandbox, client: FlinkeyClient
) -> None:
    ids = [car.id for car in sandbox.state.cars(sandbox.customer_id)[:10]] + [999_999]
    async with aclosing(client.cars.get_many(ids, concurrency=4)) as outcomes:
        results = {o.item: o async for o in outcomes}
    assert set(results) == set(ids)
    assert isinstance(results[999_999].error, NotFoundError)
    assert all(results[i].unwrap().id == i for i in ids[:-1])


async def test_get_products(sandbox: Sandbox, client: FlinkeyClient) -> None:
    ids = [p.id for p in sandbox.state.products(sandbox.customer_id)[:5]]
    async with aclosing(client.products.get_many(ids)) as outcomes:
        got = sorted([o.unwrap().id async for o in outcomes])
    assert got == sorted(ids)


async def test_iterate_pages_until_a_short_page(sandbox: Sandbox, client: FlinkeyClient) -> None:
    total = len(sandbox.state.cars(sandbox.customer_id))
    before = sandbox.counters.requests["GET /cars"]
    ids = [car.id async for car in iterate(client.cars.list, page_size=7)]
    assert ids == sorted(car.id for car in sandbox.state.cars(sandbox.customer_id))
    assert sandbox.counters.requests["GET /cars"] - before == math.ceil((total + 1) / 7)


async def test_iterate_keeps_the_callers_query(sandbox: Sandbox, client: FlinkeyClient) -> None:
    F = fields(Product)
    query = Query().filter(F.type == "flinkey IQ").order_by(F.id.desc()).skip(2).top(9)
    expected = [p.id for p in await client.products.list(query)]
    pages = [
        [p.id for p in page]
        async for page in iterate_pages(client.products.list, page_size=4, query=query)
    ]
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [i for page in pages for i in page] == expected
    assert expected == sorted(expected, reverse=True)


async def test_iterate_rejects_a_bad_page_size(client: FlinkeyClient) -> None:
    from flinkey_async import ValidationError

    with pytest.raises(ValidationError, match="page_size"):
        async for _ in iterate(client.cars.list, page_size=0):
            pass


async def test_snapshot_survives_faults(sandbox: Sandbox) -> None:
    sandbox.faults.set(error_rate_500=0.04, error_rate_503=0.04, truncate_rate=0.03,
                       reset_before_rate=0.03, rate_limit_rate=0.02, retry_after=0)  # fmt: skip
    async with FlinkeyClient(**sandbox.client_kwargs(), retry=FAST_RETRY) as client:
        fleet = fleet_of(client)
        snapshot = await fleet.snapshot(concurrency=16, runner=BoundedRunner(16))
    sandbox.faults.clear()
    assert snapshot.complete, snapshot.failures
    cid = sandbox.customer_id
    expected = truth.from_state(sandbox.state, cid)
    assert truth.differences(expected, truth.from_snapshot(snapshot)) == {}
    assert sum(sandbox.counters.faults.values()) > 10


async def test_get_many_with_any_getter(sandbox: Sandbox, client: FlinkeyClient) -> None:
    groups = sandbox.state.groups(sandbox.customer_id)
    fleet = fleet_of(client)
    async with aclosing(fleet.get_many(client.groups.users, [g.id for g in groups])) as outcomes:
        users = {o.item: {u.id for u in o.unwrap()} async for o in outcomes}
    assert users == {
        g.id: set(sandbox.state.member_ids(sandbox.customer_id, g.id, "users")) for g in groups
    }


async def test_the_table_of_kinds_names_every_request_of_a_walk(
    sandbox: Sandbox, client: FlinkeyClient
) -> None:
    kinds = fleet_kinds.JOB_KINDS
    assert len({k.name for k in kinds}) == len({k.label for k in kinds}) == len(kinds)
    walk = fleet_of(client).walk(concurrency=8)
    async with aclosing(walk.events()) as events:
        async for _ in events:
            pass
    by_id = {fleet_kinds.CAR.name, fleet_kinds.PRODUCT.name}  # only asked by a check
    assert set(walk.stats.done) == {k.name for k in kinds} - by_id
