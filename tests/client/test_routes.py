"""An endpoint's precomputed URLs are exactly those built segment by segment."""

from __future__ import annotations

from typing import Any

import pytest

from flinkey_async import ClientConfig, _api
from flinkey_async._transport import Transport
from flinkey_async.odata import Query

from .fake_secrets import API_KEY, STATIC_TOKEN

BASES = ["https://api.flinkey.de/v3", "http://127.0.0.1:8080/", "https://u:p@host:8443/api/v3/"]
VALUES: list[int | str] = [7, 2147483647, "2024-05-01T10:00:00Z"]


class _Dodgy(int):
    def __str__(self) -> str:
        return "dodgy"


class _Encoded:
    def __init__(self, text: Any) -> None:
        self.text = text

    def encoded(self) -> Any:
        return self.text


def _transport(base: str) -> Transport:
    return Transport(ClientConfig(api_key=API_KEY, token=STATIC_TOKEN, base_url=base))


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("query", [None, Query().skip(3).top(5), _Encoded(""), _Encoded("?$top=1")])
def test_every_endpoint_url_is_the_segment_by_segment_one(base: str, query: Any) -> None:
    t = _transport(base)
    for endpoint in _api.endpoints():
        route = t.route(endpoint)
        assert t.route(endpoint) is route
        values = VALUES[: len(endpoint.parameters)]
        expected = t.with_query(t.url(*endpoint.path(*values)), query)
        built = route.of(*values, query=query)
        assert (str(built), built.raw_path, built.raw_query_string) == (
            str(expected),
            expected.raw_path,
            expected.raw_query_string,
        )
        if len(values) == 1:
            assert route.at(7, query) == expected
        if not values:
            assert route.fixed == t.url(*endpoint.path())


@pytest.mark.parametrize("value", ["a b", "x/y", "..", "ä", "", _Dodgy(5)])
def test_values_that_need_encoding_take_the_quoting_path(value: Any) -> None:
    t = _transport(BASES[0])
    route = t.route(_api.LOCATION_AT)
    assert route.of(7, value) == t.url(*_api.LOCATION_AT.path(7, value))
    if isinstance(value, int):
        assert t.route(_api.CAR).at(value) == t.url(*_api.CAR.path(value))


def test_the_wrong_number_of_values_is_refused() -> None:
    t = _transport(BASES[0])
    with pytest.raises(TypeError, match="takes 2 values"):
        t.route(_api.LOCATION_AT).at(7)
    with pytest.raises(TypeError, match="takes 1 values"):
        t.route(_api.CAR).of(7, 8)


def test_a_query_that_prints_no_str_is_refused() -> None:
    from flinkey_async import ValidationError

    with pytest.raises(ValidationError, match="encoded"):
        _transport(BASES[0]).route(_api.CAR).at(7, _Encoded(b"$top=1"))
