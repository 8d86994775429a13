"""One table of literal kinds decides how a value is checked, keyed, printed and computed."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from flinkey_async.odata import Literal, Property, evaluate, format_literal, parse_filter
from flinkey_async.odata._evaluator import kind
from flinkey_async.odata._values import KINDS, kind_of


class _Day(date):
    pass


class _Moment(datetime):
    pass


class _Text(str):
    pass


class _Size(enum.IntEnum):
    BIG = 3


SAMPLES: list[tuple[Any, str, str]] = [
    # value, its family, its text
    (None, "null", "null"),
    (True, "bool", "true"),
    (7, "number", "7"),
    (2.5, "number", "2.5"),
    (Decimal("5"), "number", "5.0"),
    ("O'Neil", "string", "'O''Neil'"),
    (date(2024, 5, 1), "date", "2024-05-01"),
    (datetime(2024, 5, 1, 10, tzinfo=UTC), "datetime", "2024-05-01T10:00:00Z"),
    (time(10, 30), "time", "10:30:00"),
    (timedelta(days=1, seconds=1), "duration", "duration'P1DT0H0M1S'"),
    (UUID(int=1), "guid", "00000000-0000-0000-0000-000000000001"),
    (b"\x00\x01", "binary", "binary'AAE='"),
    # subclasses take their base's row: datetime's before date's, bool's before int's
    (_Day(2024, 5, 1), "date", "2024-05-01"),
    (_Moment(2024, 5, 1, 10, tzinfo=UTC), "datetime", "2024-05-01T10:00:00Z"),
    (_Text("x"), "string", "'x'"),
    (bytearray(b"\x00\x01"), "binary", "binary'AAE='"),
]


@pytest.mark.parametrize(("value", "family", "text"), SAMPLES)
def test_every_layer_reads_a_kind_from_the_one_table(value: Any, family: str, text: str) -> None:
    literal = Literal(value)
    assert kind(literal.value) == family
    assert format_literal(literal.value) == text
    assert literal.same_as(parse_filter(text))
    assert hash(literal) == hash(parse_filter(text))
    assert evaluate(Property("x") == literal, {"x": None}) is (value is None)


def test_every_python_type_of_a_literal_has_a_row() -> None:
    for value, _, _ in SAMPLES:
        assert kind_of(Literal(value).value) in KINDS.values()
    assert kind_of(object()) is None
    assert Literal(_Size.BIG).value == 3
    with pytest.raises(TypeError, match="cannot use a object"):
        Literal(object())
