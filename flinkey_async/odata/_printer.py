"""Tree -> OData text (not yet percent-encoded; see ``_encoding``).

The printer adds the parentheses the parser needs to read back the very same tree:

* by precedence and side: a child binding looser than its parent is wrapped, and so is a right
  child binding equally (``a sub (b sub c)``), because all binary operators group to the left;
* ``not (...)`` always, and a mixed ``and``/``or`` child always, so nobody has to remember
  precedence when reading a query in a log;
* the operand of ``in`` unless it is primary, because ``in`` binds tighter than ``not``;
* a raw fragment whenever it is nested, since its content is unknown.

Literals are written by their kind's row in ``_values``: ``null`` bare, strings in single
quotes with ``'`` doubled, datetimes with their offset (``Z`` for UTC), GUIDs bare, durations as
``duration'P...'``, binaries as ``binary'...'`` (base64url), non-integer numbers always with a
``.`` or an exponent so they never read back as integers, ``INF``/``-INF``/``NaN`` for the
special floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from flinkey_async.odata._ast import (
    _NODE_TYPES,
    BINARY_PRECEDENCE,
    PRIMARY_PRECEDENCE,
    UNARY_PRECEDENCE,
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
    is_empty_in,
    precedence,
    use_printer,
)
from flinkey_async.odata._values import format_duration, format_literal

__all__ = ["format_duration", "format_literal", "precedence", "print_expr", "print_orderby"]

_DIGITS: Final = frozenset("0123456789")


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


def _print(expr: Expr) -> str:
    """Post-order over an explicit stack: every node's text from its operands' texts.

    No recursion, so a tree prints however deeply it nests (the printed text then has to fit
    the parser's :data:`~flinkey_async.odata.MAX_NESTING` to read back). The stack holds nodes
    to print and, as tuples, nodes to finish once their operands are printed. Names and
    literals are printed where their parent meets them, so an operator over two of them is done
    in one step; a long left-deep chain grows its text in place (``+=`` on a string nobody else
    holds), in linear time.
    """
    texts: list[str] = []  # the texts of the operands printed so far, in order
    work: list[Any] = [expr]
    kind: type | None
    while work:
        item = work.pop()
        if type(item) is tuple:  # (node, left text or None, right text or None): finish it
            node, left_text, right_text = item
            kind = type(node)
            if kind is Comparison or kind is Logical or kind is Arithmetic:
                if right_text is None:
                    right_text = texts.pop()
                if left_text is None:
                    left_text = texts.pop()
                texts.append(_join_binary(node, kind, left_text, right_text))
            elif kind is Not:
                texts.append(f"not ({texts.pop()})")
            elif kind is Negate:
                texts.append(_negated(node.operand, texts.pop()))
            elif kind is In:
                collection = texts.pop()
                texts.append(_join_in(node, texts.pop(), collection))
            else:  # Call
                count = len(node.args)
                args = texts[len(texts) - count :]
                del texts[len(texts) - count :]
                texts.append(_join_call(node, args))
            continue
        node = item
        kind = type(node)
        if kind not in _NODE_TYPES:
            kind = _node_kind(type(node))
        if kind is Comparison or kind is Logical or kind is Arithmetic:
            left, right = node.left, node.right
            left_text = _leaf_text(left)
            right_text = _leaf_text(right)
            if left_text is not None and right_text is not None:
                texts.append(_join_binary(node, kind, left_text, right_text))
                continue
            work.append((node, left_text, right_text))
            if right_text is None:
                work.append(right)
            if left_text is None:
                work.append(left)
        elif kind is Property:
            texts.append(node.name)
        elif kind is Literal:
            texts.append(format_literal(node.value))
        elif kind is Not or kind is Negate:
            work.append((node, None, None))
            work.append(node.operand)
        elif kind is Call:
            leaves = [_leaf_text(arg) for arg in node.args]
            if None not in leaves:
                texts.append(_join_call(node, leaves))  # type: ignore[arg-type]
                continue
            work.append((node, None, None))
            work.extend(reversed(node.args))
        elif kind is In:
            if is_empty_in(node):
                texts.append("false")  # 'x in ()' is valid OData, but services reject it
                continue
            work.append((node, None, None))
            work.append(node.collection)
            work.append(node.operand)
        elif kind is ListExpr:
            texts.append("(" + ",".join([format_literal(item.value) for item in node.items]) + ")")
        elif kind is Raw:
            texts.append(node.text)  # parents wrap it: its precedence is 0
        else:
            raise TypeError(f"not an OData expression node: {node!r}")
    return texts[0]


def _leaf_text(node: Any) -> str | None:
    """The text of a name, a literal, or a comparison, arithmetic or call of only those, met
    under an operator; ``None`` for any other node (it goes through the stack)."""
    kind = type(node)
    if kind is Property:
        return node.name  # type: ignore[no-any-return]
    if kind is Literal:
        value = node.value
        return "'" + value.replace("'", "''") + "'" if type(value) is str else format_literal(value)
    if kind is Comparison or kind is Arithmetic:
        left, right = node.left, node.right
        side = type(left)
        if side is Property:
            left_text = left.name
        elif side is Literal:
            left_text = format_literal(left.value)
        else:
            return None
        side = type(right)
        if side is Property:
            return f"{left_text} {node.op} {right.name}"
        if side is Literal:
            right_text = format_literal(right.value)
            return f"{left_text} {node.op} {right_text}"
    elif kind is Call:
        args = []
        for arg in node.args:
            side = type(arg)
            if side is Property:
                args.append(arg.name)
            elif side is Literal:
                args.append(format_literal(arg.value))
            else:
                return None
        return f"{node.name}({','.join(args)})"
    return None


def _join_binary(node: Any, kind: type | None, text: str, right_text: str) -> str:
    """``left op right``. A child binding looser than its parent is wrapped, on the right also
    one binding equally (operators group to the left), and under and/or a mixed and/or child
    always."""
    op = node.op
    own = BINARY_PRECEDENCE[op]
    left = node.left
    side = type(left)
    if side in _BINARY_TYPES:
        if BINARY_PRECEDENCE[left.op] < own or (
            kind is Logical and side is Logical and left.op != op
        ):
            text = f"({text})"
    elif side not in _NEVER_WRAPPED and precedence(left) < own:
        text = f"({text})"
    right = node.right
    side = type(right)
    if side in _BINARY_TYPES:
        if BINARY_PRECEDENCE[right.op] <= own or (
            kind is Logical and side is Logical and right.op != op
        ):
            right_text = f"({right_text})"
    elif side not in _NEVER_WRAPPED and precedence(right) <= own:
        right_text = f"({right_text})"
    text += f" {op} "  # in place: linear over a long chain
    text += right_text
    return text


def _join_in(node: In, member: str, collection: str) -> str:
    if precedence(node.operand) < PRIMARY_PRECEDENCE:
        member = f"({member})"
    if type(node.collection) is not ListExpr:
        collection = f"({collection})"
    return f"{member} in {collection}"


def _join_call(node: Call, args: list[str]) -> str:
    for index, arg in enumerate(node.args):
        if type(arg) is Raw:
            args[index] = f"({args[index]})"  # its content is unknown: always wrapped
    return f"{node.name}({','.join(args)})"


_BINARY_TYPES: Final = frozenset({Comparison, Logical, Arithmetic})
_NEVER_WRAPPED: Final = frozenset({Property, Literal, Call})
"""Nodes that never need parentheses under an operator (any other: ask precedence())."""


def _negated(operand: Expr, text: str) -> str:
    # '-' followed by a digit or INF reads back as a negative literal (also when the operand
    # only starts with one, as in '0 in (x)'): keep them apart.
    if (
        type(operand) is Literal
        or precedence(operand) < UNARY_PRECEDENCE
        or text[:1] in _DIGITS
        or text.startswith("INF")
    ):
        return f"-({text})"
    return f"-{text}"


use_printer(print_expr)
