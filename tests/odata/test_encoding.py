"""Encoding exactly once, and what a real server receives over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import aiohttp
import pytest
import yarl
from aiohttp import web
from aiohttp.test_utils import TestServer

from flinkey_async import Car, Product, ProductType
from flinkey_async.odata import (
    ODataSyntaxError,
    Query,
    encode_params,
    fields,
    parse_query,
    parse_query_string,
)
from flinkey_async.odata._encoding import decode_with_positions

F = fields(Car)
P = fields(Product)

NASTY = "Golf + GTI & Co #1 = 50% 'off'; ü/😀?"


def test_reserved_characters_are_escaped_once() -> None:
    encoded = Query().filter(F.name == NASTY).encoded()
    assert encoded == (
        "$filter=name%20eq%20'Golf%20%2B%20GTI%20%26%20Co%20%231%20%3D%2050%25%20''off''"
        "%3B%20%C3%BC/%F0%9F%98%80%3F'"
    )
    assert "+" not in encoded
    assert " " not in encoded
    assert "#" not in encoded
    assert "%25" in encoded
    assert "%2525" not in encoded


def test_datetimes_keep_their_offset_and_plus_is_escaped() -> None:
    moment = datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    query = Query().filter(P.dongle_termination_time_stamp > moment)
    assert query.params()["$filter"] == "dongleTerminationTimeStamp gt 2024-05-01T10:00:00+02:00"
    assert query.encoded() == (
        "$filter=dongleTerminationTimeStamp%20gt%202024-05-01T10:00:00%2B02:00"
    )
    utc = Query().filter(P.dongle_termination_time_stamp > moment.astimezone(UTC))
    assert utc.params()["$filter"].endswith("2024-05-01T08:00:00Z")


def test_guids_are_bare_and_enums_are_their_value() -> None:
    guid = UUID("01234567-89ab-cdef-0123-456789abcdef")
    query = Query().filter((P.unique_id == guid) & (P.type == ProductType.IQ))
    assert query.params()["$filter"] == (
        "uniqueId eq 01234567-89ab-cdef-0123-456789abcdef and type eq 'flinkey IQ'"
    )


def test_yarl_keeps_the_encoded_query_byte_for_byte() -> None:
    query = Query().filter(F.name == NASTY).select(F.id, F.name).top(50)
    base = "https://api.flinkey.de/v3/cars"
    url = yarl.URL(base + "?" + query.encoded(), encoded=True)
    assert str(url) == base + "?" + query.encoded()
    assert url.raw_query_string == query.encoded()
    assert dict(url.query) == query.params()
    # The trap this avoids: yarl's own encoding writes a space as '+'.
    assert "+" in str(yarl.URL(base).with_query({"$filter": "a b"}))


def test_encode_params_and_decoding() -> None:
    assert encode_params({"$filter": "a eq 'x y'", "$top": "1"}) == (
        "$filter=a%20eq%20'x%20y'&$top=1"
    )
    assert decode_with_positions("a%20b%C3%BCc") == ("a büc", [0, 1, 4, 5, 11, 12])
    assert decode_with_positions("plain+") == ("plain+", [0, 1, 2, 3, 4, 5, 6])
    with pytest.raises(ODataSyntaxError) as caught:
        decode_with_positions("ab%4")
    assert caught.value.position == 2


@pytest.mark.parametrize(
    "query",
    [
        Query()
        .filter((F.brand == "VW") & (F.name.startswith("Golf") | F.vin.is_null()))
        .select(F.id, F.name)
        .top(50),
        Query().filter(F.name == NASTY).order_by(F.name.desc(), F.id).skip(3).count(),
        Query().filter(F.name.in_(["a&b", "c#d", "e+f", "g h", "100%", "x=y"])),
        Query().filter(
            P.dongle_termination_time_stamp
            <= datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
        ),
    ],
    ids=["documented-example", "nasty-string", "in-list", "datetime"],
)
async def test_a_real_server_receives_the_exact_values(query: Query) -> None:
    received: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        received["raw_query"] = request.raw_path.partition("?")[2]
        received["pairs"] = list(request.query.items())
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/v3/cars", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("/v3/cars"))
        url = yarl.URL(base + "?" + query.encoded(), encoded=True)
        assert str(url) == base + "?" + query.encoded()
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert await response.json() == []

    assert received["raw_query"] == query.encoded()
    pairs = received["pairs"]
    assert isinstance(pairs, list)
    assert dict(pairs) == query.params()
    assert parse_query(pairs) == query
    assert parse_query_string(str(received["raw_query"])) == query
