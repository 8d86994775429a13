"""Bad input is refused before anything is sent (not even a token request)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from flinkey_async import FlinkeyClient, ValidationError
from flinkey_async._validation import format_search_date

from .conftest import Mocked

BAD_CALLS: list[tuple[str, Callable[[Any], Awaitable[Any]], str]] = [
    ("car id zero", lambda c: c.cars.get(0), "car_id"),
    ("car id negative", lambda c: c.cars.delete(-3), "car_id"),
    ("car id bool", lambda c: c.cars.get(True), "car_id"),
    ("car id str", lambda c: c.cars.get("7"), "car_id"),
    ("car id float", lambda c: c.cars.products(7.0), "car_id"),
    ("car id beyond int32", lambda c: c.cars.location(2**31), "car_id"),
    ("product id", lambda c: c.products.get(0), "product_id"),
    ("product id service", lambda c: c.products.service(-1), "product_id"),
    ("product id car", lambda c: c.products.car(None), "product_id"),
    ("group id", lambda c: c.groups.cars(0), "group_id"),
    ("group id users", lambda c: c.groups.users("x"), "group_id"),
    ("group id services", lambda c: c.groups.services(0), "group_id"),
    ("group id products", lambda c: c.groups.products(0), "group_id"),
    ("member car id", lambda c: c.groups.add_car(1, 0), "car_id"),
    ("member user id", lambda c: c.groups.add_user(1, -1), "user_id"),
    ("member service id", lambda c: c.groups.remove_service(1, 0), "service_id"),
    ("member product id", lambda c: c.groups.remove_product(1, 0), "product_id"),
    ("customer id override", lambda c: c.cars.list(customer_id=0), "customer_id"),
    ("car name empty", lambda c: c.cars.create(""), "name"),
    ("car name blank", lambda c: c.cars.create(" \t\n"), "name"),
    ("car name not str", lambda c: c.cars.create(None), "name"),
    ("car vin not str", lambda c: c.cars.create("Golf", vin=123), "vin"),
    ("car plate not str", lambda c: c.cars.create("Golf", license_plate=1), "license_plate"),
    ("update nothing", lambda c: c.cars.update(7), "changes"),
    ("update unknown field", lambda c: c.cars.update(7, colour="red"), "colour"),
    ("update wire name", lambda c: c.cars.update(7, licensePlate="B-1"), "licensePlate"),
    ("update id field", lambda c: c.cars.update(7, id="8"), "id"),
    ("update name removed", lambda c: c.cars.update(7, name=None), "name"),
    ("update name blank", lambda c: c.cars.update(7, name="  "), "name"),
    ("update value not str", lambda c: c.cars.update(7, brand=5), "brand"),
    ("update bad car id", lambda c: c.cars.update(0, brand="VW"), "car_id"),
    ("group name empty", lambda c: c.groups.create(""), "name"),
    ("group name blank", lambda c: c.groups.create("   "), "name"),
    ("group name too long", lambda c: c.groups.create("x" * 251), "name"),
    ("group rename blank", lambda c: c.groups.rename(1, "\t"), "name"),
    ("group rename too long", lambda c: c.groups.rename(1, "y" * 251), "name"),
    # .NET counts UTF-16 code units: 126 emoji are 252 of them.
    ("group name too long in UTF-16", lambda c: c.groups.create("\U0001f697" * 126), "name"),
    ("group rename none", lambda c: c.groups.rename(1, None), "name"),
    ("location naive date", lambda c: c.cars.location_at(7, datetime(2024, 5, 1)), "when"),
    ("location date str", lambda c: c.cars.location_at(7, "2024-05-01T12:00:00Z"), "when"),
]


@pytest.mark.parametrize(
    ("call", "field"), [(c, f) for _, c, f in BAD_CALLS], ids=[name for name, _, _ in BAD_CALLS]
)
async def test_refused_before_sending(
    mocked: Mocked, call: Callable[[FlinkeyClient], Awaitable[Any]], field: str
) -> None:
    async with mocked.client() as client:
        with pytest.raises(ValidationError) as caught:
            await call(client)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert mocked.mock.call_count == 0


async def test_limits_are_inclusive(mocked: Mocked) -> None:
    name = "g" * 250
    mocked.mock.put(mocked.url("/groups"), status=201, payload={"id": 1})
    mocked.mock.put(mocked.url("/groups"), status=201, payload={"id": 2})
    mocked.mock.get(mocked.url(f"/cars/{2**31 - 1}"), payload={"id": 2**31 - 1, "name": "x"})
    async with mocked.client() as client:
        assert await client.groups.create(name) == 1
        assert await client.groups.create("\U0001f697" * 125) == 2  # 250 UTF-16 code units
        assert (await client.cars.get(2**31 - 1)).id == 2**31 - 1


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "2024-05-01T12:00:00Z"),
        (
            datetime(2024, 5, 1, 14, 0, 59, 999_999, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-01T12:00:59Z",
        ),
        (datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2023-12-31T23:30:00Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
    ],
)
def test_search_date_format(when: datetime, text: str) -> None:
    assert format_search_date(when) == text


def test_constructor_arguments_are_checked() -> None:
    from .fake_secrets import API_KEY

    cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"customer_id": 0}, "customer_id"),
        ({"customer_id": "42"}, "customer_id"),
        ({"connector_limit": 0}, "connector_limit"),
        ({"timeout": 30}, "timeout"),
        ({"token_refresh_margin": -1}, "token_refresh_margin"),
        ({"session": object()}, "session"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_limit": True}, "rate_limit"),
    )
    for options, field in cases:
        with pytest.raises(ValidationError) as caught:
            FlinkeyClient(api_key=API_KEY, token="TOK-s3cr3t-x", **options)
        assert caught.value.field == field


CONTROLS = ["\r\n", "\n", "\r", "\x00", "\x1b", "\x7f", "\t", "\x85"]
"""Line breaks (a key read from a CRLF file), other C0 characters, DEL and a C1 character."""


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c[0]):04X}" for c in CONTROLS])
@pytest.mark.parametrize("field", ["api_key", "username", "password", "token"])
def test_control_characters_in_credentials_are_refused(field: str, control: str) -> None:
    from .fake_secrets import API_KEY, PASSWORD, STATIC_TOKEN, USERNAME

    settings: dict[str, Any] = {"api_key": API_KEY, "customer_id": 42}
    if field == "token":
        settings["token"] = STATIC_TOKEN
    else:
        settings.update(username=USERNAME, password=PASSWORD)
    secret = settings[field]
    for bad in (secret + control, control + secret, secret[:4] + control + secret[4:]):
        settings[field] = bad
        with pytest.raises(ValidationError) as caught:
            FlinkeyClient(**settings)
        assert caught.value.field == field
        assert f"U+{ord(control[0]):04X}" in str(caught.value)
        for text in (str(caught.value), repr(caught.value), caught.value.message):
            assert secret[4:] not in text
            assert bad not in text


def test_printable_credentials_are_kept_as_given() -> None:
    client = FlinkeyClient(
        api_key="K\u00e9y with space", username="m\u00fc@x", password="p\u00e4ss word"
    )
    assert client._transport.tokens.renewable
