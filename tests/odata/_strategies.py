"""Hypothesis strategies: any tree, and typed trees over car records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from flinkey_async._converter import format_datetime
from flinkey_async.odata import (
    FUNCTIONS,
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
    Query,
)

COMPARE_OPS = ["eq", "ne", "gt", "ge", "lt", "le"]
ARITHMETIC_OPS = ["add", "sub", "mul", "div", "divby", "mod"]
_RESERVED = {"true", "false", "null", "not"}


def _usable_name(name: str) -> bool:
    return name.lower() not in _RESERVED and name not in ("INF", "NaN")


identifiers = st.one_of(
    st.sampled_from(["name", "licensePlate", "vin", "id", "in", "eq", "and", "asc", "Items"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.from_regex(r"[äéßΩ][\wä]{0,4}", fullmatch=True),
).filter(_usable_name)

offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)

literal_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.decimals(),
    st.text(),
    st.dates(),
    st.datetimes(timezones=offsets),
    st.times(),
    st.timedeltas(),
    st.uuids(),
    st.binary(max_size=12),
)

literals = literal_values.map(Literal)
properties = identifiers.map(Property)


def _calls(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    known = st.sampled_from(sorted(FUNCTIONS.items())).flatmap(
        lambda item: st.lists(children, min_size=item[1][0], max_size=item[1][1]).map(
            lambda args, name=item[0]: Call(name, tuple(args))  # type: ignore[misc]
        )
    )
    custom = st.builds(
        lambda name, args: Call(name, tuple(args)),
        identifiers.filter(lambda name: name.lower() not in FUNCTIONS),
        st.lists(children, max_size=2),
    )
    return st.one_of(known, custom)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    lists = st.lists(literals, min_size=1, max_size=4).map(lambda items: ListExpr(tuple(items)))
    return st.one_of(
        st.builds(Comparison, st.sampled_from(COMPARE_OPS), children, children),
        st.builds(Logical, st.sampled_from(["and", "or"]), children, children),
        st.builds(Not, children),
        st.builds(Arithmetic, st.sampled_from(ARITHMETIC_OPS), children, children),
        st.builds(Negate, children),
        st.builds(In, children, lists),
        st.builds(In, children, children.filter(lambda e: not isinstance(e, Literal))),
        _calls(children),
    )


trees: st.SearchStrategy[Expr] = st.recursive(
    st.one_of(properties, literals), _extend, max_leaves=12
)

# -- typed trees over records as the service sends them ----------------------------------------

TEXT_FIELDS = ["name", "description", "vin", "licensePlate", "brand", "model"]
DATETIME_FIELDS = ["date", "odometerDate", "dongleTerminationTimeStamp"]
_short_text = st.text(alphabet="aAbGolf' %&#+é", max_size=6)

# Few instants and offsets, so that records tie, and the same instant is written in two offsets.
_ZONES = [
    UTC,
    timezone(timedelta(hours=2)),
    timezone(-timedelta(hours=5)),
    timezone(timedelta(hours=5, minutes=30)),
]
_BASE = datetime(2024, 5, 1, 8, tzinfo=UTC)


def _moment(hours: int, microseconds: int, zone: timezone) -> datetime:
    return (_BASE + timedelta(hours=hours, microseconds=microseconds)).astimezone(zone)


moments = st.builds(
    _moment, st.integers(-30, 30), st.sampled_from([0, 0, 500_000, 1]), st.sampled_from(_ZONES)
)
# The service's text: ISO 8601 with the offset, 'Z' for UTC (sometimes '+00:00').
moment_texts = st.one_of(
    moments.map(format_datetime),
    moments.map(lambda moment: moment.astimezone(UTC).isoformat()),
)

car_records = st.fixed_dictionaries(
    {
        "id": st.integers(-50, 50),
        "name": _short_text,
        **{name: st.none() | _short_text for name in TEXT_FIELDS[1:]},
        **{name: st.none() | moment_texts for name in DATETIME_FIELDS},
        "odometer": st.none() | st.floats(-30, 30, allow_subnormal=False),
    }
)
"""A car's id and text fields, with a location's and a product's date-times and a JSON float."""

_text_leaf = st.one_of(st.sampled_from(TEXT_FIELDS).map(Property), _short_text.map(Literal))
_int_leaf = st.one_of(
    st.just(Property("id")),
    st.just(Property("odometer")),
    st.integers(-20, 20).map(Literal),
    st.decimals(min_value=-20, max_value=20, places=2).map(Literal),
    st.floats(-20, 20).map(Literal),
)


