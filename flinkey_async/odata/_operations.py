"""OData's rules on values: types, coercion, comparison, arithmetic and the built-in functions.

What the evaluator (:mod:`._evaluator`) applies at each node of a tree, with the rules its
docstring lists (null, coercion, declared types, numbers). Kept apart from the evaluator, which
compiles a tree and runs it over records, so that the rules read without the machinery.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from functools import lru_cache
from typing import Any, Final, TypeAlias
from uuid import UUID

from flinkey_async.odata._errors import ODataError, ODataSyntaxError, UnsupportedODataError
from flinkey_async.odata._literals import (
    INTEGER_BOUND,
    parse_datetime_text,
    scan_date,
    scan_datetime,
    scan_duration,
    scan_number,
    scan_time,
)
from flinkey_async.odata._values import KINDS, kind_of

__all__ = ["arithmetic", "compare", "kind"]


_MAX_DATETIME: Final = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
_MIN_DATETIME: Final = datetime(1, 1, 1, tzinfo=UTC)

_ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_ORDERABLE: Final = frozenset(
    {"bool", "number", "string", "datetime", "date", "time", "duration", "guid", "binary"}
)


_FAMILIES: Final[dict[type, str]] = {
    **{python_type: literal.family for python_type, literal in KINDS.items()},
    list: "collection",
    tuple: "collection",
    dict: "object",
}
"""Exact type -> family: the literal kinds' own, and JSON's containers."""


def kind(value: object) -> str:
    """The type family of an evaluated value, for coercion and messages (the type's name for
    anything else)."""
    found = _FAMILIES.get(type(value))
    if found is not None:
        return found
    literal = kind_of(value)  # a subclass of a literal's type
    return type(value).__name__ if literal is None else literal.family


def _whole(scan: Callable[[str, int], tuple[Any, int]], text: str) -> Any:
    try:
        value, end = scan(text, 0)
    except (ODataSyntaxError, UnsupportedODataError):
        return None
    return value if end == len(text) else None


# Cheap shape tests first: most strings are not dates or numbers, and a failed scan costs an
# exception.
_SHAPES: Final[dict[str, re.Pattern[str]]] = {
    "datetime": re.compile(r"\d{4}-\d\d-\d\d[Tt ]"),
    "date": re.compile(r"\d{4}-\d\d-\d\d"),
    "time": re.compile(r"\d\d:\d\d"),
    "duration": re.compile(r"-?[Pp]"),
    "guid": re.compile(r"[0-9A-Fa-f]{8}-"),
    "number": re.compile(r"[+-]?(?:\d|INF\Z|NaN\Z)"),
}


@lru_cache(maxsize=8192)
def _from_text(text: str, target: str) -> Any:
    """``text`` read as a value of kind ``target``, or ``None`` when it is not one."""
    shape = _SHAPES.get(target)
    if shape is None or shape.match(text) is None:
        return None
    if target == "datetime":
        return parse_datetime_text(text)
    if target == "date":
        day = _whole(scan_date, text)
        if day is None:
            moment = parse_datetime_text(text)
            day = moment.date() if moment is not None else None
        return day
    if target == "time":
        return _whole(scan_time, text)
    if target == "duration":
        return _whole(scan_duration, text)
    if target == "guid":
        try:
            return UUID(text)
        except ValueError:
            return None
    if target == "number":
        number = _whole(scan_number, text)
        return float(number) if isinstance(number, Decimal) else number
    return None


# A whole OData date-time with its offset, as the service sends a date-time property. Only this
# form is read as an instant when two strings meet: looser ISO text stays text, so that no name
# or code that happens to start with digits is taken for a date.
_DATETIME_OFFSET: Final = re.compile(
    r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[Zz]|[+-]\d\d:\d\d)\Z"
)


@lru_cache(maxsize=8192)
def _instant(text: str) -> datetime | None:
    """``text`` as an instant when all of it is an OData date-time with an offset."""
    if _DATETIME_OFFSET.match(text) is None:
        return None
    moment: datetime | None = _whole(scan_datetime, text)
    return moment


def _same_numbers(a: Any, b: Any) -> tuple[Any, Any]:
    """A decimal next to a binary float becomes a float, as the JSON number it meets is one."""
    if isinstance(a, float) and isinstance(b, Decimal):
        return a, float(b)
    if isinstance(b, float) and isinstance(a, Decimal):
        return float(a), b
    return a, b


def _align(a: Any, b: Any, what: str, mode: str | None = None) -> tuple[Any, Any]:
    """Two non-null operands of one kind, reading a string as the other operand's kind.

    ``mode`` is what the model declares for a property operand: two strings compare as text
    (``"text"``, an Edm.String) or as instants (``"instant"``, an Edm.DateTimeOffset); without
    it, by their look.
    """
    ka, kb = kind(a), kind(b)
    if ka == kb:
        if ka == "string":
            if mode == "text":
                return a, b
            if mode == "instant":
                moment_a, moment_b = _from_text(a, "datetime"), _from_text(b, "datetime")
                if moment_a is not None and moment_b is not None:
                    return moment_a, moment_b
                return a, b
            if a[4:5] == "-" and b[4:5] == "-":
                moment_a, moment_b = _instant(a), _instant(b)
                if moment_a is not None and moment_b is not None:
                    return moment_a, moment_b
        elif ka == "number" and type(a) is not type(b):
            return _same_numbers(a, b)
        return a, b
    if ka == "string":
        converted = _from_text(a, kb)
        if converted is not None:
            return _same_numbers(converted, b)
    elif kb == "string":
        converted = _from_text(b, ka)
        if converted is not None:
            return _same_numbers(a, converted)
    raise ODataError(f"cannot {what} {ka} {_show(a)} and {kb} {_show(b)}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def compare(op: str, a: Any, b: Any, mode: str | None = None) -> bool:
    """``a op b`` with OData's null rules (the result is never null); ``mode`` as in _align."""
    if a is None or b is None:
        both = a is None and b is None
        if op in ("eq", "ge", "le"):
            return both
        if op == "ne":
            return not both
        return False
    a, b = _align(a, b, "compare", mode)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if kind(a) not in _ORDERABLE:
        raise ODataError(f"cannot order values of type {kind(a)}")
    return _ORDERING[op](a, b)


