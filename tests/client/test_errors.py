"""Error bodies -> messages -> exception classes, and bodies that do not decode."""

from __future__ import annotations

import json

import pytest

import flinkey_async
from flinkey_async import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectError,
    DecodeError,
    FlinkeyError,
    InvalidAPIKeyError,
    InvalidTokenError,
    ManagerNotFoundError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from flinkey_async import _messages as m
from flinkey_async._exceptions import error_from_response

from .conftest import Mocked


def _error(status: int, body: bytes | str, **extra: float) -> APIError:
    raw = body.encode() if isinstance(body, str) else body
    return error_from_response(status, raw, method="GET", path="/v3/cars/7", **extra)


def test_tree() -> None:
    for cls in (ValidationError, DecodeError, TransportError, APIError):
        assert issubclass(cls, FlinkeyError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(ConnectError, TransportError)
    assert issubclass(RequestTimeoutError, TransportError)
    assert issubclass(RequestTimeoutError, TimeoutError)
    assert issubclass(OutcomeUnknownError, TransportError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        NotFoundError,
        ConflictError,
        UnsupportedMediaTypeError,
        RateLimitError,
        ServerError,
    ):
        assert issubclass(cls, APIError)
    assert issubclass(InvalidAPIKeyError, AuthenticationError)
    assert issubclass(InvalidTokenError, AuthenticationError)
    assert issubclass(ManagerNotFoundError, NotFoundError)
    # The tree is drawn in the module docstring; every drawn name is exported.
    doc = flinkey_async._exceptions.__doc__ or ""
    for name in (
        "ValidationError",
        "DecodeError",
        "ConnectError",
        "RequestTimeoutError",
        "OutcomeUnknownError",
        "InvalidAPIKeyError",
        "InvalidTokenError",
        "ManagerNotFoundError",
        "RateLimitError",
        "ServerError",
    ):
        assert name in doc
        assert hasattr(flinkey_async, name)


def test_json_message() -> None:
    error = _error(401, json.dumps({"statusCode": 401, "message": m.INVALID_TOKEN}))
    assert type(error) is InvalidTokenError
    assert error.message == m.INVALID_TOKEN
    assert str(error) == f"401 {m.INVALID_TOKEN} (GET /v3/cars/7)"


def test_rfc7807_title_and_trace_id() -> None:
    body = {
        "type": m.UNSUPPORTED_MEDIA_TYPE_TYPE,
        "title": "Unsupported Media Type",
        "status": "415",
        "traceId": "|abc.def.",
    }
    error = _error(415, json.dumps(body))
    assert type(error) is UnsupportedMediaTypeError
    assert error.message == "Unsupported Media Type"
    assert error.trace_id == "|abc.def."


def test_plain_text_and_wrapped_lines() -> None:
    assert _error(404, m.CAR_NOT_FOUND).message == m.CAR_NOT_FOUND
    wrapped = (
        "Access denied due to invalid subscription key. \r\n   Make sure to provide a "
        "valid key for an active subscription.\n"
    )
    error = _error(401, wrapped)
    assert type(error) is InvalidAPIKeyError
    assert error.message == m.INVALID_API_KEY


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (404, NotFoundError),
        (409, ConflictError),
        (415, UnsupportedMediaTypeError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (403, APIError),
        (408, APIError),
        (418, APIError),
    ],
)
def test_status_decides_without_a_known_message(status: int, cls: type[APIError]) -> None:
    error = _error(status, "")
    assert type(error) is cls
    assert error.status == status
    assert error.message  # a reason phrase at least, never empty


def test_unknown_401_is_about_the_token() -> None:
    assert (
        type(_error(401, '{"statusCode": 401, "message": "Token expired."}')) is InvalidTokenError
    )
    assert type(_error(401, "invalid subscription key")) is InvalidAPIKeyError


def test_rate_limit_carries_retry_after() -> None:
    error = _error(429, "Rate limit is exceeded. Try again in 12 seconds.", retry_after=12.0)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 12.0


def test_long_bodies_are_cut() -> None:
    error = _error(500, "<html>" + "x" * 5000 + "</html>")
    assert len(error.message) < 600


def test_broken_json_falls_back_to_text() -> None:
    assert _error(400, "{not json").message == "{not json"


# -- bodies that are not the documented shape ------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"name": "Golf"}, "id"),
        ({"id": "seven", "name": "Golf"}, "id"),
        ({"id": 7, "name": None}, "name"),
        ({"id": 7, "name": "Golf", "licensePlate": 5}, "licensePlate"),
        ([1, 2], "$"),
    ],
)
async def test_malformed_object_names_the_field(mocked: Mocked, payload: object, path: str) -> None:
    mocked.mock.get(mocked.url("/cars/7"), payload=payload)
    async with mocked.client() as client:
        with pytest.raises(DecodeError) as caught:
            await client.cars.get(7)
    assert caught.value.path == path
    assert caught.value.method == "GET"
    assert caught.value.url_path == "/v3/cars/7"


async def test_malformed_list_item_names_index_and_field(mocked: Mocked) -> None:
    cars = [{"id": i, "name": f"car {i}"} for i in range(5)]
    cars[3]["vin"] = ["not", "a", "string"]
    mocked.mock.get(mocked.url("/cars"), payload=cars)
    async with mocked.client() as client:
        with pytest.raises(DecodeError) as caught:
            await client.cars.list()
    assert caught.value.path == "[3].vin"


async def test_product_type_outside_the_enum(mocked: Mocked) -> None:
    product = {
        "id": 3,
        "uniqueId": "u",
        "serialNumber": "s",
        "sapNumber": "p",
        "type": "flinkey Watch",
    }
    mocked.mock.get(mocked.url("/products/3"), payload=product)
    async with mocked.client() as client:
        with pytest.raises(DecodeError) as caught:
            await client.products.get(3)
    assert caught.value.path == "type"


async def test_not_json(mocked: Mocked) -> None:
    mocked.mock.get(mocked.url("/cars"), body="<html>maintenance</html>", content_type="text/html")
    async with mocked.client() as client:
        with pytest.raises(DecodeError, match="not JSON"):
            await client.cars.list()


async def test_list_expected(mocked: Mocked) -> None:
    mocked.mock.get(mocked.url("/groups"), payload={"value": []})
    async with mocked.client() as client:
        with pytest.raises(DecodeError, match="expected an array"):
            await client.groups.list()


async def test_unknown_fields_are_ignored(mocked: Mocked) -> None:
    mocked.mock.get(mocked.url("/groups"), payload=[{"id": 1, "name": "a", "color": "red"}])
    async with mocked.client() as client:
        groups = await client.groups.list()
    assert groups[0].name == "a"
