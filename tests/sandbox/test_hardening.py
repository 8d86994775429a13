"""Bad input at the edges gets a documented answer, never a 500 (issue 9, sandbox part).

Header bytes that are not UTF-8, token forms that do not decode, numbers too long to convert,
ids in other scripts' digits, bodies the two JSON readers used to read differently, and a client
that hangs up mid-request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flinkey_async import _messages as m
from flinkey_async.sandbox import Sandbox, SandboxMessages, _app, _body
from flinkey_async.sandbox._app import parse_int32

from .rawhttp import Api, Reply, http_request, parse_reply, raw_exchange

INVALID_JSON = SandboxMessages.INVALID_JSON
NO_ROUTE = {"statusCode": 404, "message": SandboxMessages.RESOURCE_NOT_FOUND}


async def _send(sandbox: Sandbox, method: str, path: str, headers: Any, body: bytes = b"") -> Reply:
    received, _ = await raw_exchange(sandbox, http_request(sandbox, method, path, headers, body))
    return parse_reply(received)


async def _headers(api: Api, **changes: str | bytes) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {
        "flinkey-API-Key": api.sandbox.api_key,
        "Authorization": f"Bearer {await api.token()}",
        "Customer-ID": str(api.sandbox.customer_id),
    }
    headers.update(changes)
    return headers


# -- header bytes that are not UTF-8 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("flinkey-API-Key", b"\xff\xfe", m.INVALID_API_KEY),
        ("Authorization", b"\xff\xfe", m.INVALID_TOKEN),
        ("Authorization", b"Bearer \xff\xfe", m.INVALID_TOKEN),
        ("Authorization", b"Bearer eyJ\xc3\xa9.x.y", m.INVALID_TOKEN),
    ],
)
async def test_header_bytes_that_do_not_decode_are_the_documented_401(
    api: Api, sandbox: Sandbox, header: str, value: bytes, message: str
) -> None:
    reply = await _send(sandbox, "GET", "/cars", await _headers(api, **{header: value}))
    assert (reply.status, reply.json()) == (401, {"statusCode": 401, "message": message})


async def test_customer_id_bytes_that_do_not_decode_name_no_customer(
    api: Api, sandbox: Sandbox
) -> None:
    reply = await _send(sandbox, "GET", "/cars", await _headers(api, **{"Customer-ID": b"\xff1"}))
    assert (reply.status, reply.text) == (404, m.MANAGER_NOT_FOUND)


# -- the token form -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded; charset=x-bogus", b"grant_type=password"),
        ("application/x-www-form-urlencoded; charset=utf-16", b"grant_type=password"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=\xff&password=x"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=%FF&password=x"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=%ED%A0%80"),
    ],
)
async def test_token_form_that_does_not_decode_is_a_400(
    sandbox: Sandbox, content_type: str, body: bytes
) -> None:
    headers = {"flinkey-API-Key": sandbox.api_key, "Content-Type": content_type}
    reply = await _send(sandbox, "POST", "/oauth2/token", headers, body)
    assert reply.status == 400
    assert reply.json() == {
        "error": "invalid_request",
        "error_description": SandboxMessages.TOKEN_ENCODING,
    }
    assert sandbox.counters.tokens_issued == 0


async def test_token_form_with_a_utf8_charset_still_works(sandbox: Sandbox) -> None:
    headers = {
        "flinkey-API-Key": sandbox.api_key,
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    }
    form = f"grant_type=password&username={sandbox.username}&password={sandbox.password}"
    reply = await _send(sandbox, "POST", "/oauth2/token", headers, form.encode())
    assert reply.status == 200, reply.text
    assert sandbox.counters.tokens_issued == 1


# -- numbers too long to convert -----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"$top": "9" * 5000},
        {"$skip": "9" * 5000},
        {"$filter": f"id eq {'9' * 5000}"},
        {"$filter": "(" * 2000 + "id eq 1" + ")" * 2000},
    ],
    ids=["top", "skip", "filter-int", "filter-deep"],
)
async def test_odata_that_does_not_parse_is_a_400(
    api: Api, query: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    for path in ("/cars", f"/cars/{api.sandbox.state.cars(api.sandbox.customer_id)[0].id}"):
        reply = await api.get(path, params=query)
        assert reply.status == 400, reply.text[:200]
        assert reply.text.startswith("Invalid OData query: ")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # a limit, not a bug


@pytest.mark.parametrize("stage", ["parse_query", "apply_query", "apply_to_entity"])
async def test_a_defect_of_the_odata_package_is_a_400_and_a_warning(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, stage: str
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a parser bug")

    monkeypatch.setattr(_app, stage, broken)
    car = api.sandbox.state.cars(api.sandbox.customer_id)[0].id
    path = f"/cars/{car}" if stage == "apply_to_entity" else "/cars"
    reply = await api.get(path, params={"$filter": "id gt 1"})
    assert (reply.status, reply.text) == (
        400, "Invalid OData query: the query cannot be read or evaluated",
    )  # fmt: skip
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["flinkey_async.sandbox"]
    assert warnings[0].exc_info is not None


# -- ASP.NET integer binding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1001", 1001),
        ("+1001", 1001),
        ("-5", -5),
        ("0001001", 1001),
        ("0" * 5000 + "7", 7),
        (" \t1001\r\n", 1001),
        ("2147483647", 2**31 - 1),
        ("-2147483648", -(2**31)),
        ("2147483648", None),
        ("-2147483649", None),
        ("9" * 5000, None),
        ("１００１", None),  # full-width
        ("١٠٠١", None),  # Arabic-Indic
        ("1_001", None),
        ("1e3", None),
        ("0x10", None),
        ("++1", None),
        ("1 1", None),
        ("", None),
        (" ", None),
        ("\u00a01001", None),  # no-break space is not .NET's white space for numbers
    ],
)
def test_ids_bind_as_aspnet_binds_an_int(text: str, value: int | None) -> None:
    assert parse_int32(text) == value


@pytest.mark.parametrize(
    "zero",
    [0xFF10, 0x0660, 0x06F0, 0x0966],
    ids=["full-width", "arabic-indic", "persian", "devanagari"],
)
async def test_ids_in_other_digits_match_no_route(api: Api, sandbox: Sandbox, zero: int) -> None:
    cid = sandbox.customer_id
    car = sandbox.state.cars(cid)[0].id
    text = "".join(chr(zero + int(digit)) for digit in str(car))
    assert int(text) == car  # what Python's int() made of it
    before = sandbox.state.snapshot(cid)
    for method in ("GET", "DELETE"):
        reply = await api.call(method, f"/cars/{text}")
        assert (reply.status, reply.json()) == (
            404,
            NO_ROUTE,
        )
    assert sandbox.state.snapshot(cid) == before


@pytest.mark.parametrize("form", ["+{}", "00{}", "%20{}%20", "%09{}"])
async def test_ids_with_sign_zeros_or_white_space_bind(
    api: Api, sandbox: Sandbox, form: str
) -> None:
    car = sandbox.state.cars(sandbox.customer_id)[0].id
    reply = await api.get("/cars/" + form.format(car))
    assert reply.status == 200, reply.text
    assert reply.json()["id"] == car


@pytest.mark.parametrize("value", ["2147483648", "-2147483649", "9" * 30, "1" + "0" * 5000])
async def test_ids_beyond_int32_match_no_route(api: Api, value: str) -> None:
    for method, path in (("GET", "/cars/{}"), ("DELETE", "/groups/{}"), ("PATCH", "/groups/{}")):
        reply = await api.call(method, path.format(value))
        assert (reply.status, reply.json()) == (
            404,
            NO_ROUTE,
        )


async def test_id_at_the_int32_edge_binds(api: Api) -> None:
    reply = await api.get(f"/cars/{2**31 - 1}")
    assert (reply.status, reply.text) == (404, m.CAR_NOT_FOUND)
    reply = await api.call("PATCH", f"/groups/{-(2**31)}", json_body=[])
    assert (reply.status, reply.text) == (404, m.GROUP_NOT_FOUND)


@pytest.mark.parametrize(
    "value",
    ["1_001", "１００１", "١٠٠١", "1001.0", "2147483648", "4294968297", "9" * 5000],
)
async def test_customer_id_that_does_not_bind_is_the_documented_404(
    api: Api, sandbox: Sandbox, value: str
) -> None:
    assert sandbox.customer_id == 1001
    reply = await _send(sandbox, "GET", "/cars", await _headers(api, **{"Customer-ID": value}))
    assert (reply.status, reply.text) == (404, m.MANAGER_NOT_FOUND)


@pytest.mark.parametrize("value", ["+1001", "001001", " 1001 "])
async def test_customer_id_with_sign_or_zeros_binds(api: Api, value: str) -> None:
    reply = await api.get("/cars", customer_id=value)
    assert reply.status == 200, reply.text


# -- one JSON policy, with or without orjson -------------------------------------------------------


@pytest.fixture(params=["orjson", "stdlib"])
def json_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs the test with the sandbox reading bodies through orjson, then through the stdlib."""
    if request.param == "orjson":
        if _body.parse_orjson is None:
            pytest.skip("orjson is not installed")
        parse: Callable[[bytes], Any] = _body.parse_orjson
    else:
        parse = _body.parse_std
    used: list[bytes] = []

    def spy(raw: bytes) -> Any:
        used.append(raw)
        return parse(raw)

    monkeypatch.setattr(_body, "_parse", spy)
    yield request.param
    assert used, "the sandbox did not read the body through the reader under test"


