"""``cars/products.iterate`` (auto-paging) and ``get_many`` (concurrent gets) through the client."""

from __future__ import annotations

import pytest

from flinkey_async import Car, FlinkeyClient, NotFoundError, ValidationError
from flinkey_async.odata import Query, fields
from flinkey_async.sandbox import Sandbox

from .conftest import MISSING_ID, World


async def test_cars_iterate_pages_through_the_whole_listing(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    truth = sorted(sb.state.cars(world.cid), key=lambda car: car.id)
    before = sb.counters.requests["GET /cars"]
    seen = [car async for car in client.cars.iterate(page_size=5)]
    assert seen == truth
    # 12 cars in pages of 5: 5, 5, 2 (the short page ends it).
    assert sb.counters.requests["GET /cars"] - before == 3


async def test_iterate_keeps_the_callers_filter_and_top(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    car = fields(Car)
    query = Query().filter(car.id > 0).order_by(car.name.desc()).top(7)
    seen = [c async for c in client.cars.iterate(query, page_size=3)]
    expected = sorted(sb.state.cars(world.cid), key=lambda c: c.name, reverse=True)[:7]
    assert seen == expected


async def test_products_iterate(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    truth = sorted(sb.state.products(world.cid), key=lambda product: product.id)
    assert [p async for p in client.products.iterate(page_size=4)] == truth


async def test_iterate_rejects_a_bad_page_size(client: FlinkeyClient) -> None:
    with pytest.raises(ValidationError):
        _ = [car async for car in client.cars.iterate(page_size=0)]


async def test_get_many_yields_every_id_once_failures_included(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    ids = [car.id for car in sb.state.cars(world.cid)] + [MISSING_ID]
    outcomes = [o async for o in client.cars.get_many(ids, concurrency=4)]
    assert sorted(o.item for o in outcomes) == sorted(ids)
    by_id = {o.item: o for o in outcomes}
    assert isinstance(by_id[MISSING_ID].error, NotFoundError)
    for car in sb.state.cars(world.cid):
        assert by_id[car.id].unwrap() == car


async def test_products_get_many(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    products = sb.state.products(world.cid)
    outcomes = [o async for o in client.products.get_many([p.id for p in products])]
    assert {o.item: o.unwrap() for o in outcomes} == {p.id: p for p in products}
