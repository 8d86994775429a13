"""Every operation's success path and every documented error answer, against aiointercept.

The error matrix has one test id per (endpoint, status, documented message) of the reference
pages; ``test_pages_match_table`` proves the table lists exactly what the pages list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flinkey_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidAPIKeyError,
    InvalidTokenError,
    ManagerNotFoundError,
    NotFoundError,
    ServerError,
    UnsupportedMediaTypeError,
)
from flinkey_async import _messages as m

from .conftest import CUSTOMER_ID, Mocked
from .endpoints import ALL, ENDPOINTS, ERROR_CASES, Endpoint, case_id
from .fake_secrets import API_KEY, TOKEN_PREFIX

PAGES = Path(__file__).parents[1] / "api_pages"
TRACE_ID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def _register(mocked: Mocked, endpoint: Endpoint, **answer: Any) -> None:
    mocked.mock.add(mocked.url(endpoint.path), method=endpoint.method, **answer)


@pytest.mark.parametrize("endpoint", ALL, ids=lambda e: e.name)
async def test_success(mocked: Mocked, endpoint: Endpoint) -> None:
    if endpoint.answer is None:
        _register(mocked, endpoint, status=endpoint.status)
    else:
        _register(mocked, endpoint, status=endpoint.status, payload=endpoint.answer)
    async with mocked.client() as client:
        result = await endpoint.call(client)
    assert result == endpoint.result

    headers = {"flinkey-API-Key": API_KEY, "Authorization": f"Bearer {TOKEN_PREFIX}1"}
    if endpoint.scoped:
        headers["Customer-ID"] = str(CUSTOMER_ID)
    if endpoint.body is not None:
        headers["Content-Type"] = "application/json"
    mocked.mock.assert_called_with(
        mocked.url(endpoint.path), endpoint.method, json=endpoint.body, headers=headers
    )
    request = mocked.mock.last_request
    assert request is not None
    if not endpoint.scoped:
        assert "Customer-ID" not in request.headers
    if endpoint.body is None:
        assert not request.captured_body
    else:
        assert json.loads(request.captured_body or b"") == endpoint.body
    assert mocked.api_calls() == [(endpoint.method, "/v3" + endpoint.path)]


def _expected(status: int, message: str) -> type[APIError]:
    if (status, message) == (401, m.INVALID_API_KEY):
        return InvalidAPIKeyError
    if (status, message) == (401, m.INVALID_TOKEN):
        return InvalidTokenError
    if (status, message) == (404, m.MANAGER_NOT_FOUND):
        return ManagerNotFoundError
    return {
        400: BadRequestError,
        404: NotFoundError,
        409: ConflictError,
        415: UnsupportedMediaTypeError,
        500: ServerError,
    }[status]


def _error_answer(status: int, message: str) -> dict[str, Any]:
    if status == 401:
        return {"status": 401, "payload": {"statusCode": 401, "message": message}}
    if status == 415:
        problem = {
            "type": m.UNSUPPORTED_MEDIA_TYPE_TYPE,
            "title": message,
            "status": "415",
            "traceId": TRACE_ID,
        }
        return {"status": 415, "payload": problem, "content_type": "application/problem+json"}
    return {"status": status, "body": message, "content_type": "text/plain"}


@pytest.mark.parametrize(
    ("endpoint", "status", "message"),
    ERROR_CASES,
    ids=[case_id(*case) for case in ERROR_CASES],
)
async def test_documented_error(
    mocked: Mocked, endpoint: Endpoint, status: int, message: str
) -> None:
    token_rejected = (status, message) == (401, m.INVALID_TOKEN)
    # A rejected token is renewed and the request sent once more: answer both with the 401.
    _register(mocked, endpoint, repeat=2 if token_rejected else 1, **_error_answer(status, message))
    expected = _expected(status, message)
    async with mocked.client() as client:
        with pytest.raises(expected) as caught:
            await endpoint.call(client)
    error = caught.value
    assert type(error) is expected
    assert error.status == status
    assert error.message == message
    assert error.method == endpoint.method
    assert error.path == "/v3" + endpoint.path
    assert str(status) in str(error)
    assert message in str(error)
    calls = mocked.api_calls()
    assert calls == [(endpoint.method, "/v3" + endpoint.path)] * (2 if token_rejected else 1)
    assert mocked.token.call_count == (2 if token_rejected else 1)
    if status == 415:
        assert error.trace_id == TRACE_ID
    if status == 401:
        assert isinstance(error, AuthenticationError)


CARS_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.name.startswith("cars.")]


@pytest.mark.parametrize("endpoint", CARS_ENDPOINTS, ids=lambda e: e.name)
async def test_plain_text_invalid_key(mocked: Mocked, endpoint: Endpoint) -> None:
    """The cars page also shows the key error as plain text, wrapped over two lines."""
    body = (
        "  Access denied due to invalid subscription key. \n"
        "  Make sure to provide a valid key for an active subscription."
    )
    _register(mocked, endpoint, status=401, body=body, content_type="text/plain")
    async with mocked.client() as client:
        with pytest.raises(InvalidAPIKeyError) as caught:
            await endpoint.call(client)
    assert caught.value.message == m.INVALID_API_KEY


@pytest.mark.parametrize(
    "endpoint", [e for e in ALL if e.method == "GET" and e.odata], ids=lambda e: e.name
)
async def test_odata_query_is_appended_verbatim(mocked: Mocked, endpoint: Endpoint) -> None:
    class Query:
        def encoded(self) -> str:
            return "%24filter=name%20eq%20%27a%2Fb%27&%24top=5"

    url = mocked.url(endpoint.path) + "?" + Query().encoded()
    mocked.mock.add(url, method="GET", status=200, payload=endpoint.answer)
    call = _with_query(endpoint, Query())
    async with mocked.client() as client:
        assert await call(client) == endpoint.result
    request = mocked.mock.last_request
    assert request is not None
    assert request.raw_path == "/v3" + endpoint.path + "?" + Query().encoded()
    assert request.query["$filter"] == "name eq 'a/b'"


def _with_query(endpoint: Endpoint, query: Any) -> Any:
    from .endpoints import SEARCH_DATE

    calls: dict[str, Any] = {
        "products.list": lambda c: c.products.list(query),
        "products.get": lambda c: c.products.get(3, query),
        "products.service": lambda c: c.products.service(3, query),
        "products.car": lambda c: c.products.car(3, query),
        "cars.list": lambda c: c.cars.list(query),
        "cars.get": lambda c: c.cars.get(7, query),
        "cars.products": lambda c: c.cars.products(7, query),
        "cars.location": lambda c: c.cars.location(7, query),
        "cars.location_at": lambda c: c.cars.location_at(7, SEARCH_DATE, query),
    }
    return calls[endpoint.name]


async def test_with_the_odata_builder(mocked: Mocked) -> None:
    from flinkey_async import Car
    from flinkey_async.odata import Query, fields

    car = fields(Car)
    query = Query().filter(car.name == "Golf 8/GTI").order_by(car.license_plate.desc()).top(5)
    mocked.mock.get(mocked.url("/cars") + "?" + query.encoded(), payload=[])
    mocked.mock.get(mocked.url("/cars"), payload=[])
    async with mocked.client() as client:
        assert await client.cars.list(query) == []
        assert await client.cars.list(Query()) == []  # empty: nothing appended
    requests = [r for (method, _), r in mocked.mock.ordered_requests if method == "GET"]
    assert requests[0].raw_path == "/v3/cars?" + query.encoded()
    assert requests[0].query["$filter"] == "name eq 'Golf 8/GTI'"
    assert requests[1].raw_path == "/v3/cars"


async def test_empty_query_adds_nothing(mocked: Mocked) -> None:
    class Empty:
        def encoded(self) -> str:
            return ""

    mocked.mock.get(mocked.url("/cars"), payload=[])
    async with mocked.client() as client:
        assert await client.cars.list(Empty()) == []  # type: ignore[call-overload]
    assert mocked.mock.last_request is not None
    assert mocked.mock.last_request.raw_path == "/v3/cars"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_customer_id_per_call(mocked: Mocked, endpoint: Endpoint) -> None:
    """One API Manager serves several customers: ``customer_id=`` overrides the client's."""
    if endpoint.answer is None:
        _register(mocked, endpoint, status=endpoint.status)
    else:
        _register(mocked, endpoint, status=endpoint.status, payload=endpoint.answer)
    async with mocked.client(customer_id=None) as client:
        assert await _call_with_customer(client, endpoint, 77) == endpoint.result
    assert mocked.mock.last_request is not None
    assert mocked.mock.last_request.headers["Customer-ID"] == "77"