def _arrays(count: int) -> str:
    """``count`` arrays nested in each other: ``[[1]]`` for 2."""
    return "[" * count + "1" + "]" * count


_CAR_BODIES: list[tuple[str, bytes, int, str | None]] = [
    # (case, body of PUT /cars, status, text (None: the 201 JSON))
    ("plain", b'{"name": "A car"}', 201, None),
    ("invalid-utf8", b'{"name": "\xff"}', 400, INVALID_JSON),
    ("encoded-surrogate", b'{"name": "\xed\xa0\x80"}', 400, INVALID_JSON),
    ("bom", b'\xef\xbb\xbf{"name": "A car"}', 400, INVALID_JSON),
    ("utf16", '{"name": "A car"}'.encode("utf-16"), 400, INVALID_JSON),
    ("utf16-le", '{"name": "A car"}'.encode("utf-16-le"), 400, INVALID_JSON),
    ("utf32", '{"name": "A car"}'.encode("utf-32"), 400, INVALID_JSON),
    ("lone-surrogate", b'{"name": "\\ud800"}', 400, INVALID_JSON),
    ("low-surrogate", b'{"name": "x\\udc00"}', 400, INVALID_JSON),
    ("reversed-pair", b'{"name": "\\udc00\\ud800"}', 400, INVALID_JSON),
    ("surrogate-key", b'{"name": "A car", "\\ud800": 1}', 400, INVALID_JSON),
    ("surrogate-deep", b'{"name": "A car", "x": [{"y": "\\udfff"}]}', 400, INVALID_JSON),
    ("pair", b'{"name": "\\ud83d\\ude97"}', 201, None),
    ("depth-64", f'{{"name": "A car", "x": {_arrays(63)}}}'.encode(), 201, None),
    ("depth-65", f'{{"name": "A car", "x": {_arrays(64)}}}'.encode(), 400, INVALID_JSON),
    ("depth-2000", f'{{"name": "A car", "x": {_arrays(2000)}}}'.encode(), 400, INVALID_JSON),
    ("brackets-100000", b"[" * 100_000, 400, INVALID_JSON),
    ("nan", b'{"name": "A car", "x": NaN}', 400, INVALID_JSON),
    ("infinity", b'{"name": "A car", "x": -Infinity}', 400, INVALID_JSON),
    ("huge-float", b'{"name": "A car", "x": 1e400}', 400, INVALID_JSON),
    ("huge-int", b'{"name": "A car", "x": ' + b"9" * 400 + b"}", 400, INVALID_JSON),
    ("int-5000-digits", b'{"name": "A car", "x": ' + b"9" * 5000 + b"}", 400, INVALID_JSON),
    ("int-30-digits", b'{"name": "A car", "x": ' + b"9" * 30 + b"}", 201, None),
    ("tiny-float", b'{"name": "A car", "x": 1e-400}', 201, None),
    ("name-a-number", b'{"name": 1e5}', 400, m.CAR_NAME_MISSING),
    ("licence-30-digits", b'{"name": "A car", "licensePlate": ' + b"1" * 30 + b"}", 400,
     SandboxMessages.FIELD_TYPE.format(field="licensePlate")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [case[1:] for case in _CAR_BODIES],
    ids=[case[0] for case in _CAR_BODIES],
)
async def test_car_bodies_get_one_answer_with_either_reader(
    api: Api, sandbox: Sandbox, json_reader: str, body: bytes, status: int, text: str | None
) -> None:
    cid = sandbox.customer_id
    before = sandbox.state.snapshot(cid)
    reply = await api.call("PUT", "/cars", raw_body=body, content_type="application/json")
    if text is None:
        assert reply.status == status, reply.text
        assert list(reply.json()) == ["id"]
        assert sandbox.counters.created["car"] == 1
    else:
        assert (reply.status, reply.text) == (status, text)
        assert sandbox.state.snapshot(cid) == before
    listing = await api.get("/cars")
    assert listing.status == 200


_MEMBER_IDS: list[tuple[str, bytes, int, str]] = [
    # (case, carId as sent, status, text): the id field takes an Int32, as the service's int
    ("30-digits", b"9" * 30, 400, SandboxMessages.ID_TYPE.format(field="carId")),
    ("int32-max+1", b"2147483648", 400, SandboxMessages.ID_TYPE.format(field="carId")),
    ("int64-max", b"9223372036854775807", 400, SandboxMessages.ID_TYPE.format(field="carId")),
    ("uint64-max+1", b"18446744073709551616", 400, SandboxMessages.ID_TYPE.format(field="carId")),
    ("int32-min", b"-2147483648", 404, m.CAR_ID_NOT_FOUND),
    ("fraction", b"10001.0", 400, SandboxMessages.ID_TYPE.format(field="carId")),
    ("exponent", b"1e400", 400, INVALID_JSON),
]


@pytest.mark.parametrize(
    ("raw_id", "status", "text"),
    [case[1:] for case in _MEMBER_IDS],
    ids=[case[0] for case in _MEMBER_IDS],
)
async def test_member_ids_get_one_answer_with_either_reader(
    api: Api, sandbox: Sandbox, json_reader: str, raw_id: bytes, status: int, text: str
) -> None:
    cid = sandbox.customer_id
    group = sandbox.state.groups(cid)[-1].id
    before = sandbox.state.snapshot(cid)
    body = b'{"carId": ' + raw_id + b"}"
    reply = await api.call(
        "PUT", f"/groups/{group}/cars", raw_body=body, content_type="application/json"
    )
    assert (reply.status, reply.text) == (status, text)
    assert sandbox.state.snapshot(cid) == before


@pytest.mark.parametrize("route", ["PUT /groups", "PATCH /groups/{}", "PATCH /cars/{}"])
async def test_a_lone_surrogate_is_never_stored(
    api: Api, sandbox: Sandbox, json_reader: str, route: str
) -> None:
    cid = sandbox.customer_id
    method, template = route.split(" ")
    entity = sandbox.state.groups(cid)[0] if "groups" in route else sandbox.state.cars(cid)[0]
    if method == "PUT":
        body = b'{"name": "Group \\ud800"}'
    else:
        body = b'[{"op": "replace", "path": "/name", "value": "\\ud800"}]'
    before = sandbox.state.snapshot(cid)
    reply = await api.call(
        method, template.format(entity.id), raw_body=body, content_type="application/json"
    )
    assert (reply.status, reply.text) == (400, INVALID_JSON)
    assert sandbox.state.snapshot(cid) == before
    for listing in ("/cars", "/groups"):
        assert (await api.get(listing)).status == 200


def test_the_readers_agree_on_a_corpus() -> None:
    """Outside HTTP: the two readers accept the same documents and refuse the same ones."""
    if _body.parse_orjson is None:
        pytest.skip("orjson is not installed")
    corpus = [case[1] for case in _CAR_BODIES] + [
        b"-0", b"0", b"01", b"1.", b".5", b"+1", b"1e5", b"-1E-5", b"18446744073709551615",
        b"18446744073709551616", b"-9223372036854775808", b"-9223372036854775809",
        b'"\\u0000"', b'"\x01"', b'"\\/"', b"[1,]", b"{}", b"[]", b'{"a":1,"a":2}', b"\x0c1",
        b"1 ", b" \t\r\n[]", b"null", b"true", b"tru", b"", b"  ", b"1.7976931348623157e308",
        b"-1.7976931348623157e308", b"1e-400",
    ]  # fmt: skip

    def outcome(parse: Callable[[bytes], Any], raw: bytes) -> Any:
        saved = _body._parse
        _body._parse = parse
        try:
            return ("ok", json.dumps(_body.read_json(raw)))
        except _body.InvalidJSON:
            return ("invalid",)
        finally:
            _body._parse = saved

    for raw in corpus:
        assert outcome(_body.parse_orjson, raw) == outcome(_body.parse_std, raw), raw[:40]


# -- a client that goes away -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("PUT", "/cars", "application/json"),
        ("POST", "/oauth2/token", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_client_that_disconnects_mid_request_is_a_debug_line(
    api: Api,
    sandbox: Sandbox,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    content_type: str,
) -> None:
    headers = await _headers(api, **{"Content-Type": content_type})
    head = f"{method} /v3{path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
    head += "".join(
        f"{name}: {value}\r\n" for name, value in headers.items() if isinstance(value, str)
    )
    route = f"{method} {path}"
    caplog.set_level(logging.DEBUG, logger="flinkey_async.sandbox")
    _, writer = await asyncio.open_connection("127.0.0.1", sandbox.port)
    writer.write(head.encode() + b'\r\n{"name"')
    await writer.drain()
    await _until(lambda: sandbox.counters.requests[route] > 0)
    writer.close()
    await writer.wait_closed()
    await _until(lambda: sandbox.counters.responses[(route, 0)] > 0)
    records = [r for r in caplog.records if r.name == "flinkey_async.sandbox"]
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "disconnected" in records[0].getMessage()
    assert records[0].exc_info is None
    assert sandbox.counters.created["car"] == 0


async def _until(condition: Callable[[], bool]) -> None:
    """Wait (at most 5 s) until the sandbox, running in this loop, has done something."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - the sandbox offers no event to wait on
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v3/cars\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v3/cars HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n",
        b"GET /v3/" + b"9" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["nul-in-url", "cr-in-header", "url-too-long"],
)
async def test_a_request_that_is_not_http_is_a_400_and_a_debug_line(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, request_bytes: bytes
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    received, _ = await raw_exchange(sandbox, request_bytes)
    assert received.split(b" ", 2)[1] == b"400"
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert server
    assert all(r.levelno == logging.DEBUG and r.exc_info is None for r in server)
