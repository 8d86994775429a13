"""OData on the endpoints the pages mark ("The returned data can be manipulated using OData"):
``$filter``, ``$select``, ``$orderby``, ``$top``, ``$skip``, ``$count``; a query that is wrong
answers 400 with a message naming the problem; the other endpoints ignore query options.
"""

from __future__ import annotations

from typing import Any

import pytest

from flinkey_async import _messages as m
from flinkey_async.sandbox import ENDPOINTS, ODATA_ENDPOINTS, Sandbox

from .rawhttp import Api
from .world import World, build_world, valid_call


@pytest.fixture
async def world(sandbox: Sandbox) -> World:
    return build_world(sandbox)


async def test_cars_filter_orderby_skip_top_select(api: Api, sandbox: Sandbox) -> None:
    cars = sandbox.state.snapshot(sandbox.customer_id)["cars"]
    brand = cars[0]["brand"]
    expected = sorted((c for c in cars if c["brand"] == brand), key=lambda c: -c["id"])
    reply = await api.get(
        "/cars",
        params={"$filter": f"brand eq '{brand}'", "$orderby": "id desc", "$select": "id,name"},
    )
    assert reply.status == 200
    assert reply.json() == [{"id": c["id"], "name": c["name"]} for c in expected]

    page = await api.get("/cars", params={"$orderby": "name", "$skip": "2", "$top": "3"})
    by_name = sorted(cars, key=lambda c: c["name"])
    assert page.json() == by_name[2:5]


async def test_count_is_accepted_and_the_body_stays_an_array(api: Api, sandbox: Sandbox) -> None:
    everything = (await api.get("/cars")).json()
    reply = await api.get("/cars", params={"$count": "true", "$top": "2"})
    assert reply.status == 200
    assert reply.json() == everything[:2]
    assert (await api.get("/cars", params={"$count": "false"})).json() == everything
    bad = await api.get("/cars", params={"$count": "maybe"})
    assert bad.status == 400
    assert bad.text.startswith("Invalid OData query: $count")


async def test_filter_with_functions_and_null(api: Api, sandbox: Sandbox) -> None:
    cars = sandbox.state.snapshot(sandbox.customer_id)["cars"]
    reply = await api.get(
        "/cars", params={"$filter": "startswith(name,'Conf') or vin eq null", "$select": "id"}
    )
    expected = [{"id": c["id"]} for c in cars if c["vin"] is None or c["name"].startswith("Conf")]
    assert reply.json() == expected


def _marked_cases() -> list[Any]:
    """One query per marked endpoint that changes the answer, and what it must give."""
    return [
        pytest.param("GET /products", {"$filter": "type eq 'flinkey IQ'", "$select": "id,type"},
                     "iq_products", id="products"),
        pytest.param("GET /products/{productId}", {"$select": "serialNumber"}, "box_serial",
                     id="product"),
        pytest.param("GET /products/{productId}/services",
                     {"$select": "isTerminated,name", "$filter": "isTerminated eq false"},
                     "service_state", id="service of product"),
        pytest.param("GET /products/{productId}/cars", {"$select": "licensePlate"},
                     "car_plate", id="car of product"),
        pytest.param("GET /cars", {"$filter": "licensePlate eq 'M-CF 100'", "$select": "id"},
                     "car_id_list", id="cars"),
        pytest.param("GET /cars/{carId}", {"$select": "vin,brand"}, "car_vin", id="car"),
        pytest.param("GET /cars/{carId}/products", {"$filter": "type eq 'flinkey Box'",
                     "$select": "id"}, "box_id_list", id="products of car"),
        pytest.param("GET /cars/{carId}/location", {"$select": "odometer,odometerDate"},
                     "odometer", id="location"),
        pytest.param("GET /cars/{carId}/location/{searchDate}",
                     {"$select": "date", "$filter": "date gt 2025-01-01T00:00:00Z"},
                     "date", id="location at date"),
    ]  # fmt: skip


def _expected(name: str, w: World, sb: Sandbox) -> Any:
    cid = w.customer_id
    return {
        "iq_products": [{"id": p.id, "type": "flinkey IQ"} for p in sb.state.products(cid)
                        if p.type.value == "flinkey IQ"],
        "box_serial": {"serialNumber": "FB2025-000001"},
        "service_state": {"isTerminated": False, "name": "flinkey Go"},
        "car_plate": {"licensePlate": "M-CF 100"},
        "car_id_list": [{"id": w.car}],
        "car_vin": {"vin": "WVWZZZ1JZXW000001", "brand": "Volkswagen"},
        "box_id_list": [{"id": w.box}],
        "odometer": {"odometer": "10420.0", "odometerDate": "2025-01-03T06:20:00Z"},
        "date": {"date": "2025-01-01T12:00:00Z"},
    }[name]  # fmt: skip


