"""Fixtures of the sandbox's own tests: a small fresh sandbox per test and raw HTTP access.

These tests talk to the sandbox with plain aiohttp requests (and, for connection resets, with raw
sockets), never through the library's client: they check the sandbox against the pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from flinkey_async.sandbox import Sandbox

from .rawhttp import Api


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(cars=8, seed=11) as sb:
        yield sb


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        # aiohttp silently sends an idempotent request (PUT, DELETE) a second time when the
        # connection breaks; the sandbox's own tests must see every break as it happens.
        http._retry_connection = False
        yield http


@pytest.fixture
async def api(sandbox: Sandbox, session: aiohttp.ClientSession) -> Api:
    return Api(sandbox, session)
