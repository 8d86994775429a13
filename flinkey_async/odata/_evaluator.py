"""Tree -> value over JSON-shaped records, with OData's rules; and a whole query over a list.

The rules on values (below) are applied by :mod:`._operations`; this module compiles a tree and
runs it over records.

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

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import DecimalException
from functools import lru_cache
from typing import Any, Final, TypeAlias

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
from flinkey_async.odata._errors import ODataError, UnsupportedODataError
from flinkey_async.odata._operations import (
    _FUNCTIONS,
    _MAX_DATETIME,
    _MIN_DATETIME,
    _ORDERABLE,
    _from_text,
    _number,
    _show,
    _truth,
    arithmetic,
    compare,
    kind,
)
from flinkey_async.odata._types import PropertyKinds, api_kinds
from flinkey_async.odata._values import kind_of

__all__ = [
    "apply_query",
    "apply_to_entity",
    "check_properties",
    "count_matching",
    "evaluate",
    "kind",
    "property_names",
]

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
