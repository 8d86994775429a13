"""Tree -> value over JSON-shaped records, with OData's rules; and a whole query over a list.

Records are what the service sends: dicts keyed by camelCase wire names whose values are JSON
values, so a date-time is a string. Rules:

* null: comparisons with a null operand are false (``eq``/``ne`` treat null as a value, and
  ``null ge null`` / ``null le null`` are true); arithmetic and functions on null give null;
  ``and``/``or``/``not`` follow three-valued (Kleene) logic, and ``$filter`` keeps a record
  only when the result is ``true``.
* coercion: a string meets a date-time, date, time, duration, GUID or number literal by being
  read as one (``"2024-05-01T10:00:00+02:00" gt 2024-05-01T07:00:00Z`` compares instants;
  a string without an offset is UTC; a date-time string against a date compares its date).
  Otherwise operands of different types are an error, as the service would answer 400.
* declared types: two strings under a property the model declares (``kinds``, by default the
  API models' own, see ``_types``) compare as text for an Edm.String and as instants for an
  Edm.DateTimeOffset. Under an undeclared property, two strings that are both whole OData
  date-times (date, time and offset, as the service sends them) compare as instants.
* numbers: integers stay integers (``div`` truncates toward zero, ``mod`` keeps the dividend's
  sign); a non-integer literal is the decimal it is written as (``1.1 add 2.2 eq 3.3``), with
  28 significant digits, and becomes a binary float only next to a float from a record, as JSON
  numbers are. Integer ``div`` or ``mod`` by zero is an error; with a decimal or float operand,
  and for ``divby`` (never an integer division), it gives ``INF``, ``-INF`` or ``NaN``
  (OData 4.01). ``round`` rounds half away from zero.
* an unknown property is an :class:`ODataError` naming it.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
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

from flinkey_async.odata._ast import (
    Arithmetic,
    Call,
    Comparison,
    Expr,
    In,
    ListExpr,
    Literal,
    Logical,
    Negate,
    Not,
    OrderKey,
    Property,
    Raw,
    _node_kind,
)
from flinkey_async.odata._builder import Query
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
from flinkey_async.odata._types import PropertyKinds, api_kinds
from flinkey_async.odata._values import KINDS, kind_of

__all__ = [
    "apply_query",
    "apply_to_entity",
    "check_properties",
    "count_matching",
    "evaluate",
    "property_names",
]

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


# -- the walk -------------------------------------------------------------------------------
#
# A tree is compiled once into a flat program for a small stack machine, which then runs once per
# record. Neither step recurses, so a tree evaluates however deeply it nests; and a query over
# many records walks its tree once, not once per record.


def _literal_value(value: Any) -> Any:
    """A literal as the evaluator computes with it (a float as the decimal it is sent as)."""
    return kind_of(value).computed(value)  # type: ignore[union-attr]  # a checked literal


# Instructions: (opcode, argument). The machine's stack holds the values computed so far.
_LOAD: Final = 0  # push the record's property ``argument``
_CONST: Final = 1  # push ``argument``
_COMPARE: Final = 2  # a, b -> compare(argument, a, b)
_ARITHMETIC: Final = 3  # a, b -> arithmetic(argument, a, b)
_AND: Final = 4  # a -> truth of a; when false, leave false and go to ``argument``
_OR: Final = 5  # a -> truth of a; when true, leave true and go to ``argument``
_AND_END: Final = 6  # a, b -> a and b (three-valued)
_OR_END: Final = 7  # a, b -> a or b (three-valued)
_NOT: Final = 8  # a -> not a
_NEGATE: Final = 9  # a -> -a
_IN_LIST: Final = 10  # a -> a in ``argument`` (values)
_IN: Final = 11  # a, collection -> a in collection
_CALL: Final = 12  # n arguments -> function(*arguments); ``argument`` is (function, name, n)
_NOW: Final = 13  # push now()
_FAIL: Final = 14  # raise ``argument``, met only if evaluation gets there

_Program: TypeAlias = list[Any]
_EMIT: Final = object()  # a work item: put an instruction in the program
_PATCH: Final = object()  # a work item: end an and/or, and point its jump past the end


def _compile(expr: Expr, kinds: PropertyKinds) -> _Program:
    """The program that leaves the value of ``expr`` on the stack (post-order, with jumps that
    skip the right side of ``and``/``or`` when the left one decides). ``kinds`` give each
    comparison its meaning (see :func:`_mode`)."""
    code: _Program = []
    work: list[tuple[object, Any]] = [(None, expr)]
    while work:
        action, item = work.pop()
        if action is _EMIT:
            code.append(item)
            continue
        if action is _PATCH:
            jump, end = item
            code.append(end)
            jump[1] = len(code)
            continue
        node: Any = item
        kind = _node_kind(type(node))
        if kind is Property:
            code.append((_LOAD, node.name))
        elif kind is Literal:
            code.append((_CONST, _literal_value(node.value)))
        elif kind is Comparison:
            mode = _pair_mode(node.left, node.right, kinds)
            work += ((_EMIT, (_COMPARE, (node.op, mode))), (None, node.right), (None, node.left))
        elif kind is Arithmetic:
            work += ((_EMIT, (_ARITHMETIC, node.op)), (None, node.right), (None, node.left))
        elif kind is Logical:
            is_and = node.op == "and"
            jump = [_AND if is_and else _OR, -1]
            end = (_AND_END if is_and else _OR_END, None)
            work += ((_PATCH, (jump, end)), (None, node.right), (_EMIT, jump), (None, node.left))
        elif kind is Not or kind is Negate:
            work += ((_EMIT, (_NOT if kind is Not else _NEGATE, None)), (None, node.operand))
        elif kind is In:
            mode = _mode(node.operand, kinds)
            if type(node.collection) is ListExpr:
                values = tuple(_literal_value(item.value) for item in node.collection.items)
                work += ((_EMIT, (_IN_LIST, (values, mode))), (None, node.operand))
            else:
                work += ((_EMIT, (_IN, mode)), (None, node.collection), (None, node.operand))
        elif kind is ListExpr:
            code.append((_CONST, [_literal_value(item.value) for item in node.items]))
        elif kind is Call:
            _compile_call(node, code, work)
        elif kind is Raw:
            try:
                work.append((None, _parsed_raw(node.text)))
            except ODataError as error:
                code.append((_FAIL, error))
        else:
            raise TypeError(f"not an OData expression node: {node!r}")
    return code


def _compile_call(node: Call, code: _Program, work: list[tuple[object, Any]]) -> None:
    name = node.name
    if name == "now":
        code.append((_NOW, None))
    elif name == "maxdatetime":
        code.append((_CONST, _MAX_DATETIME))
    elif name == "mindatetime":
        code.append((_CONST, _MIN_DATETIME))
    elif name not in _FUNCTIONS:
        code.append((_FAIL, UnsupportedODataError(f"{name}(...) is not supported here")))
    else:
        work.append((_EMIT, (_CALL, (_FUNCTIONS[name], name, len(node.args)))))
        work.extend((None, arg) for arg in reversed(node.args))


def _run(code: _Program, record: Mapping[str, Any], now: datetime | None) -> Any:
    """Run a compiled program over one record; the value it leaves is the result."""
    stack: list[Any] = []
    push = stack.append
    pc, end = 0, len(code)
    while pc < end:
        opcode, argument = code[pc]
        pc += 1
        if opcode == _LOAD:
            try:
                push(record[argument])
            except KeyError:
                known = ", ".join(sorted(record)) or "none"
                raise ODataError(f"unknown property {argument!r} (properties: {known})") from None
        elif opcode == _CONST:
            push(argument)
        elif opcode == _COMPARE:
            right = stack.pop()
            op, mode = argument
            stack[-1] = compare(op, stack[-1], right, mode)
        elif opcode == _AND:
            left = _truth(stack[-1], "and")
            stack[-1] = left
            if left is False:
                pc = argument  # the right side is only evaluated when it counts
        elif opcode == _AND_END:
            right = _truth(stack.pop(), "and")
            left = stack[-1]
            stack[-1] = False if right is False else None if left is None or right is None else True
        elif opcode == _OR:
            left = _truth(stack[-1], "or")
            stack[-1] = left
            if left is True:
                pc = argument
        elif opcode == _OR_END:
            right = _truth(stack.pop(), "or")
            left = stack[-1]
            stack[-1] = True if right is True else None if left is None or right is None else False
        elif opcode == _ARITHMETIC:
            right = stack.pop()
            stack[-1] = arithmetic(argument, stack[-1], right)
        elif opcode == _NOT:
            value = _truth(stack[-1], "not")
            stack[-1] = None if value is None else not value
        elif opcode == _NEGATE:
            stack[-1] = _negate(stack[-1])
        elif opcode == _IN_LIST:
            value = stack[-1]
            values, mode = argument
            stack[-1] = any(compare("eq", value, item, mode) for item in values)
        elif opcode == _IN:
            collection = stack.pop()
            stack[-1] = _member(stack[-1], collection, argument)
        elif opcode == _CALL:
            function, name, count = argument
            args = stack[len(stack) - count :]
            del stack[len(stack) - count :]
            push(_call(function, name, args))
        elif opcode == _NOW:
            push(now if now is not None else datetime.now(UTC))
        else:  # _FAIL
            raise argument.with_traceback(None)
    return stack[0]


def _negate(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return -value
    return -_number(value, "negation")


def _member(value: Any, collection: Any, mode: str | None) -> bool | None:
    if collection is None:
        return None
    if not isinstance(collection, list):
        raise ODataError(f"the right side of 'in' must be a collection, got {kind(collection)}")
    return any(compare("eq", value, item, mode) for item in collection)


_TEXT_FUNCTIONS: Final = frozenset({"tolower", "toupper", "trim", "substring", "concat"})
_MODE_OF_KIND: Final = {"string": "text", "datetime": "instant"}


def _mode(node: Expr, kinds: PropertyKinds) -> str | None:
    """How strings from ``node`` compare: ``"text"`` for an Edm.String property (and text
    functions of one), ``"instant"`` for a date-time property, ``None`` when not declared."""
    while type(node) is Call and node.name in _TEXT_FUNCTIONS and node.args:
        node = node.args[0]
    if type(node) is Property:
        return _MODE_OF_KIND.get(kinds.get(node.name, ""))
    return None


def _pair_mode(left: Expr, right: Expr, kinds: PropertyKinds) -> str | None:
    """A declared string makes two strings text; else a declared date-time makes them instants."""
    modes = (_mode(left, kinds), _mode(right, kinds))
    if "text" in modes:
        return "text"
    return "instant" if "instant" in modes else None


def _call(function: Callable[..., Any], name: str, args: list[Any]) -> Any:
    if any(arg is None for arg in args):
        return None
    try:
        return function(*args)
    except (OverflowError, DecimalException):
        raise ODataError(f"{name}() overflowed") from None


@lru_cache(maxsize=256)
def _parsed_raw(text: str) -> Expr:
    from flinkey_async.odata._parser import parse_filter

    return parse_filter(text)


def evaluate(
    expr: Expr,
    record: Mapping[str, Any],
    *,
    now: datetime | None = None,
    kinds: PropertyKinds | None = None,
) -> Any:
    """The value of ``expr`` for one JSON-shaped ``record`` (``None`` is OData's null).

    ``now`` fixes what ``now()`` returns (default: the current UTC time). ``kinds`` declare
    property types (wire name -> ``string``, ``datetime``, ...; default: those of the API's
    models): two strings compare as text under a string property and as instants under a
    date-time one. ``{}`` compares by the values' look alone.
    """
    return _run(_compile(expr, _kinds(kinds)), record, now)


def _kinds(kinds: PropertyKinds | None) -> PropertyKinds:
    return api_kinds() if kinds is None else kinds


# -- whole queries --------------------------------------------------------------------------


def property_names(expr: Expr) -> Iterator[str]:
    """Every property name ``expr`` refers to, left to right (raw fragments are parsed)."""
    stack = [expr]  # a stack, not recursion: a left-deep chain may be thousands of nodes long
    while stack:
        node = stack.pop()
        if isinstance(node, Property):
            yield node.name
        elif isinstance(node, Comparison | Logical | Arithmetic):
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, Not | Negate):
            stack.append(node.operand)
        elif isinstance(node, In):
            stack.append(node.collection)
            stack.append(node.operand)
        elif isinstance(node, Call):
            stack.extend(reversed(node.args))
        elif isinstance(node, Raw):
            stack.append(_parsed_raw(node.text))


def check_properties(query: Query, properties: Collection[str]) -> None:
    """Raise :class:`ODataError` naming the first property ``query`` uses that is not known.

    For answering 400 even when there is no record to evaluate against.
    """
    used: list[str] = []
    if query.filter_expr is not None:
        used.extend(property_names(query.filter_expr))
    for key in query.order_keys:
        used.extend(property_names(key.expr))
    used.extend(query.select_fields)
    for name in used:
        if name not in properties:
            known = ", ".join(sorted(properties))
            raise ODataError(f"unknown property {name!r} (properties: {known})")


def _matches(code: _Program, record: Mapping[str, Any], now: datetime | None) -> bool:
    value = _run(code, record, now)
    if value is True:
        return True
    if value is False or value is None:
        return False
    raise ODataError(f"$filter must be a condition, but it gave {kind(value)} {_show(value)}")


def _sort_column(values: list[Any], mode: str | None) -> list[Any]:
    """Values of one order key made comparable: date-time strings become instants, unless the
    key is declared text (``mode``, as in _align)."""
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, str) for value in present):
        if mode == "text":
            return values
        moments = [_from_text(value, "datetime") for value in present]
        if all(moment is not None for moment in moments):
            converted = iter(moments)
            return [None if value is None else next(converted) for value in values]
        return values
    kinds = {kind(value) for value in present}
    if len(kinds) > 1:
        raise ODataError(f"cannot order values of different types ({', '.join(sorted(kinds))})")
    if kinds and not kinds <= _ORDERABLE:
        raise ODataError(f"cannot order values of type {kinds.pop()}")
    return values


def _ordered(
    rows: list[Mapping[str, Any]],
    keys: Sequence[OrderKey],
    now: datetime | None,
    kinds: PropertyKinds,
) -> list[Mapping[str, Any]]:
    # Stable sorts from the last key to the first give the multi-key order. A null sorts first
    # ascending and, because the whole order flips, last descending, as OData says.
    for key in reversed(keys):
        code = _compile(key.expr, kinds)
        column = _sort_column([_run(code, row, now) for row in rows], _mode(key.expr, kinds))
        order = sorted(
            range(len(rows)),
            key=lambda index: (0, 0) if column[index] is None else (1, column[index]),
            reverse=key.descending,
        )
        rows = [rows[index] for index in order]
    return rows


def _project(record: Mapping[str, Any], select: tuple[str, ...]) -> dict[str, Any]:
    if not select:
        return dict(record)
    projected: dict[str, Any] = {}
    for name in select:
        try:
            projected[name] = record[name]
        except KeyError:
            known = ", ".join(sorted(record))
            raise ODataError(
                f"unknown property {name!r} in $select (properties: {known})"
            ) from None
    return projected


def _filtered(
    query: Query,
    records: Iterable[Mapping[str, Any]],
    now: datetime | None,
    kinds: PropertyKinds,
) -> list[Mapping[str, Any]]:
    rows = list(records)
    if query.filter_expr is None:
        return rows
    code = _compile(query.filter_expr, kinds)
    return [row for row in rows if _matches(code, row, now)]


def apply_query(
    query: Query,
    records: Iterable[Mapping[str, Any]],
    *,
    properties: Collection[str] | None = None,
    now: datetime | None = None,
    kinds: PropertyKinds | None = None,
) -> list[dict[str, Any]]:
    """``$filter``, ``$orderby``, ``$skip``, ``$top``, then ``$select``, in OData's order.

    Returns new dicts. ``properties``, when given, are the entity's property names: a query
    naming any other is refused even when there are no records. ``kinds`` as in
    :func:`evaluate`.
    """
    if properties is not None:
        check_properties(query, properties)
    declared = _kinds(kinds)
    rows = _filtered(query, records, now, declared)
    if query.order_keys:
        rows = _ordered(rows, query.order_keys, now, declared)
    if query.skip_value:
        rows = rows[query.skip_value :]
    if query.top_value is not None:
        rows = rows[: query.top_value]
    return [_project(row, query.select_fields) for row in rows]


def count_matching(
    query: Query,
    records: Iterable[Mapping[str, Any]],
    *,
    properties: Collection[str] | None = None,
    now: datetime | None = None,
    kinds: PropertyKinds | None = None,
) -> int:
    """``$count``: how many records pass ``$filter`` (``$top``/``$skip`` do not apply)."""
    if properties is not None:
        check_properties(query, properties)
    return len(_filtered(query, records, now, _kinds(kinds)))


def apply_to_entity(
    query: Query,
    record: Mapping[str, Any],
    *,
    properties: Collection[str] | None = None,
    now: datetime | None = None,
    kinds: PropertyKinds | None = None,
) -> dict[str, Any] | None:
    """A single entity under ``$filter`` and ``$select``; ``None`` when the filter rejects it.

    (A service answers 404 then.) ``$orderby``, ``$top``, ``$skip`` mean nothing for one entity
    and are ignored.
    """
    if properties is not None:
        check_properties(query, properties)
    if query.filter_expr is None:
        return _project(record, query.select_fields)
    if not _matches(_compile(query.filter_expr, _kinds(kinds)), record, now):
        return None
    return _project(record, query.select_fields)
