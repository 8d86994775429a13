"""OData on the endpoints the pages mark ("The returned data can be manipulated using OData"):
``$filter``, ``$select``, ``$orderby``, ``$top``, ``$skip``, ``$count``; a query that is wrong
answers 400 with a message naming the problem; the other endpoints ignore query options.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flinkey_async import Car, ODataError
from flinkey_async import _messages as m
from flinkey_async.odata import apply_query, parse_query
from flinkey_async.sandbox import ENDPOINTS, ODATA_ENDPOINTS, Sandbox, SandboxMessages
from flinkey_async.sandbox._odata import check_types, public_problem, schema_of

from .rawhttp import Api
from .world import UNKNOWN_ID, World, build_world, valid_call


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
    "GET /cars/{carId}/location": SandboxMessages.LOCATION_FILTERED,
    "GET /cars/{carId}/location/{searchDate}": SandboxMessages.LOCATION_FILTERED,
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


@pytest.mark.parametrize(
    "path", ["/cars/{car}/location", "/cars/{car}/location/2025-01-02T00:00:00Z"]
)
async def test_location_that_fails_the_filter_does_not_deny_the_car_or_its_products(
    api: Api, sandbox: Sandbox, world: World, path: str
) -> None:
    """The car exists and has products; only the filter did not match."""
    url = path.format(car=world.car)
    assert (await api.get(url)).status == 200
    assert sandbox.state.has_products(world.car)
    reply = await api.get(url, params={"$filter": "odometer lt 0"})
    assert (reply.status, reply.text) == (
        404,
        "The location of this car does not match the $filter.",
    )
    assert reply.content_type == "text/plain; charset=utf-8"
    assert reply.text not in (m.NO_PRODUCTS_ON_CAR, m.CAR_NOT_ASSIGNED)


# -- type errors: a 400 that depends on the query alone ------------------------------------------

CLASHES = [
    ("name eq 1", "'name' (string)", "number"),
    ("1 eq name", "'name' (string)", "number"),
    ("id eq 0 and name eq 1", "'name' (string)", "number"),
    ("vin ne true", "'vin' (string)", "bool"),
    ("brand gt 2025-01-01T00:00:00Z", "'brand' (string)", "datetime"),
    ("id eq 'abc'", "'id' (number)", "string"),
    ("id in (10001, 'x')", "'id' (number)", "string"),
    ("not (name in ('a', 2))", "'name' (string)", "number"),
]


@pytest.mark.parametrize(("expression", "prop", "literal"), CLASHES)
async def test_type_clash_is_a_400_on_any_data(
    api: Api, sandbox: Sandbox, world: World, expression: str, prop: str, literal: str
) -> None:
    """Full list, empty list, one car, unknown car: the same 400, naming property and types."""
    empty = sandbox.state.add_customer("Customer without cars").id
    expected = (
        f"Invalid OData query: $filter: cannot compare property {prop} with a {literal} literal"
        + (" in its 'in' list" if " in (" in expression else "")
    )
    answers = [
        await api.get("/cars", params={"$filter": expression}),
        await api.get("/cars", params={"$filter": expression}, customer_id=empty),
        await api.get(f"/cars/{world.car}", params={"$filter": expression}),
        await api.get(f"/cars/{UNKNOWN_ID}", params={"$filter": expression}),
        await api.get(f"/products/{world.box}/cars", params={"$filter": expression}),
    ]
    for reply in answers:
        assert (reply.status, reply.text) == (400, expected)
    row_values = {
        str(value)
        for car in sandbox.state.snapshot(sandbox.customer_id)["cars"]
        for value in car.values()
        if value is not None and len(str(value)) >= 4
    }
    assert not any(value in answers[0].text for value in row_values)


def test_the_type_check_walks_a_long_and_chain() -> None:
    """A chain of 5,000 ``and`` is a tree 5,000 deep: the check must not run out of stack."""
    query = parse_query({"$filter": " and ".join(["id eq 1"] * 5_000) + " and name eq 1"})
    with pytest.raises(ODataError, match="property 'name' \\(string\\) with a number literal"):
        check_types(query, schema_of(Car))


@pytest.mark.parametrize(
    ("route", "expression"),
    [
        ("GET /cars", "name eq 'x' or id eq 10001 or vin eq null"),
        ("GET /cars", "id eq '10001'"),  # a string that reads as a number
        ("GET /cars/{carId}/products", "type eq 'flinkey Box' and id in (1, 2)"),
        ("GET /cars/{carId}/products", "dongleTerminationTimeStamp lt 2030-01-01"),
        ("GET /cars/{carId}/location", "odometer lt 0 or latitude eq '48.1'"),
        ("GET /cars/{carId}/location", "date gt '2025-01-01T00:00:00Z'"),
        ("GET /products/{productId}/services", "isTerminated eq false and name ne null"),
    ],
)
async def test_literals_of_a_fitting_type_pass_the_check(
    api: Api, world: World, route: str, expression: str
) -> None:
    reply = await api.get(valid_call(route, world).path, params={"$filter": expression})
    assert reply.status in (200, 404), reply.text


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"$filter": "contains(id,'1')"}, "contains() needs text, got number"),
        ({"$filter": "length(id) eq 5"}, "length() needs text or a collection, got number"),
        ({"$filter": "name add 1 eq 2"}, "add needs numbers, got string"),
        ({"$filter": "name"}, "$filter must be a condition, but it gave string"),
        ({"$orderby": "concat(name,id)"}, "concat() needs text, got number"),
        ({"$filter": "name eq id"}, "cannot compare string and number"),
    ],
)
async def test_type_errors_met_on_rows_name_types_never_values(
    api: Api, sandbox: Sandbox, params: dict[str, str], problem: str
) -> None:
    reply = await api.get("/cars", params=params)
    assert (reply.status, reply.text) == (400, f"Invalid OData query: {problem}")


_ROW_TEXT = "M-AB 12 and number 5 it's"
"""A row value shaped to confuse a text scrubber: quotes and the words of a message."""


@pytest.mark.parametrize(
    ("expression", "record", "public"),
    [
        ("name eq 1", {"name": _ROW_TEXT}, "cannot compare string and number"),
        ("name eq 2025-01-01", {"name": _ROW_TEXT * 3}, "cannot compare string and date"),
        ("d sub name eq d", {"d": datetime(2025, 1, 1, tzinfo=UTC), "name": _ROW_TEXT},
         "cannot sub datetime and string"),
        ("contains(id,'x')", {"id": 10001}, "contains() needs text, got number"),
        ("year(p) eq 1", {"p": _ROW_TEXT}, "year() needs a datetime or date, got string"),
        ("p or true", {"p": _ROW_TEXT}, "or needs true, false or null, got string"),
        ("-p eq 1", {"p": _ROW_TEXT}, "negation needs numbers, got string"),
        ("substring(p,'x') eq 'a'", {"p": _ROW_TEXT}, "substring() needs an integer, got string"),
        ("p", {"p": _ROW_TEXT}, "$filter must be a condition, but it gave string"),
        ("p in id", {"p": _ROW_TEXT, "id": 5},
         "the right side of 'in' must be a collection, got number"),
        ("id div 0 eq 1", {"id": 5}, "division by zero (div)"),
    ],
)  # fmt: skip
def test_public_problem_keeps_types_and_drops_values(
    expression: str, record: dict[str, Any], public: str
) -> None:
    with pytest.raises(ODataError) as caught:
        apply_query(parse_query({"$filter": expression}), [record])
    assert public_problem(caught.value) == public


def test_public_problem_of_an_unfamiliar_text_is_a_fixed_one() -> None:
    problem = public_problem(ODataError(f"something new about {_ROW_TEXT!r}"))
    assert problem == "the operand types do not fit the operation"


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