async def _call_with_customer(client: Any, endpoint: Endpoint, customer: int) -> Any:
    from .endpoints import SEARCH_DATE

    resource_name, method_name = endpoint.name.split(".")
    method = getattr(getattr(client, resource_name), method_name)
    args: dict[str, tuple[Any, ...]] = {
        "products.get": (3,),
        "products.service": (3,),
        "products.car": (3,),
        "cars.get": (7,),
        "cars.delete": (7,),
        "cars.products": (7,),
        "cars.location": (7,),
        "cars.location_at": (7, SEARCH_DATE),
        "cars.create": ("Golf",),
        "groups.cars": (9,),
        "groups.users": (9,),
        "groups.services": (9,),
        "groups.products": (9,),
        "groups.create": ("Pool Berlin",),
        "groups.add_car": (9, 7),
        "groups.add_user": (9, 11),
        "groups.add_service": (9, 5),
        "groups.add_product": (9, 3),
        "groups.rename": (9, "Pool Mitte"),
        "groups.delete": (9,),
        "groups.remove_user": (9, 11),
        "groups.remove_car": (9, 7),
        "groups.remove_service": (9, 5),
        "groups.remove_product": (9, 3),
    }
    if endpoint.name == "cars.update":
        return await method(7, customer_id=customer, name="Golf GTI")
    if endpoint.name == "cars.create":
        return await method(
            "Golf", vin="WVWZZZ1JZXW000001", license_plate="B-FL 7", customer_id=customer
        )
    return await method(*args.get(endpoint.name, ()), customer_id=customer)


