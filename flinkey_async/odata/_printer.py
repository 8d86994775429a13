"""Tree -> OData text (not yet percent-encoded; see ``_encoding``).

The printer adds the parentheses the parser needs to read back the very same tree:

* by precedence and side: a child binding looser than its parent is wrapped, and so is a right
  child binding equally (``a sub (b sub c)``), because all binary operators group to the left;
* ``not (...)`` always, and a mixed ``and``/``or`` child always, so nobody has to remember
  precedence when reading a query in a log;
* the operand of ``in`` unless it is primary, because ``in`` binds tighter than ``not``;
* a raw fragment whenever it is nested, since its content is unknown.

Literals: ``null`` bare, strings in single quotes with ``'`` doubled, datetimes with their offset
(``Z`` for UTC), GUIDs bare, durations as ``duration'P...'``, binaries as ``binary'...'``
(base64url), non-integer numbers always with a ``.`` or an exponent so they never read back as
integers, ``INF``/``-INF``/``NaN`` for the special floats.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from flinkey_async._exceptions import ODataError
from flinkey_async.odata._ast import (
    Arithmetic,
    Call,
    Comparison,
    Expr,
    In,
    ListExpr,
    Literal,
    LiteralValue,
    Logical,
    Negate,
    Not,
    OrderKey,
    Property,
    Raw,
)

__all__ = ["format_literal", "precedence", "print_expr", "print_orderby"]

# Higher binds tighter.
_OR: Final = 1
_AND: Final = 2
_EQUALITY: Final = 3
_RELATIONAL: Final = 4
_ADDITIVE: Final = 5
_MULTIPLICATIVE: Final = 6
_UNARY: Final = 7
_IN: Final = 8
_PRIMARY: Final = 9

BINARY_PRECEDENCE: Final[dict[str, int]] = {
    "or": _OR,
    "and": _AND,
    "eq": _EQUALITY,
    "ne": _EQUALITY,
    "gt": _RELATIONAL,
    "ge": _RELATIONAL,
    "lt": _RELATIONAL,
    "le": _RELATIONAL,
    "add": _ADDITIVE,
    "sub": _ADDITIVE,
    "mul": _MULTIPLICATIVE,
    "div": _MULTIPLICATIVE,
    "divby": _MULTIPLICATIVE,
    "mod": _MULTIPLICATIVE,
}
UNARY_PRECEDENCE: Final = _UNARY
_DIGITS: Final = frozenset("0123456789")
IN_PRECEDENCE: Final = _IN


def precedence(expr: Expr) -> int:
    """How tightly ``expr`` binds when printed (0 for raw text: always wrapped)."""
    kind = type(expr)
    fixed = _FIXED_PRECEDENCE.get(kind)
    if fixed is not None:
        return fixed
    if kind is Comparison or kind is Logical or kind is Arithmetic:
        return BINARY_PRECEDENCE[expr.op]  # type: ignore[attr-defined]
    if kind is In:
        return _PRIMARY if _is_empty_in(expr) else _IN  # type: ignore[arg-type]
    return _PRIMARY  # not a node: printing it raises


def print_expr(expr: Expr) -> str:
    """The OData text of ``expr`` (unencoded)."""
    if type(expr) is Raw:
        return expr.text
    return _print(expr)


def print_orderby(keys: Iterable[OrderKey]) -> str:
    """``$orderby`` text: ``name,id desc``."""
    parts = []
    for key in keys:
        text = print_expr(key.expr)
        parts.append(f"{text} desc" if key.descending else text)
    return ",".join(parts)


def _is_empty_in(expr: In) -> bool:
    return type(expr.collection) is ListExpr and not expr.collection.items


def _print(expr: Expr) -> str:
    """One recursive pass. Names and literals below an operator or in a call are printed in
    place, and a child's precedence is looked up in place, to save a call per node."""
    node: Any = expr  # the exact type is checked below, before any attribute is read
    kind = type(node)
    if kind is Logical or kind is Comparison or kind is Arithmetic:
        return _print_binary(node)
    if kind is Property:
        return node.name  # type: ignore[no-any-return]
    if kind is Literal:
        return format_literal(node.value)
    if kind is Call:
        args: list[str] = []
        for arg in node.args:
            side = type(arg)
            if side is Property:
                args.append(arg.name)
            elif side is Literal:
                value = arg.value
                args.append(_quote_str(value) if type(value) is str else format_literal(value))
            elif side is Raw:
                args.append(f"({arg.text})")  # its content is unknown: always wrapped
            else:
                args.append(_print(arg))
        return f"{node.name}({','.join(args)})"
    if kind is Not:
        return f"not ({_print(node.operand)})"
    if kind is In:
        return _print_in(node)
    if kind is ListExpr:
        return "(" + ",".join([format_literal(item.value) for item in node.items]) + ")"
    if kind is Negate:
        return _print_negate(node)
    if kind is Raw:
        return node.text  # type: ignore[no-any-return]  # parents wrap it: its precedence is 0
    raise TypeError(f"not an OData expression node: {expr!r}")


