"""Closing the client: every task it started ends with it, and calls in flight say why they fail."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import aiohttp
import pytest

from flinkey_async import ClientClosedError, FlinkeyError
from flinkey_async._auth import TokenManager

from .conftest import client_for, wait_until
from .fakeapi import FakeAPI, Scripted


def _asyncio_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "asyncio"]


async def test_close_ends_a_renewal_nobody_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    """Every waiter of a slow token request is cancelled, then the client is closed: 20 times."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    caplog.set_level(logging.ERROR, logger="asyncio")
    try:
        async with FakeAPI(token_delay=0.2) as api:
            for _ in range(20):
                client = client_for(api)
                tokens = client._transport.tokens
                assert isinstance(tokens, TokenManager)
                waiters = [asyncio.create_task(client.cars.get(1)) for _ in range(3)]
                requested = api.token_requests
                await wait_until(lambda: api.token_requests > requested)  # noqa: B023
                renewal = tokens._renewal
                assert renewal is not None
                for waiter in waiters:
                    waiter.cancel()
                await asyncio.gather(*waiters, return_exceptions=True)
                await client.close()
                assert renewal.done()  # close() ended it, it did not linger on a closed session
                del renewal, waiters, client, tokens
                gc.collect()
                await asyncio.sleep(0)
            await asyncio.sleep(0.3)  # past the token delay: nothing may wake up and fail late
            gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
    assert _asyncio_errors(caplog) == []


async def test_a_call_waiting_for_the_token_gets_a_closed_error() -> None:
    async with FakeAPI(token_delay=5) as api:
        client = client_for(api)
        call = asyncio.create_task(client.cars.get(1))
        await wait_until(lambda: api.token_requests == 1)
        await client.close()
        with pytest.raises(ClientClosedError) as caught:
            await call
    assert "closed" in str(caught.value)
    assert isinstance(caught.value, FlinkeyError)


async def test_a_call_in_flight_gets_a_closed_error(api: FakeAPI) -> None:
    api.hold[("GET", "/v3/cars/1")] = asyncio.Event()
    client = client_for(api)
    await client.cars.list()  # token and connection first
    call = asyncio.create_task(client.cars.get(1))
    await wait_until(lambda: api.count("GET", "/cars/1") == 1)
    await client.close()
    with pytest.raises(ClientClosedError) as caught:
        await call
    assert caught.value.__cause__ is not None  # what the closed connection raised, kept
    assert client.stats.retries == 0


async def test_a_call_in_a_retry_wait_gets_a_closed_error(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", Scripted(503, "busy", {"Retry-After": "50"}))
    client = client_for(api)
    call = asyncio.create_task(client.cars.get(1))
    await wait_until(lambda: client.stats.retries == 1)
    await client.close()
    await wait_until(call.done)  # woken by close(), not after the 50 s wait
    with pytest.raises(ClientClosedError):
        await call
    assert api.count("GET", "/cars/1") == 1


async def test_calls_after_close_get_a_closed_error(api: FakeAPI) -> None:
    async with client_for(api) as client:
        await client.cars.get(1)
    with pytest.raises(ClientClosedError, match="closed"):
        await client.cars.get(1)
    assert isinstance(ClientClosedError("x"), RuntimeError)  # what was raised before, kept


async def test_a_borrowed_session_outlives_the_client(api: FakeAPI) -> None:
    async with aiohttp.ClientSession() as session:
        client = client_for(api, session=session)
        await client.cars.get(1)
        await client.close()
        with pytest.raises(ClientClosedError):
            await client.cars.get(1)
        assert not session.closed


async def test_a_caller_that_cancels_during_close_stays_cancelled(api: FakeAPI) -> None:
    """close() takes back only its own cancellation: the caller's stands."""
    api.then("GET", "/cars/1", Scripted(503, "busy", {"Retry-After": "50"}))
    client = client_for(api)
    call = asyncio.create_task(client.cars.get(1))
    await wait_until(lambda: client.stats.retries == 1)
    call.cancel()
    await client.close()
    with pytest.raises(asyncio.CancelledError):
        await call
