"""No secret (API key, password, token) in any log record, repr or error message.

``tests/conftest.py`` collects every ``flinkey_async`` log record (at DEBUG) and the text of every
``FlinkeyError`` created during the whole suite. The scenario below adds the reprs and errors of
every failure path on top, then the collection is checked. It runs after all other tests.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from flinkey_async import FlinkeyClient, FlinkeyError, RetryPolicy, Token
from flinkey_async._auth import StaticToken

from .conftest import client_for
from .fake_secrets import API_KEY, PASSWORD, SECRETS, STATIC_TOKEN, USERNAME, WATCH
from .fakeapi import FakeAPI, Scripted, token_401


def _texts(obj: object) -> None:
    WATCH.add(repr(obj))
    WATCH.add(str(obj))


async def _fails(call: object) -> None:
    try:
        await call  # type: ignore[misc]
    except FlinkeyError as exc:
        _texts(exc)
        for note in getattr(exc, "__notes__", ()):
            WATCH.add(note)
        # Everything chained to it, as an error tracker would walk it.
        seen: set[int] = set()
        chained: list[BaseException] = [exc]
        while chained:
            current = chained.pop()
            for linked in (current.__cause__, current.__context__):
                if linked is not None and id(linked) not in seen:
                    seen.add(id(linked))
                    _texts(linked)
                    chained.append(linked)


async def _malformed_http_server() -> asyncio.Server:
    """Answers every request with a broken HTTP head (aiohttp raises ClientResponseError)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.run_last
async def test_no_secret_in_any_output() -> None:
    async with FakeAPI(token_ttl="2") as api:
        client = client_for(api, token_refresh_margin=0.5, retry=RetryPolicy(backoff_base=0.01))
        _texts(client)
        async with client:
            _texts(client)
            _texts(client._transport)
            _texts(client._transport.tokens)
            _texts(client.config)
            _texts(client.cars)
            _texts(client.stats)
            await client.cars.get(1)
            _texts(client._transport.tokens)
            # token replay, retries, unknown outcome, settlement, errors of every kind
            api.then("GET", "/cars/1", token_401())
            await client.cars.get(1)
            api.then("GET", "/cars/1", token_401(), token_401())
            await _fails(client.cars.get(1))
            api.then("GET", "/cars/1", Scripted(503, "busy", {"Retry-After": "0"}))
            await client.cars.get(1)
            api.then("GET", "/cars/1", Scripted(429, "later", {"Retry-After": "9999"}))
            await _fails(client.cars.get(1))
            await _fails(client.cars.get(404404))
            api.drop_after[("PUT", "/v3/cars")] = "abort"
            await _fails(client.cars.create("Polo"))
            api.drop_after[("PUT", "/v3/groups")] = "close"
            await client.groups.create("Pool", settle=True)
            await _fails(client.cars.create("  "))
            await asyncio.sleep(1.6)  # past the renewal point
            await client.cars.get(1)
        async with client_for(api, password="PW-s3cr3t-wrong") as wrong:
            await _fails(wrong.cars.get(1))
        async with client_for(api, api_key="KEY-s3cr3t-wrong") as wrong:
            await _fails(wrong.cars.get(1))
    async with FlinkeyClient(
        api_key=API_KEY,
        token=STATIC_TOKEN,
        customer_id=1,
        base_url="http://127.0.0.1:9/v3",
        retry=RetryPolicy.disabled(),
    ) as offline:
        _texts(offline)
        await _fails(offline.cars.get(1))
    server = await _malformed_http_server()
    port = server.sockets[0].getsockname()[1]
    try:
        async with FlinkeyClient(api_key=API_KEY, token=STATIC_TOKEN, customer_id=1,
                                 base_url=f"http://127.0.0.1:{port}/v3",
                                 retry=RetryPolicy.disabled()) as broken:  # fmt: skip
            texts_before = len(WATCH.texts)
            await _fails(broken.cars.get(1))
            await _fails(broken.cars.create("Polo"))
            assert len(WATCH.texts) > texts_before + 4  # the chained aiohttp errors were read
    finally:
        server.close()
        await server.wait_closed()
    _texts(StaticToken(STATIC_TOKEN))
    _texts(Token(access_token=STATIC_TOKEN, expires_in=1))
    _texts(FlinkeyClient(api_key=API_KEY, username=USERNAME, password=PASSWORD))

    assert len(WATCH.texts) > 50
    leaks = WATCH.leaks()
    assert not leaks, leaks[:3]


def test_the_watch_would_notice() -> None:
    """The check is not vacuous: a text with a secret is reported."""
    for secret in SECRETS:
        probe = type(WATCH)()
        probe.add(f"header was {secret}")
        assert probe.leaks()


def test_aiohttp_itself_would_leak_headers() -> None:
    """Why the client never puts aiohttp's request info into its messages."""
    url = URL("http://x/v3/cars")
    headers = CIMultiDictProxy(CIMultiDict({"flinkey-API-Key": API_KEY}))
    info = aiohttp.RequestInfo(url=url, method="GET", headers=headers, real_url=url)
    assert API_KEY in repr(info)
