"""Property tests: print and parse are inverses, and no string can change a query's shape."""

from __future__ import annotations

import math
import operator
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote

import yarl
from hypothesis import example, given
from hypothesis import strategies as st

from flinkey_async import Car
from flinkey_async.odata import (
    ODataError,
    Property,
    Query,
    apply_query,
    evaluate,
    fields,
    parse_filter,
    parse_query,
    parse_query_string,
    print_expr,
)
from flinkey_async.odata._ast import Expr

from ._strategies import car_records, conditions, moment_texts, queries, trees
from .conftest import profile

F = fields(Car)


# -- (a) print -> parse gives the same tree ---------------------------------------------------


@profile("roundtrip")
@given(trees)
def test_print_then_parse_gives_the_same_tree(tree: Expr) -> None:
    text = print_expr(tree)
    parsed = parse_filter(text)
    assert parsed.same_as(tree), f"{text!r} read back as {parsed!r}"
    # The text itself is stable after one round (2.2e+16 may come back as 22000000000000000.0).
    again = print_expr(parsed)
    assert print_expr(parse_filter(again)) == again


@profile("url")
@given(trees)
def test_round_trip_through_the_encoded_url(tree: Expr) -> None:
    query = Query().filter(tree).order_by(F.name.desc(), tree).top(3)
    assert parse_query_string(query.encoded()) == query


# -- (b) evaluation is unchanged by the round trip --------------------------------------------


def _outcome(expr: Expr, record: dict[str, Any]) -> tuple[str, str]:
    try:
        value = evaluate(expr, record)
    except ODataError as error:
        return ("error", f"{type(error).__name__}: {error}")
    if isinstance(value, float) and math.isnan(value):
        return ("value", "nan")
    if isinstance(value, Decimal):  # 5 and 5.0 are one decimal value, written two ways
        return ("value", f"Decimal:{value.normalize()}")
    return ("value", f"{type(value).__name__}:{value!r}")


@profile("evaluation")
@given(conditions, st.lists(car_records, min_size=1, max_size=5))
def test_evaluation_survives_print_and_parse(tree: Expr, records: list[dict[str, Any]]) -> None:
    reparsed = parse_filter(print_expr(tree))
    for record in records:
        assert _outcome(reparsed, record) == _outcome(tree, record)
    assert _rows(Query().filter(reparsed), records) == _rows(Query().filter(tree), records)


@profile("queries")
@given(queries, st.lists(car_records, max_size=8))
def test_whole_queries_survive_the_url(query: Query, records: list[dict[str, Any]]) -> None:
    """$filter, $orderby, $skip and $top, sent and read back, pick the same rows in order."""
    received = parse_query_string(query.encoded())
    assert _rows(received, records) == _rows(query, records)


def _rows(query: Query, records: list[dict[str, Any]]) -> object:
    try:
        return apply_query(query, records)
    except ODataError as error:
        return f"{type(error).__name__}: {error}"


_OPERATORS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


@profile("evaluation")
@given(st.sampled_from(sorted(_OPERATORS)), moment_texts, moment_texts)
def test_two_datetime_fields_compare_as_instants(op: str, a: str, b: str) -> None:
    """As the service compares two date-time properties: by instant, whatever the offsets."""
    condition = getattr(Property("date"), f"__{op}__")(Property("odometerDate"))
    expected = _OPERATORS[op](datetime.fromisoformat(a), datetime.fromisoformat(b))
    assert evaluate(condition, {"date": a, "odometerDate": b}) is expected


# -- (c) any string stays one literal ---------------------------------------------------------

NASTY = "' '' & # + % %25 %2B = ; ? / \\ \" \x00 \n \t ü 😀 ) ( , eq 'x' or true"


def _split_and_unquote(encoded: str) -> list[tuple[str, str]]:
    """What a server does: split on '&', then on the first '=', then percent-decode."""
    pairs = []
    for part in encoded.split("&"):
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


@profile("strings")
@given(st.text())
@example(NASTY)
@example("")
@example("'")
@example("a+b c")
def test_any_string_is_one_literal(text: str) -> None:
    condition = (F.name == text) & (F.vin.contains(text) | F.brand.in_([text, "x"]))
    query = Query().filter(condition).order_by(F.name.desc()).top(5)
    encoded = query.encoded()

    assert " " not in encoded
    assert "+" not in encoded
    assert "#" not in encoded
    assert encoded.count("&") == 2  # exactly three options: nothing split an option
    assert encoded.count("=") == 3

    pairs = _split_and_unquote(encoded)
    assert [name for name, _ in pairs] == ["$filter", "$orderby", "$top"]
    assert dict(pairs) == query.params()
    assert parse_query(pairs) == query
    assert parse_query(parse_qsl(encoded, keep_blank_values=True)) == query
    assert parse_query_string(encoded) == query
    # What the sandbox sees: aiohttp hands over yarl's decoded query.
    url = yarl.URL("http://127.0.0.1/v3/cars?" + encoded, encoded=True)
    assert url.raw_query_string == encoded
    assert parse_query(url.query) == query
