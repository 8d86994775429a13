"""Any text given to a parser gives a tree or an :class:`ODataError`, never another exception.

Numbers are where Python's own limits showed through: ``int()`` refuses text of more than
4,300 digits, and ``Decimal()`` an exponent past its range.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flinkey_async.odata import (
    Expr,
    Literal,
    ODataError,
    ODataSyntaxError,
    Property,
    Query,
    UnsupportedODataError,
    evaluate,
    parse_filter,
    parse_literal,
    parse_orderby,
    parse_query,
    parse_query_string,
    parse_select,
    print_expr,
)
from flinkey_async.odata._literals import INT64_MAX, MAX_INTEGER_DIGITS
from flinkey_async.odata._parser import _LITERAL_RULES
from flinkey_async.sandbox import Sandbox

from .conftest import profile

HUGE = "9" * 5_000
RULES = sorted(_LITERAL_RULES)

# Pieces that make text the parser has to look at closely: numbers of every size, literal
# prefixes, nesting and the characters that end or open something.
# fmt: off
_PIECE_TEXTS = [
    "id", " eq ", " and ", " or ", "not ", " in ", "(", ")", ",", "'", "''", "-", "+", ".",
    "e", "E", "1", "0", "60", "9" * 19, "9" * 20, "0" * 4_400, HUGE, "2024-05-01", "T",
    "10:00", ":", "Z", "+01:00", "duration'", "P", "D", "H", "M", "S", "binary'", "AA",
    "==", "INF", "NaN", "null", "true", "01234567-89ab-cdef-0123-456789abcdef", "tolower(",
    "substring(", "now()", "$", "@", "[", "{", "/", "%", "%2", "%20", "%ff", "\ud800", "é",
    " ", "\t", "geography'",
]
# fmt: on
_PIECES = st.sampled_from(_PIECE_TEXTS)
texts = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=14).map("".join))

_PARSERS: dict[str, Callable[[str], Any]] = {
    "filter": parse_filter,
    "filter encoded": lambda text: parse_filter(text, encoded=True),
    "orderby": parse_orderby,
    "select": parse_select,
    "query": lambda text: parse_query(
        {"$filter": text, "$top": text[:30] or "1", "$skip": text[-30:] or "0"}
    ),
    "query string": lambda text: parse_query_string(f"$filter={text}&$top={text[:30]}"),
}


def _literal_parser(rule: str, *, encoded: bool) -> Callable[[str], Any]:
    return lambda text: parse_literal(text, rule, encoded=encoded)


for _rule in RULES:
    _PARSERS[f"literal {_rule}"] = _literal_parser(_rule, encoded=False)
    _PARSERS[f"literal {_rule} encoded"] = _literal_parser(_rule, encoded=True)


@profile("garbage")
@given(text=texts)
def test_any_text_gives_a_tree_or_an_odata_error(text: str) -> None:
    for name, parse in _PARSERS.items():
        try:
            result = parse(text)
        except ODataError:
            continue
        except Exception as error:  # pragma: no cover - the failure this test looks for
            raise AssertionError(f"{name} raised {type(error).__name__}: {error}") from error
        if name == "filter":  # what parses prints, and reads back as the same tree
            assert parse_filter(print_expr(result)).same_as(result)


@pytest.mark.parametrize(
    "text",
    [
        f"id eq {HUGE}",
        f"id eq -{HUGE}",
        f"id eq +{HUGE}",
        f"{HUGE} eq id",
        f"id in (1,{HUGE})",
        f"round({HUGE}) eq 1",
    ],
)
def test_an_integer_past_the_limit_is_unsupported(text: str) -> None:
    with pytest.raises(UnsupportedODataError, match="digits"):
        parse_filter(text)
    with pytest.raises(UnsupportedODataError, match="digits"):
        parse_query({"$filter": text})


def test_an_integer_at_the_limit_reads_and_prints() -> None:
    text = "7" * MAX_INTEGER_DIGITS
    tree = parse_filter(f"id eq {text}")
    assert print_expr(tree) == f"id eq {text}"
    assert print_expr(Literal(int(text))) == text
    with pytest.raises(ODataError, match="too large"):
        Literal(int(text + "0"))
    # Leading zeros do not count: what matters is the value.
    assert parse_literal("0" * 5_000 + "42").value == 42


@pytest.mark.parametrize("rule", ["primitiveLiteral", "primitiveValue", "decimalValue"])
def test_parse_literal_refuses_huge_integers_clearly(rule: str) -> None:
    with pytest.raises(UnsupportedODataError, match="at most 4,000"):
        parse_literal(HUGE, rule)


@pytest.mark.parametrize("text", [f"1e{HUGE}", f"1.5E-{HUGE}", "1e9999999999999999999"])
def test_an_exponent_past_decimal_range_is_unsupported(text: str) -> None:
    with pytest.raises(UnsupportedODataError, match="exponent"):
        parse_filter(f"x eq {text}")
    with pytest.raises(UnsupportedODataError, match="exponent"):
        parse_literal(text, "decimalValue")


@pytest.mark.parametrize(
    "text",
    [
        f"duration'P{HUGE}D'",
        f"duration'PT{HUGE}H'",
        f"duration'PT{HUGE}M'",
        f"duration'PT{HUGE}S'",
        f"duration'PT{HUGE}.5S'",
    ],
)
def test_huge_durations_are_unsupported(text: str) -> None:
    with pytest.raises(UnsupportedODataError, match="too long"):
        parse_filter(f"x eq {text}")


def test_huge_years_are_unsupported() -> None:
    with pytest.raises(UnsupportedODataError, match="more than 18 digits"):
        parse_filter(f"x eq {HUGE}-01-01")
    with pytest.raises(UnsupportedODataError, match="more than 18 digits"):
        parse_literal(f"{HUGE}-01-01T00:00:00Z", "dateTimeOffsetValue")
    # A long year still has to be followed by a valid date: the syntax error comes first.
    with pytest.raises(ODataSyntaxError) as caught:
        parse_literal(f"{HUGE}-13-01", "dateValue")
    assert caught.value.position == len(HUGE) + 2  # the second digit of the month


@pytest.mark.parametrize("option", ["$top", "$skip"])
@pytest.mark.parametrize("value", [HUGE, str(INT64_MAX + 1), "0" * 30 + str(INT64_MAX + 1)])
def test_top_and_skip_are_edm_int64(option: str, value: str) -> None:
    with pytest.raises(ODataSyntaxError, match=r"Edm\.Int64"):
        parse_query({option: value})
    with pytest.raises(ODataSyntaxError, match=r"Edm\.Int64"):
        parse_query_string(f"{option}={value}")


def test_top_and_skip_accept_the_largest_int64() -> None:
    query = parse_query({"$top": str(INT64_MAX), "$skip": "0" * 30 + "5"})
    assert (query.top_value, query.skip_value) == (INT64_MAX, 5)
    assert Query().top(INT64_MAX).params()["$top"] == str(INT64_MAX)
    with pytest.raises(ODataError, match=r"Edm\.Int64"):
        Query().top(INT64_MAX + 1)
    with pytest.raises(ODataError, match=r"Edm\.Int64"):
        Query().skip(10**5_000)


def test_an_unknown_literal_rule_is_an_odata_error() -> None:
    with pytest.raises(ODataError, match="unknown literal rule"):
        parse_literal("1", "int128Value")


def test_integer_arithmetic_is_bounded_like_literals() -> None:
    """A chain of ``mul`` cannot build an integer past what a literal may hold."""
    product: Expr = Property("x")
    for _ in range(400):
        product = product * Property("x")
    with pytest.raises(ODataError, match="too large in mul"):
        evaluate(product, {"x": 10**20})
    assert evaluate(Property("x") * 2, {"x": 10**3_000}) == 2 * 10**3_000


def test_a_record_string_of_many_digits_is_not_a_number() -> None:
    """The evaluator reads strings as numbers with the same scanner; a huge one stays text."""
    with pytest.raises(ODataError, match="cannot compare"):
        evaluate(Property("x") == 1, {"x": HUGE})
    assert evaluate(Property("d") == timedelta(days=1), {"d": "P1D"}) is True


@pytest.mark.parametrize(
    ("name", "value"),
    [("$top", HUGE), ("$skip", HUGE), ("$filter", f"id eq {HUGE}"), ("$filter", f"id eq 1e{HUGE}")],
)
async def test_the_sandbox_answers_400_not_500(
    flinkey_sandbox: Sandbox, name: str, value: str
) -> None:
    """Over HTTP: the sandbox reads OData with these parsers, so a huge number is a 400."""
    sandbox = flinkey_sandbox
    async with aiohttp.ClientSession() as http:
        async with http.post(
            sandbox.url("/oauth2/token"),
            data={
                "grant_type": "password",
                "username": sandbox.username,
                "password": sandbox.password,
            },
            headers={"flinkey-API-Key": sandbox.api_key},
        ) as response:
            token = (await response.json())["access_token"]
        headers = {
            "flinkey-API-Key": sandbox.api_key,
            "Authorization": f"Bearer {token}",
            "Customer-ID": str(sandbox.customer_ids[0]),
        }
        async with http.get(
            sandbox.url("/cars"), params={name: value}, headers=headers
        ) as response:
            assert response.status == 400
            assert (await response.text()).startswith("Invalid OData query")
