"""Fixtures of the client tests: a mocked service (aiointercept) and a loopback fake (FakeAPI)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiointercept import aiointercept

from flinkey_async import FlinkeyClient, RateLimiter, RetryPolicy

from .fake_secrets import API_KEY, PASSWORD, TOKEN_PREFIX, USERNAME
from .fakeapi import FakeAPI

CUSTOMER_ID = 42

FAST_RETRY = RetryPolicy(backoff_base=0.01, backoff_max=0.05)
"""Real retries, short waits: the suite stays fast."""


def token_answer(number: int = 1, expires_in: Any = "3600") -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "access_token": f"{TOKEN_PREFIX}{number}",
    }


class Mocked:
    """An aiointercept mock with the token endpoint registered, and a client pointed at it."""

    def __init__(self, mock: aiointercept) -> None:
        self.mock = mock
        self.base = f"{mock.server_url}/v3"
        self.token = mock.post(f"{self.base}/oauth2/token", payload=token_answer(), repeat=True)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def client(self, **options: Any) -> FlinkeyClient:
        settings: dict[str, Any] = {
            "api_key": API_KEY,
            "username": USERNAME,
            "password": PASSWORD,
            "customer_id": CUSTOMER_ID,
            "base_url": self.base,
            "retry": FAST_RETRY,
        }
        settings.update(options)
        return FlinkeyClient(**settings)

    def api_calls(self) -> list[tuple[str, str]]:
        """(method, path) of every request except the token's, in order."""
        return [
            (method, url.path)
            for (method, url), _ in self.mock.ordered_requests
            if not url.path.endswith("/oauth2/token")
        ]


@pytest.fixture
async def mocked() -> AsyncIterator[Mocked]:
    async with aiointercept() as mock:
        yield Mocked(mock)


@pytest.fixture
async def api() -> AsyncIterator[FakeAPI]:
    async with FakeAPI() as fake:
        yield fake


async def wait_until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll ``predicate`` (bounded) until it holds."""
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


def client_for(fake: FakeAPI, **options: Any) -> FlinkeyClient:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "username": USERNAME,
        "password": PASSWORD,
        "customer_id": CUSTOMER_ID,
        "base_url": fake.base_url,
        "retry": FAST_RETRY,
    }
    settings.update(options)
    return FlinkeyClient(**settings)


class Pacing:
    """The slots a client's rate limiter hands out, read from the limiter, not from a clock.

    Each slot is recorded when it is reserved: the limiter's own schedule, so the spacing check
    does not depend on how late a loaded machine wakes the sleepers.
    """

    def __init__(self) -> None:
        self.slots: list[float] = []

    def gaps(self) -> list[float]:
        return [b - a for a, b in itertools.pairwise(sorted(self.slots))]


@pytest.fixture
def pacing(monkeypatch: pytest.MonkeyPatch) -> Pacing:
    recorded = Pacing()
    acquire = RateLimiter.acquire

    async def recording(self: RateLimiter) -> None:
        # acquire() reserves max(now, next) before its first await; nothing runs in between.
        recorded.slots.append(max(self._next, time.monotonic()))
        await acquire(self)

    monkeypatch.setattr(RateLimiter, "acquire", recording)
    return recorded
