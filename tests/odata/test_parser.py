"""The parser: trees, precedence, positions, options."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from flinkey_async import Car
from flinkey_async.odata import (
    Arithmetic,
    Call,
    Comparison,
    In,
    ListExpr,
    Literal,
    Logical,
    Negate,
    Not,
    ODataError,
    ODataSyntaxError,
    OrderKey,
    Property,
    Query,
    UnsupportedODataError,
    fields,
    parse_filter,
    parse_literal,
    parse_orderby,
    parse_query,
    parse_query_string,
    parse_select,
)

F = fields(Car)
a, b, c = Property("a"), Property("b"), Property("c")


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("a add b mul c", Arithmetic("add", a, Arithmetic("mul", b, c))),
        ("a sub b sub c", Arithmetic("sub", Arithmetic("sub", a, b), c)),
        ("a sub (b sub c)", Arithmetic("sub", a, Arithmetic("sub", b, c))),
        ("-a mul b", Arithmetic("mul", Negate(a), b)),
        ("- a", Negate(a)),
        ("-5", Literal(-5)),
        ("-(5)", Negate(Literal(5))),
        (
            "a eq 1 or b eq 2 and c eq 3",
            Logical(
                "or",
                Comparison("eq", a, Literal(1)),
                Logical("and", Comparison("eq", b, Literal(2)), Comparison("eq", c, Literal(3))),
            ),
        ),
        ("not a eq b", Comparison("eq", Not(a), b)),
        ("not (a eq b)", Not(Comparison("eq", a, b))),
        ("not(a)", Not(a)),
        ("NOT a", Not(a)),
        ("-a in (1)", Negate(In(a, ListExpr((Literal(1),))))),
        ("a in (1, 2 ,3)", In(a, ListExpr((Literal(1), Literal(2), Literal(3))))),
        ("a in ('x')", In(a, ListExpr((Literal("x"),)))),
        ("a in (b)", In(a, b)),
        ("a in b", In(a, b)),
        ("a lt b eq c", Comparison("eq", Comparison("lt", a, b), c)),
        (
            "a Eq 'x' AnD b Ne null",
            Logical(
                "and",
                Comparison("eq", a, Literal("x")),
                Comparison("ne", b, Literal(None)),
            ),
        ),
        ("a divby 2", Arithmetic("divby", a, Literal(2))),
        ("Contains(a,'x')", Call("contains", (a, Literal("x")))),
        ("now()", Call("now")),
        ("now( )", Call("now")),
        ("substring(a, 1 , 2)", Call("substring", (a, Literal(1), Literal(2)))),
        ("Items(1)", Call("Items", (Literal(1),))),
        ("a eq 1.0", Comparison("eq", a, Literal(Decimal("1.0")))),
        ("a eq 1", Comparison("eq", a, Literal(1))),
        ("a eq 1e3", Comparison("eq", a, Literal(Decimal("1e3")))),
        ("a eq INF", Comparison("eq", a, Literal(float("inf")))),
        ("a eq -INF", Comparison("eq", a, Literal(float("-inf")))),
        ("a eq 2024-05-01", Comparison("eq", a, Literal(date(2024, 5, 1)))),
        (
            "a eq 2024-05-01T10:00:00.5+02:00",
            Comparison(
                "eq",
                a,
                Literal(datetime(2024, 5, 1, 10, 0, 0, 500000, timezone(timedelta(hours=2)))),
            ),
        ),
        (
            "a eq 2024-05-01T10:00Z",
            Comparison("eq", a, Literal(datetime(2024, 5, 1, 10, tzinfo=UTC))),
        ),
        ("a eq 10:20", Comparison("eq", a, Literal(time(10, 20)))),
        (
            "a eq abcdef01-2345-6789-abcd-ef0123456789",
            Comparison("eq", a, Literal(UUID("abcdef01-2345-6789-abcd-ef0123456789"))),
        ),
        ("a eq duration'P1DT1H'", Comparison("eq", a, Literal(timedelta(days=1, hours=1)))),
        ("a eq binary'AAE='", Comparison("eq", a, Literal(b"\x00\x01"))),
        ("a eq 'it''s'", Comparison("eq", a, Literal("it's"))),
        ("a eq TRUE", Comparison("eq", a, Literal(True))),
        ("a\teq\t1", Comparison("eq", a, Literal(1))),
        ("a  eq  1", Comparison("eq", a, Literal(1))),
        ("(  a  )", a),
    ],
)
def test_trees(source: str, tree: object) -> None:
    assert parse_filter(source).same_as(tree)


@pytest.mark.parametrize(
    ("source", "position", "fragment"),
    [
        ("", 0, "expected an expression"),
        (" a eq 1", 1, "whitespace"),
        ("a eq 1 ", 7, "whitespace"),
        ("a eq", 4, "whitespace"),
        ("a eq ", 5, "expected an expression"),
        ("a eq'x'", 4, "whitespace after 'eq'"),
        ("a eqx 1", 2, "expected an operator"),
        ("a eq (1", 7, "')'"),
        ("a eq 'x", 7, "closing quote"),
        ("a eq 42.", 8, "digit"),
        ("a eq 2024-13-01", 11, "month"),
        ("a eq 2024-02-30", 13, "does not exist"),
        ("a eq 24:00", 6, "hour"),
        ("contains(a)", 0, "takes 2"),
        ("contains(a,", 11, "expected an expression"),
        ("a/b eq 1", 1, "member paths"),
        ("ns.a eq 1", 2, "qualified"),
        ("$it eq 1", 0, "not supported"),
        ("a in (b, c)", 7, "only hold literals"),
        ("a in ('x', b)", 11, "only hold literals"),
        ("a eq ('x', 'y')", 9, "only follow 'in'"),
        ("a eq 1 eq", 9, "whitespace"),
        ("foo'x'", 0, "unknown literal prefix"),
        ("a eq null)", 9, "expected an operator"),
    ],
)
def test_errors_name_the_position(source: str, position: int, fragment: str) -> None:
    with pytest.raises(ODataSyntaxError) as caught:
        parse_filter(source)
    error = caught.value
    assert (error.position, error.text) == (position, source), str(error)
    assert fragment in str(error)
    assert f"at position {position}" in str(error)


def test_encoded_input_reports_positions_in_the_encoded_text() -> None:
    assert parse_filter("now%28%20%29", encoded=True).same_as(Call("now"))
    assert parse_filter("name%20eq%20'a%2Bb'", encoded=True).same_as(F.name == "a+b")
    assert parse_filter("name eq '%C3%BC'", encoded=True).same_as(F.name == "ü")
    with pytest.raises(ODataSyntaxError) as caught:
        parse_filter("name%20eq%20'O%27Neil'", encoded=True)
    assert caught.value.position == 17  # the 'N' after the quote that %27 closed
    with pytest.raises(ODataSyntaxError) as caught:
        parse_filter("name eq %2", encoded=True)
    assert caught.value.position == 8
    with pytest.raises(ODataSyntaxError, match="UTF-8") as caught:
        parse_filter("name eq '%FF'", encoded=True)
    assert caught.value.position == 9
    # Decoded input keeps '%' as a character.
    assert parse_filter("name eq '100%'").same_as(F.name == "100%")


def test_unsupported_literals() -> None:
    with pytest.raises(UnsupportedODataError):
        parse_filter("a eq geography'POINT(1 2)'")
    with pytest.raises(UnsupportedODataError, match="year 0"):
        parse_filter("a eq 0000-01-01")


def test_orderby() -> None:
    assert parse_orderby("name") == (OrderKey(F.name),)
    assert parse_orderby("name asc,id DESC, vin") == (
        OrderKey(F.name),
        OrderKey(F.id, descending=True),
        OrderKey(F.vin),
    )
    assert parse_orderby("id ge 5 desc") == (OrderKey(F.id >= 5, descending=True),)
    assert parse_orderby("name\tasc") == (OrderKey(F.name),)
    with pytest.raises(ODataSyntaxError) as caught:
        parse_orderby("name sideways")
    assert caught.value.position == 5
    with pytest.raises(ODataSyntaxError):
        parse_orderby("name,")


def test_select() -> None:
    assert parse_select("id,name") == ("id", "name")
    assert parse_select("id, licensePlate") == ("id", "licensePlate")
    assert parse_select("*") == ()
    with pytest.raises(ODataSyntaxError) as caught:
        parse_select("id,,name")
    assert caught.value.position == 3
    with pytest.raises(ODataSyntaxError) as caught:
        parse_select("id;name")
    assert caught.value.position == 2


@pytest.mark.parametrize(
    ("text", "rule", "value"),
    [
        ("tRUe", "boolean", True),
        ("2012-09-03", "date", date(2012, 9, 3)),
        (
            "1972-06-30T23:59:60Z",
            "dateTimeOffsetValue",
            datetime(1972, 6, 30, 23, 59, 59, 999999, UTC),
        ),
        ("3.14", "decimalValue", Decimal("3.14")),
        ("-2", "decimalValue", -2),
        ("NaN", "doubleValue", float("nan")),
        (
            "-P6DT23H59M59.9999S",
            "durationValue",
            -timedelta(days=6, hours=23, minutes=59, seconds=59.9999),
        ),
        ("11:22:33.4444444", "timeOfDayValue", time(11, 22, 33, 444444)),
        ("'O''Neil'", "stringLiteral", "O'Neil"),
        ("Yellow", "primitiveValue", "Yellow"),
        ("0123456789", "primitiveValue", 123456789),
        (
            "a123456789abcdefABA=",
            "primitiveValue",
            b"k]\xb7\xe3\x9e\xbb\xf3\xd6\x9bq\xd7\x9f\x00\x10",
        ),
        ("duration'PT1M'", "primitiveLiteral", timedelta(minutes=1)),
        ("null", "primitiveLiteral", None),
    ],
)
def test_literal_rules(text: str, rule: str, value: object) -> None:
    assert parse_literal(text, rule).same_as(Literal(value))


def test_literal_rule_names() -> None:
    assert parse_literal("%2B42", encoded=True).same_as(Literal(42))
    with pytest.raises(ODataSyntaxError) as caught:
        parse_literal("11%3A22", "timeOfDayValue", encoded=True)  # payloads never decode
    assert caught.value.position == 2
    with pytest.raises(ValueError, match="unknown literal rule"):
        parse_literal("1", "nonsense")


# -- whole queries ------------------------------------------------------------------------


def test_parse_query_reads_what_the_builder_writes() -> None:
    query = (
        Query()
        .filter((F.name == "a b") | F.vin.is_null())
        .select(F.id, F.name)
        .order_by(F.name.desc())
        .top(5)
        .skip(10)
        .count()
    )
    assert parse_query(query.params()) == query
    assert parse_query_string(query.encoded()) == query


def test_option_names_are_case_insensitive_and_dollar_is_optional() -> None:
    expected = Query().filter(F.id == 1).order_by(F.name).top(2)
    assert parse_query({"$FILTER": "id eq 1", "OrderBy": "name", "top": "2"}) == expected
    assert parse_query_string("Filter=id%20eq%201&$ORDERBY=name&$Top=2") == expected


def test_custom_parameters_are_ignored() -> None:
    assert parse_query({"customer": "7", "$top": "1"}) == Query().top(1)
    assert parse_query_string("x=1&&$top=1&flag") == Query().top(1)


def test_option_errors() -> None:
    with pytest.raises(ODataSyntaxError) as caught:
        parse_query({"$top": "1x"})
    assert caught.value.position == 1
    assert caught.value.text == "1x"
    assert "$top" in str(caught.value)
    with pytest.raises(ODataSyntaxError):
        parse_query({"$top": "-1"})
    with pytest.raises(ODataSyntaxError):
        parse_query({"$count": "yes"})
    with pytest.raises(ODataSyntaxError, match="twice"):
        parse_query([("$top", "1"), ("top", "2")])
    with pytest.raises(ODataSyntaxError, match="unknown system query option"):
        parse_query({"$frobnicate": "1"})
    with pytest.raises(UnsupportedODataError, match="expand"):
        parse_query({"$expand": "products"})
    with pytest.raises(ODataSyntaxError) as caught:
        parse_query_string("$top=5&$filter=name%20eq%20%27x")
    assert caught.value.position == len("$top=5&$filter=name%20eq%20%27x")
    with pytest.raises(ODataSyntaxError) as caught:
        parse_query_string("$top=5&$filter")
    assert caught.value.position == 14
    with pytest.raises(ODataSyntaxError) as caught:
        parse_query_string("$top=5&$filter=a%2")
    assert caught.value.position == 16


def test_errors_are_odata_errors_and_value_errors() -> None:
    with pytest.raises(ODataError):
        parse_filter("(")
    with pytest.raises(ValueError, match="position 2"):
        parse_filter("((")


def test_in_needs_a_list_or_a_collection() -> None:
    with pytest.raises(ODataSyntaxError, match="a list") as caught:
        parse_filter("a in 5")
    assert caught.value.position == 5


def test_bare_names_only_stand_for_supported_options() -> None:
    assert parse_query({"id": "5", "format": "json", "$top": "1"}) == Query().top(1)
    with pytest.raises(UnsupportedODataError):
        parse_query({"$format": "json"})
