"""Comparisons take their meaning from the property's declared type, not from the value's look.

``name`` is an Edm.String: ``name eq '2024-05-01T10:00:00Z'`` compares text and does not match a
car named ``2024-05-01T12:00:00+02:00``, although both texts are the same instant. ``date`` is
an Edm.DateTimeOffset: its JSON text compares as an instant, with a date-time literal or with a
string literal. The kinds come from the attrs models (``odata._types``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import pytest

from flinkey_async import Car, FlinkeyClient, Location, Product, Service
from flinkey_async.odata import (
    ODataError,
    Property,
    Query,
    apply_query,
    apply_to_entity,
    count_matching,
    evaluate,
    fields,
    parse_filter,
)
from flinkey_async.odata._types import ODATA_MODELS, api_kinds, merged_kinds, property_kinds
from flinkey_async.sandbox import Sandbox

F = fields(Car)
L = fields(Location)
CAR = {"id": 1, "name": "2024-05-01T12:00:00+02:00", "vin": None, "brand": "VW"}
NOON_BERLIN = "2024-05-01T12:00:00+02:00"
SAME_INSTANT = "2024-05-01T10:00:00Z"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (F.name == SAME_INSTANT, False),
        (F.name != SAME_INSTANT, True),
        (F.name == NOON_BERLIN, True),
        (F.name > "2024-05-01T11:00:00Z", True),  # as text: '2024-05-01T12' > '2024-05-01T11'
        (F.name < "2024-05-01T11:00:00+05:00", False),  # as instants this would be true
        (F.name.in_([SAME_INSTANT, "x"]), False),
        (F.name.lower() == SAME_INSTANT.lower(), False),
        (F.name.upper() == NOON_BERLIN, True),
        (parse_filter(f"'{SAME_INSTANT}' eq name"), False),
    ],
)
def test_a_string_property_compares_as_text(condition: Any, expected: bool) -> None:
    assert evaluate(condition, CAR) is expected


def test_the_look_alone_still_decides_for_undeclared_properties() -> None:
    record = {"a": NOON_BERLIN}
    assert evaluate(Property("a") == SAME_INSTANT, record) is True
    assert evaluate(F.name == SAME_INSTANT, CAR, kinds={}) is True


LOCATION = {
    "latitude": 1.0,
    "longitude": 2.0,
    "date": "2024-05-01T10:00:00+02:00",
    "odometerDate": "2024-05-01T09:00:00Z",
    "odometer": 5.0,
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (parse_filter("date eq 2024-05-01T08:00:00Z"), True),
        (L.date == "2024-05-01T08:00:00Z", True),
        (L.date == "2024-05-01T08:00:00", True),  # no offset: UTC, as the service's clients read
        (L.date == "2024-05-01 08:00:00+00:00", True),
        (L.date < L.odometer_date, True),
        (L.date.in_(["2024-05-01T09:00:00+01:00"]), True),
        (L.date == "2024-05-01T10:00:00Z", False),
        (L.date == "soon", False),  # not a date-time: text, and unequal
    ],
)
def test_a_datetime_property_compares_as_an_instant(condition: Any, expected: bool) -> None:
    assert evaluate(condition, LOCATION) is expected


def test_ordering_follows_the_declared_type() -> None:
    cars: list[dict[str, Any]] = [
        {"id": 1, "name": "2024-05-01T12:00:00+02:00"},  # 10:00Z, but sorts as text
        {"id": 2, "name": "2024-05-01T11:00:00Z"},
        {"id": 3, "name": None},
    ]
    assert [row["id"] for row in apply_query(Query().order_by(F.name), cars)] == [3, 2, 1]
    assert [row["id"] for row in apply_query(Query().order_by(F.name), cars, kinds={})] == [3, 1, 2]
    locations = [{"id": 1, "date": "2024-05-01T12:00:00+02:00"}, {"id": 2, "date": SAME_INSTANT}]
    by_date = apply_query(Query().order_by(L.date, Property("id").desc()), locations)
    assert [row["id"] for row in by_date] == [2, 1]


def test_every_entry_point_takes_the_kinds() -> None:
    query = Query().filter(F.name == SAME_INSTANT)
    assert count_matching(query, [CAR]) == 0
    assert count_matching(query, [CAR], kinds={}) == 1
    assert apply_to_entity(query, CAR) is None
    assert apply_to_entity(query, CAR, kinds={}) == CAR
    assert count_matching(query, [CAR], kinds={"name": "datetime"}) == 1


def test_the_kinds_come_from_the_models() -> None:
    assert property_kinds(Car)["name"] == "string"
    assert property_kinds(Location)["odometerDate"] == "datetime"
    assert property_kinds(Service)["isTerminated"] == "bool"
    assert property_kinds(Product)["type"] == "string"  # an Enum: its value is text
    kinds = api_kinds()
    for model in ODATA_MODELS:
        assert property_kinds(model).items() <= kinds.items()
    with pytest.raises(ODataError, match="both"):
        merged_kinds([Car, _NameIsADate])


@attrs.frozen
class _NameIsADate:
    """A model that declares ``name`` a date-time, against Car's string."""

    name: datetime


async def test_the_sandbox_compares_a_car_name_as_text(
    flinkey_client: FlinkeyClient, flinkey_sandbox: Sandbox
) -> None:
    car_id = await flinkey_client.cars.create(NOON_BERLIN)
    same_instant = await flinkey_client.cars.list(Query().filter(F.name == SAME_INSTANT))
    assert car_id not in [car.id for car in same_instant]
    same_text = await flinkey_client.cars.list(Query().filter(F.name == NOON_BERLIN))
    assert [car.id for car in same_text] == [car_id]
