"""The builder and the printer, with golden texts for the pitfalls other libraries ship."""

from __future__ import annotations

import enum
import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import attrs
import pytest

from flinkey_async import Car, Product, ProductType, Service
from flinkey_async._models import wire_name
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
    OrderKey,
    Property,
    Query,
    Raw,
    UnknownFieldError,
    encode_query,
    fields,
    func,
    literal,
    parse_filter,
    print_expr,
    raw,
)

F = fields(Car)


def text(expr: object) -> str:
    assert isinstance(expr, Comparison | Logical | Not | Arithmetic | Negate | In | Call | Literal)
    return print_expr(expr)


# -- fields ---------------------------------------------------------------------------------


def test_fields_use_the_wire_names() -> None:
    assert F.license_plate.same_as(Property("licensePlate"))
    assert [prop.name for prop in F] == [
        "id",
        "name",
        "description",
        "vin",
        "licensePlate",
        "brand",
        "model",
    ]
    assert fields(Product).dongle_termination_time_stamp.name == "dongleTerminationTimeStamp"


@pytest.mark.parametrize("model", [Car, Product, Service])
def test_wire_names_agree_with_the_models(model: type) -> None:
    for field in attrs.fields(model):
        assert getattr(fields(model), field.name).name == wire_name(field.name)


def test_a_misspelt_field_fails_when_the_query_is_written() -> None:
    with pytest.raises(AttributeError) as caught:
        _ = F.licence_plate
    assert isinstance(caught.value, UnknownFieldError)
    assert isinstance(caught.value, ODataError)
    message = str(caught.value)
    assert "'licence_plate'" in message
    assert "license_plate" in message
    assert "vin" in message
    assert not hasattr(F, "colour")
    assert "license_plate" in dir(F)


def test_fields_need_an_attrs_class() -> None:
    with pytest.raises(TypeError, match="attrs class"):
        fields(dict)


# -- operators ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (F.name == "Golf", "name eq 'Golf'"),
        (F.name != "Golf", "name ne 'Golf'"),
        (F.id < 5, "id lt 5"),
        (F.id <= 5, "id le 5"),
        (F.id > 5, "id gt 5"),
        (F.id >= 5, "id ge 5"),
        (5 < F.id, "id gt 5"),  # noqa: SIM300 - reflected operator
        ((F.id > 1) & (F.id < 9), "id gt 1 and id lt 9"),
        ((F.id > 1) | (F.id < 9), "id gt 1 or id lt 9"),
        (~(F.name == "a"), "not (name eq 'a')"),
        (F.id + 1 == 2, "id add 1 eq 2"),
        (F.id - 1 == 2, "id sub 1 eq 2"),
        (F.id * 2 == 2, "id mul 2 eq 2"),
        (F.id / 2 == 2, "id div 2 eq 2"),
        (F.id % 2 == 0, "id mod 2 eq 0"),
        (-F.id == -2, "-id eq -2"),
        (10 - F.id == 3, "10 sub id eq 3"),
        (F.name.contains("olf"), "contains(name,'olf')"),
        (F.name.startswith("Go"), "startswith(name,'Go')"),
        (F.name.endswith("lf"), "endswith(name,'lf')"),
        (F.name.lower() == "golf", "tolower(name) eq 'golf'"),
        (F.name.upper() == "GOLF", "toupper(name) eq 'GOLF'"),
        (F.name.trim().length() == 4, "length(trim(name)) eq 4"),
        (F.name.indexof("o") == 1, "indexof(name,'o') eq 1"),
        (F.name.substring(1, 2) == "ol", "substring(name,1,2) eq 'ol'"),
        (F.name.concat(F.model) == "GolfGTI", "concat(name,model) eq 'GolfGTI'"),
        (F.brand.in_(["VW", "Audi"]), "brand in ('VW','Audi')"),
        (F.vin.is_null(), "vin eq null"),
        (F.vin.is_not_null(), "vin ne null"),
        (func.year(F.name) == 2024, "year(name) eq 2024"),
        (func.now() > F.name, "now() gt name"),
        (round(F.id) == 1, "round(id) eq 1"),
        (math.floor(F.id) == 1, "floor(id) eq 1"),
        (math.ceil(F.id) == 1, "ceiling(id) eq 1"),
    ],
)
def test_operator_table(expr: object, expected: str) -> None:
    assert text(expr) == expected
    assert parse_filter(expected).same_as(expr)


