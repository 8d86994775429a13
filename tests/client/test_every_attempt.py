"""Every HTTP request the client sends is one of its own attempts: counted, paced and bounded.

Against a server that resets connections, aiohttp alone would send a GET once more by itself; the
client must see that attempt, so the count the server received equals the client's statistics,
``RetryPolicy.attempts`` bounds what is sent, and the rate limit spaces every request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from flinkey_async import (
    ConnectError,
    FlinkeyClient,
    OutcomeUnknownError,
    RetryPolicy,
)

from .conftest import FAST_RETRY, Pacing
from .fake_secrets import API_KEY, PASSWORD, STATIC_TOKEN, USERNAME
from .resetting import ResettingServer, always, every_other, first_of_each_path


def _client(server: ResettingServer, **options: Any) -> FlinkeyClient:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "username": USERNAME,
        "password": PASSWORD,
        "customer_id": 42,
        "base_url": server.base_url,
        "retry": FAST_RETRY,
    }
    settings.update(options)
    return FlinkeyClient(**settings)


def _static(server: ResettingServer, **options: Any) -> FlinkeyClient:
    """A client with a static token: every request it sends is an API request."""
    return _client(server, token=STATIC_TOKEN, username=None, password=None, **options)


def _sent(client: FlinkeyClient) -> int:
    return client.stats.requests + client.stats.token_requests


@pytest.mark.parametrize("action", ["reset", "close"])
async def test_control_aiohttp_resends_a_get_by_itself(action: str) -> None:
    """Why every request is guarded: a plain ``session.get`` is sent twice, the caller sees one."""
    plan = lambda n, m, p: action if n == 0 else "answer"  # noqa: E731
    async with ResettingServer(plan) as server, aiohttp.ClientSession() as session:
        response = await session.get(f"{server.base_url}/cars/1")
        assert response.status == 200
        response.release()
    assert server.count("GET", "/cars/1") == 2


@pytest.mark.parametrize("action", ["reset", "close"])
@pytest.mark.parametrize("attempts", [1, 2, 4])
async def test_attempts_bound_what_is_sent(action: str, attempts: int) -> None:
    policy = RetryPolicy(attempts=attempts, backoff_base=0.001, backoff_max=0.01)
    async with ResettingServer(always(action)) as server, _static(server, retry=policy) as client:
        with pytest.raises(ConnectError):
            await client.cars.get(1)
        assert client.stats.requests == attempts
        assert client.stats.retries == attempts - 1
    assert server.count("GET", "/cars/1") == attempts


async def test_disabled_retries_send_one_request() -> None:
    async with ResettingServer(always("reset")) as server:
        async with _client(server, retry=RetryPolicy.disabled()) as client:
            with pytest.raises(ConnectError):
                await client.cars.get(1)  # its token request is reset, and not repeated
            assert _sent(client) == len(server.received) == 1
        async with _static(server, retry=RetryPolicy.disabled()) as client:
            with pytest.raises(ConnectError):
                await client.cars.get(1)
            assert client.stats.requests == 1
    assert server.count("GET", "/cars/1") == 1


@pytest.mark.parametrize("action", ["reset", "close"])
async def test_received_equals_counted_in_sequence(action: str) -> None:
    async with ResettingServer(every_other(action)) as server, _client(server) as client:
        for car_id in range(1, 11):
            assert (await client.cars.get(car_id)).id == car_id
        await client.cars.list()
        await client.cars.delete(3)
        assert _sent(client) == len(server.received)
        # Every call lost its first attempt (the token request too) and was retried once.
        assert client.stats.retries == 13
        assert client.stats.token_requests == 2
    assert len(server.received) == 26


async def test_received_equals_counted_under_concurrency() -> None:
    plan = first_of_each_path("reset")
    async with ResettingServer(plan) as server, _client(server, connector_limit=4) as client:
        cars = await asyncio.gather(*(client.cars.get(n) for n in range(1, 41)))
        assert [car.id for car in cars] == list(range(1, 41))
        assert _sent(client) == len(server.received)
        assert client.stats.retries == 41  # each of 40 gets and the token request, once
    assert len(server.received) == 82


async def test_rate_limit_spaces_every_request(pacing: Pacing) -> None:
    """Every request the server receives had its own slot of the limiter, 1/rate apart."""
    reserved_at_arrival: list[int] = []
    reset_first = every_other("reset")

    def plan(number: int, method: str, path: str) -> str:
        reserved_at_arrival.append(len(pacing.slots))
        return reset_first(number, method, path)

    rate = 20.0
    async with ResettingServer(plan) as server, _client(server, rate_limit=rate) as client:
        for car_id in (1, 2, 3):
            await client.cars.get(car_id)
        assert _sent(client) == len(server.received) == len(pacing.slots) == 8
    # A request sent behind the client's back (aiohttp's resend after a reset) arrives without a
    # slot of its own.
    assert all(count >= number for number, count in enumerate(reserved_at_arrival, 1))
    assert min(pacing.gaps()) >= 1 / rate - 1e-6


@pytest.mark.parametrize("action", ["reset", "close"])
@pytest.mark.parametrize("path", ["/cars", "/groups"])
async def test_a_create_is_never_replayed(action: str, path: str) -> None:
    plan = lambda n, m, p: action if m == "PUT" else "answer"  # noqa: E731
    async with ResettingServer(plan) as server, _client(server) as client:
        await client.cars.get(1)  # the create goes out on a kept-alive connection
        create = client.cars.create if path == "/cars" else client.groups.create
        with pytest.raises(OutcomeUnknownError):
            await create("Pool")
        assert client.stats.outcome_unknown == 1
        assert client.stats.retries == 0
        assert _sent(client) == len(server.received)
    assert server.count("PUT", path) == 1
