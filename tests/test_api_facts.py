"""The API table (``flinkey_async._api``) against the pages, the client and the sandbox.

The pages are read by ``tests/sandbox/pages.py``; what the table says must be what they say, and
what the client and the sandbox do must follow from the table alone: a new member kind is one
entry, and the client can use it against the sandbox over HTTP without any other change.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from sandbox import pages

from flinkey_async import Car, ConflictError, FlinkeyClient, ValidationError, _api
from flinkey_async import _messages as m
from flinkey_async._cars import PATCHABLE_CAR_FIELDS, UNCHANGED, CarsResource
from flinkey_async._models import wire_name
from flinkey_async.sandbox import ENDPOINTS, ODATA_ENDPOINTS, ROUTES, Sandbox
from flinkey_async.sandbox._routes import check_route

PAGES = pages.read_pages()


def test_the_table_has_the_pages_endpoints() -> None:
    routes = [endpoint.route for endpoint in _api.endpoints()]
    assert len(routes) == len(set(routes)) == 28
    assert set(routes) == set(PAGES.routes)
    assert {endpoint.route for endpoint in _api.endpoints() if endpoint.odata} == PAGES.odata


def test_the_tables_answers_are_the_pages() -> None:
    table = {(e.route, status, text) for e in _api.endpoints() for status, text in e.answers}
    assert table == {answer.key for answer in PAGES.answers}


def test_the_sandboxs_route_names_come_from_the_table() -> None:
    assert tuple(endpoint.route for endpoint in _api.endpoints()) == ENDPOINTS
    assert {endpoint.route for endpoint in _api.endpoints() if endpoint.odata} == ODATA_ENDPOINTS
    assert {_api.TOKEN.route, _api.CUSTOMERS.route} == ROUTES - set(ENDPOINTS)


def test_paths_put_values_in_place_of_the_parameters() -> None:
    assert _api.LOCATION_AT.path(7, "2025-01-01T00:00:00Z") == (
        "cars", 7, "location", "2025-01-01T00:00:00Z",
    )  # fmt: skip
    assert _api.CAR_MEMBERS.endpoints[2].path(301, 7) == ("groups", 301, "cars", 7)
    with pytest.raises(TypeError):
        _api.CAR.path()


def _request_bodies() -> dict[str, Any]:
    """The JSON schema of each endpoint's ``Request body``, read from the pages."""
    decoder = json.JSONDecoder()
    bodies: dict[str, Any] = {}
    for name in pages.PAGE_FILES:
        text = (pages.DOCS / name).read_text(encoding="utf-8")
        routes = list(re.finditer(r"^(GET|PUT|PATCH|DELETE|POST) (/\S*)$", text, re.MULTILINE))
        for match, following in zip(routes, [*routes[1:], None], strict=True):
            section = text[match.end() : None if following is None else following.start()]
            at = section.find("Request body")
            if at >= 0:
                schema, _ = decoder.raw_decode(section, section.index("{", at))
                bodies[f"{match.group(1)} {match.group(2)}"] = schema
    return bodies


def test_request_bodies_are_the_pages() -> None:
    """Which endpoints take a body, the members' id keys, the JSON-Patch enums."""
    bodies = _request_bodies()
    endpoints = {endpoint.route: endpoint for endpoint in _api.endpoints()}
    assert set(bodies) == {route for route, e in endpoints.items() if e.json_body}
    for route, schema in bodies.items():
        endpoint = endpoints[route]
        if endpoint.body == "patch":
            operation = schema["items"]["properties"]
            assert tuple(operation["op"]["enum"]) == endpoint.patch_ops, route
            assert tuple(operation["path"]["enum"]) == endpoint.patch_paths, route
        elif endpoint.member is not None:
            assert set(schema["properties"]) == {endpoint.member.id_parameter}, route
    car = bodies[_api.CREATE_CAR.route]["properties"]
    assert set(car) == {field.wire for field in _api.CAR_FIELDS}
    for field in _api.CAR_FIELDS:
        assert ("null" in car[field.wire]["type"]) is field.nullable, field


# -- the writable car fields -----------------------------------------------------------------------


def test_car_fields_follow_the_patch_page_and_the_model() -> None:
    """The page's JSON-Patch ``path`` enum, in its order; only the name is required."""
    assert [field.pointer for field in _api.CAR_FIELDS] == [
        "/description", "/vin", "/name", "/licensePlate", "/brand", "/model",
    ]  # fmt: skip
    assert [field.attribute for field in _api.CAR_FIELDS if not field.nullable] == ["name"]
    car_attributes = attrs.fields_dict(Car)
    for field in _api.CAR_FIELDS:
        assert field.attribute in car_attributes
        assert field.wire == wire_name(field.attribute)
    assert {f.attribute: f.pointer for f in _api.CAR_FIELDS} == PATCHABLE_CAR_FIELDS


