"""OData type checks against an entity's schema, and error texts that never echo row values.

The evaluator meets a type clash only on a row: on its own it would answer ``name eq 1`` with
400 on a full list but 200 on an empty one or when ``and`` stops early, quoting the row it
tripped on. Checking the filter against the entity's model first makes the common clash (a
property compared with a literal of another type) a 400 that depends on the query alone; what
the evaluator still meets is reported with types only (:func:`public_problem`).

The kinds are the model's declared types (:mod:`flinkey_async.odata._types`), the same ones the
evaluator compares by: a string property compares as text, a date-time property as an instant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from ..odata import (
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
    ODataError,
    Property,
    Query,
    Raw,
    parse_filter,
    parse_literal,
)
from ..odata._evaluator import kind
from ..odata._types import PropertyKinds, property_kinds

__all__ = ["Schema", "check_types", "public_problem", "schema_of"]

Schema = PropertyKinds
"""Wire name -> value kind (``string``, ``number``, ``bool``, ``datetime``)."""

_ACCEPTS: Final[dict[str, frozenset[str]]] = {
    # property kind: the literal kinds it can be compared with (null always can)
    "string": frozenset({"string"}),
    "number": frozenset({"number"}),
    "bool": frozenset({"bool"}),
    "datetime": frozenset({"datetime", "date"}),
}
_READS_AS: Final[dict[str, frozenset[str]]] = {
    # property kind: what a string literal must read as to be compared with it
    "number": frozenset({"number"}),
    "datetime": frozenset({"datetime", "date"}),
}


def schema_of(model: type[Any]) -> Schema:
    """The kinds of a model's scalar properties, by wire name (others are not checked).

    The same kinds the evaluator compares by (:func:`flinkey_async.odata._types.property_kinds`).
    """
    return property_kinds(model)


def _fits(property_kind: str, value: object) -> bool:
    found = kind(value)
    if found == "null" or found in _ACCEPTS[property_kind]:
        return True
    wanted = _READS_AS.get(property_kind)
    if found != "string" or wanted is None:
        return False
    assert isinstance(value, str)
    try:
        read = parse_literal(value).value
    except ODataError:
        return False
    return kind(read) in wanted


def _nodes(expr: Expr) -> Iterator[Expr]:
    """Every node of ``expr``, walked with a stack: a long ``and`` chain is a deep tree."""
    pending = [expr]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, Comparison | Logical | Arithmetic):
            pending += (node.right, node.left)
        elif isinstance(node, Not | Negate):
            pending.append(node.operand)
        elif isinstance(node, In):
            pending += (node.collection, node.operand)
        elif isinstance(node, Call):
            pending.extend(reversed(node.args))
        elif isinstance(node, Raw):
            pending.append(parse_filter(node.text))


def _clash(name: str, property_kind: str, value: object, where: str) -> ODataError:
    return ODataError(
        f"$filter: cannot compare property {name!r} ({property_kind}) "
        f"with a {kind(value)} literal{where}"
    )


def check_types(query: Query, schema: Schema) -> None:
    """Refuse a ``$filter`` that compares a property with a literal of an incompatible type.

    Covers ``property op literal``, ``literal op property`` and ``property in (literals)``
    anywhere in the filter; other type errors are left to the evaluator.
    """
    if query.filter_expr is None:
        return
    for node in _nodes(query.filter_expr):
        if isinstance(node, Comparison):
            pairs = [(node.left, node.right), (node.right, node.left)]
            for side, other in pairs:
                if isinstance(side, Property) and isinstance(other, Literal):
                    kind = schema.get(side.name)
                    if kind is not None and not _fits(kind, other.value):
                        raise _clash(side.name, kind, other.value, "")
        elif (
            isinstance(node, In)
            and isinstance(node.operand, Property)
            and isinstance(node.collection, ListExpr)
        ):
            kind = schema.get(node.operand.name)
            if kind is None:
                continue
            for item in node.collection.items:
                if not _fits(kind, item.value):
                    raise _clash(node.operand.name, kind, item.value, " in its 'in' list")


# -- evaluation errors without values ------------------------------------------------------------

_KIND: Final = (
    r"(bool|number|string|datetime|date|time|duration|guid|binary|collection|object|NoneType)"
)
_VALUE: Final = (
    # How the evaluator shows a value: its repr, or the repr's first 37 characters and "...".
    r"""(?:.{37}\.\.\.|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[\w.]+\([^()]*\)|\S+)"""
)
_REWRITES: Final = (
    # The evaluator's texts that quote a value, rebuilt from their fixed words and the kinds.
    (
        re.compile(rf"cannot (\w+) {_KIND} {_VALUE} and {_KIND}(?: .*)?", re.S),
        "cannot {} {} and {}",
    ),
    (
        re.compile(rf"([\w$]+(?:\(\))?) needs ([a-z ,]+), got {_KIND}(?: .*)?", re.S),
        "{} needs {}, got {}",
    ),
    (
        re.compile(rf"\$filter must be a condition, but it gave {_KIND}(?: .*)?", re.S),
        "$filter must be a condition, but it gave {}",
    ),
)
_VALUE_FREE: Final = re.compile(
    r"cannot order values of type \w+"
    r"|cannot order values of different types \([\w, ]+\)"
    r"|division by zero \(\w+\)"
    r"|number too large in \w+"
    r"|\w+\(\) overflowed"
    r"|\w+\(\.\.\.\) is not supported here"
    rf"|the right side of 'in' must be a collection, got {_KIND}"
    r"|unknown property '\w+'(?: in \$select)? \(properties: [\w, ]+\)"
)
_UNKNOWN_CLASH: Final = "the operand types do not fit the operation"


def public_problem(error: ODataError) -> str:
    """The text of an error met while evaluating rows, with the types kept and values dropped.

    An unfamiliar text gives a fixed one: nothing of a row may reach the answer.
    """
    text = str(error)
    if _VALUE_FREE.fullmatch(text):
        return text
    for pattern, template in _REWRITES:
        match = pattern.fullmatch(text)
        if match:
            return template.format(*match.groups())
    return _UNKNOWN_CLASH