def _truth(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ODataError(f"{what} needs true, false or null, got {kind(value)} {_show(value)}")


Number: TypeAlias = int | float | Decimal

_DECIMAL: Final = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""Decimal arithmetic: 28 significant digits, whatever the thread's own decimal context is."""


def _number(value: Any, what: str) -> Number:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        converted = _from_text(value, "number")
        if converted is not None:
            return converted  # type: ignore[no-any-return]
    raise ODataError(f"{what} needs numbers, got {kind(value)} {_show(value)}")


def _divide_integers(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def _modulo_integers(a: int, b: int) -> int:
    remainder = abs(a) % abs(b)
    return remainder if a >= 0 else -remainder


def _by_zero(a: Number, b: Number) -> float:
    """IEEE 754 for ``a / 0``: ``INF`` or ``-INF`` by the signs (of a zero too), ``NaN`` for 0/0."""
    if a == 0 or a != a:
        return math.nan
    negative_zero = b.is_signed() if isinstance(b, Decimal) else math.copysign(1.0, b) < 0
    return -math.inf if (a < 0) != negative_zero else math.inf


def _integer_numeric(op: str, a: int, b: int) -> int | float:
    if op == "divby":  # never an integer division
        return a / b if b else _by_zero(a, b)
    if op == "add":
        result = a + b
    elif op == "sub":
        result = a - b
    elif op == "mul":
        result = a * b
    elif b == 0:
        raise ODataError(f"division by zero ({op})")
    else:
        return _divide_integers(a, b) if op == "div" else _modulo_integers(a, b)
    if -INTEGER_BOUND < result < INTEGER_BOUND:
        return result
    # Integers as long as a literal may be: a chain of 'mul' cannot grow without bound.
    raise OverflowError


def _float_numeric(op: str, a: float, b: float) -> float:
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "mod":  # IEEE remainder with the dividend's sign; math.fmod raises where it is NaN
        if b == 0 or math.isinf(a) or math.isnan(b):
            return math.nan
        return math.fmod(a, b)
    return a / b if b else _by_zero(a, b)


def _decimal_numeric(op: str, a: int | Decimal, b: int | Decimal) -> Decimal | float:
    if op == "add":
        return _DECIMAL.add(a, b)
    if op == "sub":
        return _DECIMAL.subtract(a, b)
    if op == "mul":
        return _DECIMAL.multiply(a, b)
    if b == 0:
        return math.nan if op == "mod" else _by_zero(a, b)
    if op == "mod":
        return _DECIMAL.remainder(a, b)  # the dividend's sign, like integer mod
    return _DECIMAL.divide(a, b)


def _numeric(op: str, a: Number, b: Number) -> Number:
    """Integers stay integers, a decimal keeps both exact, and a float makes both floats."""
    if isinstance(a, float) or isinstance(b, float):
        return _float_numeric(op, float(a), float(b))
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _decimal_numeric(op, a, b)
    return _integer_numeric(op, a, b)


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a op b``; null when either operand is null."""
    if a is None or b is None:
        return None
    ka, kb = kind(a), kind(b)
    try:
        if ka in ("datetime", "date", "duration") or kb in ("datetime", "date", "duration"):
            return _temporal_arithmetic(op, a, b)
        return _numeric(op, _number(a, op), _number(b, op))
    except (OverflowError, DecimalException):
        raise ODataError(f"number too large in {op}") from None


def _temporal_arithmetic(op: str, a: Any, b: Any) -> Any:
    if kind(a) == "string":
        a = _from_text(a, "datetime") or a
    if kind(b) == "string":
        b = _from_text(b, "duration") or _from_text(b, "datetime") or b
    ka, kb = kind(a), kind(b)
    if op == "add" and ka in ("datetime", "date", "duration") and kb == "duration":
        return a + b
    if op == "add" and ka == "duration" and kb in ("datetime", "date"):
        return b + a
    if op == "sub" and ka in ("datetime", "date", "duration") and kb == "duration":
        return a - b
    if op == "sub" and ka == kb and ka in ("datetime", "date"):
        return a - b
    raise ODataError(f"cannot {op} {ka} {_show(a)} and {kb} {_show(b)}")


# -- functions ------------------------------------------------------------------------------


def _text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    raise ODataError(f"{name}() needs text, got {kind(value)} {_show(value)}")


def _integer(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ODataError(f"{name}() needs an integer, got {kind(value)} {_show(value)}")


def _moment(value: Any, name: str, accept: tuple[str, ...]) -> Any:
    """A date/datetime/time argument; a string is read as the first of ``accept`` it fits."""
    if isinstance(value, str):
        for target in accept:
            converted = _from_text(value, target)
            if converted is not None:
                return converted
    if kind(value) in accept:
        return value
    raise ODataError(f"{name}() needs a {' or '.join(accept)}, got {kind(value)} {_show(value)}")


_DATE_KINDS: Final = ("datetime", "date")
_TIME_KINDS: Final = ("datetime", "time")


def _round_half_away(value: Number) -> Number:
    """OData ``round``: the nearest integer, a tie away from zero (``round(-2.5)`` is -3).

    Exact for every float: ``floor(x + 0.5)`` is not, near 0.5 and above 2**52.
    """
    if isinstance(value, Decimal):
        return value.to_integral_value(rounding=ROUND_HALF_UP, context=_DECIMAL)
    if isinstance(value, int) or not math.isfinite(value):
        return value
    whole = math.trunc(value)
    if abs(value - whole) >= 0.5:  # exact: both are floats of one binade or whole is 0
        whole += 1 if value > 0 else -1
    return math.copysign(float(whole), value)


def _floor(value: Number) -> Number:
    if isinstance(value, Decimal):
        return value.to_integral_value(rounding=ROUND_FLOOR, context=_DECIMAL)
    if isinstance(value, int) or not math.isfinite(value):
        return value
    return float(math.floor(value))


def _ceiling(value: Number) -> Number:
    if isinstance(value, Decimal):
        return value.to_integral_value(rounding=ROUND_CEILING, context=_DECIMAL)
    if isinstance(value, int) or not math.isfinite(value):
        return value
    return float(math.ceil(value))


def _substring(value: Any, start: Any, length: Any = None) -> str:
    text = _text(value, "substring")
    begin = max(_integer(start, "substring"), 0)
    if length is None:
        return text[begin:]
    return text[begin : begin + max(_integer(length, "substring"), 0)]


def _length(value: Any) -> int:
    if isinstance(value, str | list):
        return len(value)
    raise ODataError(f"length() needs text or a collection, got {kind(value)} {_show(value)}")


def _time_of(value: Any) -> time:
    moment = _moment(value, "time", _TIME_KINDS)
    return moment.time() if isinstance(moment, datetime) else moment


def _date_of(value: Any) -> date:
    moment = _moment(value, "date", _DATE_KINDS)
    return moment.date() if isinstance(moment, datetime) else moment


def _offset_minutes(value: Any) -> int:
    moment = _moment(value, "totaloffsetminutes", ("datetime",))
    offset = moment.utcoffset() or timedelta(0)
    return int(offset.total_seconds()) // 60


def _total_seconds(value: Any) -> float:
    duration = value
    if isinstance(value, str):
        duration = _from_text(value, "duration")
    if not isinstance(duration, timedelta):
        raise ODataError(f"totalseconds() needs a duration, got {kind(value)} {_show(value)}")
    return duration.total_seconds()


_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "contains": lambda a, b: _text(b, "contains") in _text(a, "contains"),
    "startswith": lambda a, b: _text(a, "startswith").startswith(_text(b, "startswith")),
    "endswith": lambda a, b: _text(a, "endswith").endswith(_text(b, "endswith")),
    "tolower": lambda a: _text(a, "tolower").lower(),
    "toupper": lambda a: _text(a, "toupper").upper(),
    "trim": lambda a: _text(a, "trim").strip(),
    "length": _length,
    "indexof": lambda a, b: _text(a, "indexof").find(_text(b, "indexof")),
    "substring": _substring,
    "concat": lambda a, b: _text(a, "concat") + _text(b, "concat"),
    "year": lambda a: _moment(a, "year", _DATE_KINDS).year,
    "month": lambda a: _moment(a, "month", _DATE_KINDS).month,
    "day": lambda a: _moment(a, "day", _DATE_KINDS).day,
    "hour": lambda a: _moment(a, "hour", _TIME_KINDS).hour,
    "minute": lambda a: _moment(a, "minute", _TIME_KINDS).minute,
    "second": lambda a: _moment(a, "second", _TIME_KINDS).second,
    "fractionalseconds": lambda a: (
        _moment(a, "fractionalseconds", _TIME_KINDS).microsecond / 1_000_000
    ),
    "date": _date_of,
    "time": _time_of,
    "totaloffsetminutes": _offset_minutes,
    "totalseconds": _total_seconds,
    "round": lambda a: _round_half_away(_number(a, "round")),
    "floor": lambda a: _floor(_number(a, "floor")),
    "ceiling": lambda a: _ceiling(_number(a, "ceiling")),
}