def _text_expr() -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        small = st.integers(-2, 8).map(Literal)
        return st.one_of(
            children.map(lambda e: Call("tolower", (e,))),
            children.map(lambda e: Call("toupper", (e,))),
            children.map(lambda e: Call("trim", (e,))),
            st.builds(lambda a, b: Call("concat", (a, b)), children, children),
            st.builds(lambda a, b: Call("substring", (a, b)), children, small),
            st.builds(lambda a, b, c: Call("substring", (a, b, c)), children, small, small),
        )

    return st.recursive(_text_leaf, extend, max_leaves=4)


text_exprs = _text_expr()


def _number_expr() -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Arithmetic, st.sampled_from(ARITHMETIC_OPS), children, children),
            children.map(Negate),
            text_exprs.map(lambda e: Call("length", (e,))),
            st.builds(lambda a, b: Call("indexof", (a, b)), text_exprs, text_exprs),
            children.map(lambda e: Call("round", (e,))),
            children.map(lambda e: Call("floor", (e,))),
            children.map(lambda e: Call("ceiling", (e,))),
        )

    return st.recursive(_int_leaf, extend, max_leaves=5)


number_exprs = _number_expr()


_datetime_leaf = st.one_of(
    st.sampled_from(DATETIME_FIELDS).map(Property),
    moments.map(Literal),
)


def _datetime_condition() -> st.SearchStrategy[Expr]:
    """Date-time fields against each other, against literals, and through functions."""
    ops = st.sampled_from(COMPARE_OPS)
    fields = st.sampled_from(DATETIME_FIELDS).map(Property)
    durations = st.integers(-90, 90).map(lambda minutes: Literal(timedelta(minutes=minutes)))
    dates = st.dates(date(2024, 4, 29), date(2024, 5, 3)).map(Literal)
    parts = st.sampled_from(["year", "month", "day", "hour", "minute", "second"])
    return st.one_of(
        st.builds(Comparison, ops, fields, fields),
        st.builds(Comparison, ops, _datetime_leaf, _datetime_leaf),
        st.builds(Comparison, ops, fields, dates),
        st.builds(Comparison, st.sampled_from(["eq", "ne"]), fields, st.just(Literal(None))),
        st.builds(
            lambda op, a, d, b: Comparison(op, Arithmetic("add", a, d), b),
            ops,
            fields,
            durations,
            _datetime_leaf,
        ),
        st.builds(
            lambda op, a, b: Comparison(op, Arithmetic("sub", a, b), Literal(timedelta(0))),
            ops,
            fields,
            fields,
        ),
        st.builds(
            lambda op, part, a, n: Comparison(op, Call(part, (a,)), Literal(n)),
            ops,
            parts,
            fields,
            st.integers(0, 30),
        ),
        st.builds(lambda op, a, b: Comparison(op, Call("date", (a,)), b), ops, fields, dates),
        st.builds(
            lambda a, items: In(a, ListExpr(tuple(Literal(item) for item in items))),
            fields,
            st.lists(moments, min_size=1, max_size=3),
        ),
    )


def _condition() -> st.SearchStrategy[Expr]:
    text_list = st.lists(_short_text.map(Literal), min_size=1, max_size=3)
    leaf = st.one_of(
        st.builds(Comparison, st.sampled_from(COMPARE_OPS), text_exprs, text_exprs),
        st.builds(Comparison, st.sampled_from(COMPARE_OPS), number_exprs, number_exprs),
        st.builds(Comparison, st.sampled_from(["eq", "ne"]), text_exprs, st.just(Literal(None))),
        st.builds(
            lambda name, a, b: Call(name, (a, b)),
            st.sampled_from(["contains", "startswith", "endswith"]),
            text_exprs,
            text_exprs,
        ),
        st.builds(lambda e, items: In(e, ListExpr(tuple(items))), text_exprs, text_list),
        st.sampled_from([Literal(True), Literal(False), Literal(None)]),
        _datetime_condition(),
    )

    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Logical, st.sampled_from(["and", "or"]), children, children),
            children.map(Not),
        )

    return st.recursive(leaf, extend, max_leaves=6)


conditions = _condition()

_order_keys = st.lists(
    st.builds(
        OrderKey,
        st.one_of(
            st.sampled_from(["id", *TEXT_FIELDS, *DATETIME_FIELDS, "odometer"]).map(Property),
            text_exprs,
            number_exprs,
        ),
        st.booleans(),
    ),
    max_size=3,
)

queries = st.builds(
    lambda condition, keys, skip, top: Query(
        filter_expr=condition, order_keys=keys, skip_value=skip, top_value=top
    ),
    st.none() | conditions,
    _order_keys,
    st.none() | st.integers(0, 4),
    st.none() | st.integers(0, 4),
)
"""Whole queries over the records: ``$filter``, ``$orderby``, ``$skip`` and ``$top``."""

__all__ = [
    "car_records",
    "conditions",
    "identifiers",
    "literal_values",
    "moment_texts",
    "moments",
    "number_exprs",
    "queries",
    "text_exprs",
    "trees",
]
