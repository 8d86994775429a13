"""Conformance: for every (endpoint, status, message) the pages document, the sandbox answers
exactly that, byte for byte, to raw HTTP requests (no client involved).

The rows come from the pages themselves: the copies in ``tests/api_pages``, read by
:mod:`.pages`. Without them the module fails to load: a missing page must fail the run, not
shrink the table. ``test_copies_are_the_published_pages`` checks the copies against the published
pages when those are beside the repository.

How each kind of answer is provoked:

* 401 key message: a wrong ``flinkey-API-Key``; 401 token message: no ``Authorization``;
* 404 manager message: a ``Customer-ID`` the API Manager does not have;
* 415: the valid request's body sent as ``text/plain``;
* 500: the handler fails unexpectedly (``sb.faults.crash_next(route)``);
* 2xx: the valid request of :func:`.world.valid_call`, body checked against the page's schema;
* every other message: the condition it names, from :data:`SPECIFIC` below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from flinkey_async import _messages as m
from flinkey_async._converter import structure
from flinkey_async._models import wire_name
from flinkey_async.sandbox import ENDPOINTS, ODATA_ENDPOINTS, Sandbox

from . import documented, pages
from .rawhttp import Api, Reply
from .world import UNKNOWN_ID, Call, World, build_world, valid_call

PAGES = pages.read_pages()
REPOSITORY = Path(__file__).resolve().parents[2]


def _rows() -> list[Any]:
    return [
        pytest.param(
            a.route, a.status, a.message, id=f"{a.route} {a.status} {a.message or ''}"[:110]
        )
        for a in PAGES.answers
    ]


ROWS = _rows()


Scenario = Callable[[World], Call]


def _rename(value: Any) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/name", "value": value}]


SPECIFIC: dict[tuple[str, str], Scenario] = {
    ("GET /products/{productId}", m.PRODUCT_NOT_FOUND):
        lambda w: Call("GET", f"/products/{UNKNOWN_ID}"),
    ("GET /products/{productId}/services", m.PRODUCT_NOT_ASSIGNED):
        lambda w: Call("GET", f"/products/{UNKNOWN_ID}/services"),
    ("GET /products/{productId}/services", m.SERVICE_OF_PRODUCT_NOT_FOUND):
        lambda w: Call("GET", f"/products/{w.stock_product}/services"),
    ("GET /products/{productId}/cars", m.PRODUCT_NOT_ASSIGNED):
        lambda w: Call("GET", f"/products/{UNKNOWN_ID}/cars"),
    ("GET /products/{productId}/cars", m.CAR_OF_PRODUCT_NOT_FOUND):
        lambda w: Call("GET", f"/products/{w.stock_product}/cars"),
    ("GET /cars/{carId}", m.CAR_NOT_FOUND): lambda w: Call("GET", f"/cars/{UNKNOWN_ID}"),
    ("PUT /cars", m.CAR_NAME_MISSING):
        lambda w: Call("PUT", "/cars", {"licensePlate": "M-NO 1", "name": None}),
    ("PATCH /cars/{carId}", m.CAR_NAME_BLANK):
        lambda w: Call("PATCH", f"/cars/{w.car}", _rename(" ")),
    ("PATCH /cars/{carId}", m.CAR_NOT_ASSIGNED):
        lambda w: Call("PATCH", f"/cars/{UNKNOWN_ID}", [{"op": "remove", "path": "/vin"}]),
    ("DELETE /cars/{carId}", m.CAR_NOT_ASSIGNED): lambda w: Call("DELETE", f"/cars/{UNKNOWN_ID}"),
    ("GET /cars/{carId}/products", m.CAR_NOT_ASSIGNED):
        lambda w: Call("GET", f"/cars/{UNKNOWN_ID}/products"),
    ("GET /cars/{carId}/products", m.NO_PRODUCTS_ON_CAR):
        lambda w: Call("GET", f"/cars/{w.bare_car}/products"),
    ("GET /cars/{carId}/location", m.CAR_NOT_ASSIGNED):
        lambda w: Call("GET", f"/cars/{UNKNOWN_ID}/location"),
    ("GET /cars/{carId}/location", m.NO_PRODUCTS_ON_CAR):
        lambda w: Call("GET", f"/cars/{w.bare_car}/location"),
    ("GET /cars/{carId}/location/{searchDate}", m.INVALID_DATE_FORMAT):
        lambda w: Call("GET", f"/cars/{w.car}/location/2025-01-01 13:30:00"),
    ("GET /cars/{carId}/location/{searchDate}", m.CAR_NOT_ASSIGNED):
        lambda w: Call("GET", f"/cars/{UNKNOWN_ID}/location/2025-01-01T13:30:00Z"),
    ("GET /cars/{carId}/location/{searchDate}", m.NO_PRODUCTS_ON_CAR):
        lambda w: Call("GET", f"/cars/{w.bare_car}/location/2025-01-01T13:30:00Z"),
    ("PUT /groups", m.GROUP_NAME_MISSING): lambda w: Call("PUT", "/groups", {"name": "   "}),
    ("PUT /groups", m.GROUP_NAME_TAKEN):
        lambda w: Call("PUT", "/groups", {"name": w.group_name.upper()}),
    ("PATCH /groups/{groupId}", m.GROUP_NAME_BLANK):
        lambda w: Call("PATCH", f"/groups/{w.group}", _rename(None)),
    ("PATCH /groups/{groupId}", m.GROUP_NAME_TOO_LONG):
        lambda w: Call("PATCH", f"/groups/{w.group}", _rename("x" * 251)),
    ("PATCH /groups/{groupId}", m.GROUP_NOT_ASSIGNED):
        lambda w: Call("PATCH", f"/groups/{UNKNOWN_ID}", _rename("A")),
    ("PATCH /groups/{groupId}", m.GROUP_NOT_FOUND):
        lambda w: Call("PATCH", "/groups/0", _rename("A")),
    ("DELETE /groups/{groupId}", m.GROUP_NOT_FOUND):
        lambda w: Call("DELETE", f"/groups/{UNKNOWN_ID}"),
    ("DELETE /groups/{groupId}", m.GROUP_HAS_RELATIONS):
        lambda w: Call("DELETE", f"/groups/{w.group}"),
}  # fmt: skip


def _member_scenarios() -> None:
    kinds = {
        "cars": ("carId", m.CAR_ID_NOT_FOUND, m.CAR_ALREADY_IN_GROUP, m.CAR_NOT_IN_GROUP),
        "users": ("userId", m.USER_ID_NOT_FOUND, m.USER_ALREADY_IN_GROUP, m.USER_NOT_IN_GROUP),
        "services": (
            "serviceId", m.SERVICE_ID_NOT_FOUND, m.SERVICE_ALREADY_IN_GROUP, m.SERVICE_NOT_IN_GROUP,
        ),
        "products": (
            "productId", m.PRODUCT_ID_NOT_FOUND, m.PRODUCT_ALREADY_IN_GROUP, m.PRODUCT_NOT_IN_GROUP,
        ),
    }  # fmt: skip
    member_attribute = {
        "cars": "car", "users": "user", "services": "free_service", "products": "stock_product",
    }  # fmt: skip
    for kind, (field, unknown, already, not_member) in kinds.items():
        attribute = member_attribute[kind]
        listing = f"GET /groups/{{groupId}}/{kind}"
        assign = f"PUT /groups/{{groupId}}/{kind}"
        remove = f"DELETE /groups/{{groupId}}/{kind}/{{{field}}}"

        def member(w: World, attribute: str = attribute) -> int:
            return int(getattr(w, attribute))

        SPECIFIC[(listing, m.GROUP_NOT_FOUND_BY_ID)] = lambda w, kind=kind: Call(  # type: ignore[misc]
            "GET", f"/groups/{UNKNOWN_ID}/{kind}"
        )
        SPECIFIC[(assign, m.GROUP_NOT_FOUND)] = lambda w, kind=kind, field=field, member=member: (  # type: ignore[misc]
            Call("PUT", f"/groups/{UNKNOWN_ID}/{kind}", {field: member(w)})
        )
        SPECIFIC[(assign, unknown)] = lambda w, kind=kind, field=field: Call(  # type: ignore[misc]
            "PUT", f"/groups/{w.empty_group}/{kind}", {field: UNKNOWN_ID}
        )
        SPECIFIC[(assign, already)] = lambda w, kind=kind, field=field, member=member: Call(  # type: ignore[misc]
            "PUT", f"/groups/{w.group}/{kind}", {field: member(w)}
        )
        SPECIFIC[(remove, m.GROUP_NOT_FOUND)] = lambda w, kind=kind, member=member: Call(  # type: ignore[misc]
            "DELETE", f"/groups/{UNKNOWN_ID}/{kind}/{member(w)}"
        )
        SPECIFIC[(remove, unknown)] = lambda w, kind=kind: Call(  # type: ignore[misc]
            "DELETE", f"/groups/{w.group}/{kind}/{UNKNOWN_ID}"
        )
        SPECIFIC[(remove, not_member)] = lambda w, kind=kind, member=member: Call(  # type: ignore[misc]
            "DELETE", f"/groups/{w.empty_group}/{kind}/{member(w)}"
        )


_member_scenarios()


@pytest.fixture
async def world(sandbox: Sandbox) -> World:
    return build_world(sandbox)


async def _send(api: Api, call: Call, **kwargs: Any) -> Reply:
    if call.has_body and "raw_body" not in kwargs:
        kwargs["json_body"] = call.body
    return await api.call(call.method, call.path, **kwargs)


@pytest.mark.parametrize(("route", "status", "message"), ROWS)
async def test_documented_answer(
    api: Api, sandbox: Sandbox, world: World, route: str, status: int, message: str | None
) -> None:
    call = valid_call(route, world)
    if status == 401 and message == m.INVALID_API_KEY:
        reply = await _send(api, call, api_key="not-the-key")
    elif status == 401 and message == m.INVALID_TOKEN:
        reply = await _send(api, call, omit=("Authorization",))
    elif status == 404 and message == m.MANAGER_NOT_FOUND:
        reply = await _send(api, call, customer_id=UNKNOWN_ID)
    elif status == 500:
        sandbox.faults.crash_next(route)
        reply = await _send(api, call)
    elif status == 415:
        reply = await _send(
            api, call, raw_body=json.dumps(call.body).encode(), content_type="text/plain"
        )
    elif status in (200, 201, 204):
        reply = await _send(api, call)
    else:
        assert message is not None
        scenario = SPECIFIC.get((route, message))
        assert scenario is not None, f"no scenario provokes {status} {message!r} on {route}"
        reply = await _send(api, scenario(world))

    assert reply.status == status, reply.text
    if status == 401:
        assert reply.content_type == "application/json; charset=utf-8"
        assert reply.json() == {"statusCode": 401, "message": message}
    elif status == 415:
        _check_problem(route, reply)
    elif status in (200, 201):
        _check_success(route, status, reply)
    elif status == 204:
        assert reply.body == b""
    else:
        assert reply.content_type == "text/plain; charset=utf-8"
        assert message is not None
        assert reply.body == message.encode("utf-8")


def _check_problem(route: str, reply: Reply) -> None:
    assert reply.content_type == "application/problem+json; charset=utf-8"
    problem = reply.json()
    expected = PAGES.of(route, 415)[0].document
    assert set(problem) == set(expected)
    for key in ("type", "title", "status"):
        assert problem[key] == expected[key]
    assert isinstance(problem["traceId"], str)
    assert problem["traceId"]
    assert problem["traceId"] != "<traceId>"


def _check_success(route: str, status: int, reply: Reply) -> None:
    assert reply.content_type == "application/json; charset=utf-8"
    body = reply.json()
    model, is_list = documented.SUCCESS_MODEL[route]
    items = body if is_list else [body]
    assert isinstance(items, list)
    assert items, "a success body with something to check"
    names = {wire_name(field.name) for field in attrs.fields(model)}
    for item in items:
        assert set(item) == names  # every documented property, nothing else
        structure(item, model)  # and the library's own models accept it
    _check_schema(PAGES.of(route, status)[0].document, body, "$")


def _check_schema(schema: dict[str, Any], value: Any, path: str) -> None:
    """The small part of JSON Schema the pages use: type(s), properties, items, enum, format."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    assert any(checks[t](value) for t in types), f"{path}: {value!r} is not {types}"
    if value is None:
        return
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if schema.get("format") == "date-time" and isinstance(value, str):
        assert value.endswith("Z") or value[-6] in "+-", f"{path}: {value!r} has no offset"
        datetime.fromisoformat(value)
    if schema.get("format") == "double" and isinstance(value, str):
        float(value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        assert set(value) == set(properties), f"{path}: keys {sorted(value)}"
        for key, item in value.items():
            _check_schema(properties[key], item, f"{path}.{key}")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_schema(schema["items"], item, f"{path}[{index}]")


# -- the pages, the table and the sandbox say the same ------------------------------------------


def test_the_pages_are_read_from_the_repository() -> None:
    """The run depends on nothing outside the repository, and every page yields rows."""
    assert pages.DOCS.is_relative_to(REPOSITORY)
    for name in pages.PAGE_FILES:
        assert (pages.DOCS / name).is_file(), name
    assert {route.split(" /")[1].split("/")[0] for route in PAGES.routes} == {
        "cars", "groups", "products",
    }  # fmt: skip
    assert {answer.route for answer in PAGES.answers} == set(PAGES.routes)
    assert len(ROWS) == len(PAGES.answers)


def test_missing_pages_fail_instead_of_giving_an_empty_table(tmp_path: Path) -> None:
    (tmp_path / "cars.txt").write_text("GET /cars\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match=r"groups\.txt, products\.txt"):
        pages.read_pages(tmp_path)


def test_copies_are_the_published_pages() -> None:
    """Each copy is byte for byte one of the published endpoint pages, and none is left out."""
    if not pages.SHARED.is_dir():
        pytest.skip(f"the published pages are not at {pages.SHARED} (set FLINKEY_API_DOCS)")
    published = pages.endpoint_pages(pages.SHARED)
    copies = {(pages.DOCS / name).read_bytes() for name in pages.PAGE_FILES}
    assert len(copies) == len(pages.PAGE_FILES)
    assert {page.read_bytes() for page in published} == copies


def test_table_is_exactly_the_pages() -> None:
    from_pages = {(a.route, a.status, a.message) for a in PAGES.answers}
    assert from_pages == set(documented.rows())


def test_every_documented_message_is_a_constant() -> None:
    """Each message of the pages is one of ``_messages``' constants, character for character."""
    constants = {
        value for name, value in vars(m).items() if name.isupper() and isinstance(value, str)
    }
    for answer in PAGES.answers:
        if answer.message is not None:
            assert answer.message in constants, answer


def test_the_sandbox_serves_the_pages_endpoints() -> None:
    """The same 28 endpoints (the pages' order is the files' order, so compare sets)."""
    assert len(PAGES.routes) == len(set(PAGES.routes)) == 28
    assert set(PAGES.routes) == set(ENDPOINTS)
    assert len(ENDPOINTS) == len(set(ENDPOINTS))
    assert PAGES.odata == ODATA_ENDPOINTS


def test_every_documented_answer_has_a_scenario() -> None:
    assert set(documented.DOCUMENTED) == set(ENDPOINTS)
    generic = {m.INVALID_API_KEY, m.INVALID_TOKEN, m.MANAGER_NOT_FOUND, m.INTERNAL_SERVER_ERROR}
    for answer in PAGES.answers:
        if answer.message is None or answer.message in generic:
            continue
        assert (answer.route, answer.message) in SPECIFIC, answer
