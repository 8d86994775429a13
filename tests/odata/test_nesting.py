"""Depth: the parser refuses text nested past its limit, and what it accepts, like long chains
the builder makes, prints, parses, evaluates and compares without running out of stack."""

from __future__ import annotations

import contextlib
import functools
import operator
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest

from flinkey_async import Car
from flinkey_async.odata import (
    MAX_NESTING,
    Expr,
    ODataError,
    ODataSyntaxError,
    Property,
    Query,
    apply_query,
    evaluate,
    fields,
    func,
    parse_filter,
    parse_orderby,
    parse_query,
    parse_query_string,
    print_expr,
)

F = fields(Car)
RECORD = {"id": 7, "name": "Golf", "vin": None}
LONG = 5_000


def _frames() -> int:
    frame, count = sys._getframe(), 0
    while frame is not None:
        count += 1
        frame = frame.f_back  # type: ignore[assignment]
    return count


@contextmanager
def stack_of(frames: int) -> Iterator[None]:
    """Allow only ``frames`` more Python frames than are in use now."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@attrs.frozen
class Nesting:
    """Text nested ``n`` levels deep: ``prefix``, then level ``i`` opened by ``opener(i)``."""

    prefix: str
    opener: Callable[[int], tuple[str, str]]  # level -> (opening text, closing text)
    core: str
    suffix: str = ""

    def text(self, n: int) -> str:
        levels = [self.opener(i) for i in range(n)]
        opening = "".join(open_ for open_, _ in levels)
        closing = "".join(close for _, close in reversed(levels))
        return self.prefix + opening + self.core + closing + self.suffix

    def opens_at(self, n: int) -> int:
        """Where level ``n`` (counted from 1) starts."""
        return len(self.prefix) + sum(len(self.opener(i)[0]) for i in range(n - 1))


MIXED = [("not ", ""), ("round(", ")"), ("(", ")"), ("-", "")]
NESTINGS = {
    "parentheses": Nesting("", lambda i: ("(", ")"), "id", " eq 1"),
    "not": Nesting("", lambda i: ("not ", ""), "true"),
    "minus": Nesting("", lambda i: ("-", ""), "id eq 1"),
    "minus with spaces": Nesting("", lambda i: ("- ", ""), "id eq 1"),
    "calls": Nesting("", lambda i: ("tolower(", ")"), "name", " eq 'golf'"),
    "in lists": Nesting("id in ", lambda i: ("(", ")"), "7"),
    "not (": Nesting("", lambda i: ("not (", ")"), "true"),  # as the printer writes not
    "-(": Nesting("", lambda i: ("-(", ")"), "id", " eq 1"),
    "mixed": Nesting("", lambda i: MIXED[i % len(MIXED)], "id", " eq 1"),
}


@pytest.mark.parametrize("kind", NESTINGS)
def test_the_limit_is_accepted(kind: str) -> None:
    text = NESTINGS[kind].text(MAX_NESTING)
    with stack_of(700):  # a fixed, small stack is enough at the limit
        tree = parse_filter(text)
        assert print_expr(parse_filter(print_expr(tree))) == print_expr(tree)
        with contextlib.suppress(ODataError):  # 'not' of a number: an answer, not a crash
            evaluate(tree, RECORD)
        assert parse_query({"$filter": text}) == Query().filter(tree)


@pytest.mark.parametrize("kind", NESTINGS)
def test_deeper_is_a_syntax_error_where_the_limit_is_passed(kind: str) -> None:
    nesting = NESTINGS[kind]
    with pytest.raises(ODataSyntaxError, match="nested too deeply") as caught:
        parse_filter(nesting.text(MAX_NESTING + 1))
    assert caught.value.position == nesting.opens_at(MAX_NESTING + 1)


@pytest.mark.parametrize(
    "text", ["not " * 300 + "true", "(" * 600 + "true" + ")" * 600, "-" * 600 + "1"]
)
def test_very_deep_text_is_refused_not_a_crash(text: str) -> None:
    with pytest.raises(ODataSyntaxError, match="nested too deeply"):
        parse_filter(text)
    with pytest.raises(ODataSyntaxError, match="nested too deeply"):
        parse_query_string("$filter=" + text.replace(" ", "%20"))


def test_orderby_has_the_same_limit() -> None:
    parse_orderby("(" * MAX_NESTING + "id" + ")" * MAX_NESTING)
    with pytest.raises(ODataSyntaxError, match="nested too deeply"):
        parse_orderby("(" * (MAX_NESTING + 1) + "id" + ")" * (MAX_NESTING + 1))


def test_a_long_chain_is_not_nesting() -> None:
    text = " and ".join(f"id ne {i}" for i in range(LONG))
    tree = parse_filter(text)
    assert print_expr(tree) == text


# -- trees the builder makes --------------------------------------------------------------------


def _nested(make: Callable[[Expr], Expr], depth: int, leaf: Expr) -> Expr:
    tree = leaf
    for _ in range(depth):
        tree = make(tree)
    return tree


@pytest.mark.parametrize(
    ("make", "leaf"),
    [
        (lambda e: ~e, F.id == 7),
        (lambda e: -e, F.id),
        (lambda e: e.lower(), F.name),
        (lambda e: Property("id") - e, F.id),  # right-nested: printed with parentheses
        (lambda e: func.round(e), F.id),
    ],
)
def test_a_tree_as_deep_as_the_parser_allows_prints_and_evaluates(
    make: Callable[[Expr], Expr], leaf: Expr
) -> None:
    tree = _nested(make, MAX_NESTING, leaf)
    with stack_of(700):
        text = print_expr(tree)
        parsed = parse_filter(text)
        assert parsed.same_as(tree)
        assert repr(evaluate(parsed, RECORD)) == repr(evaluate(tree, RECORD))


def _conditions() -> list[Expr]:
    return [F.id != i for i in range(LONG)]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Query().filter(*_conditions()),
        lambda: Query().filter(functools.reduce(operator.and_, _conditions())),
        lambda: Query().filter(functools.reduce(operator.or_, [F.id == i for i in range(LONG)])),
        lambda: Query().filter(functools.reduce(operator.add, [F.id] * LONG) > 0),
    ],
    ids=["filter", "and", "or", "add"],
)
def test_a_long_left_deep_chain_works_everywhere(build: Callable[[], Query]) -> None:
    query = build()
    assert query.filter_expr is not None
    text = query.params()["$filter"]
    assert "(" not in text  # a chain, not nesting: the service reads it within its limit
    parsed = parse_filter(text)
    assert parsed.same_as(query.filter_expr)
    assert parse_query_string(query.encoded()) == query
    assert hash(parse_query_string(query.encoded())) == hash(query)
    records: list[dict[str, Any]] = [{"id": i, "name": "x"} for i in (1, LONG + 1)]
    expected = apply_query(query, records)
    assert apply_query(query.filter(parsed), records, properties={"id", "name"}) == expected
    assert evaluate(query.filter_expr, records[0]) is evaluate(parsed, records[0])