def _print_binary(expr: Any) -> str:
    """A binary node and the binary nodes down its left side, in one loop, bottom up.

    A left-deep chain (``Query.filter`` and a loop of ``&`` build them) may be thousands of
    nodes long, which recursion could not follow; right operands recurse, as deep as they nest.
    A child binding looser than its parent is wrapped, on the right also one binding equally
    (operators group to the left), and under and/or a mixed and/or child always.
    """
    spine: list[Any] | None = None  # the binary nodes above ``node``, top first
    node = expr
    left = node.left
    side = type(left)
    if side is Logical or side is Comparison or side is Arithmetic:
        spine = []
        while side is Logical or side is Comparison or side is Arithmetic:
            spine.append(node)
            node = left
            left = node.left
            side = type(left)
    if side is Property:
        text: str = left.name
    elif side is Literal:
        value = left.value
        text = "'" + value.replace("'", "''") + "'" if type(value) is str else format_literal(value)
    else:
        text = _print(left)
        fixed = _FIXED_PRECEDENCE.get(side)
        if (precedence(left) if fixed is None else fixed) < BINARY_PRECEDENCE[node.op]:
            text = f"({text})"
    while True:
        op: str = node.op
        own = BINARY_PRECEDENCE[op]
        right = node.right
        side = type(right)
        if side is Literal:
            value = right.value
            if type(value) is str:
                right_text = "'" + value.replace("'", "''") + "'"
            else:
                right_text = format_literal(value)
        elif side is Property:
            right_text = right.name
        elif side is Logical or side is Comparison or side is Arithmetic:
            right_text = _print_binary(right)
            child_op = right.op
            if BINARY_PRECEDENCE[child_op] <= own or (
                side is Logical and type(node) is Logical and child_op != op
            ):
                right_text = f"({right_text})"
        else:
            right_text = _print(right)
            fixed = _FIXED_PRECEDENCE.get(side)
            if (precedence(right) if fixed is None else fixed) <= own:
                right_text = f"({right_text})"
        text += f" {op} {right_text}"  # in place: linear over a long chain
        if not spine:
            return text
        parent = spine.pop()
        parent_op = parent.op
        if BINARY_PRECEDENCE[parent_op] > own or (
            type(node) is Logical and type(parent) is Logical and op != parent_op
        ):
            text = f"({text})"
        node = parent


def _print_negate(expr: Negate) -> str:
    operand = expr.operand
    text = _print(operand)
    # '-' followed by a digit or INF reads back as a negative literal (also when the operand
    # only starts with one, as in '0 in (x)'): keep them apart.
    if (
        type(operand) is Literal
        or precedence(operand) < _UNARY
        or text[:1] in _DIGITS
        or text.startswith("INF")
    ):
        return f"-({text})"
    return f"-{text}"


def _print_in(expr: In) -> str:
    if _is_empty_in(expr):
        return "false"  # 'x in ()' is valid OData, but services reject it
    operand = expr.operand
    member = _print(operand)
    if precedence(operand) < _PRIMARY:
        member = f"({member})"
    if type(expr.collection) is ListExpr:
        return f"{member} in {_print(expr.collection)}"
    return f"{member} in ({_print(expr.collection)})"


_FIXED_PRECEDENCE: Final[dict[type, int]] = {
    Property: _PRIMARY,
    Literal: _PRIMARY,
    Call: _PRIMARY,
    ListExpr: _PRIMARY,
    Not: _UNARY,
    Negate: _UNARY,
    Raw: 0,
}


def _quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format_binary(value: bytes) -> str:
    return "binary'" + base64.urlsafe_b64encode(value).decode("ascii") + "'"


def _format_duration(value: timedelta) -> str:
    return f"duration'{format_duration(value)}'"


def format_literal(value: LiteralValue) -> str:
    """The OData literal text of a (checked) literal value."""
    formatter = _FORMATTERS.get(type(value))
    if formatter is not None:
        return formatter(value)
    return _format_subclass(value)


def _format_subclass(value: LiteralValue) -> str:
    """Values of a subclass (a datetime subclass, ...): the first matching base decides."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, Decimal):
        return _format_decimal(value)
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _format_time(value)
    if isinstance(value, timedelta):
        return _format_duration(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return _format_binary(value)
    raise TypeError(f"not an OData literal value: {value!r}")


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)  # shortest round-trip form, always with '.' or 'e'


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


# Exact type -> formatter; any other type goes through _format_subclass.
_FORMATTERS: Final[dict[type, Callable[[Any], str]]] = {
    str: _quote_str,
    int: int.__repr__,
    type(None): lambda value: "null",
    bool: lambda value: "true" if value else "false",
    float: _format_float,
    Decimal: _format_decimal,
    datetime: _format_datetime,
    date: date.isoformat,
    time: _format_time,
    timedelta: _format_duration,
    UUID: str,
    bytes: _format_binary,
}
