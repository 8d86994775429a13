"""The OASIS OData ABNF test cases (flat-entity subset): every case is its own test.

A positive case must parse; a negative case must fail with an ODataSyntaxError whose position is
the case's ``fail_at``. URL rules (expressions, options, ``primitiveLiteral``, ``stringLiteral``)
get the input as it appears in a URL, so percent-encoding is decoded; payload rules never decode.

Exclusions are valid OData this package cannot represent; each is listed with its reason, and the
test still checks that the parser answers with UnsupportedODataError rather than a syntax error
or a crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest

from flinkey_async.odata import (
    Expr,
    Literal,
    ODataSyntaxError,
    Query,
    UnsupportedODataError,
    parse_filter,
    parse_literal,
    parse_query_string,
)

# A copy of the project's shared conformance file travels with the tests.
CASES_FILE: Final = Path(__file__).parent / "data" / "odata-abnf-cases.json"
SHARED_FILE: Final = Path("/work/shared/conformance/odata-abnf-cases.json")
_LOADED: dict[str, Any] = json.loads(CASES_FILE.read_text(encoding="utf-8"))
CASES: Final[list[dict[str, Any]]] = _LOADED["cases"]

EXPRESSION_RULES: Final = {"commonexpr", "boolcommonexpr"}
OPTION_RULES: Final = {"filter", "orderby"}

EXCLUDED: Final[dict[tuple[str, str], str]] = {
    ("date", "0000-01-01"): "year 0 is outside Python's datetime.date range (1-9999)",
    ("date", "-10000-04-01"): "negative years are outside Python's datetime.date range",
    ("dateTimeOffsetValue", "0000-01-01T00:00Z"): (
        "year 0 is outside Python's datetime.datetime range (1-9999)"
    ),
    ("dateTimeOffsetValue", "-10000-04-01T00:00Z"): (
        "negative years are outside Python's datetime.datetime range"
    ),
    ("primitiveValue", "SRID=0;Point(142.1 64.1)"): (
        "geography/geometry values are not part of the flat-entity tree"
    ),
}


def _case_id(index: int, case: dict[str, Any]) -> str:
    kind = "neg" if "fail_at" in case else "pos"
    return f"{index:03d}-{case['rule']}-{kind}-{case['input'][:30]!r}"


def _parse(case: dict[str, Any]) -> Expr | Query | Literal:
    rule: str = case["rule"]
    text: str = case["input"]
    if rule.lower() in EXPRESSION_RULES:
        return parse_filter(text, encoded=True)
    if rule.lower() in OPTION_RULES:
        query = parse_query_string(text)
        if rule.lower() == "filter":
            assert query.filter_expr is not None, f"no $filter in {text!r}"
        else:
            assert query.order_keys, f"no $orderby in {text!r}"
        return query
    return parse_literal(text, rule, encoded=True)


def test_the_case_file_is_complete() -> None:
    assert len(CASES) == _LOADED["count"] == 155


@pytest.mark.skipif(not SHARED_FILE.exists(), reason="shared conformance folder not mounted")
def test_the_copy_matches_the_shared_file() -> None:
    assert CASES_FILE.read_bytes() == SHARED_FILE.read_bytes()


@pytest.mark.parametrize(
    "case", CASES, ids=[_case_id(index, case) for index, case in enumerate(CASES)]
)
def test_case(case: dict[str, Any]) -> None:
    reason = EXCLUDED.get((case["rule"], case["input"]))
    if reason is not None:
        with pytest.raises(UnsupportedODataError):
            _parse(case)
        pytest.skip(f"excluded: {reason}")
    if "fail_at" not in case:
        _parse(case)
        return
    with pytest.raises(ODataSyntaxError) as caught:
        _parse(case)
    assert caught.value.position == case["fail_at"], str(caught.value)
    assert f"position {case['fail_at']}" in str(caught.value)


def test_pass_count(capsys: pytest.CaptureFixture[str]) -> None:
    """All but the listed exclusions pass; report them."""
    passed = 0
    failures: list[str] = []
    for case in CASES:
        if (case["rule"], case["input"]) in EXCLUDED:
            continue
        try:
            _parse(case)
        except ODataSyntaxError as error:
            if error.position == case.get("fail_at"):
                passed += 1
            else:
                failures.append(f"{case['name']}: {error}")
        else:
            if "fail_at" in case:
                failures.append(f"{case['name']}: accepted {case['input']!r}")
            else:
                passed += 1
    with capsys.disabled():
        print(f"\nOData ABNF conformance: {passed}/{len(CASES)} passed, {len(EXCLUDED)} excluded")
        for (rule, text), reason in EXCLUDED.items():
            print(f"  excluded {rule} {text!r}: {reason}")
    assert failures == []
    assert passed == len(CASES) - len(EXCLUDED) == 150
