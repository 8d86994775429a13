"""OData through the client on every endpoint the pages mark, against the ground truth.

Each query is built with ``flinkey_async.odata`` (``Query``, ``fields``); what the client returns
must equal ``apply_query`` (lists) or ``apply_to_entity`` (single entities) over the sandbox's
state, decoded into the same model. Every query is chosen so that its answer differs from the
answer without it: a client that dropped or mangled the query would fail.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from flinkey_async import (
    BadRequestError,
    Car,
    FlinkeyClient,
    Location,
    NotFoundError,
    Product,
    ProductType,
    Service,
)
from flinkey_async import _messages as m
from flinkey_async._converter import structure, structure_list, unstructure
from flinkey_async._paging import iterate_pages
from flinkey_async.odata import MAX_NESTING, Query, apply_query, apply_to_entity, fields, raw
from flinkey_async.sandbox import REFERENCE_TIME, Sandbox, SandboxMessages

from .conftest import World

C = fields(Car)
P = fields(Product)
S = fields(Service)
L = fields(Location)


def _rows(sb: Sandbox, cid: int, kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = sb.state.snapshot(cid)[kind]
    return rows


def _row(sb: Sandbox, cid: int, kind: str, entity_id: int) -> dict[str, Any]:
    return next(row for row in _rows(sb, cid, kind) if row["id"] == entity_id)


# -- lists -------------------------------------------------------------------------------------


async def test_cars_list(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    rows = _rows(sb, world.cid, "cars")
    query = (
        Query()
        .filter(C.brand.is_not_null() & (C.id >= rows[1]["id"]))
        .order_by(C.brand, C.name.desc())
        .skip(1)
        .top(5)
    )
    expected = structure_list(apply_query(query, rows), Car)
    got = await client.cars.list(query)
    assert got == expected
    assert len(got) == 5
    assert got != sb.state.cars(world.cid)[:5]


async def test_cars_list_select_and_count(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    rows = _rows(sb, world.cid, "cars")
    query = Query().select(C.id, C.name, C.vin).order_by(C.vin.desc(), C.id).count(True)
    got = await client.cars.list(query)
    assert [row.model for row in got] == structure_list(apply_query(query, rows), Car)
    assert len(got) == len(rows)
    assert all(row.fields == {"id", "name", "vin"} for row in got)
    # The body stays a plain array: the raw JSON is exactly the selected rows.
    assert await client.get_json("cars", query=query) == apply_query(query, rows)


async def test_cars_list_paging(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    base = Query().order_by(C.name).top(5)
    pages = [await client.cars.list(base.skip(n)) for n in (0, 5, 10)]
    assert [car for page in pages for car in page] == sorted(
        sb.state.cars(world.cid), key=lambda car: car.name
    )
    assert [len(page) for page in pages] == [5, 5, 2]


async def test_paging_over_ties_ends_the_order_with_id(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    rows = _rows(sb, world.cid, "products")
    sent: list[str] = []

    async def fetch(page: Query) -> list[Product]:
        sent.append(page.params()["$orderby"])
        return await client.products.list(page)

    query = Query().order_by(P.type.desc())
    pages = [page async for page in iterate_pages(fetch, page_size=3, query=query)]
    expected = structure_list(apply_query(query.order_by(P.id), rows), Product)
    assert [product for page in pages for product in page] == expected
    assert len({product.type for product in expected}) < len(expected)  # there are ties
    assert set(sent) == {"type desc,id"}


async def test_a_long_chain_of_conditions(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    rows = _rows(sb, world.cid, "cars")
    query = (
        Query()
        .filter(*(C.id != row["id"] for row in rows[::2]))
        .filter(*(C.id != n for n in range(150)))
    )
    got = await client.cars.list(query)
    assert got == structure_list(apply_query(query, rows), Car)
    assert [car.id for car in got] == [row["id"] for row in rows[1::2]]


async def test_non_integer_division_by_zero_is_infinite(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    rows = _rows(sb, world.cid, "cars")
    query = Query().filter((C.id / 0.0 > 10**12) & (C.id != rows[0]["id"]))
    got = await client.cars.list(query)
    assert [car.id for car in got] == [row["id"] for row in rows[1:]]
    with pytest.raises(BadRequestError, match="division by zero"):
        await client.cars.list(Query().filter(C.id / 0 > 1))


async def test_products_list(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    rows = _rows(sb, world.cid, "products")
    query = (
        Query()
        .filter(P.type == ProductType.IQ)
        .filter(P.id > 0)
        .order_by(P.serial_number.desc())
        .top(4)
    )
    got = await client.products.list(query)
    assert got == structure_list(apply_query(query, rows), Product)
    assert len(got) == 4
    assert {p.type for p in got} == {ProductType.IQ}


async def test_products_list_by_date(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    rows = _rows(sb, world.cid, "products")
    dates = sorted(
        p.dongle_termination_time_stamp
        for p in sb.state.products(world.cid)
        if p.dongle_termination_time_stamp is not None
    )
    assert len(dates) >= 2
    cutoff = dates[len(dates) // 2].astimezone(timezone(timedelta(hours=-5)))
    query = (
        Query()
        .filter(P.dongle_termination_time_stamp < cutoff)
        .order_by(P.dongle_termination_time_stamp.desc())
    )
    got = await client.products.list(query)
    assert got == structure_list(apply_query(query, rows), Product)
    assert 0 < len(got) < len(dates)
    assert all(p.dongle_termination_time_stamp < cutoff for p in got)  # type: ignore[operator]


async def test_cars_products(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    rows = [unstructure(p) for p in sb.state.products_of_car(world.cid, world.car)]
    assert len(rows) == 2
    only_iq = (
        Query()
        .filter(P.type == ProductType.IQ)
        .select(P.id, P.unique_id, P.serial_number, P.sap_number, P.type)
    )
    selected = await client.cars.products(world.car, only_iq)
    assert [p.model for p in selected] == structure_list(apply_query(only_iq, rows), Product)
    assert [p["type"] for p in selected] == [ProductType.IQ]
    ordered = Query().order_by(P.type.desc())
    got = await client.cars.products(world.car, ordered)
    assert got == structure_list(apply_query(ordered, rows), Product)
    assert [p.type for p in got] == [ProductType.IQ, ProductType.BOX]


# -- single entities ---------------------------------------------------------------------------


async def test_products_get(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    row = _row(sb, world.cid, "products", world.dated_product)
    assert row["dongleTerminationTimeStamp"] is not None
    query = Query().select(P.id, P.unique_id, P.serial_number, P.sap_number, P.type)
    got = await client.products.get(world.dated_product, query)
    shaped = apply_to_entity(query, row)
    assert shaped is not None
    assert got.model == structure(shaped, Product)
    assert got.model.dongle_termination_time_stamp is None
    assert not got.is_selected("dongle_termination_time_stamp")
    matching = Query().filter(P.unique_id == row["uniqueId"])
    assert await client.products.get(world.dated_product, matching) == sb.state.product(
        world.cid, world.dated_product
    )
    with pytest.raises(NotFoundError) as caught:
        await client.products.get(world.dated_product, Query().filter(P.unique_id == "nope"))
    assert caught.value.message == m.PRODUCT_NOT_FOUND


async def test_products_service(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    service = sb.state.service_of_product(world.cid, world.product)
    assert service is not None
    row = unstructure(service)
    query = (
        Query()
        .select(S.id, S.name, S.is_terminated)
        .filter(S.is_terminated == service.is_terminated)
    )
    got = await client.products.service(world.product, query)
    shaped = apply_to_entity(query, row)
    assert shaped is not None
    assert got.model == structure(shaped, Service)
    assert (got.model.termination_date, got.model.termination_cause) == (None, None)
    assert got.fields == {"id", "name", "is_terminated"}
    with pytest.raises(NotFoundError) as caught:
        await client.products.service(
            world.product, Query().filter(S.is_terminated != service.is_terminated)
        )
    assert caught.value.message == m.SERVICE_OF_PRODUCT_NOT_FOUND


async def test_products_car(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    car = sb.state.car_of_product(world.cid, world.product)
    assert car is not None
    assert car.brand is not None
    query = Query().select(C.id, C.name, C.license_plate)
    got = await client.products.car(world.product, query)
    shaped = apply_to_entity(query, unstructure(car))
    assert shaped is not None
    assert got.model == structure(shaped, Car)
    assert got.model.brand is None
    assert not got.is_selected("brand")
    with pytest.raises(NotFoundError) as caught:
        await client.products.car(world.product, Query().filter(C.id != car.id))
    assert caught.value.message == m.CAR_OF_PRODUCT_NOT_FOUND


async def test_cars_get(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    row = _row(sb, world.cid, "cars", world.car)
    query = Query().select(C.id, C.name, C.model).filter(C.name == row["name"])
    got = await client.cars.get(world.car, query)
    shaped = apply_to_entity(query, row)
    assert shaped is not None
    assert got.model == structure(shaped, Car)
    assert got.model != sb.state.car(world.cid, world.car)
    with pytest.raises(NotFoundError) as caught:
        await client.cars.get(world.car, Query().filter(C.name == row["name"] + "x"))
    assert caught.value.message == m.CAR_NOT_FOUND


async def test_cars_location(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    row = unstructure(sb.state.location(world.cid, world.car))
    query = Query().select(L.latitude, L.longitude).filter(L.date.is_not_null())
    got = await client.cars.location(world.car, query)
    shaped = apply_to_entity(query, row)
    assert shaped is not None
    assert got.model == structure(shaped, Location)
    assert got["latitude"] is not None
    assert got.model.odometer is None
    assert not got.is_selected("odometer")
    with pytest.raises(NotFoundError) as caught:
        await client.cars.location(world.car, Query().filter(L.date.is_null()))
    assert caught.value.message == SandboxMessages.LOCATION_FILTERED


async def test_cars_location_at(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    when = REFERENCE_TIME - timedelta(days=3, hours=5)
    row = unstructure(sb.state.location(world.cid, world.car, at=when))
    query = Query().select(L.date, L.odometer)
    got = await client.cars.location_at(world.car, when, query)
    shaped = apply_to_entity(query, row)
    assert shaped is not None
    assert got.model == structure(shaped, Location)
    assert got["date"] is not None
    assert not got.is_selected("latitude")
    with pytest.raises(NotFoundError) as caught:
        await client.cars.location_at(world.car, when, Query().filter(L.odometer_date.is_null()))
    assert caught.value.message == SandboxMessages.LOCATION_FILTERED


# -- literals that must survive the URL ----------------------------------------------------------

AWKWARD = "O'Brien & Sons #1 +x"
DECOYS = [
    "O'Brien & Sons #1  x",  # '+' read as a space
    "O'Brien & Sons #1 x",
    "O'Brien ",  # cut at '&'
    "O'Brien & Sons ",  # cut at '#'
    "O''Brien & Sons #1 +x",  # quote doubled once too often
    "o'brien & sons #1 +x",
]


async def test_string_literals_round_trip(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    car_id = await client.cars.create(AWKWARD, description="100% = 'sure'?/ü €")
    for decoy in DECOYS:
        sb.state.add_car(world.cid, decoy, description="decoy")
    rows = _rows(sb, world.cid, "cars")

    exact = Query().filter(C.name == AWKWARD)
    got = await client.cars.list(exact)
    assert [car.id for car in got] == [car_id]
    assert got == structure_list(apply_query(exact, rows), Car)

    for query in (
        Query().filter(C.name.contains("& Sons #1 +")),
        Query().filter(C.name.startswith("O'Brien & ")).order_by(C.name.desc()),
        Query().filter(C.description == "100% = 'sure'?/ü €"),
        Query().filter(C.name.in_([AWKWARD, "O'Brien ", "nothing"])),
    ):
        got = await client.cars.list(query)
        assert got == structure_list(apply_query(query, rows), Car), query.params()
        assert car_id in [car.id for car in got]
        assert len(got) < len(rows)

    single = await client.cars.get(car_id, Query().filter(C.name == AWKWARD))
    assert single == sb.state.car(world.cid, car_id)


# -- queries the service refuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("name eq", "$filter"),
        ("nmae eq 'Golf'", "nmae"),
        ("name eq 'unterminated", "$filter"),
        ("startswith(name)", "startswith"),
    ],
)
async def test_invalid_raw_filter(
    sb: Sandbox, client: FlinkeyClient, world: World, text: str, named: str
) -> None:
    query = Query().filter(raw(text))
    with pytest.raises(BadRequestError) as caught:
        await client.cars.list(query)
    error = caught.value
    assert error.status == 400
    assert error.message.startswith("Invalid OData query: ")
    assert named in error.message
    assert sb.counters.responses[("GET /cars", 400)] == 1
    assert sb.counters.requests["GET /cars"] == 1  # a 400 is not retried
    with pytest.raises(BadRequestError) as single:
        await client.products.get(world.product, query)
    assert single.value.message.startswith("Invalid OData query: ")


@pytest.mark.parametrize(
    "text",
    [
        "(" * 600 + "id gt 0" + ")" * 600,
        "not " * 600 + "true",
        "-" * 600 + "id lt 0",
        "(" * (MAX_NESTING + 1) + "id gt 0" + ")" * (MAX_NESTING + 1),
    ],
)
async def test_deep_nesting_is_a_bad_request(
    sb: Sandbox, client: FlinkeyClient, world: World, text: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.cars.list(Query().filter(raw(text)))
    assert "nested too deeply" in caught.value.message
    assert sb.counters.responses[("GET /cars", 400)] == 1
    at_the_limit = "(" * MAX_NESTING + "id gt 0" + ")" * MAX_NESTING
    assert len(await client.cars.list(Query().filter(raw(at_the_limit)))) == len(
        _rows(sb, world.cid, "cars")
    )


async def test_unknown_field_fails_before_sending(sb: Sandbox, client: FlinkeyClient) -> None:
    with pytest.raises(AttributeError):
        Query().filter(C.licence_plate == "B-X 1")
    assert sb.counters.total_requests == 0


async def test_group_endpoints_take_no_query(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    """The group endpoints take no query; the raw escape hatch shows the sandbox ignores one."""
    rows = await client.get_json("groups")
    assert rows == [unstructure(g) for g in sb.state.groups(world.cid)]
    assert await client.get_json("groups", query=Query().top(1)) == rows
