"""The evaluator: OData semantics over JSON-shaped records, and whole queries over lists."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from flinkey_async import Car, Location, Product, Service
from flinkey_async._converter import unstructure
from flinkey_async.odata import (
    Literal,
    ODataError,
    Property,
    Query,
    UnsupportedODataError,
    apply_query,
    apply_to_entity,
    check_properties,
    count_matching,
    evaluate,
    fields,
    func,
    parse_filter,
    parse_query,
    raw,
)

F = fields(Car)
P = fields(Product)
S = fields(Service)

GOLF = {
    "id": 1,
    "name": "Golf GTI",
    "description": None,
    "vin": None,
    "licensePlate": "B-AB 123",
    "brand": "VW",
    "model": "Golf",
}
CARS = [
    GOLF,
    {**GOLF, "id": 2, "name": "Polo", "vin": "WVW1", "model": "Polo"},
    {**GOLF, "id": 3, "name": "Golf Variant", "vin": "WVW2", "licensePlate": None},
    {**GOLF, "id": 4, "name": "A4", "brand": "Audi", "vin": None, "model": "A4"},
    {**GOLF, "id": 5, "name": "golf", "brand": "vw", "vin": "X", "model": None},
]


def ev(text: str, record: dict[str, Any] | None = None) -> Any:
    return evaluate(parse_filter(text), GOLF if record is None else record)


# -- null and three-valued logic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vin eq null", True),
        ("vin ne null", False),
        ("null eq null", True),
        ("vin gt 'A'", False),
        ("vin lt 'A'", False),
        ("vin ge null", True),
        ("vin le null", True),
        ("vin gt null", False),
        ("name ge null", False),
        ("not (vin eq 'x')", True),
        ("not null", None),
        ("false and null", False),
        ("null and false", False),
        ("true and null", None),
        ("null and null", None),
        ("true or null", True),
        ("null or true", True),
        ("false or null", None),
        ("null or null", None),
        ("contains(vin, 'W')", None),
        ("length(vin) add 1", None),
        ("-vin", None),
        ("vin in ('a', null)", True),
        ("vin in ('a')", False),
        ("name in ()", False),
    ],
)
def test_null_rules(text: str, expected: bool | None) -> None:
    assert ev(text) is expected


# -- values, functions, arithmetic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name eq 'Golf GTI'", True),
        ("Name eq 'x' or id eq 1", "error"),
        ("startswith(name,'Golf')", True),
        ("endswith(name,'GTI')", True),
        ("contains(name,'f G')", True),
        ("contains(name,'gti')", False),
        ("contains(tolower(name),'gti')", True),
        ("toupper(brand)", "VW"),
        ("trim('  x ')", "x"),
        ("length(name)", 8),
        ("indexof(name,'GTI')", 5),
        ("indexof(name,'zzz')", -1),
        ("substring(name,5)", "GTI"),
        ("substring(name,0,4)", "Golf"),
        ("substring(name,-3,2)", "Go"),
        ("concat(brand,concat(' ',model))", "VW Golf"),
        ("7 div 2", 3),
        ("-7 div 2", -3),
        ("7 div -2", -3),
        ("7 mod 3", 1),
        ("-7 mod 3", -1),
        ("7 mod -3", 1),
        ("7 divby 2", 3.5),
        ("7.0 div 2", Decimal("3.5")),
        ("1.5 add 1", Decimal("2.5")),
        ("1.1 add 2.2 eq 3.3", True),
        ("0.1 mul 3 eq 0.3", True),
        ("2 mul 3 sub 1", 5),
        ("-id", -1),
        ("round(2.5)", Decimal(3)),
        ("round(-2.5)", Decimal(-3)),
        ("round(2.4)", Decimal(2)),
        ("round(0.49999999999999994)", Decimal(0)),
        ("floor(-1.5)", Decimal(-2)),
        ("ceiling(1.2)", Decimal(2)),
        ("round(7)", 7),
        ("id in (1, 2)", True),
        ("name in ('Polo', 'A4')", False),
        ("brand eq 'VW' and (startswith(name,'Golf') or vin eq null)", True),
    ],
)
def test_values(text: str, expected: Any) -> None:
    if expected == "error":
        with pytest.raises(ODataError, match="unknown property 'Name'"):
            ev(text)
        return
    result = ev(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("text", ["id div 0", "id mod 0", "-7 div 0", "0 mod 0"])
def test_integer_division_by_zero_is_an_error(text: str) -> None:
    with pytest.raises(ODataError, match="division by zero"):
        ev(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id divby 0", math.inf),
        ("-id divby 0", -math.inf),
        ("0 divby 0", math.nan),
        ("1.5 div 0", math.inf),
        ("-1.5 div 0", -math.inf),
        ("0.0 div 0", math.nan),
        ("1 div 0.0", math.inf),
        ("1 div -0.0", -math.inf),
        ("-1 divby -0.0", math.inf),
        ("1.5 mod 0", math.nan),
        ("id mod 0.0", math.nan),
        ("INF mod 2", math.nan),
        ("NaN div 0", math.nan),
    ],
)
def test_non_integer_division_by_zero_is_ieee(text: str, expected: float) -> None:
    """OData 4.01: only integer div and mod by zero fail; divby never divides integers."""
    result = ev(text)
    assert isinstance(result, float)
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.49999999999999994, 0.0),
        (0.5, 1.0),
        (-0.5, -1.0),
        (2.5, 3.0),
        (-2.5, -3.0),
        (1.4999999999999998, 1.0),
        (4503599627370497.0, 4503599627370497.0),  # 2**52 + 1: floor(x + 0.5) gives 2**52 + 2
        (-4503599627370497.0, -4503599627370497.0),
        (9007199254740993.0, 9007199254740993.0),
        (1e300, 1e300),
        (math.inf, math.inf),
    ],
)
def test_round_of_a_float_is_half_away_from_zero(value: float, expected: float) -> None:
    result = evaluate(func.round(Property("x")), {"x": value})
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.5", "3"),
        ("-2.5", "-3"),
        ("0.49999999999999999999", "0"),
        ("4503599627370496.5", "4503599627370497"),
        ("12345678901234567890123456789.5", "12345678901234567890123456790"),
        ("1e+40", "1E+40"),
    ],
)
def test_round_of_a_decimal_is_half_away_from_zero(text: str, expected: str) -> None:
    result = evaluate(func.round(Literal(Decimal(text))), {})
    assert result == Decimal(expected)
    assert str(result) == expected


def test_decimals_meet_floats_as_floats() -> None:
    """A record's JSON number is a float; a decimal literal next to it computes as one."""
    assert evaluate(Property("x") == Decimal("0.1"), {"x": 0.1}) is True
    assert evaluate(Property("x") + Decimal("0.1"), {"x": 0.2}) == 0.2 + 0.1
    assert evaluate(Property("x") * Decimal("1.5"), {"x": 3}) == Decimal("4.5")
    assert evaluate(parse_filter("x gt 2.5"), {"x": "2.6"}) is True


