"""What each endpoint does: the data it serves, the changes it makes, the rules it enforces,
and customer isolation (another customer's id answers exactly like an id that does not exist).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from flinkey_async import ProductType
from flinkey_async import _messages as m
from flinkey_async._converter import unstructure
from flinkey_async.sandbox import ENDPOINTS, Sandbox

from .rawhttp import Api
from .world import UNKNOWN_ID, Call, World, build_world, valid_call


@pytest.fixture
async def world(sandbox: Sandbox) -> World:
    return build_world(sandbox)


def _patch(path: str, value: Any = None, op: str = "replace") -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"op": op, "path": path}
    if op == "replace":
        entry["value"] = value
    return [entry]


# -- lists serve the ground truth ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"), [("/cars", "cars"), ("/products", "products"), ("/groups", "groups")]
)
async def test_lists_are_the_customers_entities(
    api: Api, sandbox: Sandbox, path: str, kind: str
) -> None:
    for customer_id in sandbox.customer_ids:
        reply = await api.get(path, customer_id=customer_id)
        assert reply.status == 200
        expected = sandbox.state.snapshot(customer_id)[kind]
        if kind == "groups":
            expected = [{"id": g["id"], "name": g["name"]} for g in expected]
        assert reply.json() == expected
        assert len(expected) > 0


async def test_get_car_and_product(api: Api, sandbox: Sandbox, world: World) -> None:
    car = sandbox.state.car(world.customer_id, world.car)
    assert (await api.get(f"/cars/{world.car}")).json() == unstructure(car)
    box = sandbox.state.product(world.customer_id, world.box)
    reply = await api.get(f"/products/{world.box}")
    assert reply.json() == unstructure(box)
    assert reply.json()["type"] == "flinkey Box"


async def test_service_and_car_of_a_product(api: Api, sandbox: Sandbox, world: World) -> None:
    service = (await api.get(f"/products/{world.box}/services")).json()
    assert service == unstructure(sandbox.state.service(world.customer_id, world.service))
    assert service["isTerminated"] is False
    assert service["terminationDate"] is None
    car = (await api.get(f"/products/{world.iq}/cars")).json()
    assert car["id"] == world.car


async def test_products_of_a_car_are_one_box_and_one_iq(api: Api, world: World) -> None:
    products = (await api.get(f"/cars/{world.car}/products")).json()
    assert [p["id"] for p in products] == [world.box, world.iq]
    assert {p["type"] for p in products} == {"flinkey Box", "flinkey IQ"}


async def test_generated_fleet_over_http_has_both_kinds_of_every_value(
    session: aiohttp.ClientSession,
) -> None:
    async with Sandbox(cars=60, seed=3, customers=1) as sb:
        api = Api(sb, session)
        products = (await api.get("/products")).json()
        assert {p["type"] for p in products} == {"flinkey Box", "flinkey IQ"}
        assert any(p["dongleTerminationTimeStamp"] for p in products)
        assert any(p["dongleTerminationTimeStamp"] is None for p in products)
        states = set()
        for product in products:
            reply = await api.get(f"/products/{product['id']}/services")
            if reply.status == 200:
                service = reply.json()
                states.add(service["isTerminated"])
                if service["isTerminated"]:
                    assert service["terminationDate"].endswith("Z")
                    assert service["terminationCause"]
            else:
                assert reply.text == m.SERVICE_OF_PRODUCT_NOT_FOUND
        assert states == {True, False}


# -- PUT /cars ----------------------------------------------------------------------------------


async def test_create_car_then_read_it(api: Api, sandbox: Sandbox) -> None:
    body = {"name": "Pool car", "licensePlate": "B-PC 12", "vin": "WVWZZZ1JZXW000001",
            "description": None, "brand": "Volkswagen", "model": "Golf"}  # fmt: skip
    reply = await api.call("PUT", "/cars", json_body=body)
    assert reply.status == 201
    new_id = reply.json()["id"]
    assert reply.json() == {"id": new_id}
    assert (await api.get(f"/cars/{new_id}")).json() == {"id": new_id, **body}
    assert sandbox.counters.created["car"] == 1
    # a new car has no products yet
    reply = await api.get(f"/cars/{new_id}/products")
    assert (reply.status, reply.text) == (404, m.NO_PRODUCTS_ON_CAR)


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": ""}, {"name": " \t"}, {"name": 5}])
async def test_create_car_without_a_name(api: Api, sandbox: Sandbox, body: dict[str, Any]) -> None:
    reply = await api.call("PUT", "/cars", json_body=body)
    assert (reply.status, reply.text) == (400, m.CAR_NAME_MISSING)
    assert sandbox.counters.created["car"] == 0


async def test_create_car_rejects_bodies_that_are_no_object(api: Api) -> None:
    reply = await api.call("PUT", "/cars", raw_body=b"{name", content_type="application/json")
    assert (reply.status, reply.text) == (400, "The request body is not valid JSON.")
    reply = await api.call("PUT", "/cars", json_body=["name"])
    assert (reply.status, reply.text) == (400, "The request body must be a JSON object.")
    reply = await api.call("PUT", "/cars", json_body={"name": "x", "vin": 12})
    assert (reply.status, reply.text) == (400, "The field 'vin' must be a string or null.")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_create_car_needs_json(api: Api, sandbox: Sandbox, content_type: str | None) -> None:
    kwargs: dict[str, Any] = {"raw_body": b'{"name": "x"}'}
    if content_type is None:
        kwargs["omit"] = ("Content-Type",)
    else:
        kwargs["content_type"] = content_type
    reply = await api.call("PUT", "/cars", **kwargs)
    assert reply.status == 415
    assert reply.json()["title"] == "Unsupported Media Type"
    assert sandbox.counters.created["car"] == 0


async def test_json_with_charset_is_json(api: Api) -> None:
    reply = await api.call(
        "PUT", "/cars", raw_body=b'{"name": "x"}', content_type="application/json; charset=utf-8"
    )
    assert reply.status == 201


async def test_trace_ids_differ(api: Api) -> None:
    ids = set()
    for _ in range(3):
        reply = await api.call("PUT", "/groups", raw_body=b"{}", content_type="text/plain")
        ids.add(reply.json()["traceId"])
    assert len(ids) == 3


# -- PATCH /cars/{carId} ------------------------------------------------------------------------


async def test_patch_car_replaces_and_removes_fields(
    api: Api, sandbox: Sandbox, world: World
) -> None:
    body = [
        {"op": "replace", "path": "/name", "value": "Renamed"},
        {"op": "replace", "path": "/licensePlate", "value": "K-RN 7"},
        {"op": "remove", "path": "/vin"},
        {"op": "replace", "path": "/description", "value": None},
        {"op": "replace", "path": "/brand", "value": "Audi"},
        {"op": "replace", "path": "/model", "value": "A3"},
    ]
    reply = await api.call("PATCH", f"/cars/{world.car}", json_body=body)
    assert (reply.status, reply.body) == (204, b"")
    car = (await api.get(f"/cars/{world.car}")).json()
    assert car == {"id": world.car, "name": "Renamed", "licensePlate": "K-RN 7", "vin": None,
                   "description": None, "brand": "Audi", "model": "A3"}  # fmt: skip
    assert sandbox.state.car(world.customer_id, world.car).name == "Renamed"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        _patch("/name", None),
        _patch("/name", ""),
        _patch("/name", "   "),
        _patch("/name", op="remove"),
        [{"op": "replace", "path": "/name"}],  # no value is a null value
    ],
)
async def test_patch_car_name_must_stay(
    api: Api, sandbox: Sandbox, world: World, body: list[dict[str, Any]]
) -> None:
    before = sandbox.state.car(world.customer_id, world.car)
    reply = await api.call("PATCH", f"/cars/{world.car}", json_body=body)
    assert (reply.status, reply.text) == (400, m.CAR_NAME_BLANK)
    assert sandbox.state.car(world.customer_id, world.car) == before


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (_patch("/id", "5"), "Unsupported JSON-Patch path '/id': the paths allowed here are "
         "/description, /vin, /name, /licensePlate, /brand, /model."),
        (_patch("/Name", "x"), "Unsupported JSON-Patch path '/Name': the paths allowed here are "
         "/description, /vin, /name, /licensePlate, /brand, /model."),
        ([{"op": "add", "path": "/vin", "value": "x"}], "Unsupported JSON-Patch operation 'add': "
         "the operations allowed here are 'remove', 'replace'."),
        ([{"op": "move", "from": "/vin", "path": "/model"}], "Unsupported JSON-Patch operation "
         "'move': the operations allowed here are 'remove', 'replace'."),
        ([{"path": "/vin"}], "Unsupported JSON-Patch operation (missing): the operations allowed "
         "here are 'remove', 'replace'."),
        (_patch("/vin", 17), "The value for '/vin' must be a string or null."),
        ({"op": "replace"}, "The request body must be a JSON-Patch document: an array of "
         "operations."),
        (["replace"], "The request body must be a JSON-Patch document: an array of operations."),
    ],
)  # fmt: skip
async def test_patch_car_only_the_listed_operations_and_paths(
    api: Api, sandbox: Sandbox, world: World, body: Any, text: str
) -> None:
    before = sandbox.state.car(world.customer_id, world.car)
    reply = await api.call("PATCH", f"/cars/{world.car}", json_body=body)
    assert (reply.status, reply.text) == (400, text)
    assert sandbox.state.car(world.customer_id, world.car) == before


async def test_patch_car_is_all_or_nothing(api: Api, sandbox: Sandbox, world: World) -> None:
    before = sandbox.state.car(world.customer_id, world.car)
    body = [*_patch("/model", "Changed"), *_patch("/name", " ")]
    reply = await api.call("PATCH", f"/cars/{world.car}", json_body=body)
    assert reply.status == 400
    assert sandbox.state.car(world.customer_id, world.car) == before


async def test_empty_patch_changes_nothing(api: Api, sandbox: Sandbox, world: World) -> None:
    before = sandbox.state.car(world.customer_id, world.car)
    assert (await api.call("PATCH", f"/cars/{world.car}", json_body=[])).status == 204
    assert sandbox.state.car(world.customer_id, world.car) == before


# -- DELETE /cars/{carId} -----------------------------------------------------------------------


async def test_delete_car_frees_its_products(api: Api, sandbox: Sandbox, world: World) -> None:
    assert (await api.call("DELETE", f"/cars/{world.car}")).status == 204
    reply = await api.get(f"/cars/{world.car}")
    assert (reply.status, reply.text) == (404, m.CAR_NOT_FOUND)
    reply = await api.call("DELETE", f"/cars/{world.car}")
    assert (reply.status, reply.text) == (404, m.CAR_NOT_ASSIGNED)
    reply = await api.get(f"/products/{world.box}/cars")
    assert (reply.status, reply.text) == (404, m.CAR_OF_PRODUCT_NOT_FOUND)
    assert (await api.get(f"/products/{world.box}")).status == 200
    cars_of_group = (await api.get(f"/groups/{world.group}/cars")).json()
    assert world.car not in [c["id"] for c in cars_of_group]


# -- location -----------------------------------------------------------------------------------


async def test_location_is_the_latest_recording(api: Api, world: World) -> None:
    location = (await api.get(f"/cars/{world.car}/location")).json()
    assert location == {"latitude": "48.142", "longitude": "11.542",
                        "date": "2025-01-03T06:00:00Z", "odometerDate": "2025-01-03T06:20:00Z",
                        "odometer": "10420.0"}  # fmt: skip


async def test_latest_location_follows_changes_to_the_history(
    api: Api, sandbox: Sandbox, world: World
) -> None:
    """The latest location is kept per car; recording or clearing makes it anew."""
    state, cid = sandbox.state, world.customer_id
    generated = next(
        car.id
        for car in state.cars(cid)
        if any(p.type is ProductType.IQ for p in state.products_of_car(cid, car.id))
    )
    for car_id in (world.car, generated):
        first = (await api.get(f"/cars/{car_id}/location")).json()
        assert first == (await api.get(f"/cars/{car_id}/location")).json()
        assert first["date"] is not None
        state.record_position(cid, car_id, datetime(2030, 1, 1, tzinfo=UTC), 50.5, 8.5)
        moved = (await api.get(f"/cars/{car_id}/location")).json()
        assert (moved["latitude"], moved["date"]) == ("50.5", "2030-01-01T00:00:00Z")
        assert moved["odometer"] == first["odometer"]
        state.record_odometer(cid, car_id, datetime(2030, 1, 2, tzinfo=UTC), 999_999.5)
        assert (await api.get(f"/cars/{car_id}/location")).json()["odometer"] == "999999.5"
        state.clear_history(cid, car_id)
        cleared = (await api.get(f"/cars/{car_id}/location")).json()
        assert set(cleared.values()) == {None}


@pytest.mark.parametrize(
    ("search", "date", "odometer_date"),
    [
        ("2025-01-01T13:30:00Z", "2025-01-01T12:00:00Z", "2025-01-01T12:20:00Z"),
        ("2025-01-01T16:00:00Z", "2025-01-01T18:00:00Z", "2025-01-01T18:20:00Z"),
        ("2025-01-01T15:10:00Z", "2025-01-01T18:00:00Z", "2025-01-01T12:20:00Z"),
        ("2020-01-01T00:00:00Z", "2025-01-01T12:00:00Z", "2025-01-01T12:20:00Z"),
        ("2030-01-01T00:00:00Z", "2025-01-03T06:00:00Z", "2025-01-03T06:20:00Z"),
    ],
)
async def test_location_at_a_date_is_the_nearest_recording(
    api: Api, world: World, search: str, date: str, odometer_date: str
) -> None:
    location = (await api.get(f"/cars/{world.car}/location/{search}")).json()
    assert (location["date"], location["odometerDate"]) == (date, odometer_date)


@pytest.mark.parametrize(
    "search",
    [
        "2025-01-01",
        "2025-01-01T13:30:00",
        "2025-01-01T13:30:00+00:00",
        "2025-01-01T13:30:00.000Z",
        "2025-1-01T13:30:00Z",
        "2025-02-30T10:00:00Z",
        "2025-01-01T25:00:00Z",
        "yesterday",
        "２０２５-01-01T13:30:00Z",  # full-width digits
        "٢٠٢٥-01-01T13:30:00Z",  # Arabic-Indic digits
    ],
)
async def test_location_search_date_format(api: Api, world: World, search: str) -> None:
    reply = await api.get(f"/cars/{world.car}/location/{search}")
    assert (reply.status, reply.text) == (400, m.INVALID_DATE_FORMAT)


async def test_location_of_a_car_with_only_a_box_has_no_values(
    api: Api, sandbox: Sandbox, world: World
) -> None:
    sandbox.state.unassign_product(world.customer_id, world.iq)
    sandbox.state.clear_history(world.customer_id, world.car)
    location = (await api.get(f"/cars/{world.car}/location")).json()
    assert location == dict.fromkeys(["latitude", "longitude", "date", "odometerDate", "odometer"])


# -- groups -------------------------------------------------------------------------------------


async def test_group_members_of_each_kind(api: Api, sandbox: Sandbox, world: World) -> None:
    state, cid = sandbox.state, world.customer_id
    expectations = {
        "cars": unstructure(state.car(cid, world.car)),
        "users": unstructure(state.user(cid, world.user)),
        "services": unstructure(state.service(cid, world.free_service)),
        "products": unstructure(state.product(cid, world.stock_product)),
    }
    for kind, expected in expectations.items():
        assert (await api.get(f"/groups/{world.group}/{kind}")).json() == [expected]
        assert (await api.get(f"/groups/{world.empty_group}/{kind}")).json() == []
    user = (await api.get(f"/groups/{world.group}/users")).json()[0]
    assert user["userData"] == {"firstName": "Known", "lastName": "User"}


async def test_create_group(api: Api, sandbox: Sandbox) -> None:
    reply = await api.call("PUT", "/groups", json_body={"name": "x" * 250})
    assert reply.status == 201
    assert {"id": reply.json()["id"], "name": "x" * 250} in (await api.get("/groups")).json()
    assert sandbox.counters.created["group"] == 1


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": ""}, {"name": "  "}])
async def test_create_group_without_a_name(api: Api, body: dict[str, Any]) -> None:
    reply = await api.call("PUT", "/groups", json_body=body)
    assert (reply.status, reply.text) == (400, m.GROUP_NAME_MISSING)


async def test_create_group_name_too_long(api: Api) -> None:
    reply = await api.call("PUT", "/groups", json_body={"name": "x" * 251})
    assert (reply.status, reply.text) == (400, m.GROUP_NAME_TOO_LONG)


EMOJI = "\N{AUTOMOBILE}"  # outside the BMP: two UTF-16 code units


@pytest.mark.parametrize(
    ("name", "status"),
    [
        pytest.param(EMOJI * 125, 201, id="125 emoji, 250 units"),
        pytest.param(EMOJI * 126, 400, id="126 emoji, 252 units"),
        pytest.param("x" * 249 + EMOJI, 400, id="250 code points, 251 units"),
        pytest.param("\N{LATIN SMALL LETTER E WITH ACUTE}" * 250, 201, id="250 BMP letters"),
    ],
)
async def test_group_name_length_counts_utf16_code_units(
    api: Api, sandbox: Sandbox, world: World, name: str, status: int
) -> None:
    """The service is .NET, whose string length is in UTF-16 code units."""
    other = sandbox.customer_ids[1]  # no name clash with the rename below
    created = await api.call("PUT", "/groups", json_body={"name": name}, customer_id=other)
    renamed = await api.call("PATCH", f"/groups/{world.group}", json_body=_patch("/name", name))
    if status == 201:
        assert created.status == 201, created.text
        assert renamed.status == 204, renamed.text
        assert sandbox.state.group(world.customer_id, world.group).name == name  # type: ignore[union-attr]
    else:
        assert (created.status, created.text) == (400, m.GROUP_NAME_TOO_LONG)
        assert (renamed.status, renamed.text) == (400, m.GROUP_NAME_TOO_LONG)
        assert m.GROUP_NAME_TOO_LONG == "The group name must be of maximum length '250'."
        assert sandbox.state.group(world.customer_id, world.group).name == world.group_name  # type: ignore[union-attr]


async def test_group_names_are_unique_per_customer(api: Api, sandbox: Sandbox) -> None:
    assert (await api.call("PUT", "/groups", json_body={"name": "Fleet A"})).status == 201
    for name in ("Fleet A", "fleet a"):
        reply = await api.call("PUT", "/groups", json_body={"name": name})
        assert (reply.status, reply.text) == (409, m.GROUP_NAME_TAKEN)
    other = sandbox.customer_ids[1]
    reply = await api.call("PUT", "/groups", json_body={"name": "Fleet A"}, customer_id=other)
    assert reply.status == 201


async def test_rename_group(api: Api, sandbox: Sandbox, world: World) -> None:
    body = _patch("/name", "Renamed")
    assert (await api.call("PATCH", f"/groups/{world.group}", json_body=body)).status == 204
    assert sandbox.state.group(world.customer_id, world.group).name == "Renamed"  # type: ignore[union-attr]
    same = _patch("/name", "Renamed")  # renaming to its own name is fine
    assert (await api.call("PATCH", f"/groups/{world.group}", json_body=same)).status == 204
    taken = _patch("/name", "Conformance empty group")
    reply = await api.call("PATCH", f"/groups/{world.group}", json_body=taken)
    assert (reply.status, reply.text) == (409, m.GROUP_NAME_TAKEN)


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (_patch("/name", " "), 400, m.GROUP_NAME_BLANK),
        (_patch("/name", None), 400, m.GROUP_NAME_BLANK),
        (_patch("/name", "y" * 251), 400, m.GROUP_NAME_TOO_LONG),
        (_patch("/name", op="remove"), 400, "Unsupported JSON-Patch operation 'remove': the "
         "operations allowed here are 'replace'."),
        (_patch("/id", "1"), 400, "Unsupported JSON-Patch path '/id': the paths allowed here "
         "are /name."),
    ],
)  # fmt: skip
async def test_rename_group_rules(
    api: Api, sandbox: Sandbox, world: World, body: Any, status: int, text: str
) -> None:
    reply = await api.call("PATCH", f"/groups/{world.group}", json_body=body)
    assert (reply.status, reply.text) == (status, text)
    assert sandbox.state.group(world.customer_id, world.group).name == world.group_name  # type: ignore[union-attr]


@pytest.mark.parametrize("group_id", ["0", "-4"])
async def test_rename_group_with_an_impossible_id(api: Api, group_id: str) -> None:
    reply = await api.call("PATCH", f"/groups/{group_id}", json_body=_patch("/name", "A"))
    assert (reply.status, reply.text) == (404, m.GROUP_NOT_FOUND)


async def test_group_membership_round_trip(api: Api, sandbox: Sandbox, world: World) -> None:
    members = {
        "cars": ("carId", world.car),
        "users": ("userId", world.other_user),
        "services": ("serviceId", world.service),
        "products": ("productId", world.box),
    }
    for kind, (field, member) in members.items():
        path = f"/groups/{world.empty_group}/{kind}"
        assert (await api.call("PUT", path, json_body={field: member})).status == 204
        assert member in [e["id"] for e in (await api.get(path)).json()]
    assert sandbox.counters.assigned == {"car": 1, "user": 1, "service": 1, "product": 1}
    reply = await api.call("DELETE", f"/groups/{world.empty_group}")
    assert (reply.status, reply.text) == (409, m.GROUP_HAS_RELATIONS)
    for kind, (_, member) in members.items():
        path = f"/groups/{world.empty_group}/{kind}/{member}"
        assert (await api.call("DELETE", path)).status == 204
    assert (await api.call("DELETE", f"/groups/{world.empty_group}")).status == 204
    reply = await api.get(f"/groups/{world.empty_group}/cars")
    assert (reply.status, reply.text) == (404, m.GROUP_NOT_FOUND_BY_ID)


@pytest.mark.parametrize("body", [{"carId": "12"}, {"carId": 1.5}, {"carId": True}])
async def test_member_ids_must_be_integers(api: Api, world: World, body: dict[str, Any]) -> None:
    reply = await api.call("PUT", f"/groups/{world.empty_group}/cars", json_body=body)
    assert (reply.status, reply.text) == (400, "The field 'carId' must be an integer.")


@pytest.mark.parametrize("body", [{}, {"carId": None}, {"userId": 5}])
async def test_missing_member_id_finds_nothing(
    api: Api, world: World, body: dict[str, Any]
) -> None:
    reply = await api.call("PUT", f"/groups/{world.empty_group}/cars", json_body=body)
    assert (reply.status, reply.text) == (404, m.CAR_ID_NOT_FOUND)


# -- customer isolation -------------------------------------------------------------------------


def _isolation_cases() -> list[Any]:
    """Each endpoint whose path names an entity, with the id replaced by another customer's."""
    cases = []
    for route in ENDPOINTS:
        for parameter in ("productId", "carId", "groupId", "userId", "serviceId"):
            if f"{{{parameter}}}" in route:
                cases.append(pytest.param(route, parameter, id=f"{route} {parameter}"))
    return cases