def test_equals_none_is_eq_null() -> None:
    assert text(F.vin == None) == "vin eq null"  # noqa: E711 - the point of the test
    assert text(F.vin != None) == "vin ne null"  # noqa: E711
    assert text(None == F.vin) == "vin eq null"  # noqa: E711, SIM300


def test_an_expression_is_not_a_python_bool() -> None:
    with pytest.raises(TypeError, match=r"& \| ~"):
        _ = (F.id == 1) and (F.id == 2)
    with pytest.raises(TypeError):
        _ = not (F.id == 1)  # noqa: SIM201 - the misuse under test
    with pytest.raises(TypeError):
        bool(F.name)
    with pytest.raises(TypeError, match="contains"):
        _ = "x" in F.name


def test_nodes_compare_by_structure_and_hash() -> None:
    a = (F.name == "x") & F.vin.is_null()
    b = (F.name == "x") & F.vin.is_null()
    assert a.same_as(b)
    assert a.key() == b.key()
    assert hash(a) == hash(b)
    assert not a.same_as((F.name == "y") & F.vin.is_null())
    assert {a.key(): 1}[b.key()] == 1
    assert not Literal(1).same_as(Literal(True))
    assert not Literal(1).same_as(Literal(1.0))
    assert Literal(0.5).same_as(Literal(Decimal("0.5")))  # one OData literal
    assert Literal(float("nan")).same_as(Literal(float("nan")))


# -- literals -------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    BIG = 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (2.5, "2.5"),
        (1e16, "1e+16"),
        (float("inf"), "INF"),
        (float("-inf"), "-INF"),
        (float("nan"), "NaN"),
        (Decimal("5"), "5.0"),
        (Decimal("1.50"), "1.50"),
        (Decimal("1E+3"), "1e+3"),
        ("O'Neil", "'O''Neil'"),
        ("''", "''''''"),
        ("", "''"),
        (date(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 5, 1, 10, 0, tzinfo=UTC), "2024-05-01T10:00:00Z"),
        (
            datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-01T10:00:00.12+02:00",
        ),
        (
            datetime(2024, 5, 1, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            "2024-05-01T00:00:00-03:30",
        ),
        (time(7, 5, 3), "07:05:03"),
        (timedelta(days=1, hours=2, seconds=3.5), "duration'P1DT2H0M3.5S'"),
        (-timedelta(seconds=1), "duration'-P0DT0H0M1S'"),
        (UUID("01234567-89ab-cdef-0123-456789abcdef"), "01234567-89ab-cdef-0123-456789abcdef"),
        (b"\xfb\xff", "binary'-_8='"),
        (Colour.RED, "'red'"),
        (ProductType.BOX, "'flinkey Box'"),
        (Size.BIG, "3"),
    ],
)
def test_literal_golden(value: object, expected: str) -> None:
    assert print_expr(Literal(value)) == expected
    assert parse_filter(expected).same_as(Literal(value))


def test_quotes_are_doubled_in_every_literal_context() -> None:
    evil = "x' or 1 eq 1 or name eq '"
    for expr in (
        F.name == evil,
        F.name.contains(evil),
        F.name.startswith(evil),
        F.name.in_([evil, "b"]),
        F.name.concat(evil) == evil,
    ):
        printed = print_expr(expr)
        assert "x'' or 1 eq 1 or name eq ''" in printed
        assert parse_filter(printed).same_as(expr)  # still one literal, no injection


def test_a_naive_datetime_is_rejected() -> None:
    with pytest.raises(ODataError, match="naive datetime") as caught:
        _ = F.name > datetime(2024, 5, 1, 10, 0)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(ODataError, match="naive"):
        F.name.in_([datetime(2024, 1, 1)])


