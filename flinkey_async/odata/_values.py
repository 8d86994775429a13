"""The kinds of literal value: one table, one row per kind, for every layer that meets a value.

A literal's Python type decides how it is checked (the builder), keyed (``Expr.key``), written
(the printer) and computed with (the evaluator). Each of those used to ask the same question
with its own ``isinstance`` ladder; now :func:`kind_of` answers it once per type, from the exact
type or, for a subclass, the first base in the table (``bool`` before ``int`` and ``datetime``
before ``date`` fall out of the method resolution order).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, Final, TypeAlias
from uuid import UUID

import attrs

from flinkey_async._exceptions import ODataError
from flinkey_async.odata._literals import INTEGER_BOUND, MAX_INTEGER_DIGITS

__all__ = [
    "LiteralKind",
    "LiteralValue",
    "checked_int",
    "format_duration",
    "format_literal",
    "kind_of",
    "number_key",
]

LiteralValue: TypeAlias = (
    bool | int | float | Decimal | str | date | datetime | time | timedelta | UUID | bytes | None
)
"""Python values a :class:`~flinkey_async.odata.Literal` holds (an ``Enum`` member is stored as
its ``value``)."""


@attrs.frozen
class LiteralKind:
    """What one kind of literal value is and does."""

    family: str
    """Its type family in the evaluator: ``null``, ``bool``, ``number``, ``string``, ``datetime``,
    ``date``, ``time``, ``duration``, ``guid`` or ``binary`` (also in its error messages)."""
    check: Callable[[Any], LiteralValue]
    """A Python value of this kind -> the value a literal holds, or ODataError."""
    key: Callable[[Any], tuple[Any, ...]]
    """A held value -> a hashable token: equal tokens, equal literals."""
    text: Callable[[Any], str]
    """A held value -> its OData literal text."""
    computed: Callable[[Any], Any]
    """A held value -> the value the evaluator computes with."""


# -- checks ----------------------------------------------------------------------------------


def checked_int(value: int) -> int:
    """``value`` if it has at most MAX_INTEGER_DIGITS digits, as an exact ``int``."""
    if -INTEGER_BOUND < value < INTEGER_BOUND:  # compares sizes first: cheap for small ints
        return int(value)
    raise ODataError(
        f"integer literal is too large to print (at most {MAX_INTEGER_DIGITS:,} digits)"
    )


def _check_str(value: str) -> str:
    text = str.__str__(value)
    if not text.isascii():  # only non-ASCII text can hold a lone surrogate
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ODataError(
                f"string literal has a character that cannot be sent (lone surrogate at "
                f"index {error.start})"
            ) from None
    return text


def _check_datetime(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is None:
        raise ODataError(
            f"naive datetime {value.isoformat()} has no UTC offset; OData needs an aware "
            "datetime (for example datetime.now(UTC) or .replace(tzinfo=UTC))"
        )
    if offset % timedelta(minutes=1):
        raise ODataError(f"UTC offset {offset} is not a whole number of minutes")
    return value


def _check_time(value: time) -> time:
    if value.utcoffset() is not None:
        raise ODataError("OData TimeOfDay has no offset; pass a naive time")
    return value


def _as_is(value: Any) -> Any:
    return value


# -- keys ------------------------------------------------------------------------------------


def number_key(value: float | Decimal) -> object:
    """One key for the non-integer number ``value`` whether it is a float or a Decimal.

    The printed text of a float is its shortest ``repr``, which reads back as a Decimal of the
    same digits; keying both as that Decimal makes print -> parse an identity on keys.
    """
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        return Decimal(repr(value))
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "INF" if value > 0 else "-INF"
    return value


def _keyed(tag: str) -> Callable[[Any], tuple[Any, ...]]:
    return lambda value: (tag, value)


# -- text ------------------------------------------------------------------------------------


def _quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(float(value))  # shortest round-trip form, always with '.' or 'e'


def _format_decimal(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "INF" if value > 0 else "-INF"
    text = str(value).replace("E", "e")
    if "." not in text and "e" not in text:
        text += ".0"  # keep it a decimal: '5' would read back as an integer
    return text


def _fraction(microsecond: int) -> str:
    return f".{microsecond:06d}".rstrip("0") if microsecond else ""


def _format_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value.microsecond)}"


def _format_datetime(value: datetime) -> str:
    offset = value.utcoffset()
    if offset is None:  # Literal() rejects these; this guards direct calls
        raise ODataError("a naive datetime has no OData form; give it a UTC offset")
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        zone = "Z"
    else:
        sign = "+" if minutes > 0 else "-"
        hours, minutes = divmod(abs(minutes), 60)
        zone = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{_format_time(value.time())}{zone}"


def format_duration(value: timedelta) -> str:
    """ISO 8601 day-time duration as OData writes it: ``-P1DT2H3M4.5S``."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}P{value.days}DT{hours}H{minutes}M{seconds}{_fraction(value.microseconds)}S"