@pytest.mark.parametrize(("route", "parameter"), _isolation_cases())
async def test_another_customers_id_is_an_id_that_does_not_exist(
    api: Api, sandbox: Sandbox, route: str, parameter: str
) -> None:
    mine = build_world(sandbox, sandbox.customer_ids[0])
    theirs = build_world(sandbox, sandbox.customer_ids[1])
    call = valid_call(route, mine)
    foreign_id = valid_call(route, theirs).ids[parameter]
    assert foreign_id != call.ids[parameter]

    before = sandbox.state.snapshot(theirs.customer_id)
    foreign = await _send(api, call.with_id(route, parameter, foreign_id))
    missing = await _send(api, call.with_id(route, parameter, UNKNOWN_ID))
    assert foreign.status == 404
    assert (foreign.status, foreign.body) == (missing.status, missing.body)
    assert sandbox.state.snapshot(theirs.customer_id) == before
    # and the same request with the customer's own id does work
    assert (await _send(api, call)).status in (200, 201, 204)


@pytest.mark.parametrize("kind", ["cars", "users", "services", "products"])
async def test_another_customers_member_ids_are_unknown(
    api: Api, sandbox: Sandbox, kind: str
) -> None:
    mine = build_world(sandbox, sandbox.customer_ids[0])
    theirs = build_world(sandbox, sandbox.customer_ids[1])
    field = {"cars": "carId", "users": "userId", "services": "serviceId", "products": "productId"}
    member = {"cars": theirs.car, "users": theirs.user, "services": theirs.service,
              "products": theirs.box}[kind]  # fmt: skip
    path = f"/groups/{mine.empty_group}/{kind}"
    foreign = await api.call("PUT", path, json_body={field[kind]: member})
    missing = await api.call("PUT", path, json_body={field[kind]: UNKNOWN_ID})
    assert foreign.status == 404
    assert (foreign.status, foreign.body) == (missing.status, missing.body)


