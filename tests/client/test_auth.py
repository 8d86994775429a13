"""The token: request shape, caching, renewal before expiry, one request for many callers,
replay."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qs

import pytest

from flinkey_async import (
    AuthenticationError,
    InvalidAPIKeyError,
    InvalidCredentialsError,
    InvalidTokenError,
    RetryPolicy,
    ServerError,
    Token,
    ValidationError,
)
from flinkey_async._auth import RENEWAL_RETRY_DELAY, StaticToken, TokenManager

from .conftest import Mocked, client_for, token_answer
from .fake_secrets import API_KEY, PASSWORD, STATIC_TOKEN, TOKEN_PREFIX, USERNAME
from .fakeapi import FakeAPI, token_401


async def test_token_request_shape(mocked: Mocked) -> None:
    mocked.mock.get(mocked.url("/cars/7"), payload={"id": 7, "name": "Golf"})
    async with mocked.client() as client:
        await client.cars.get(7)
    request = next(req for (method, _), req in mocked.mock.ordered_requests if method == "POST")
    assert request.path == "/v3/oauth2/token"
    assert request.headers["flinkey-API-Key"] == API_KEY
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert "Customer-ID" not in request.headers
    form = parse_qs((request.captured_body or b"").decode())
    assert form == {"grant_type": ["password"], "username": [USERNAME], "password": [PASSWORD]}


@pytest.mark.parametrize("expires_in", ["3600", 3600, 3600.0, "3600.5"])
async def test_expires_in_as_string_or_number(mocked: Mocked, expires_in: object) -> None:
    mocked.mock.clear()
    mocked.mock.post(mocked.url("/oauth2/token"), payload=token_answer(1, expires_in), repeat=True)
    mocked.mock.get(mocked.url("/cars"), payload=[], repeat=True)
    async with mocked.client() as client:
        await client.cars.list()
        await client.cars.list()
        assert client.stats.token_requests == 1
    assert sum(1 for (method, _), _r in mocked.mock.ordered_requests if method == "POST") == 1


async def _raises(cls: type[BaseException], call: Awaitable[object]) -> Any:
    with pytest.raises(cls) as caught:
        await call
    return caught


async def test_wrong_credentials(api: FakeAPI) -> None:
    async with client_for(api, password="PW-s3cr3t-wrong") as client:
        caught = await _raises(InvalidCredentialsError, client.cars.get(1))
    assert caught.value.status == 400  # OAuth2 invalid_grant
    assert "password is incorrect" in caught.value.message
    assert caught.value.path == "/v3/oauth2/token"


async def test_invalid_api_key_on_token_request(api: FakeAPI) -> None:
    async with client_for(api, api_key="KEY-s3cr3t-wrong") as client:
        await _raises(InvalidAPIKeyError, client.cars.get(1))
    assert api.count("POST", "/oauth2/token") == 1  # not retried: a wrong key stays wrong


async def test_token_endpoint_401_is_an_authentication_error(mocked: Mocked) -> None:
    mocked.mock.clear()
    mocked.mock.post(
        mocked.url("/oauth2/token"),
        status=401,
        payload={"statusCode": 401, "message": "Invalid username or password."},
    )
    async with mocked.client() as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.cars.list()
    assert type(caught.value) is InvalidCredentialsError  # not "token invalid": no replay loop


async def test_token_body_without_token_is_rejected(mocked: Mocked) -> None:
    mocked.mock.clear()
    mocked.mock.post(
        mocked.url("/oauth2/token"),
        payload={"token_type": "Bearer", "expires_in": "3600", "access_token": ""},
    )
    async with mocked.client() as client:
        with pytest.raises(AuthenticationError):
            await client.cars.list()


async def test_thousand_calls_share_one_token_request_across_expiry() -> None:
    """1,000 calls without a valid token -> one token request; again after the token expires."""
    now = [0.0]  # one clock for the client and the server: how long the calls take is moot
    async with FakeAPI(token_ttl="4", clock=lambda: now[0]) as api:
        client = client_for(api, token_refresh_margin=1.0)
        tokens = client._transport.tokens
        assert isinstance(tokens, TokenManager)
        tokens._clock = lambda: now[0]
        async with client:
            first = await asyncio.gather(*(client.cars.get(1) for _ in range(1000)))
            assert len(first) == 1000
            assert api.token_requests == 1
            # Past the point where the token is due for renewal (1 s before it expires).
            assert tokens.has_valid_token
            now[0] += (tokens.expires_in or 0.0) - 1.0 + 0.05
            assert not tokens.has_valid_token
            second = await asyncio.gather(*(client.cars.get(1) for _ in range(1000)))
            assert len(second) == 1000
            assert api.token_requests == 2
            assert client.stats.token_requests == 2
            assert client.stats.token_replays == 0
            assert api.rejected == 0  # renewed before expiry, never after
            assert api.count("GET", "/cars/1") == 2000


async def test_one_gather_spanning_the_renewal_point_renews_once() -> None:
    """1,000 calls in one gather, started over 0.2 s across the renewal point: one renewal."""
    now = [0.0]  # one clock for the client and the server, moved by the test alone
    async with FakeAPI(token_ttl="2", clock=lambda: now[0]) as api:
        client = client_for(api, token_refresh_margin=1.0)
        tokens = client._transport.tokens
        assert isinstance(tokens, TokenManager)
        tokens._clock = lambda: now[0]
        async with client:
            await client.cars.get(1)
            # The renewed token lasts: only the renewal point of the first one is crossed.
            api.token_ttl = "3600"
            now[0] += (tokens.expires_in or 0.0) - 1.0 - 0.1  # 0.1 s before renewal
            assert tokens.has_valid_token
            start = now[0]

            async def call(index: int) -> None:
                now[0] = max(now[0], start + index * 0.0002)
                await client.cars.get(1)

            await asyncio.gather(*(call(i) for i in range(1000)))
            assert not tokens.has_valid_token or api.token_requests == 2
    assert api.token_requests == 2
    assert api.rejected == 0
    assert api.count("GET", "/cars/1") == 1001


async def test_renewal_happens_before_expiry_not_after() -> None:
    now = [0.0]  # one clock for the client and the server
    async with FakeAPI(token_ttl=1.6, clock=lambda: now[0]) as api:
        client = client_for(api, token_refresh_margin=0.8)
        tokens = client._transport.tokens
        assert isinstance(tokens, TokenManager)
        tokens._clock = lambda: now[0]
        async with client:
            for _ in range(10):
                await client.cars.get(1)
                now[0] += 0.25
    assert api.rejected == 0
    assert api.token_requests >= 2


async def test_concurrent_callers_wait_for_a_slow_token_request() -> None:
    async with FakeAPI(token_delay=0.3) as api, client_for(api) as client:
        await asyncio.gather(*(client.cars.get(1) for _ in range(50)))
    assert api.token_requests == 1


async def test_401_then_success_replays_once(api: FakeAPI) -> None:
    async with client_for(api) as client:
        await client.cars.get(1)
        api.then("GET", "/cars/1", token_401())
        car = await client.cars.get(1)
        assert car.id == 1
        assert client.stats.token_replays == 1
        assert client.stats.token_requests == 2
    assert api.count("GET", "/cars/1") == 3
    # The replay carried the new token.
    assert api.seen_headers[-1]["Authorization"] == f"Bearer {TOKEN_PREFIX}2"


async def test_concurrent_401s_renew_the_token_once(api: FakeAPI) -> None:
    """Many calls rejected with the same stale token: one renewal, not one per call."""
    async with client_for(api) as client:
        await client.cars.get(1)
        api.then("GET", "/cars/1", *[token_401()] * 20)
        cars = await asyncio.gather(*(client.cars.get(1) for _ in range(20)))
        assert len(cars) == 20
        assert client.stats.token_replays == 20
    assert api.token_requests == 2


async def test_401_twice_surfaces(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", token_401(), token_401())
    async with client_for(api) as client:
        with pytest.raises(InvalidTokenError) as caught:
            await client.cars.get(1)
        assert isinstance(caught.value, AuthenticationError)
        assert client.stats.token_replays == 1
    assert api.count("GET", "/cars/1") == 2
    assert api.token_requests == 2


async def test_401_on_a_create_is_replayed_once(api: FakeAPI) -> None:
    """A 401 means the request was rejected before it was processed: replaying is safe."""
    api.then("PUT", "/cars", token_401())
    before = len(api.cars)
    async with client_for(api) as client:
        new_id = await client.cars.create("Polo")
    assert len(api.cars) == before + 1
    assert api.cars[new_id]["name"] == "Polo"
    assert api.count("PUT", "/cars") == 2


async def test_server_side_expiry_is_repaired_by_the_replay() -> None:
    """A token the server forgot (revoked) is renewed on the 401 and the call succeeds."""
    async with FakeAPI() as api, client_for(api) as client:
        await client.cars.get(1)
        api.tokens.clear()
        assert (await client.cars.get(1)).id == 1
    assert api.token_requests == 2


async def test_static_token_is_used_and_not_renewed(mocked: Mocked) -> None:
    mocked.mock.get(mocked.url("/cars/7"), payload={"id": 7, "name": "Golf"})
    mocked.mock.get(
        mocked.url("/cars/8"),
        status=401,
        payload={"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."},
    )
    async with mocked.client(username=None, password=None, token=STATIC_TOKEN) as client:
        await client.cars.get(7)
        with pytest.raises(InvalidTokenError):
            await client.cars.get(8)
        assert client.stats.token_requests == 0
    assert mocked.token.call_count == 0
    assert mocked.mock.last_request is not None
    assert mocked.mock.last_request.headers["Authorization"] == f"Bearer {STATIC_TOKEN}"


def test_credentials_are_required() -> None:
    from flinkey_async import FlinkeyClient

    with pytest.raises(ValidationError, match="username"):
        FlinkeyClient(api_key=API_KEY, password=PASSWORD)
    with pytest.raises(ValidationError, match="password"):
        FlinkeyClient(api_key=API_KEY, username=USERNAME)
    with pytest.raises(ValidationError, match="token"):
        FlinkeyClient(api_key=API_KEY, username=USERNAME, password=PASSWORD, token=STATIC_TOKEN)
    with pytest.raises(ValidationError, match="token"):
        FlinkeyClient(api_key=API_KEY, token="  ")
    with pytest.raises(ValidationError, match="api_key"):
        FlinkeyClient(api_key="", token=STATIC_TOKEN)


# -- the token manager on its own --------------------------------------------------------------


async def test_invalidate_drops_only_the_token_that_failed() -> None:
    issued = iter(["TOK-s3cr3t-a", "TOK-s3cr3t-b"])

    async def fetch() -> Token:
        return Token(access_token=next(issued), expires_in=3600)

    manager = TokenManager(fetch)
    first = await manager.get()
    assert manager.invalidate(first)
    second = await manager.get()
    assert second != first
    # A late 401 for the first token must not throw the second away.
    assert not manager.invalidate(first)
    assert await manager.get() == second


async def test_margin_is_capped_at_half_the_lifetime() -> None:
    now = [100.0]
    calls = 0

    async def fetch() -> Token:
        nonlocal calls
        calls += 1
        return Token(access_token=f"TOK-s3cr3t-{calls}", expires_in=10)

    manager = TokenManager(fetch, refresh_margin=60, clock=lambda: now[0])
    await manager.get()
    now[0] += 4.9  # renewal at 5 s (half of 10), not immediately
    await manager.get()
    assert calls == 1
    now[0] += 0.2
    await manager.get()
    assert calls == 2


async def test_a_failed_token_request_is_not_cached() -> None:
    attempts = 0

    async def fetch() -> Token:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise InvalidAPIKeyError(401, "nope", method="POST", path="/v3/oauth2/token")
        return Token(access_token="TOK-s3cr3t-ok", expires_in=3600)

    manager = TokenManager(fetch)
    results = await asyncio.gather(*(manager.get() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, InvalidAPIKeyError) for r in results)
    assert attempts == 1
    assert await manager.get() == "TOK-s3cr3t-ok"


async def test_a_failing_token_request_is_shared_by_every_waiting_caller() -> None:
    """100 callers and a refused password: one token request, and all 100 get its error."""
    async with FakeAPI(token_delay=0.05) as api:
        client = client_for(api, password="wrong-" + PASSWORD, retry=RetryPolicy.disabled())
        async with client:
            results = await asyncio.gather(
                *(client.cars.get(1) for _ in range(100)), return_exceptions=True
            )
    assert all(isinstance(r, InvalidCredentialsError) for r in results), results[:3]
    assert api.token_requests == 1
    assert api.count("GET", "/cars/1") == 0


async def test_a_failed_renewal_keeps_the_still_valid_token() -> None:
    now = [0.0]
    fetches: list[str] = []

    async def fetch() -> Token:
        fetches.append("try")
        if len(fetches) == 1:
            return Token(access_token="TOK-s3cr3t-1", expires_in=100)
        if len(fetches) == 2:
            raise ServerError(503, "down", method="POST", path="/v3/oauth2/token")
        return Token(access_token="TOK-s3cr3t-2", expires_in=100)

    manager = TokenManager(fetch, refresh_margin=20, clock=lambda: now[0])
    assert await manager.get() == "TOK-s3cr3t-1"
    now[0] = 85.0  # due for renewal (margin 20 s), still valid for 15 s
    assert await manager.get() == "TOK-s3cr3t-1"  # the renewal failed; the old token serves
    assert len(fetches) == 2
    now[0] = 86.0
    assert await manager.get() == "TOK-s3cr3t-1"  # no new attempt within the retry delay
    assert len(fetches) == 2
    now[0] = 85.0 + RENEWAL_RETRY_DELAY
    assert await manager.get() == "TOK-s3cr3t-2"
    assert len(fetches) == 3


async def test_a_failed_renewal_of_an_expired_token_raises() -> None:
    now = [0.0]
    calls = 0

    async def fetch() -> Token:
        nonlocal calls
        calls += 1
        if calls == 1:
            return Token(access_token="TOK-s3cr3t-1", expires_in=10)
        raise ServerError(503, "down", method="POST", path="/v3/oauth2/token")

    manager = TokenManager(fetch, clock=lambda: now[0])
    await manager.get()
    now[0] = 10.0
    with pytest.raises(ServerError):
        await manager.get()


async def test_cancelling_the_caller_that_fetches_lets_the_others_fetch() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def fetch() -> Token:
        started.set()
        await release.wait()
        return Token(access_token="TOK-s3cr3t-x", expires_in=3600)

    manager = TokenManager(fetch)
    first = asyncio.create_task(manager.get())
    await started.wait()
    second = asyncio.create_task(manager.get())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == "TOK-s3cr3t-x"


def test_reprs_hide_the_token() -> None:
    assert "TOK" not in repr(StaticToken(STATIC_TOKEN))
    token = Token(access_token=STATIC_TOKEN, expires_in=3600)
    assert STATIC_TOKEN not in repr(token)
    assert STATIC_TOKEN not in str(token)