def _format_binary(value: bytes) -> str:
    return "binary'" + base64.urlsafe_b64encode(value).decode("ascii") + "'"


# -- what the evaluator computes with --------------------------------------------------------

_decimal_of_text: Final = lru_cache(maxsize=1024)(Decimal)


def _computed_float(value: float) -> Any:
    """A float literal is sent as its shortest decimal text and read back as that decimal, so
    it computes as that decimal: the builder's tree and the parsed one agree. ``NaN`` and
    ``INF`` stay floats."""
    return _decimal_of_text(repr(float(value))) if math.isfinite(value) else value


def _computed_decimal(value: Decimal) -> Any:
    if value.is_nan():
        return math.nan
    return float(value) if value.is_infinite() else value


# -- the table -------------------------------------------------------------------------------

_NULL: Final = LiteralKind("null", _as_is, lambda value: ("null",), lambda value: "null", _as_is)
_BINARY: Final = LiteralKind(
    "binary", bytes, _keyed("bytes"), lambda value: _format_binary(bytes(value)), _as_is
)

KINDS: Final[dict[type, LiteralKind]] = {
    type(None): _NULL,
    bool: LiteralKind(
        "bool", bool, lambda value: ("bool", bool(value)), lambda v: "true" if v else "false", bool
    ),
    int: LiteralKind("number", checked_int, _keyed("int"), int.__repr__, _as_is),
    float: LiteralKind(
        "number",
        float,
        lambda value: ("number", number_key(value)),
        _format_float,
        _computed_float,
    ),
    Decimal: LiteralKind(
        "number",
        _as_is,
        lambda value: ("number", number_key(value)),
        _format_decimal,
        _computed_decimal,
    ),
    str: LiteralKind("string", _check_str, _keyed("str"), _quote_str, _as_is),
    datetime: LiteralKind(
        "datetime",
        _check_datetime,
        lambda value: ("datetime", value.replace(tzinfo=None), value.utcoffset()),
        _format_datetime,
        _as_is,
    ),
    date: LiteralKind("date", _as_is, _keyed("date"), date.isoformat, _as_is),
    time: LiteralKind("time", _check_time, _keyed("time"), _format_time, _as_is),
    timedelta: LiteralKind(
        "duration",
        _as_is,
        _keyed("timedelta"),
        lambda value: f"duration'{format_duration(value)}'",
        _as_is,
    ),
    UUID: LiteralKind("guid", _as_is, _keyed("UUID"), str, _as_is),
    bytes: _BINARY,
    bytearray: _BINARY,
    memoryview: _BINARY,
}
"""Exact type -> its kind; :func:`kind_of` also finds the kind of a subclass."""


@cache
def _kind_of_subclass(kind: Any) -> LiteralKind | None:
    for base in kind.__mro__:
        found = KINDS.get(base)
        if found is not None:
            return found
    return None


def kind_of(value: object) -> LiteralKind | None:
    """The kind of a literal value (``None`` for a value no literal can hold)."""
    kind: Any = type(value)
    found = KINDS.get(kind)
    return found if found is not None else _kind_of_subclass(kind)


def format_literal(value: LiteralValue) -> str:
    """The OData literal text of a (checked) literal value."""
    found = kind_of(value)
    if found is None:
        raise TypeError(f"not an OData literal value: {value!r}")
    return found.text(value)
