"""Fixtures of the bulk tests: a small seeded sandbox and a client pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from flinkey_async import FlinkeyClient, RetryPolicy
from flinkey_async.sandbox import Sandbox

FAST_RETRY = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, retry_after_cap=5)
"""Retries as in production, waits shortened so that fault tests stay quick."""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(cars=60, seed=11, customers=2) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[FlinkeyClient]:
    async with FlinkeyClient(**sandbox.client_kwargs(), retry=FAST_RETRY) as c:
        yield c


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``condition`` on the running loop until it holds (fail after ``within`` seconds)."""
    async with asyncio.timeout(within):
        for _ in iter(int, 1):  # forever, until the timeout
            if condition():
                return
            await asyncio.sleep(0.002)
