"""Trees the builder nests deeply: they print, parse back, evaluate and compare in a few frames.

The printer, the evaluator, the parser and ``Expr.key()`` keep their nesting on lists, not on
Python's stack, so depth is bounded only by the parser's nesting limit for text
(``MAX_NESTING`` by default, ``max_nesting=`` for trusted text), whose error is the documented
``ODataSyntaxError``. Never a ``RecursionError``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import pytest

from flinkey_async.odata import (
    MAX_NESTING,
    Expr,
    ODataSyntaxError,
    Property,
    Query,
    apply_query,
    evaluate,
    func,
    parse_filter,
    parse_query_string,
    print_expr,
)
from flinkey_async.sandbox._odata import check_types

from .test_nesting import stack_of

ID = Property("id")
NAME = Property("name")
RECORD: dict[str, Any] = {"id": 7, "name": "Golf"}
FEW_FRAMES = 120  # enough for the calls themselves; nothing per level
DEEP = 5_000

# (build one level, the leaf)
SHAPES: dict[str, tuple[Callable[[Expr], Expr], Expr]] = {
    "not": (lambda e: ~e, ID == 7),
    "negate": (lambda e: -e, ID),
    "calls": (lambda e: e.lower(), NAME),
    "round": (lambda e: func.round(e), ID),
    "right-nested sub": (lambda e: ID - e, ID),
    "right-nested and/or": (lambda e: (ID == 7) & ((ID == 8) | e), ID == 7),
    "nested arithmetic": (lambda e: (e + 1) * 2, ID),
    "eq of conditions": (lambda e: (ID == 7) == e, ID == 7),
    "in": (lambda e: e.in_([True, False]), ID == 7),
    "mixed": (lambda e: -func.round(ID - e), ID),  # three levels of text per level
}


def _nested(shape: str, depth: int) -> Expr:
    make, tree = SHAPES[shape]
    for _ in range(depth):
        tree = make(tree)
    return tree


def _evaluated(tree: Expr) -> str:
    return repr(evaluate(tree, RECORD))


@pytest.mark.parametrize("shape", SHAPES)
def test_500_levels_print_parse_back_and_evaluate(shape: str) -> None:
    tree = _nested(shape, 500)
    with stack_of(FEW_FRAMES):
        text = print_expr(tree)
        parsed = parse_filter(text, max_nesting=2_000)
        assert parsed.same_as(tree)
        assert hash(parsed) == hash(tree)
        assert print_expr(parsed) == text
        assert repr(parsed) == repr(tree)
        assert _evaluated(parsed) == _evaluated(tree)


@pytest.mark.parametrize("shape", SHAPES)
def test_5000_levels_work_or_give_the_documented_error(shape: str) -> None:
    tree = _nested(shape, DEEP)
    with stack_of(FEW_FRAMES):
        text = print_expr(tree)
        _evaluated(tree)
        assert tree.same_as(_nested(shape, DEEP))
        assert repr(tree).startswith(type(tree).__name__ + "(")
        # The service's limit: deeper text is the documented syntax error, at the level past it.
        with pytest.raises(ODataSyntaxError, match="nested too deeply"):
            parse_filter(text)
        with pytest.raises(ODataSyntaxError, match="nested too deeply"):
            parse_query_string(Query().filter(tree).encoded())
        # Trusted text may nest as deeply as it likes.
        assert parse_filter(text, max_nesting=50_000).same_as(tree)


def test_deep_query_evaluates_over_records_and_in_the_sandbox_check() -> None:
    tree = (_nested("not", 5_000) | (ID > 8)) & functools.reduce(
        operator.and_, [i != ID for i in range(100, 109)]
    )
    query = Query().filter(tree).order_by(_nested("negate", 5_000).desc())
    records = [{"id": i, "name": "x"} for i in (7, 8, 9, 10)]
    with stack_of(FEW_FRAMES):
        assert [row["id"] for row in apply_query(query, records)] == [10, 9, 7]
        check_types(query, {"id": "number", "name": "string"})
        assert hash(query) == hash(Query().filter(tree).order_by(_nested("negate", 5_000).desc()))


def test_the_default_limit_is_unchanged() -> None:
    at_limit = print_expr(_nested("not", MAX_NESTING))
    parse_filter(at_limit)
    with pytest.raises(ODataSyntaxError, match=f"more than {MAX_NESTING} levels"):
        parse_filter(print_expr(_nested("not", MAX_NESTING + 1)))
    with pytest.raises(ODataSyntaxError, match="more than 3 levels"):
        parse_filter("not (not (not (not (id eq 1))))", max_nesting=3)


def test_max_nesting_is_checked() -> None:
    with pytest.raises(TypeError):
        parse_filter("id eq 1", max_nesting="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        parse_filter("id eq 1", max_nesting=-1)