def test_other_bad_literals_are_rejected() -> None:
    with pytest.raises(TypeError, match="literal"):
        _ = F.name == object()
    with pytest.raises(ODataError, match="whole number of minutes"):
        Literal(datetime(2024, 1, 1, tzinfo=timezone(timedelta(seconds=30))))
    with pytest.raises(ODataError, match="surrogate"):
        Literal("\ud800")
    with pytest.raises(ODataError, match="offset"):
        Literal(time(1, 2, tzinfo=UTC))


def test_in_with_an_empty_list_is_false() -> None:
    assert print_expr(F.name.in_([])) == "false"
    assert print_expr((F.id > 1) & F.name.in_([])) == "id gt 1 and false"
    parsed = parse_filter("name in ()")  # valid OData: read, but never sent as is
    assert isinstance(parsed, In)
    assert parsed.collection.same_as(ListExpr(()))
    assert print_expr(parsed) == "false"


def test_in_takes_values_not_text_or_expressions() -> None:
    with pytest.raises(TypeError, match="list of values"):
        F.name.in_("abc")
    with pytest.raises(TypeError, match="plain values"):
        F.name.in_([F.vin])


# -- parentheses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (F.id - (F.id - 3), "id sub (id sub 3)"),
        ((F.id - F.id) - 3, "id sub id sub 3"),
        (F.id * (F.id + 1), "id mul (id add 1)"),
        (F.id * F.id + 1, "id mul id add 1"),
        (F.id / (F.id / 2), "id div (id div 2)"),
        (-(F.id + 1), "-(id add 1)"),
        (-Literal(5), "-(5)"),
        (-Literal(-5), "-(-5)"),
        (-(-F.id), "--id"),  # noqa: B002 - double negation on purpose
        (-F.name.length(), "-length(name)"),
        (-In(Literal(0), Property("ids")), "-(0 in (ids))"),
        (~F.name.contains("a"), "not (contains(name,'a'))"),
        (~~(F.id == 1), "not (not (id eq 1))"),
        (((F.id == 1) & (F.id == 2)) | (F.id == 3), "(id eq 1 and id eq 2) or id eq 3"),
        ((F.id == 1) & ((F.id == 2) | (F.id == 3)), "id eq 1 and (id eq 2 or id eq 3)"),
        ((F.id == 1) | ((F.id == 2) & (F.id == 3)), "id eq 1 or (id eq 2 and id eq 3)"),
        ((F.id == 1) & ((F.id == 2) & (F.id == 3)), "id eq 1 and (id eq 2 and id eq 3)"),
        ((F.id == 1) & (F.id == 2) & (F.id == 3), "id eq 1 and id eq 2 and id eq 3"),
        ((F.id + 1).in_([2, 3]), "(id add 1) in (2,3)"),
        ((~(F.id == 1)).in_([True]), "(not (id eq 1)) in (true)"),
        (Comparison("eq", F.id == 1, Literal(True)), "id eq 1 eq true"),
        (Comparison("eq", Literal(True), F.id == 1), "true eq (id eq 1)"),
        ((F.id > 1) & raw("tolower(name) eq 'x'"), "id gt 1 and (tolower(name) eq 'x')"),
    ],
)
def test_parentheses_by_precedence_and_side(expr: object, expected: str) -> None:
    assert text(expr) == expected
    if "raw" not in repr(expr).lower():
        assert parse_filter(expected).same_as(expr)


# -- queries --------------------------------------------------------------------------------


def test_the_documented_example() -> None:
    query = (
        Query()
        .filter(F.brand == "VW")
        .filter(F.name.startswith("Golf") | F.vin.is_null())
        .select(F.id, F.name)
        .top(50)
    )
    assert query.params() == {
        "$filter": "brand eq 'VW' and (startswith(name,'Golf') or vin eq null)",
        "$select": "id,name",
        "$top": "50",
    }
    assert query.encoded() == (
        "$filter=brand%20eq%20'VW'%20and%20(startswith(name,'Golf')%20or%20vin%20eq%20null)"
        "&$select=id,name&$top=50"
    )