# -- the table against the pages ------------------------------------------------------------------

_ENDPOINT_LINE = re.compile(r"^(GET|PUT|PATCH|DELETE) (/\S+)$")
_STATUS_LINE = re.compile(r"^(\d{3}) [A-Z ]+$")
_MESSAGE_FIELD = re.compile(r'^"(message|title)":\s*"(.*)",?$')


def _documented_errors() -> dict[tuple[str, str], set[tuple[int, str]]]:
    """(method, path template) -> the (status, message) pairs its page lists."""
    found: dict[tuple[str, str], set[tuple[int, str]]] = {}
    for page in sorted(PAGES.glob("*.txt")):
        current: set[tuple[int, str]] | None = None
        status: int | None = None
        for raw in page.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if match := _ENDPOINT_LINE.match(line):
                current = found.setdefault((match[1], match[2]), set())
                status = None
            elif match := _STATUS_LINE.match(line):
                status = int(match[1])
            elif current is None or status is None or status < 400:
                continue
            elif match := _MESSAGE_FIELD.match(line):
                current.add((status, match[2]))
            elif status not in (401, 415) and line.endswith(".") and not line.startswith('"'):
                current.add((status, line))
    return found


def _template(endpoint: Endpoint) -> tuple[str, str]:
    """``/groups/9/cars/7`` -> ``/groups/{groupId}/cars/{carId}``, as the pages write it."""
    path = re.sub(
        r"/(product|car|group|user|service)s/\d+",
        lambda match: f"/{match[1]}s/{{{match[1]}Id}}",
        endpoint.path,
    )
    return endpoint.method, re.sub(r"/location/[^/]+$", "/location/{searchDate}", path)


def test_pages_match_table() -> None:
    documented = _documented_errors()
    assert len(documented) == 28
    table = {_template(endpoint): set(endpoint.errors) for endpoint in ENDPOINTS}
    assert set(table) == set(documented)
    for key, errors in documented.items():
        assert table[key] == errors, key