def test_decimal_overflow_is_an_odata_error() -> None:
    with pytest.raises(ODataError, match="too large"):
        ev("1e999999 mul 10")
    with pytest.raises(ODataError, match="too large"):
        ev("1e100 mod 3.0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name gt 5", "cannot compare"),
        ("name add 1", "needs numbers"),
        ("name and true", "needs true, false or null"),
        ("contains(id, '1')", "needs text"),
        ("Items(1) eq 1", "not supported"),
        ("id in name", "must be a collection"),
    ],
)
def test_type_errors(text: str, message: str) -> None:
    with pytest.raises(ODataError, match=message):
        ev(text)


def test_unknown_function_is_unsupported() -> None:
    with pytest.raises(UnsupportedODataError):
        ev("Items(1) eq 1")


# -- date-times from JSON strings -----------------------------------------------------------

PRODUCT = {
    "id": 9,
    "uniqueId": "01234567-89ab-cdef-0123-456789abcdef",
    "serialNumber": "S1",
    "sapNumber": "100",
    "type": "flinkey IQ",
    "dongleTerminationTimeStamp": "2024-05-01T10:00:00+02:00",
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (P.dongle_termination_time_stamp == datetime(2024, 5, 1, 8, tzinfo=UTC), True),
        (P.dongle_termination_time_stamp > datetime(2024, 5, 1, 7, 59, tzinfo=UTC), True),
        (
            P.dongle_termination_time_stamp
            < datetime(2024, 5, 1, 4, 1, tzinfo=timezone(-timedelta(hours=4))),
            True,
        ),
        (P.dongle_termination_time_stamp == date(2024, 5, 1), True),
        (P.dongle_termination_time_stamp > date(2024, 4, 30), True),
        (func.year(P.dongle_termination_time_stamp) == 2024, True),
        (func.hour(P.dongle_termination_time_stamp) == 10, True),
        (func.totaloffsetminutes(P.dongle_termination_time_stamp) == 120, True),
        (func.date(P.dongle_termination_time_stamp) == date(2024, 5, 1), True),
        (func.time(P.dongle_termination_time_stamp) == time(10), True),
        (P.unique_id == parse_filter("01234567-89AB-CDEF-0123-456789ABCDEF"), True),
        (P.sap_number > 99, True),
        (P.dongle_termination_time_stamp < func.now(), True),
        (P.dongle_termination_time_stamp < func.maxdatetime(), True),
        (P.dongle_termination_time_stamp > func.mindatetime(), True),
        (
            P.dongle_termination_time_stamp + timedelta(hours=1)
            == datetime(2024, 5, 1, 9, tzinfo=UTC),
            True,
        ),
    ],
)
def test_datetime_strings_meet_datetime_literals(expr: Any, expected: bool) -> None:
    assert evaluate(expr, PRODUCT) is expected


