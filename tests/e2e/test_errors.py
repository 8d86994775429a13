"""Every documented error, provoked through the client against the sandbox.

For each (endpoint, status, message) the reference pages list, a case below makes the sandbox
answer it and checks the exception the client raises: its class, status and ``message`` (the
documented text, from ``flinkey_async._messages``), that the answer came from that endpoint, and
that nothing changed for either customer. ``test_every_documented_error_has_a_case`` proves the
cases cover the pages' table (``tests/sandbox/documented.py``, itself proven equal to the pages).

Three kinds of documented answers cannot come from the sandbox through a well-behaved client:

* 400s about names, dates and ids: the client checks them first and raises ``ValidationError``
  without sending anything (asserted: the sandbox saw no request at all). The sandbox's real
  answers are then provoked by a caller's session middleware that spoils the request after the
  client's checks, to prove the client maps them too.
* 404 "Could not find group with the given Id." of ``PATCH /groups/{groupId}``: only ids <= 0 get
  it, and the client refuses those (the same two ways as above).
* 415: the client always sends ``application/json``. A caller's middleware that rewrites the
  ``Content-Type`` provokes it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
import attrs
import pytest

from flinkey_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FlinkeyClient,
    InvalidAPIKeyError,
    InvalidCredentialsError,
    InvalidTokenError,
    ManagerNotFoundError,
    NotFoundError,
    ServerError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from flinkey_async import _messages as m
from flinkey_async.sandbox import ENDPOINTS, REFERENCE_TIME, Sandbox

from .conftest import MISSING_ID, Stack, World

Call = Callable[[FlinkeyClient, World, int | None], Awaitable[Any]]
Act = Callable[[FlinkeyClient, World], Awaitable[Any]]

NOT_A_CUSTOMER = 4242
TRACE_ID = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00")

# -- one valid call per endpoint ---------------------------------------------------------------

CALLS: dict[str, Call] = {
    "GET /products": lambda c, w, cid: c.products.list(customer_id=cid),
    "GET /products/{productId}": lambda c, w, cid: c.products.get(w.product, customer_id=cid),
    "GET /products/{productId}/services": lambda c, w, cid: c.products.service(
        w.product, customer_id=cid
    ),
    "GET /products/{productId}/cars": lambda c, w, cid: c.products.car(w.product, customer_id=cid),
    "GET /cars": lambda c, w, cid: c.cars.list(customer_id=cid),
    "GET /cars/{carId}": lambda c, w, cid: c.cars.get(w.car, customer_id=cid),
    "PUT /cars": lambda c, w, cid: c.cars.create("E2E car", customer_id=cid),
    "PATCH /cars/{carId}": lambda c, w, cid: c.cars.update(w.car, name="E2E", customer_id=cid),
    "DELETE /cars/{carId}": lambda c, w, cid: c.cars.delete(w.car, customer_id=cid),
    "GET /cars/{carId}/products": lambda c, w, cid: c.cars.products(w.car, customer_id=cid),
    "GET /cars/{carId}/location": lambda c, w, cid: c.cars.location(w.car, customer_id=cid),
    "GET /cars/{carId}/location/{searchDate}": lambda c, w, cid: c.cars.location_at(
        w.car, REFERENCE_TIME, customer_id=cid
    ),
    "GET /groups": lambda c, w, cid: c.groups.list(customer_id=cid),
    "GET /groups/{groupId}/cars": lambda c, w, cid: c.groups.cars(w.group, customer_id=cid),
    "GET /groups/{groupId}/users": lambda c, w, cid: c.groups.users(w.group, customer_id=cid),
    "GET /groups/{groupId}/services": lambda c, w, cid: c.groups.services(w.group, customer_id=cid),
    "GET /groups/{groupId}/products": lambda c, w, cid: c.groups.products(w.group, customer_id=cid),
    "PUT /groups": lambda c, w, cid: c.groups.create("E2E group", customer_id=cid),
    "PUT /groups/{groupId}/cars": lambda c, w, cid: c.groups.add_car(
        w.empty_group, w.car, customer_id=cid
    ),
    "PUT /groups/{groupId}/users": lambda c, w, cid: c.groups.add_user(
        w.empty_group, w.user, customer_id=cid
    ),
    "PUT /groups/{groupId}/services": lambda c, w, cid: c.groups.add_service(
        w.empty_group, w.service, customer_id=cid
    ),
    "PUT /groups/{groupId}/products": lambda c, w, cid: c.groups.add_product(
        w.empty_group, w.product, customer_id=cid
    ),
    "PATCH /groups/{groupId}": lambda c, w, cid: c.groups.rename(
        w.group, "E2E renamed", customer_id=cid
    ),
    "DELETE /groups/{groupId}": lambda c, w, cid: c.groups.delete(w.empty_group, customer_id=cid),
    "DELETE /groups/{groupId}/users/{userId}": lambda c, w, cid: c.groups.remove_user(
        w.group, w.group_user, customer_id=cid
    ),
    "DELETE /groups/{groupId}/cars/{carId}": lambda c, w, cid: c.groups.remove_car(
        w.group, w.group_car, customer_id=cid
    ),
    "DELETE /groups/{groupId}/services/{serviceId}": lambda c, w, cid: c.groups.remove_service(
        w.group, w.group_service, customer_id=cid
    ),
    "DELETE /groups/{groupId}/products/{productId}": lambda c, w, cid: c.groups.remove_product(
        w.group, w.group_product, customer_id=cid
    ),
    "GET /customers": lambda c, w, cid: c.customers.list(),
}
"""A call that succeeds on a fresh sandbox, for each of the 28 endpoints and ``GET /customers``."""

WITH_BODY = tuple(route for route in CALLS if route.split()[0] in ("PUT", "PATCH"))
SCOPED = tuple(route for route in CALLS if route != "GET /customers")


def test_calls_cover_every_endpoint() -> None:
    assert set(SCOPED) == set(ENDPOINTS)
    assert len(SCOPED) == 28
    assert len(WITH_BODY) == 8


def _snapshots(sb: Sandbox) -> list[dict[str, Any]]:
    return [sb.state.snapshot(cid) for cid in sb.customer_ids]


async def _raises(cls: type[BaseException], call: Awaitable[Any]) -> Any:
    with pytest.raises(cls) as caught:
        await call
    assert type(caught.value) is cls, f"{type(caught.value).__name__}: {caught.value}"
    return caught.value


def _check_api_error(error: APIError, status: int, message: str, route: str) -> None:
    assert error.status == status
    assert error.message == message
    method, template = route.split(" ", 1)
    assert error.method == method
    prefix = template.split("{", 1)[0].rstrip("/")
    assert error.path.startswith("/v3" + prefix), error.path


# -- the answers every endpoint documents ------------------------------------------------------


@pytest.mark.parametrize("route", list(CALLS))
async def test_invalid_api_key(
    sb: Sandbox, client: FlinkeyClient, world: World, stack: Stack, route: str
) -> None:
    """401 key message: a static valid token and a wrong key reach the endpoint itself."""
    wrong_key = await stack.client(api_key="e2e-wrong-api-key", token=sb.issue_token())
    before = _snapshots(sb)
    error = await _raises(InvalidAPIKeyError, CALLS[route](wrong_key, world, None))
    _check_api_error(error, 401, m.INVALID_API_KEY, route)
    assert sb.counters.responses[(route, 401)] == 1
    assert sb.counters.token_requests == 0
    assert _snapshots(sb) == before
    await CALLS[route](client, world, None)  # the same call with the right key succeeds


@pytest.mark.parametrize("route", list(CALLS))
async def test_invalid_token(
    sb: Sandbox, client: FlinkeyClient, world: World, stack: Stack, route: str
) -> None:
    """401 token message: a caller-held token that has expired cannot be renewed: no replay."""
    expired = await stack.client(token=sb.issue_token(ttl=-60))
    before = _snapshots(sb)
    error = await _raises(InvalidTokenError, CALLS[route](expired, world, None))
    _check_api_error(error, 401, m.INVALID_TOKEN, route)
    assert sb.counters.requests[route] == 1
    assert expired.stats.token_replays == 0
    assert _snapshots(sb) == before
    await CALLS[route](client, world, None)


@pytest.mark.parametrize("route", SCOPED)
async def test_manager_not_found(
    sb: Sandbox, client: FlinkeyClient, world: World, route: str
) -> None:
    """404 manager message: a ``customer_id=`` override that is not one of the manager's."""
    before = _snapshots(sb)
    error = await _raises(ManagerNotFoundError, CALLS[route](client, world, NOT_A_CUSTOMER))
    _check_api_error(error, 404, m.MANAGER_NOT_FOUND, route)
    assert isinstance(error, NotFoundError)
    assert sb.counters.responses[(route, 404)] == 1
    assert _snapshots(sb) == before
    await CALLS[route](client, world, world.cid)


