"""``$select`` results: a field left out is told apart from a real null, at run time and by mypy."""

from __future__ import annotations

import pickle

import pytest

from flinkey_async import (
    Car,
    FlinkeyClient,
    FlinkeyError,
    NotSelectedError,
    Product,
    Selected,
    ValidationError,
    iterate_pages,
)
from flinkey_async.odata import Query, SelectQuery, fields

from .conftest import World

F = fields(Car)
P = fields(Product)


async def test_a_null_brand_and_an_unselected_brand_are_told_apart(client: FlinkeyClient) -> None:
    car_id = await client.cars.create("No brand")  # brand is really null
    where = Query().filter(F.id == car_id)

    with_brand: list[Selected[Car]] = await client.cars.list(where.select(F.id, F.name, F.brand))
    without: list[Selected[Car]] = await client.cars.list(where.select(F.id, F.name))

    [null] = with_brand
    assert null.is_selected("brand")
    assert null["brand"] is None
    assert null.get("id") == car_id
    assert null.fields == {"id", "name", "brand"}
    [left_out] = without
    assert not left_out.is_selected("brand")
    assert left_out.model.brand is None  # the plain model cannot tell, hence Selected
    with pytest.raises(NotSelectedError, match=r"Car\.brand was not selected .*id, name") as info:
        left_out["brand"]
    assert info.value.field == "brand"
    assert isinstance(info.value, FlinkeyError | KeyError | AttributeError)
    assert left_out["name"] == "No brand"
    assert left_out.fields == {"id", "name"}


async def test_selected_fields_read_their_values(client: FlinkeyClient, world: World) -> None:
    full: Car = await client.cars.get(world.car)
    row: Selected[Car] = await client.cars.get(
        world.car, Query().select(F.id, F.name, F.vin).filter(F.id == world.car)
    )
    assert row.fields == {"id", "name", "vin"}
    assert (row["name"], row.get("vin")) == (full.name, full.vin)
    with pytest.raises(NotSelectedError):
        row.get("license_plate")
    with pytest.raises(ValidationError, match="Car has no field 'plate'"):
        row.is_selected("plate")
    assert pickle.loads(pickle.dumps(row)) == row


async def test_iterate_yields_selected_rows_on_every_page(
    client: FlinkeyClient, world: World
) -> None:
    plain = [car.id async for car in client.cars.iterate(page_size=3)]
    rows: list[Selected[Car]] = [
        row async for row in client.cars.iterate(Query().select(F.id, F.name), page_size=3)
    ]
    assert [row["id"] for row in rows] == plain
    assert {row.fields for row in rows} == {frozenset({"id", "name"})}


async def test_iterate_pages_over_a_listing_method_keeps_the_selection(
    client: FlinkeyClient,
) -> None:
    query = Query().select(F.id, F.name).top(4)
    pages: list[list[Selected[Car]]] = [
        page async for page in iterate_pages(client.cars.list, query=query, page_size=3)
    ]
    assert [len(page) for page in pages] == [3, 1]
    assert all(isinstance(row, Selected) for page in pages for row in page)
    plain: list[list[Car]] = [
        page async for page in iterate_pages(client.cars.list, query=Query().top(2))
    ]
    assert [type(car) for page in plain for car in page] == [Car, Car]


async def test_products_and_the_endpoints_below_a_car_answer_selected(
    client: FlinkeyClient, world: World
) -> None:
    # Every required field is selected: an answer without one does not decode.
    select = Query().select(P.id, P.unique_id, P.serial_number, P.sap_number, P.type)
    products: list[Selected[Product]] = await client.products.list(select)
    assert products
    assert all(not row.is_selected("dongle_termination_time_stamp") for row in products)
    one: Selected[Product] = await client.products.get(world.product, select)
    assert one["id"] == world.product
    car: Selected[Car] = await client.products.car(world.product, Query().select(F.id, F.name))
    assert car.is_selected("id")
    assert not car.is_selected("vin")
    installed: list[Selected[Product]] = await client.cars.products(car["id"], select)
    assert world.product in {row["id"] for row in installed}


async def test_queries_without_select_answer_plain_models(
    client: FlinkeyClient, world: World
) -> None:
    cars: list[Car] = await client.cars.list()
    filtered: list[Car] = await client.cars.list(Query().filter(F.id == world.car).top(1))
    one: Car = await client.cars.get(world.car, Query().order_by(F.id))
    assert all(type(car) is Car for car in [*cars, *filtered, one])
    # select() with no field still selects: every field, all readable.
    [everything] = await client.cars.list(Query().filter(F.id == world.car).select())
    assert everything.model == one
    assert everything["name"] == one.name


def test_select_keeps_the_query_a_select_query() -> None:
    query = Query().select(F.id).filter(F.id > 1).order_by(F.id).top(5).skip(2).count()
    assert type(query) is SelectQuery
    assert query == Query(
        query.filter_expr, ("id",), query.order_keys, top_value=5, skip_value=2, count_value=True
    )
    assert repr(query).startswith("SelectQuery(")
    assert type(Query().filter(F.id > 1).top(5)) is Query