def test_queries_are_immutable() -> None:
    base = Query().filter(F.id > 1)
    narrowed = base.filter(F.id < 9).top(5)
    assert base.params() == {"$filter": "id gt 1"}
    assert narrowed.params() == {"$filter": "id gt 1 and id lt 9", "$top": "5"}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        base.top_value = 3  # type: ignore[misc]
    assert base.top(1) != base.top(2)
    assert base.top(1) == base.top(1)
    assert hash(base.top(1)) == hash(Query().filter(F.id > 1).top(1))


def test_all_options() -> None:
    query = (
        Query()
        .filter(F.id > 1, F.vin.is_not_null())
        .select(F.id)
        .select(F.license_plate)
        .order_by(F.brand, F.name.desc(), F.id.asc())
        .top(10)
        .skip(20)
        .count()
    )
    assert query.params() == {
        "$filter": "id gt 1 and vin ne null",
        "$select": "id,licensePlate",
        "$orderby": "brand,name desc,id",
        "$top": "10",
        "$skip": "20",
        "$count": "true",
    }
    assert query.select_fields == ("id", "licensePlate")
    assert query.order_keys == (
        OrderKey(F.brand),
        OrderKey(F.name, descending=True),
        OrderKey(F.id),
    )
    assert query.top_value == 10
    assert query.skip_value == 20
    assert query.count_value is True
    assert Query().count(False).params() == {"$count": "false"}


def test_empty_query() -> None:
    assert Query().params() == {}
    assert Query().encoded() == ""
    assert encode_query(None) == ""
    assert encode_query(Query().top(1)) == "$top=1"


@pytest.mark.parametrize("bad", [-1, -100])
def test_top_and_skip_must_not_be_negative(bad: int) -> None:
    with pytest.raises(ODataError, match="negative"):
        Query().top(bad)
    with pytest.raises(ODataError, match="negative"):
        Query().skip(bad)


@pytest.mark.parametrize("bad", [True, 1.5, "5"])
def test_top_and_skip_must_be_ints(bad: object) -> None:
    with pytest.raises(TypeError):
        Query().top(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Query().skip(bad)  # type: ignore[arg-type]


def test_builder_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="expressions"):
        Query().filter("name eq 'x'")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="field references"):
        Query().select("name")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="order_by"):
        Query().order_by("name")  # type: ignore[arg-type]
    with pytest.raises(ODataError, match="identifier"):
        Property("name eq 'x'")
    with pytest.raises(ODataError, match="reserved"):
        Property("null")
    with pytest.raises(ODataError, match="takes 2"):
        Call("contains", (F.name,))
    with pytest.raises(AttributeError, match="no OData function"):
        func.frobnicate  # noqa: B018
    with pytest.raises(ODataError, match="operator"):
        Comparison("like", F.name, Literal("x"))  # type: ignore[arg-type]
    with pytest.raises(ODataError, match="list"):
        In(F.name, Literal("x"))


def test_raw_is_the_escape_hatch() -> None:
    fragment = raw("geo.distance(location, geography'POINT(1 2)') lt 5")
    assert isinstance(fragment, Raw)
    assert Query().filter(fragment).params()["$filter"] == fragment.text
    assert print_expr((F.id > 1) & fragment) == f"id gt 1 and ({fragment.text})"
    with pytest.raises(ODataError):
        raw("  ")


def test_literal_helper_and_repr() -> None:
    assert print_expr(literal(5) < F.id) == "5 lt id"
    assert str(F.name == "x") == "name eq 'x'"
    assert "Comparison" in repr(F.name == "x")
    assert repr(Query().top(1)) == "Query({'$top': '1'})"
    assert repr(F) == "fields(Car)"


def test_edge_values() -> None:
    with pytest.raises(TypeError, match="no digits"):
        round(F.id, 2)  # type: ignore[call-overload]
    with pytest.raises(ODataError, match="too large"):
        Literal(10**5000)
    assert print_expr(Literal(10**100)) == "1" + "0" * 100