L = fields(Location)


@pytest.mark.parametrize(
    ("expr", "record", "expected"),
    [
        (
            L.odometer_date < L.date,
            {"odometerDate": "2024-05-01T10:00:00+02:00", "date": "2024-05-01T09:00:00Z"},
            True,
        ),
        (
            parse_filter("a gt b"),
            {"a": "2024-05-01T10:00:00.5Z", "b": "2024-05-01T10:00:00Z"},
            True,
        ),
        (
            parse_filter("a eq b"),
            {"a": "2024-05-01T10:00:00+02:00", "b": "2024-05-01T08:00:00Z"},
            True,
        ),
        (
            parse_filter("a ne b"),
            {"a": "2024-05-01T10:00:00+02:00", "b": "2024-05-01T08:00:00Z"},
            False,
        ),
        (
            parse_filter("a lt b"),
            {"a": "2024-05-01T23:30:00-05:00", "b": "2024-05-02T01:00:00Z"},
            False,
        ),
        (
            parse_filter("a in ('2024-05-01T08:00:00Z')"),
            {"a": "2024-05-01T10:00:00+02:00"},
            True,
        ),
    ],
)
def test_two_datetime_strings_compare_as_instants(
    expr: Any, record: dict[str, Any], expected: bool
) -> None:
    assert evaluate(expr, record) is expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2024-05-01T10:00:00+02:00 (Berlin)", "2024-05-01T09:00:00Z"),  # more after the offset
        ("2024-05-01T10:00:00", "2024-05-01T09:00:00Z"),  # no offset
        ("2024-05-01 10:00:00+02:00", "2024-05-01T09:00:00Z"),  # no 'T'
        ("2024-05-01", "2024-05-01T09:00:00Z"),  # a date only
        ("2024-05-01T10:00:00+02:00", "Golf"),
    ],
)
def test_other_strings_stay_strings(a: str, b: str) -> None:
    """Only whole OData date-times are read as instants: other text compares as text."""
    assert evaluate(Property("a") > Property("b"), {"a": a, "b": b}) is (a > b)
    assert evaluate(Property("a") == Property("b"), {"a": a, "b": b}) is False


def test_now_can_be_fixed() -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    assert evaluate(func.now(), {}, now=moment) == moment


def test_records_from_the_models_converter() -> None:
    """The records the sandbox holds are the converter's JSON shapes."""
    from flinkey_async import Service as ServiceModel

    service = ServiceModel(
        id=1,
        name="Go",
        is_terminated=False,
        termination_date=datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=1))),
    )
    record = unstructure(service)
    assert evaluate(S.termination_date == datetime(2025, 1, 1, 11, tzinfo=UTC), record) is True
    assert evaluate(~S.is_terminated, record) is True


# -- whole queries --------------------------------------------------------------------------


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def test_the_documented_query_over_records() -> None:
    query = (
        Query()
        .filter((F.brand == "VW") & (F.name.startswith("Golf") | F.vin.is_null()))
        .select(F.id, F.name)
        .top(50)
    )
    assert apply_query(query, CARS) == [
        {"id": 1, "name": "Golf GTI"},
        {"id": 3, "name": "Golf Variant"},
    ]