def _keywords(function: object, *ignored: str) -> set[str]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return {
        p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in ignored
    }  # fmt: skip


def test_car_update_keywords_are_the_patchable_fields() -> None:
    assert _keywords(CarsResource.update, "customer_id") == {
        field.attribute for field in _api.CAR_FIELDS
    }
    for name in _keywords(CarsResource.update, "customer_id"):
        assert inspect.signature(CarsResource.update).parameters[name].default is UNCHANGED


def test_car_create_keywords_are_the_optional_fields() -> None:
    assert _keywords(CarsResource.create, "customer_id", "settle") == {
        field.attribute for field in _api.CAR_FIELDS if field.nullable
    }


async def test_unchanged_fields_make_no_operation() -> None:
    """Only ``UNCHANGED`` fields is nothing to update, refused before any request."""
    async with FlinkeyClient(api_key="k", username="u", password="p", customer_id=1) as client:
        with pytest.raises(ValidationError) as caught:
            await client.cars.update(7, brand=UNCHANGED, name=UNCHANGED)
    assert caught.value.field == "changes"
    assert repr(UNCHANGED) == "UNCHANGED"


# -- a new member kind is one entry ----------------------------------------------------------------

VEHICLES = _api.GroupMember(
    "vehicles",
    "vehicleId",
    Car,
    m.CAR_ID_NOT_FOUND,
    m.CAR_ALREADY_IN_GROUP,
    m.CAR_NOT_IN_GROUP,
)
"""A made-up kind: cars, under another name in the URL."""


@pytest.fixture
def with_vehicles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_api.GROUP_MEMBERS, "vehicles", VEHICLES)


def test_a_new_kind_brings_its_three_endpoints(with_vehicles: None) -> None:
    routes = {endpoint.route for endpoint in _api.endpoints()}
    added = {
        "GET /groups/{groupId}/vehicles",
        "PUT /groups/{groupId}/vehicles",
        "DELETE /groups/{groupId}/vehicles/{vehicleId}",
    }
    assert added <= routes
    assert len(routes) == 28 + 3
    for route in added:
        assert check_route(route) == route


@contextlib.asynccontextmanager
async def _one_group() -> AsyncIterator[tuple[Sandbox, FlinkeyClient, int, Car]]:
    """A sandbox, a client of it, an empty group's id and one of the customer's cars."""
    async with Sandbox(cars=3, seed=1) as sb:
        group = sb.state.add_group(sb.customer_id, "Members")
        car = sb.state.cars(sb.customer_id)[0]
        async with FlinkeyClient(**sb.client_kwargs()) as client:
            yield sb, client, group.id, car


async def test_a_new_kind_is_served_and_used_with_no_other_change(with_vehicles: None) -> None:
    """With the entry alone, the client assigns, lists and removes a "vehicle" over HTTP and the
    sandbox serves, checks and records it as it does the documented kinds."""
    async with _one_group() as (sb, client, group_id, car):
        cid = sb.customer_id
        await client.groups.add_member("vehicles", group_id, car.id)
        assert sb.state.member_ids(cid, group_id, "vehicles") == [car.id]
        assert await client.groups.members("vehicles", group_id) == [car]
        with pytest.raises(ConflictError) as conflict:
            await client.groups.add_member("vehicles", group_id, car.id)
        assert conflict.value.message == m.CAR_ALREADY_IN_GROUP
        await client.groups.remove_member("vehicles", group_id, car.id)
        assert sb.state.member_ids(cid, group_id, "vehicles") == []
        with pytest.raises(ValidationError) as caught:
            await client.groups.add_member("lorries", group_id, car.id)
        assert caught.value.field == "kind"
        assert sb.state.member_ids(cid, group_id, "cars") == []
        assert sb.counters.requests["PUT /groups/{groupId}/vehicles"] == 2
        assert sb.counters.responses[("PUT /groups/{groupId}/vehicles", 409)] == 1
        assert sb.counters.requests["DELETE /groups/{groupId}/vehicles/{vehicleId}"] == 1
        assert sb.counters.assigned["vehicle"] == 1


async def test_the_documented_kinds_through_the_generic_methods() -> None:
    async with _one_group() as (_, client, group_id, car):
        await client.groups.add_member("cars", group_id, car.id)
        assert await client.groups.cars(group_id) == [car]
        assert await client.groups.members("cars", group_id) == [car]
        await client.groups.remove_member("cars", group_id, car.id)
        assert await client.groups.cars(group_id) == []