def test_cases_cover_every_marked_endpoint() -> None:
    assert {case.values[0] for case in _marked_cases()} == ODATA_ENDPOINTS
    assert len(ODATA_ENDPOINTS) == 9


@pytest.mark.parametrize(("route", "params", "expectation"), _marked_cases())
async def test_marked_endpoint_applies_odata(
    api: Api, sandbox: Sandbox, world: World, route: str, params: dict[str, str], expectation: str
) -> None:
    call = valid_call(route, world)
    plain = await api.get(call.path)
    reply = await api.get(call.path, params=params)
    assert reply.status == 200, reply.text
    assert reply.json() == _expected(expectation, world, sandbox)
    assert reply.json() != plain.json()


SINGLE_ENTITY_404 = {
    "GET /products/{productId}": m.PRODUCT_NOT_FOUND,
    "GET /products/{productId}/services": m.SERVICE_OF_PRODUCT_NOT_FOUND,
    "GET /products/{productId}/cars": m.CAR_OF_PRODUCT_NOT_FOUND,
    "GET /cars/{carId}": m.CAR_NOT_FOUND,
    "GET /cars/{carId}/location": m.NO_PRODUCTS_ON_CAR,
    "GET /cars/{carId}/location/{searchDate}": m.NO_PRODUCTS_ON_CAR,
}


@pytest.mark.parametrize("route", sorted(SINGLE_ENTITY_404))
async def test_single_entity_that_fails_the_filter_is_not_found(
    api: Api, world: World, route: str
) -> None:
    call = valid_call(route, world)
    field = "date" if "location" in route else "id"
    value = "2000-01-01T00:00:00Z" if field == "date" else "-1"
    reply = await api.get(call.path, params={"$filter": f"{field} eq {value}"})
    assert (reply.status, reply.text) == (404, SINGLE_ENTITY_404[route])


@pytest.mark.parametrize("route", sorted(ODATA_ENDPOINTS))
@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"$filter": "name eq"}, "$filter"),
        ({"$filter": "nosuchfield eq 1"}, "nosuchfield"),
        ({"$select": "nosuchfield"}, "nosuchfield"),
        ({"$orderby": "id sideways"}, "$orderby"),
        ({"$top": "-1"}, "$top"),
        ({"$skip": "many"}, "$skip"),
        ({"$expand": "products"}, "$expand"),
        ({"$fliter": "id eq 1"}, "$fliter"),
    ],
)
async def test_invalid_query_is_a_400_naming_the_problem(
    api: Api, world: World, route: str, params: dict[str, str], names: str
) -> None:
    reply = await api.get(valid_call(route, world).path, params=params)
    assert reply.status == 400
    assert reply.content_type == "text/plain; charset=utf-8"
    assert reply.text.startswith("Invalid OData query: ")
    assert names in reply.text


async def test_repeated_option_is_a_400(api: Api, sandbox: Sandbox) -> None:
    async with api.session.get(
        sandbox.url("/cars") + "?$top=1&$top=2",
        headers={"flinkey-API-Key": sandbox.api_key, "Authorization": f"Bearer {await api.token()}",
                 "Customer-ID": str(sandbox.customer_id)},
    ) as response:  # fmt: skip
        assert response.status == 400
        assert "twice" in await response.text()


async def test_error_position_points_into_the_sent_text(api: Api) -> None:
    reply = await api.get("/cars", params={"$filter": "id eq 1 and"})
    assert reply.status == 400
    assert "position" in reply.text


async def test_option_names_without_dollar_and_in_any_case(api: Api, sandbox: Sandbox) -> None:
    everything = (await api.get("/cars")).json()
    assert (await api.get("/cars", params={"top": "1"})).json() == everything[:1]
    assert (await api.get("/cars", params={"$TOP": "2"})).json() == everything[:2]
    assert (await api.get("/cars", params={"unrelated": "x"})).json() == everything


@pytest.mark.parametrize(
    "route", [r for r in ENDPOINTS if r.startswith("GET ") and r not in ODATA_ENDPOINTS]
)
async def test_unmarked_endpoints_ignore_odata(api: Api, world: World, route: str) -> None:
    path = valid_call(route, world).path
    plain = await api.get(path)
    assert plain.status == 200
    reply = await api.get(path, params={"$top": "0", "$filter": "this is not odata"})
    assert (reply.status, reply.json()) == (200, plain.json())