@pytest.mark.parametrize("route", list(CALLS))
async def test_internal_server_error(
    sb: Sandbox, client: FlinkeyClient, world: World, route: str
) -> None:
    """500 "Internal server error.": the handler fails (on every attempt, retried or not)."""
    sb.faults.crash_next(route, count=10)
    before = _snapshots(sb)
    error = await _raises(ServerError, CALLS[route](client, world, None))
    _check_api_error(error, 500, m.INTERNAL_SERVER_ERROR, route)
    assert sb.counters.faults[(route, "crash")] >= 1
    assert _snapshots(sb) == before
    sb.faults.clear()
    await CALLS[route](client, world, None)


async def _as_text_plain(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """A caller's middleware that spoils the media type of every request with a body."""
    if request.method in ("PUT", "PATCH"):
        request.headers["Content-Type"] = "text/plain"
    return await handler(request)


@pytest.mark.parametrize("route", WITH_BODY)
async def test_unsupported_media_type(
    sb: Sandbox, client: FlinkeyClient, world: World, stack: Stack, route: str
) -> None:
    """415 problem document, provoked by a lent session whose middleware rewrites the type."""
    session = await stack.session(middlewares=[_as_text_plain])
    spoiled = await stack.client(session=session)
    before = _snapshots(sb)
    error = await _raises(UnsupportedMediaTypeError, CALLS[route](spoiled, world, None))
    _check_api_error(error, 415, m.UNSUPPORTED_MEDIA_TYPE_TITLE, route)
    assert error.trace_id is not None
    assert TRACE_ID.fullmatch(error.trace_id)
    assert sb.counters.responses[(route, 415)] == 1
    assert _snapshots(sb) == before
    await CALLS[route](client, world, None)


def _record_content_types(
    seen: list[tuple[str, str | None]],
) -> aiohttp.ClientMiddlewareType:
    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        seen.append((f"{request.method} {request.url.path}", request.headers.get("Content-Type")))
        return await handler(request)

    return middleware


async def test_requests_with_a_body_are_sent_as_json(
    sb: Sandbox, world: World, stack: Stack
) -> None:
    """Why the client never meets a 415: every PUT and PATCH carries application/json."""
    seen: list[tuple[str, str | None]] = []
    session = await stack.session(middlewares=[_record_content_types(seen)])
    recorded = await stack.client(session=session)
    for route in WITH_BODY:
        await CALLS[route](recorded, world, None)
    with_body = [(what, kind) for what, kind in seen if what.split()[0] in ("PUT", "PATCH")]
    assert len(with_body) == 8
    assert all(kind == "application/json" for _, kind in with_body), with_body
    assert sum(n for (route, status), n in sb.counters.responses.items() if status == 415) == 0
    assert sb.counters.created == {"car": 1, "group": 1}


# -- the endpoints' own answers ----------------------------------------------------------------


@attrs.frozen
class Case:
    route: str
    status: int
    message: str
    raises: type[Exception]
    act: Act
    name: str = ""

    @property
    def id(self) -> str:
        suffix = f" [{self.name}]" if self.name else ""
        return f"{self.route} {self.status} {self.message[:48]}{suffix}"


def _member_cases() -> list[Case]:
    cases: list[Case] = []
    for kind, unknown, already, not_member in (
        ("cars", m.CAR_ID_NOT_FOUND, m.CAR_ALREADY_IN_GROUP, m.CAR_NOT_IN_GROUP),
        ("users", m.USER_ID_NOT_FOUND, m.USER_ALREADY_IN_GROUP, m.USER_NOT_IN_GROUP),
        ("services", m.SERVICE_ID_NOT_FOUND, m.SERVICE_ALREADY_IN_GROUP, m.SERVICE_NOT_IN_GROUP),
        ("products", m.PRODUCT_ID_NOT_FOUND, m.PRODUCT_ALREADY_IN_GROUP, m.PRODUCT_NOT_IN_GROUP),
    ):
        one = kind[:-1]
        parameter = f"{one}Id"
        in_group = f"group_{one}"
        fresh = {"cars": "car", "users": "user", "services": "service", "products": "product"}[kind]

        def add(c: FlinkeyClient, group: int, member: int, one: str = one) -> Awaitable[Any]:
            return getattr(c.groups, f"add_{one}")(group, member)  # type: ignore[no-any-return]

        def remove(c: FlinkeyClient, group: int, member: int, one: str = one) -> Awaitable[Any]:
            return getattr(c.groups, f"remove_{one}")(group, member)  # type: ignore[no-any-return]

        def members(c: FlinkeyClient, group: int, kind: str = kind) -> Awaitable[Any]:
            return getattr(c.groups, kind)(group)  # type: ignore[no-any-return]

        put = f"PUT /groups/{{groupId}}/{kind}"
        delete = f"DELETE /groups/{{groupId}}/{kind}/{{{parameter}}}"
        cases += [
            Case(
                f"GET /groups/{{groupId}}/{kind}", 404, m.GROUP_NOT_FOUND_BY_ID, NotFoundError,
                lambda c, w, members=members: members(c, MISSING_ID),  # type: ignore[misc]
            ),
            Case(
                put, 404, m.GROUP_NOT_FOUND, NotFoundError,
                lambda c, w, add=add, fresh=fresh: add(c, MISSING_ID, getattr(w, fresh)),  # type: ignore[misc]
            ),
            Case(
                put, 404, unknown, NotFoundError,
                lambda c, w, add=add: add(c, w.group, MISSING_ID),  # type: ignore[misc]
            ),
            Case(
                put, 409, already, ConflictError,
                lambda c, w, add=add, in_group=in_group: add(c, w.group, getattr(w, in_group)),  # type: ignore[misc]
            ),
            Case(
                delete, 404, m.GROUP_NOT_FOUND, NotFoundError,
                lambda c, w, remove=remove, in_group=in_group: remove(  # type: ignore[misc]
                    c, MISSING_ID, getattr(w, in_group)
                ),
            ),
            Case(
                delete, 404, unknown, NotFoundError,
                lambda c, w, remove=remove: remove(c, w.group, MISSING_ID),  # type: ignore[misc]
            ),
            Case(
                delete, 404, not_member, NotFoundError,
                lambda c, w, remove=remove, in_group=in_group: remove(  # type: ignore[misc]
                    c, w.empty_group, getattr(w, in_group)
                ),
            ),
        ]  # fmt: skip
    return cases


SERVER_CASES: list[Case] = [
    # products
    Case("GET /products/{productId}", 404, m.PRODUCT_NOT_FOUND, NotFoundError,
         lambda c, w: c.products.get(MISSING_ID)),
    Case("GET /products/{productId}/services", 404, m.PRODUCT_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.products.service(MISSING_ID)),
    Case("GET /products/{productId}/services", 404, m.SERVICE_OF_PRODUCT_NOT_FOUND, NotFoundError,
         lambda c, w: c.products.service(w.product_no_service)),
    Case("GET /products/{productId}/cars", 404, m.PRODUCT_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.products.car(MISSING_ID)),
    Case("GET /products/{productId}/cars", 404, m.CAR_OF_PRODUCT_NOT_FOUND, NotFoundError,
         lambda c, w: c.products.car(w.product_no_car)),
    # cars
    Case("GET /cars/{carId}", 404, m.CAR_NOT_FOUND, NotFoundError,
         lambda c, w: c.cars.get(MISSING_ID)),
    Case("PATCH /cars/{carId}", 404, m.CAR_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.cars.update(MISSING_ID, name="E2E")),
    Case("DELETE /cars/{carId}", 404, m.CAR_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.cars.delete(MISSING_ID)),
    Case("GET /cars/{carId}/products", 404, m.CAR_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.cars.products(MISSING_ID)),
    Case("GET /cars/{carId}/products", 404, m.NO_PRODUCTS_ON_CAR, NotFoundError,
         lambda c, w: c.cars.products(w.bare_car)),
    Case("GET /cars/{carId}/location", 404, m.CAR_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.cars.location(MISSING_ID)),
    Case("GET /cars/{carId}/location", 404, m.NO_PRODUCTS_ON_CAR, NotFoundError,
         lambda c, w: c.cars.location(w.bare_car)),
    Case("GET /cars/{carId}/location/{searchDate}", 404, m.CAR_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.cars.location_at(MISSING_ID, REFERENCE_TIME)),
    Case("GET /cars/{carId}/location/{searchDate}", 404, m.NO_PRODUCTS_ON_CAR, NotFoundError,
         lambda c, w: c.cars.location_at(w.bare_car, REFERENCE_TIME)),
    # groups
    Case("PUT /groups", 409, m.GROUP_NAME_TAKEN, ConflictError,
         lambda c, w: c.groups.create(w.group_name)),
    Case("PATCH /groups/{groupId}", 404, m.GROUP_NOT_ASSIGNED, NotFoundError,
         lambda c, w: c.groups.rename(MISSING_ID, "E2E renamed")),
    Case("DELETE /groups/{groupId}", 404, m.GROUP_NOT_FOUND, NotFoundError,
         lambda c, w: c.groups.delete(MISSING_ID)),
    Case("DELETE /groups/{groupId}", 409, m.GROUP_HAS_RELATIONS, ConflictError,
         lambda c, w: c.groups.delete(w.group)),
    *_member_cases(),
]  # fmt: skip
"""Answers the sandbox gives to a client's well-formed request."""


@pytest.mark.parametrize("case", SERVER_CASES, ids=lambda case: case.id)
async def test_documented_answer(
    sb: Sandbox, client: FlinkeyClient, world: World, case: Case
) -> None:
    before = _snapshots(sb)
    error = await _raises(case.raises, case.act(client, world))
    _check_api_error(error, case.status, case.message, case.route)
    assert sb.counters.responses[(case.route, case.status)] == 1
    assert sb.counters.requests[case.route] == 1  # not retried
    assert _snapshots(sb) == before


VALIDATION_CASES: list[Case] = [
    Case("PUT /cars", 400, m.CAR_NAME_MISSING, ValidationError,
         lambda c, w: c.cars.create("   "), "blank"),
    Case("PUT /cars", 400, m.CAR_NAME_MISSING, ValidationError,
         lambda c, w: c.cars.create(""), "empty"),
    Case("PUT /cars", 400, m.CAR_NAME_MISSING, ValidationError,
         lambda c, w: c.cars.create(None), "None"),  # type: ignore[arg-type]
    Case("PATCH /cars/{carId}", 400, m.CAR_NAME_BLANK, ValidationError,
         lambda c, w: c.cars.update(w.car, name=" \t"), "blank"),
    Case("PATCH /cars/{carId}", 400, m.CAR_NAME_BLANK, ValidationError,
         lambda c, w: c.cars.update(w.car, name=None), "removed"),  # type: ignore[arg-type]
    Case("GET /cars/{carId}/location/{searchDate}", 400, m.INVALID_DATE_FORMAT, ValidationError,
         lambda c, w: c.cars.location_at(w.car, datetime(2025, 6, 1, 12, 0)), "naive"),
    Case("GET /cars/{carId}/location/{searchDate}", 400, m.INVALID_DATE_FORMAT, ValidationError,
         lambda c, w: c.cars.location_at(w.car, "2025-06-01T12:00:00Z"), "text"),  # type: ignore[call-overload]
    Case("PUT /groups", 400, m.GROUP_NAME_MISSING, ValidationError,
         lambda c, w: c.groups.create("  "), "blank"),
    Case("PUT /groups", 400, m.GROUP_NAME_TOO_LONG, ValidationError,
         lambda c, w: c.groups.create("x" * 251), "too long"),
    Case("PATCH /groups/{groupId}", 400, m.GROUP_NAME_BLANK, ValidationError,
         lambda c, w: c.groups.rename(w.group, "\n"), "blank"),
    Case("PATCH /groups/{groupId}", 400, m.GROUP_NAME_TOO_LONG, ValidationError,
         lambda c, w: c.groups.rename(w.group, "x" * 251), "too long"),
    Case("PATCH /groups/{groupId}", 404, m.GROUP_NOT_FOUND, ValidationError,
         lambda c, w: c.groups.rename(0, "E2E renamed"), "id 0"),
    Case("PATCH /groups/{groupId}", 404, m.GROUP_NOT_FOUND, ValidationError,
         lambda c, w: c.groups.rename(-3, "E2E renamed"), "id -3"),
]  # fmt: skip
"""Documented answers to requests the client refuses to send."""


@pytest.mark.parametrize("case", VALIDATION_CASES, ids=lambda case: case.id)
async def test_refused_before_sending(
    sb: Sandbox, client: FlinkeyClient, world: World, case: Case
) -> None:
    error = await _raises(ValidationError, case.act(client, world))
    assert isinstance(error, ValueError)
    assert error.field  # type: ignore[attr-defined]
    assert sb.counters.total_requests == 0  # not even a token request
    assert client.stats.requests == 0


BAD_IDS = [0, -1, True, 2**31, "10001", 10001.0, None]

ID_TAKERS: list[tuple[str, Callable[[FlinkeyClient, World, Any], Awaitable[Any]]]] = [
    ("products.get", lambda c, w, bad: c.products.get(bad)),
    ("products.service", lambda c, w, bad: c.products.service(bad)),
    ("products.car", lambda c, w, bad: c.products.car(bad)),
    ("cars.get", lambda c, w, bad: c.cars.get(bad)),
    ("cars.update", lambda c, w, bad: c.cars.update(bad, name="x")),
    ("cars.delete", lambda c, w, bad: c.cars.delete(bad)),
    ("cars.products", lambda c, w, bad: c.cars.products(bad)),
    ("cars.location", lambda c, w, bad: c.cars.location(bad)),
    ("cars.location_at", lambda c, w, bad: c.cars.location_at(bad, REFERENCE_TIME)),
    ("groups.cars", lambda c, w, bad: c.groups.cars(bad)),
    ("groups.users", lambda c, w, bad: c.groups.users(bad)),
    ("groups.services", lambda c, w, bad: c.groups.services(bad)),
    ("groups.products", lambda c, w, bad: c.groups.products(bad)),
    ("groups.rename", lambda c, w, bad: c.groups.rename(bad, "x")),
    ("groups.delete", lambda c, w, bad: c.groups.delete(bad)),
    ("groups.add_car group", lambda c, w, bad: c.groups.add_car(bad, w.car)),
    ("groups.add_car member", lambda c, w, bad: c.groups.add_car(w.empty_group, bad)),
    ("groups.add_user member", lambda c, w, bad: c.groups.add_user(w.empty_group, bad)),
    ("groups.add_service member", lambda c, w, bad: c.groups.add_service(w.empty_group, bad)),
    ("groups.add_product member", lambda c, w, bad: c.groups.add_product(w.empty_group, bad)),
    ("groups.remove_car member", lambda c, w, bad: c.groups.remove_car(w.group, bad)),
    ("groups.remove_user group", lambda c, w, bad: c.groups.remove_user(bad, w.group_user)),
    ("groups.remove_service member", lambda c, w, bad: c.groups.remove_service(w.group, bad)),
    ("groups.remove_product member", lambda c, w, bad: c.groups.remove_product(w.group, bad)),
    ("customer_id override", lambda c, w, bad: c.cars.list(customer_id=bad)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call"), ID_TAKERS, ids=[name for name, _ in ID_TAKERS])
async def test_bad_ids_are_refused_before_sending(
    sb: Sandbox,
    client: FlinkeyClient,
    world: World,
    name: str,
    call: Callable[[FlinkeyClient, World, Any], Awaitable[Any]],
) -> None:
    for bad in BAD_IDS:
        if bad is None and name == "customer_id override":
            continue  # None means "the client's own customer"
        with pytest.raises(ValidationError):
            await call(client, world, bad)
    assert sb.counters.total_requests == 0


def _spoil(
    method: str, *, body: bytes | None = None, path: str | None = None
) -> aiohttp.ClientMiddlewareType:
    """A caller's middleware that changes a request after the client has checked and built it."""

    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if request.method == method:
            if body is not None:
                await request.update_body(body)
            if path is not None:
                request.url = request.url.with_path(path)
        return await handler(request)

    return middleware


SPOILED_CASES: list[tuple[Case, aiohttp.ClientMiddlewareType | None]] = [
    (Case("PUT /cars", 400, m.CAR_NAME_MISSING, BadRequestError,
          lambda c, w: c.cars.create("E2E car")),
     _spoil("PUT", body=b'{"name": "  ", "vin": null}')),
    (Case("PATCH /cars/{carId}", 400, m.CAR_NAME_BLANK, BadRequestError,
          lambda c, w: c.cars.update(w.car, name="E2E")),
     _spoil("PATCH", body=b'[{"op": "replace", "path": "/name", "value": " "}]')),
    (Case("GET /cars/{carId}/location/{searchDate}", 400, m.INVALID_DATE_FORMAT, BadRequestError,
          lambda c, w: c.get_json("cars", w.car, "location", "2025-02-30T00:00:00Z")),
     None),
    (Case("PUT /groups", 400, m.GROUP_NAME_MISSING, BadRequestError,
          lambda c, w: c.groups.create("E2E group")),
     _spoil("PUT", body=b'{"name": null}')),
    (Case("PATCH /groups/{groupId}", 400, m.GROUP_NAME_BLANK, BadRequestError,
          lambda c, w: c.groups.rename(w.group, "E2E")),
     _spoil("PATCH", body=b'[{"op": "replace", "path": "/name", "value": ""}]')),
    (Case("PATCH /groups/{groupId}", 400, m.GROUP_NAME_TOO_LONG, BadRequestError,
          lambda c, w: c.groups.rename(w.group, "E2E")),
     _spoil("PATCH", body=b'[{"op": "replace", "path": "/name", "value": "' + b"y" * 251 + b'"}]')),
    (Case("PATCH /groups/{groupId}", 404, m.GROUP_NOT_FOUND, NotFoundError,
          lambda c, w: c.groups.rename(w.group, "E2E")),
     _spoil("PATCH", path="/v3/groups/0")),
]  # fmt: skip
"""The same documented answers, from the sandbox: the request is spoiled past the checks."""


@pytest.mark.parametrize(
    ("case", "middleware"), SPOILED_CASES, ids=[case.id for case, _ in SPOILED_CASES]
)
async def test_documented_answer_past_the_checks(
    sb: Sandbox,
    world: World,
    stack: Stack,
    case: Case,
    middleware: aiohttp.ClientMiddlewareType | None,
) -> None:
    session = await stack.session(middlewares=[middleware] if middleware else [])
    spoiled = await stack.client(session=session)
    before = _snapshots(sb)
    error = await _raises(case.raises, case.act(spoiled, world))
    assert error.status == case.status
    assert error.message == case.message
    assert sb.counters.responses[(case.route, case.status)] == 1
    assert _snapshots(sb) == before


async def test_lent_session_raising_for_status_does_not_bypass_the_mapping(
    sb: Sandbox, world: World, stack: Stack
) -> None:
    session = await stack.session(raise_for_status=True)
    lent = await stack.client(session=session)
    error = await _raises(NotFoundError, lent.cars.get(MISSING_ID))
    assert error.message == m.CAR_NOT_FOUND
    assert await lent.cars.get(world.car) == sb.state.car(world.cid, world.car)


# -- coverage of the pages ---------------------------------------------------------------------

GENERIC = {
    (401, m.INVALID_API_KEY): list(CALLS),
    (401, m.INVALID_TOKEN): list(CALLS),
    (404, m.MANAGER_NOT_FOUND): list(SCOPED),
    (500, m.INTERNAL_SERVER_ERROR): list(CALLS),
    (415, None): list(WITH_BODY),
}


def test_every_documented_error_has_a_case() -> None:
    from sandbox.documented import DOCUMENTED

    documented = {
        (route, status, message)
        for route, answers in DOCUMENTED.items()
        for status, message in answers
        if status >= 400
    }
    covered = {
        (route, status, message)
        for (status, message), routes in GENERIC.items()
        for route in routes
    }
    covered |= {(c.route, c.status, c.message) for c in SERVER_CASES}
    covered |= {(c.route, c.status, c.message) for c in VALIDATION_CASES}
    missing = documented - covered
    assert not missing, sorted(missing)
    # Beyond the pages: GET /cars answers the manager 404 like every scoped endpoint, and
    # GET /customers (not on the pages) the key, token and server errors.
    assert covered - documented == {
        ("GET /cars", 404, m.MANAGER_NOT_FOUND),
        ("GET /customers", 401, m.INVALID_API_KEY),
        ("GET /customers", 401, m.INVALID_TOKEN),
        ("GET /customers", 500, m.INTERNAL_SERVER_ERROR),
        ("PUT /groups", 400, m.GROUP_NAME_TOO_LONG),
    }


# -- authentication beyond the pages -----------------------------------------------------------


async def test_wrong_api_key_is_refused_at_the_token_endpoint(sb: Sandbox, stack: Stack) -> None:
    wrong = await stack.client(api_key="e2e-wrong-api-key")
    error = await _raises(InvalidAPIKeyError, wrong.cars.list())
    assert error.message == m.INVALID_API_KEY
    assert error.path == "/v3/oauth2/token"
    assert sb.counters.token_requests == 1  # a wrong key stays wrong: not retried
    assert sb.counters.requests["GET /cars"] == 0


async def test_wrong_password(sb: Sandbox, stack: Stack) -> None:
    wrong = await stack.client(password="e2e-wrong-password")
    error = await _raises(InvalidCredentialsError, wrong.groups.list())
    assert isinstance(error, AuthenticationError)
    assert error.status == 400
    assert error.path == "/v3/oauth2/token"
    assert "password is incorrect" in error.message
    assert "e2e-wrong-password" not in str(error)
    assert sb.counters.token_requests == 1
    assert sb.counters.tokens_issued == 0
    assert sb.counters.requests["GET /groups"] == 0


@pytest.mark.parametrize("token", ["not-a-jwt", "other-sandbox"])
async def test_foreign_token(sb: Sandbox, stack: Stack, token: str) -> None:
    if token == "other-sandbox":
        async with Sandbox(cars=1, seed=1) as other:
            token = other.issue_token()
    caller = await stack.client(token=token)
    error = await _raises(InvalidTokenError, caller.cars.list())
    assert isinstance(error, AuthenticationError)
    assert error.message == m.INVALID_TOKEN
    assert token not in str(error)
    assert sb.counters.requests["GET /cars"] == 1