async def test_lists_never_show_another_customers_entities(api: Api, sandbox: Sandbox) -> None:
    first, second = sandbox.customer_ids
    theirs = {c.id for c in sandbox.state.cars(second)}
    created = (await api.call("PUT", "/cars", json_body={"name": "Mine"}, customer_id=first)).json()
    cars_first = {c["id"] for c in (await api.get("/cars", customer_id=first)).json()}
    cars_second = {c["id"] for c in (await api.get("/cars", customer_id=second)).json()}
    assert created["id"] in cars_first
    assert created["id"] not in cars_second
    assert cars_second == theirs
    assert not cars_first & cars_second


async def _send(api: Api, call: Call) -> Any:
    if call.body is None:
        return await api.call(call.method, call.path)
    return await api.call(call.method, call.path, json_body=call.body)


# -- anything else ------------------------------------------------------------------------------


async def test_unknown_paths_and_methods(api: Api) -> None:
    for method, path in (("GET", "/nothing"), ("POST", "/cars"), ("GET", "/cars/abc")):
        reply = await api.call(method, path)
        assert reply.status == 404
        assert reply.json() == {"statusCode": 404, "message": "Resource not found"}


async def test_oversized_body_is_refused_not_an_internal_error(api: Api, sandbox: Sandbox) -> None:
    body = io.BytesIO(json.dumps({"name": "x", "description": "y" * 2_000_000}).encode())
    headers = {
        "flinkey-API-Key": sandbox.api_key,
        "Authorization": f"Bearer {await api.token()}",
        "Customer-ID": str(sandbox.customer_id),
        "Content-Type": "application/json",
    }
    async with api.session.put(sandbox.url("/cars"), data=body, headers=headers) as response:
        assert response.status == 413
    assert sandbox.counters.created["car"] == 0


async def test_unexpected_failure_is_a_plain_500(
    api: Api, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(sandbox.state, "cars_wire", broken)
    reply = await api.get("/cars")
    assert (reply.status, reply.content_type, reply.text) == (
        500, "text/plain; charset=utf-8", m.INTERNAL_SERVER_ERROR,
    )  # fmt: skip
    assert sandbox.counters.responses[("GET /cars", 500)] == 1
    monkeypatch.undo()
    assert (await api.get("/cars")).status == 200