def test_order_skip_top_select_in_odata_order() -> None:
    query = Query().order_by(F.brand, F.name.desc()).skip(1).top(3).select(F.id)
    assert apply_query(query, CARS) == [{"id": 2}, {"id": 3}, {"id": 1}]
    assert ids(apply_query(Query().order_by(F.name), CARS)) == [4, 1, 3, 2, 5]


def test_nulls_first_ascending_last_descending() -> None:
    assert ids(apply_query(Query().order_by(F.vin, F.id), CARS)) == [1, 4, 2, 3, 5]
    assert ids(apply_query(Query().order_by(F.vin.desc(), F.id), CARS)) == [5, 3, 2, 1, 4]


def test_ordering_by_datetime_strings_uses_instants() -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "at": "2024-05-01T10:00:00+02:00"},  # 08:00Z
        {"id": 2, "at": "2024-05-01T09:00:00Z"},
        {"id": 3, "at": "2024-05-01T07:30:00Z"},
        {"id": 4, "at": None},
    ]
    assert ids(apply_query(Query().order_by(Property("at")), rows)) == [4, 3, 1, 2]


def test_count_and_empty_results() -> None:
    query = Query().filter(F.brand == "VW").top(1)
    assert count_matching(query, CARS) == 3
    assert apply_query(Query().top(0), CARS) == []
    assert apply_query(Query().skip(10), CARS) == []
    assert apply_query(Query(), []) == []


def test_results_are_copies() -> None:
    rows = apply_query(Query(), CARS)
    rows[0]["name"] = "changed"
    assert CARS[0]["name"] == "Golf GTI"


def test_unknown_properties_are_named() -> None:
    with pytest.raises(ODataError, match="unknown property 'colour'"):
        apply_query(parse_query({"$filter": "colour eq 'red'"}), CARS)
    with pytest.raises(ODataError, match="'colour' in \\$select"):
        apply_query(parse_query({"$select": "id,colour"}), CARS)
    with pytest.raises(ODataError, match="unknown property 'colour'"):
        apply_query(parse_query({"$orderby": "colour"}), CARS)
    # Known up front: refused even with nothing to evaluate.
    with pytest.raises(ODataError, match="unknown property 'colour'"):
        apply_query(parse_query({"$filter": "colour eq 1"}), [], properties=GOLF.keys())
    check_properties(parse_query({"$filter": "vin eq 1", "$orderby": "id"}), GOLF.keys())


def test_filter_must_be_a_condition() -> None:
    with pytest.raises(ODataError, match="must be a condition"):
        apply_query(parse_query({"$filter": "name"}), CARS)


def test_single_entity() -> None:
    query = Query().filter(F.brand == "VW").select(F.name)
    assert apply_to_entity(query, GOLF) == {"name": "Golf GTI"}
    assert apply_to_entity(query, CARS[3]) is None
    assert apply_to_entity(Query().top(0), GOLF) == GOLF


def test_raw_fragments_are_evaluated() -> None:
    query = Query().filter(raw("startswith(name,'Golf')") & (F.id > 1))
    assert ids(apply_query(query, CARS)) == [3]


def test_numbers_sent_as_strings_compare_as_numbers() -> None:
    location = {"latitude": "52.52", "longitude": "13.40"}
    assert evaluate(Property("latitude") > 52.5, location) is True
    assert evaluate(Property("latitude") + 1 > 53, location) is True
    assert evaluate(Property("longitude") == 13.4, location) is True


def test_decimal_literals_compute_as_decimals() -> None:
    assert evaluate(Literal(Decimal("0.5")) + 1, {}) == Decimal("1.5")
    assert evaluate(Literal(0.1) + Literal(0.2) == Literal(0.3), {}) is True
    value = evaluate(Literal(Decimal("sNaN")), {})
    assert value != value  # NaN


def test_float_literals_compute_as_the_decimal_they_are_sent_as() -> None:
    """The builder's tree and the one the service parses from its text give one answer."""
    for expr in (Literal(0.1) + 0.2, Literal(1e16) + 1, Literal(-0.0), Literal(2.5) / 0):
        reparsed = parse_filter(str(expr))
        assert repr(evaluate(expr, {})) == repr(evaluate(reparsed, {}))
