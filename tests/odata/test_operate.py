"""Every operator and method of a node goes through ``Expr.operate()``, one generic path."""

from __future__ import annotations

import math
from typing import Any

import pytest

from flinkey_async.odata import (
    Arithmetic,
    Call,
    Comparison,
    Literal,
    Logical,
    Negate,
    Not,
    ODataError,
    Property,
    print_expr,
)

X = Property("x")


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (X == 1, Comparison("eq", X, Literal(1))),
        (X != None, Comparison("ne", X, Literal(None))),  # noqa: E711 - builds 'x ne null'
        (X.is_null(), Comparison("eq", X, Literal(None))),
        (X < 1, Comparison("lt", X, Literal(1))),
        (X >= 1, Comparison("ge", X, Literal(1))),
        (X & True, Logical("and", X, Literal(True))),
        (True | X, Logical("or", Literal(True), X)),
        (2 - X, Arithmetic("sub", Literal(2), X)),
        (X / 2, Arithmetic("div", X, Literal(2))),
        (2 % X, Arithmetic("mod", Literal(2), X)),
        (~X, Not(X)),
        (-X, Negate(X)),
        (round(X), Call("round", (X,))),
        (math.floor(X), Call("floor", (X,))),
        (X.lower(), Call("tolower", (X,))),
        (X.substring(1, 2), Call("substring", (X, Literal(1), Literal(2)))),
        (X.contains("a'b"), Call("contains", (X, Literal("a'b")))),
    ],
)
def test_operators_and_methods_build_what_operate_builds(built: Any, expected: Any) -> None:
    assert built.same_as(expected)


def test_operate_is_the_generic_path() -> None:
    assert X.operate("eq", 1).same_as(X == 1)
    assert X.operate("sub", 1, reverse=True).same_as(1 - X)
    assert X.operate("not").same_as(~X)
    assert X.operate("concat", "y").same_as(X.concat("y"))
    assert print_expr(X.operate("substring", 1)) == "substring(x,1)"


@pytest.mark.parametrize(
    ("op", "others", "error"),
    [
        ("xor", (1,), ODataError),
        ("eq", (), TypeError),
        ("eq", (1, 2), TypeError),
        ("not", (1,), TypeError),
        ("substring", (1, 2, 3), TypeError),
        ("now", (), TypeError),  # now() takes no arguments, and self would be one
    ],
)
def test_operate_refuses_what_no_node_can_be(
    op: str, others: tuple[object, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        X.operate(op, *others)
