"""Each fault kind of the sandbox, met by the client.

Latency, 500 and 503, 429 with ``Retry-After``, a connection reset before and after processing,
a truncated body, an unexpected handler failure (in ``test_errors``), the token endpoint's outage,
revoked tokens and tokens expiring during a run. What the client must do is in docs/errors.md:
reads and idempotent changes are retried, a create is never sent twice (it raises
``OutcomeUnknownError`` or settles the outcome by the group's name or the car's VIN), and the
counters of the sandbox prove how many requests reached it and how many entities exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

import flinkey_async._transport as transport_module
from flinkey_async import (
    Car,
    ConnectError,
    FlinkeyClient,
    Group,
    InvalidTokenError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from flinkey_async import _messages as m
from flinkey_async.sandbox import REFERENCE_TIME, Sandbox

from .conftest import FAST_RETRY, Stack, World

VIN = "WVWZZZ1JZXW000042"


async def _raises(cls: type[BaseException], call: Awaitable[Any]) -> Any:
    with pytest.raises(cls) as caught:
        await call
    return caught.value


def _group_count(sb: Sandbox, cid: int, name: str) -> int:
    return sum(1 for group in sb.state.groups(cid) if group.name == name)


class _Sleeps:
    """Stands in for the transport's ``asyncio``: records what it sleeps (and really sleeps)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.entered = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.delays.append(delay)
        self.entered.set()
        return await asyncio.sleep(delay, result)


# -- latency -----------------------------------------------------------------------------------


async def test_latency(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    sb.faults.set(latency=0.02, latency_jitter=0.03)
    assert await client.cars.list() == sb.state.cars(world.cid)
    assert await client.products.get(world.product) == sb.state.product(world.cid, world.product)
    group_id = await client.groups.create("Slow but sure")
    assert sb.state.group(world.cid, group_id) == Group(group_id, "Slow but sure")
    for route in ("GET /cars", "GET /products/{productId}", "PUT /groups"):
        assert sb.counters.faults[(route, "latency")] == sb.counters.requests[route] == 1
    assert client.stats.retries == 0


async def test_latency_beyond_the_timeout(sb: Sandbox, world: World, stack: Stack) -> None:
    sb.faults.set(latency=0.4, routes={"GET /cars"})
    impatient = await stack.client(
        timeout=aiohttp.ClientTimeout(total=0.05),
        retry=RetryPolicy(attempts=2, backoff_base=0.01, backoff_max=0.01),
    )
    error = await _raises(RequestTimeoutError, impatient.cars.list())
    assert isinstance(error, TransportError)
    assert isinstance(error, TimeoutError)
    assert sb.counters.requests["GET /cars"] == 2  # retried once, then given up
    sb.faults.clear()
    assert await impatient.groups.list() == sb.state.groups(world.cid)


async def test_latency_beyond_the_timeout_on_a_create(
    sb: Sandbox, world: World, stack: Stack
) -> None:
    """A create that timed out after it was sent is not repeated: its outcome is unknown."""
    impatient = await stack.client(timeout=aiohttp.ClientTimeout(total=0.05))
    await impatient.groups.list()
    sb.faults.set(latency=0.3, routes={"PUT /groups", "PUT /cars"})
    await _raises(OutcomeUnknownError, impatient.groups.create("Too slow"))
    await _raises(OutcomeUnknownError, impatient.cars.create("Too slow", vin=VIN))
    assert sb.counters.requests["PUT /groups"] == sb.counters.requests["PUT /cars"] == 1
    await asyncio.sleep(0.4)  # let the sandbox finish whatever it was doing
    assert _group_count(sb, world.cid, "Too slow") <= 1
    assert len([c for c in sb.state.cars(world.cid) if c.vin == VIN]) <= 1
    assert impatient.stats.outcome_unknown == 2


async def test_cancelling_a_call_in_a_retry_wait(
    sb: Sandbox, client: FlinkeyClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancellation and ``asyncio.timeout`` stop a call at once, also while it waits to retry."""
    sleeps = _Sleeps()
    monkeypatch.setattr(transport_module, "asyncio", sleeps)
    sb.faults.rate_limit_next("GET /products", retry_after=30)
    task = asyncio.create_task(client.products.list())
    await sleeps.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sleeps.delays == [30.0]
    assert sb.counters.requests["GET /products"] == 1

    sb.faults.rate_limit_next("GET /products", retry_after=30)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.products.list()
    assert sleeps.delays == [30.0, 30.0]
    assert sb.counters.requests["GET /products"] == 2
    assert await client.products.list() == sb.state.products(world.cid)


# -- 500 and 503 -------------------------------------------------------------------------------


async def test_503_on_a_read_is_retried(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    sb.faults.fail_next("GET /cars", status=503)
    sb.faults.fail_next("GET /groups/{groupId}/users", status=503, count=2)
    assert await client.cars.list() == sb.state.cars(world.cid)
    assert await client.groups.users(world.group) == sb.state.members(
        world.cid, world.group, "users"
    )
    assert sb.counters.responses[("GET /cars", 503)] == 1
    assert sb.counters.requests["GET /cars"] == 2
    assert sb.counters.requests["GET /groups/{groupId}/users"] == 3
    assert client.stats.retries == 3


async def test_500_on_a_read_is_not_retried(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    # 500 is not in the retried statuses (connection errors, timeouts, 408, 429, 502-504):
    # an internal error is a bug to report, not congestion to wait out.
    sb.faults.fail_next("GET /cars", status=500)
    error = await _raises(ServerError, client.cars.list())
    assert error.message == m.INTERNAL_SERVER_ERROR
    assert sb.counters.requests["GET /cars"] == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_persistent_server_error(
    sb: Sandbox, client: FlinkeyClient, world: World, status: int
) -> None:
    sb.faults.fail_next("GET /cars/{carId}", status=status, count=10)
    error = await _raises(ServerError, client.cars.get(world.car))
    assert error.status == status
    if status == 500:
        assert error.message == m.INTERNAL_SERVER_ERROR
    assert 1 <= sb.counters.requests["GET /cars/{carId}"] <= FAST_RETRY.attempts
    if status == 503:
        assert sb.counters.requests["GET /cars/{carId}"] == FAST_RETRY.attempts
    sb.faults.clear()
    assert await client.cars.get(world.car) == sb.state.car(world.cid, world.car)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_on_a_create_is_not_retried(
    sb: Sandbox, client: FlinkeyClient, world: World, status: int
) -> None:
    sb.faults.fail_next("PUT /groups", status=status)
    sb.faults.fail_next("PUT /cars", status=status)
    error = await _raises(ServerError, client.groups.create("Not now"))
    assert error.status == status
    error = await _raises(ServerError, client.cars.create("Not now", vin=VIN))
    assert error.status == status
    assert sb.counters.requests["PUT /groups"] == sb.counters.requests["PUT /cars"] == 1
    assert sb.counters.created == {}
    assert _group_count(sb, world.cid, "Not now") == 0


async def test_503_on_changes_is_retried(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    for route in (
        "PATCH /cars/{carId}",
        "DELETE /cars/{carId}",
        "PUT /groups/{groupId}/cars",
        "DELETE /groups/{groupId}/users/{userId}",
        "PATCH /groups/{groupId}",
        "DELETE /groups/{groupId}",
    ):
        sb.faults.fail_next(route, status=503)
    outside = next(
        car.id
        for car in sb.state.cars(world.cid)
        if car.id != world.car and car.id not in sb.state.member_ids(world.cid, world.group, "cars")
    )
    await client.cars.update(world.bare_car, brand="Opel")
    await client.cars.delete(world.car)
    await client.groups.add_car(world.group, outside)
    await client.groups.remove_user(world.group, world.group_user)
    await client.groups.rename(world.group, "Renamed under load")
    await client.groups.delete(world.empty_group)
    bare = sb.state.car(world.cid, world.bare_car)
    assert bare is not None
    assert bare.brand == "Opel"
    assert sb.state.car(world.cid, world.car) is None
    assert outside in sb.state.member_ids(world.cid, world.group, "cars")
    assert world.group_user not in sb.state.member_ids(world.cid, world.group, "users")
    assert sb.state.group(world.cid, world.group) == Group(world.group, "Renamed under load")
    assert sb.state.group(world.cid, world.empty_group) is None
    assert sb.faults.pending == 0
    assert client.stats.retries == 6


# -- 429 ---------------------------------------------------------------------------------------


async def test_429_waits_for_retry_after(
    sb: Sandbox, client: FlinkeyClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = _Sleeps()
    monkeypatch.setattr(transport_module, "asyncio", sleeps)
    sb.faults.rate_limit_next("GET /products", retry_after=1)
    assert await client.products.list() == sb.state.products(world.cid)
    assert sleeps.delays == [1.0]  # the service's hint, not the backoff
    assert sb.counters.responses[("GET /products", 429)] == 1
    assert sb.counters.requests["GET /products"] == 2
    assert client.stats.retries == 1


async def test_429_beyond_the_cap_surfaces(sb: Sandbox, world: World, stack: Stack) -> None:
    capped = await stack.client(retry=RetryPolicy(retry_after_cap=5, backoff_base=0.01))
    sb.faults.rate_limit_next("GET /products", retry_after=30)
    error = await _raises(RateLimitError, capped.products.list())
    assert error.status == 429
    assert error.retry_after == 30.0
    assert "30 seconds" in error.message
    assert sb.counters.requests["GET /products"] == 1


async def test_429_on_a_create_is_not_retried(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    sb.faults.rate_limit_next("PUT /groups", retry_after=0)
    error = await _raises(RateLimitError, client.groups.create("Rate limited"))
    assert error.retry_after == 0.0
    assert sb.counters.requests["PUT /groups"] == 1
    assert sb.counters.created == {}
    assert _group_count(sb, world.cid, "Rate limited") == 0


async def test_429_on_changes_is_retried(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    sb.faults.rate_limit_next("PUT /groups/{groupId}/products", retry_after=0)
    await client.groups.add_product(world.empty_group, world.product)
    assert sb.state.member_ids(world.cid, world.empty_group, "products") == [world.product]
    assert sb.counters.requests["PUT /groups/{groupId}/products"] == 2
    assert sb.counters.assigned["product"] == 1


# -- connection reset before processing --------------------------------------------------------


async def test_reset_before_a_read_is_retried(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    sb.faults.reset_before_next("GET /cars")
    sb.faults.reset_before_next("GET /cars/{carId}/location", count=2)
    assert await client.cars.list() == sb.state.cars(world.cid)
    assert await client.cars.location(world.car) == sb.state.location(world.cid, world.car)
    assert sb.counters.responses[("GET /cars", 0)] == 1
    assert sb.counters.requests["GET /cars"] == 2
    assert sb.counters.requests["GET /cars/{carId}/location"] == 3


async def test_reset_before_a_create(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    """The client cannot tell a reset before from one after: a create is not repeated."""
    sb.faults.reset_before_next("PUT /groups")
    error = await _raises(OutcomeUnknownError, client.groups.create("Never made", settle=True))
    assert "no group with this name exists yet" in " ".join(error.__notes__)
    assert sb.counters.requests["PUT /groups"] == 1
    assert sb.counters.created == {}
    assert _group_count(sb, world.cid, "Never made") == 0
    sb.faults.reset_before_next("PUT /cars")
    error = await _raises(
        OutcomeUnknownError, client.cars.create("Never made", vin=VIN, settle=True)
    )
    assert "0 new cars" in " ".join(error.__notes__)
    assert sb.counters.requests["PUT /cars"] == 1
    assert [c for c in sb.state.cars(world.cid) if c.vin == VIN] == []
    assert client.stats.outcome_unknown == 2


async def test_reset_before_changes_is_retried(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    sb.faults.reset_before_next("DELETE /groups/{groupId}/services/{serviceId}")
    sb.faults.reset_before_next("PATCH /cars/{carId}")
    await client.groups.remove_service(world.group, world.group_service)
    await client.cars.update(world.car, model="Reset-proof")
    assert world.group_service not in sb.state.member_ids(world.cid, world.group, "services")
    car = sb.state.car(world.cid, world.car)
    assert car is not None
    assert car.model == "Reset-proof"
    assert sb.counters.requests["PATCH /cars/{carId}"] == 2


# -- connection reset after processing: a create must not be sent twice -----------------------


def _session_state(session: aiohttp.ClientSession) -> dict[str, Any]:
    connector = session.connector
    assert connector is not None
    return {
        "closed": session.closed,
        "middlewares": tuple(session._middlewares),
        "retry_connection": session._retry_connection,
        "headers": dict(session.headers),
        "timeout": session.timeout,
        "raise_for_status": session.raise_for_status,
        "auto_decompress": session.auto_decompress,
        "trace_configs": tuple(session.trace_configs),
        "connector": connector,
        "connector_owner": session.connector_owner,
        "connector_closed": connector.closed,
        "limit": connector.limit,
        "cookies": len(session.cookie_jar),
    }


async def _watching(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """A caller's own middleware; it must stay in the chain and must not cause a resend."""
    request.headers["X-Caller"] = "e2e"
    return await handler(request)


Creator = Callable[[FlinkeyClient], Awaitable[int]]


async def _lent_or_own(stack: Stack, lent: bool) -> tuple[FlinkeyClient, Any]:
    if not lent:
        return await stack.client(), None
    session = await stack.session(middlewares=[_watching])
    return await stack.client(session=session), session


async def _check_lent_session(sb: Sandbox, session: aiohttp.ClientSession, before: Any) -> None:
    """Unchanged, open, and still usable by its owner."""
    assert _session_state(session) == before
    assert not session.closed
    headers = {"flinkey-API-Key": sb.api_key, "Authorization": f"Bearer {sb.issue_token()}"}
    async with session.get(sb.url("/customers"), headers=headers) as response:
        assert response.status == 200


@pytest.mark.parametrize("lent", [False, True], ids=["own session", "lent session"])
async def test_reset_after_creating_a_group_settles_by_name(
    sb: Sandbox, world: World, stack: Stack, lent: bool
) -> None:
    client, session = await _lent_or_own(stack, lent)
    before = _session_state(session) if session is not None else None
    await client.groups.list()  # a kept-alive connection: aiohttp would resend on it
    sb.faults.reset_after_next("PUT /groups")
    group_id = await client.groups.create("Created once", settle=True)
    assert sb.counters.created["group"] == 1
    assert sb.counters.requests["PUT /groups"] == 1
    assert sb.counters.responses[("PUT /groups", 0)] == 1
    assert _group_count(sb, world.cid, "Created once") == 1
    assert sb.state.group(world.cid, group_id) == Group(group_id, "Created once")
    assert client.stats.outcome_unknown == 1

    sb.faults.reset_after_next("PUT /groups")
    await _raises(OutcomeUnknownError, client.groups.create("Unsettled", settle=False))
    assert sb.counters.created["group"] == 2
    assert sb.counters.requests["PUT /groups"] == 2
    assert _group_count(sb, world.cid, "Unsettled") == 1
    await client.close()
    if session is not None:
        await _check_lent_session(sb, session, before)


@pytest.mark.parametrize("lent", [False, True], ids=["own session", "lent session"])
async def test_reset_after_creating_a_car(
    sb: Sandbox, world: World, stack: Stack, lent: bool
) -> None:
    client, session = await _lent_or_own(stack, lent)
    before = _session_state(session) if session is not None else None
    await client.cars.list()
    # With a VIN, the client settles the outcome by looking the car up.
    sb.faults.reset_after_next("PUT /cars")
    car_id = await client.cars.create("Settled by VIN", vin=VIN, brand="Volkswagen", settle=True)
    assert sb.state.car(world.cid, car_id) == Car(
        car_id, "Settled by VIN", None, VIN, None, "Volkswagen", None
    )
    assert [c.id for c in sb.state.cars(world.cid) if c.vin == VIN] == [car_id]
    assert sb.counters.created["car"] == 1
    assert sb.counters.requests["PUT /cars"] == 1
    # Without one, the outcome stays unknown: exactly one car exists, the client says so.
    sb.faults.reset_after_next("PUT /cars")
    error = await _raises(OutcomeUnknownError, client.cars.create("No natural key"))
    assert "may or may not" in error.message
    assert sb.counters.created["car"] == 2
    assert sb.counters.requests["PUT /cars"] == 2
    assert [c.name for c in sb.state.cars(world.cid)].count("No natural key") == 1
    assert client.stats.outcome_unknown == 2
    await client.close()
    if session is not None:
        await _check_lent_session(sb, session, before)


async def test_plain_session_would_create_twice(sb: Sandbox, world: World, stack: Stack) -> None:
    """The control: the same fault against a plain aiohttp PUT makes two cars. The guard
    the two tests above rely on is real, and the sandbox's fault does what it says."""
    session = await stack.session()
    headers = {
        "flinkey-API-Key": sb.api_key,
        "Authorization": f"Bearer {sb.issue_token()}",
        "Customer-ID": str(world.cid),
    }
    async with session.get(sb.url("/cars"), headers=headers) as response:
        assert response.status == 200
    sb.faults.reset_after_next("PUT /cars")
    async with session.put(sb.url("/cars"), json={"name": "Twice"}, headers=headers) as response:
        assert response.status == 201
    assert sb.counters.created["car"] == 2
    assert [c.name for c in sb.state.cars(world.cid)].count("Twice") == 2


async def test_reset_after_changes_counts_as_done(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    """A lost answer to an idempotent change: the repeat finds the work done, and that is
    success (docs/errors.md, "Lost answers of idempotent changes")."""
    for route in (
        "PUT /groups/{groupId}/cars",
        "PUT /groups/{groupId}/users",
        "DELETE /groups/{groupId}/products/{productId}",
        "DELETE /groups/{groupId}/cars/{carId}",
        "PATCH /groups/{groupId}",
        "PATCH /cars/{carId}",
        "DELETE /cars/{carId}",
        "DELETE /groups/{groupId}",
    ):
        sb.faults.reset_after_next(route)
    await client.groups.add_car(world.empty_group, world.bare_car)
    await client.groups.add_user(world.empty_group, world.user)
    await client.groups.remove_product(world.group, world.group_product)
    await client.groups.remove_car(world.group, world.group_car)
    await client.groups.rename(world.group, "Answer lost")
    await client.cars.update(world.bare_car, description="Answer lost")
    await client.cars.delete(world.car)
    other_empty = await client.groups.create("Soon gone")
    await client.groups.delete(other_empty)
    assert sb.faults.pending == 0
    assert sb.state.member_ids(world.cid, world.empty_group, "cars") == [world.bare_car]
    assert sb.state.member_ids(world.cid, world.empty_group, "users") == [world.user]
    assert world.group_product not in sb.state.member_ids(world.cid, world.group, "products")
    assert world.group_car not in sb.state.member_ids(world.cid, world.group, "cars")
    assert sb.state.group(world.cid, world.group) == Group(world.group, "Answer lost")
    bare = sb.state.car(world.cid, world.bare_car)
    assert bare is not None
    assert bare.description == "Answer lost"
    assert sb.state.car(world.cid, world.car) is None
    assert sb.state.group(world.cid, other_empty) is None
    assert sb.counters.assigned == {"car": 1, "user": 1}
    for route in ("PUT /groups/{groupId}/cars", "DELETE /cars/{carId}", "DELETE /groups/{groupId}"):
        assert sb.counters.requests[route] == 2
        assert sb.counters.responses[(route, 0)] == 1


async def test_lost_answer_messages_are_errors_otherwise(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    """Without a lost answer, "already assigned" and "not assigned" raise as usual."""
    from flinkey_async import ConflictError, NotFoundError

    with pytest.raises(ConflictError):
        await client.groups.add_car(world.group, world.group_car)
    with pytest.raises(NotFoundError):
        await client.groups.remove_car(world.empty_group, world.group_car)
    with pytest.raises(NotFoundError):
        await client.cars.delete(world.bare_car + 100_000)


# -- truncated bodies --------------------------------------------------------------------------


async def test_truncated_read_is_retried(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    sb.faults.truncate_next("GET /cars")
    sb.faults.truncate_next("GET /products/{productId}/services")
    assert await client.cars.list() == sb.state.cars(world.cid)
    assert await client.products.service(world.product) == sb.state.service_of_product(
        world.cid, world.product
    )
    assert sb.counters.faults[("GET /cars", "truncate")] == 1
    assert sb.counters.requests["GET /cars"] == 2
    assert sb.counters.requests["GET /products/{productId}/services"] == 2
    assert client.stats.retries == 2


async def test_persistent_truncation_is_a_connection_error(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    sb.faults.truncate_next("GET /groups", count=10)
    error = await _raises(ConnectError, client.groups.list())
    assert isinstance(error, TransportError)
    assert error.path == "/v3/groups"
    assert sb.counters.requests["GET /groups"] == FAST_RETRY.attempts
    sb.faults.clear()
    assert await client.groups.list() == sb.state.groups(world.cid)


async def test_truncated_create_answer_is_settled(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    sb.faults.truncate_next("PUT /groups")
    sb.faults.truncate_next("PUT /cars")
    group_id = await client.groups.create("Half an answer", settle=True)
    car_id = await client.cars.create("Half an answer", vin=VIN, settle=True)
    assert sb.state.group(world.cid, group_id) == Group(group_id, "Half an answer")
    assert [c.id for c in sb.state.cars(world.cid) if c.vin == VIN] == [car_id]
    assert sb.counters.created == {"group": 1, "car": 1}
    assert sb.counters.requests["PUT /groups"] == sb.counters.requests["PUT /cars"] == 1


# -- the token ---------------------------------------------------------------------------------


async def test_token_outage_before_the_first_token(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    sb.faults.token_outage = True
    error = await _raises(ServerError, client.cars.list())
    assert error.status == 503
    assert error.method == "POST"
    assert error.path == "/v3/oauth2/token"
    assert sb.counters.token_requests == FAST_RETRY.attempts  # retried: it creates nothing
    assert sb.counters.tokens_issued == 0
    assert sb.counters.requests["GET /cars"] == 0
    sb.faults.token_outage = False
    assert await client.cars.list() == sb.state.cars(world.cid)
    assert sb.counters.tokens_issued == 1


async def test_token_outage_with_a_token_in_hand(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    await client.groups.list()
    sb.faults.token_outage = True
    assert await client.cars.list() == sb.state.cars(world.cid)
    group_id = await client.groups.create("During the outage")
    assert sb.state.group(world.cid, group_id) is not None
    assert sb.counters.token_requests == 1
    # Revoked now: the replay needs a new token, and there is none to be had.
    sb.revoke_tokens()
    error = await _raises(ServerError, client.cars.list())
    assert error.path == "/v3/oauth2/token"
    assert sb.counters.responses[("GET /cars", 401)] == 1


@pytest.mark.parametrize("kind", ["error_503", "rate_limit", "reset_before", "truncate"])
async def test_faults_of_the_token_request_are_retried(
    sb: Sandbox, client: FlinkeyClient, world: World, kind: str
) -> None:
    sb.faults.inject(kind, "POST /oauth2/token", retry_after=0)
    assert await client.groups.list() == sb.state.groups(world.cid)
    assert sb.counters.faults[("POST /oauth2/token", kind)] == 1
    assert sb.counters.token_requests == 2
    # A truncated answer did carry a token, which never arrived whole.
    assert sb.counters.tokens_issued == (2 if kind == "truncate" else 1)


async def test_revoked_token_is_renewed_with_one_replay(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    assert await client.cars.list() == sb.state.cars(world.cid)
    sb.revoke_tokens()
    assert await client.cars.get(world.car) == sb.state.car(world.cid, world.car)
    assert sb.counters.responses[("GET /cars/{carId}", 401)] == 1
    assert sb.counters.responses[("GET /cars/{carId}", 200)] == 1
    assert sb.counters.tokens_issued == 2
    assert client.stats.token_replays == 1
    assert client.stats.retries == 0


async def test_revoked_token_before_a_create(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    """A 401 is answered before anything is processed: the replay of a create is safe."""
    await client.groups.list()
    sb.revoke_tokens()
    group_id = await client.groups.create("Replayed once")
    assert sb.state.group(world.cid, group_id) == Group(group_id, "Replayed once")
    assert sb.counters.created["group"] == 1
    assert sb.counters.requests["PUT /groups"] == 2
    assert sb.counters.responses[("PUT /groups", 401)] == 1


async def test_revoked_token_concurrent_calls_share_one_renewal(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    await client.groups.list()
    sb.revoke_tokens()
    cars = sb.state.cars(world.cid)
    results = await asyncio.gather(*(client.cars.get(car.id) for car in cars))
    assert results == cars
    assert sb.counters.tokens_issued == 2
    assert client.stats.token_replays == len(cars)
    sb.revoke_tokens()
    names = [f"Concurrent {n}" for n in range(5)]
    ids = await asyncio.gather(*(client.groups.create(name) for name in names))
    assert [sb.state.group(world.cid, i) for i in ids] == [
        Group(i, name) for i, name in zip(ids, names, strict=True)
    ]
    assert sb.counters.created["group"] == 5
    assert sb.counters.tokens_issued == 3


def _spoil_token(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> Awaitable[aiohttp.ClientResponse]:
    """A caller's middleware that ruins the bearer token of every API request."""
    if "Authorization" in request.headers:
        request.headers["Authorization"] = "Bearer spoiled"
    return handler(request)


async def test_token_rejected_after_the_replay(sb: Sandbox, world: World, stack: Stack) -> None:
    session = await stack.session(middlewares=[_spoil_token])
    spoiled = await stack.client(session=session)
    error = await _raises(InvalidTokenError, spoiled.cars.list())
    assert error.message == m.INVALID_TOKEN
    assert sb.counters.responses[("GET /cars", 401)] == 2  # the call and its one replay
    assert sb.counters.tokens_issued == 2
    assert spoiled.stats.token_replays == 1
    error = await _raises(InvalidTokenError, spoiled.groups.create("Never"))
    assert sb.counters.requests["PUT /groups"] == 2
    assert sb.counters.created == {}


async def test_token_expiry_during_a_run(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    """Tokens live 2 s; four workers call for 2.3 s: the calls keep working, and the client
    renews the token a few times, not once per call."""
    sb.token_ttl = 2
    loop = asyncio.get_running_loop()
    end = loop.time() + 2.3
    expected = sb.state.car(world.cid, world.car)
    calls = 0

    async def worker() -> None:
        nonlocal calls
        while loop.time() < end:
            assert await client.cars.get(world.car) == expected
            calls += 1
            await asyncio.sleep(0.02)

    await asyncio.gather(*(worker() for _ in range(4)))
    assert calls >= 20
    assert 2 <= sb.counters.tokens_issued <= 5
    assert client.stats.token_requests == sb.counters.token_requests
    assert sb.counters.responses[("GET /cars/{carId}", 200)] == calls


# -- everything at once ------------------------------------------------------------------------

READS: list[tuple[str, Callable[[FlinkeyClient, World], Awaitable[Any]],
                  Callable[[Sandbox, World], Any]]] = [
    ("GET /cars", lambda c, w: c.cars.list(), lambda sb, w: sb.state.cars(w.cid)),
    ("GET /cars/{carId}", lambda c, w: c.cars.get(w.car),
     lambda sb, w: sb.state.car(w.cid, w.car)),
    ("GET /cars/{carId}/products", lambda c, w: c.cars.products(w.car),
     lambda sb, w: sb.state.products_of_car(w.cid, w.car)),
    ("GET /cars/{carId}/location", lambda c, w: c.cars.location(w.car),
     lambda sb, w: sb.state.location(w.cid, w.car)),
    ("GET /cars/{carId}/location/{searchDate}",
     lambda c, w: c.cars.location_at(w.car, REFERENCE_TIME),
     lambda sb, w: sb.state.location(w.cid, w.car, at=REFERENCE_TIME)),
    ("GET /products", lambda c, w: c.products.list(), lambda sb, w: sb.state.products(w.cid)),
    ("GET /products/{productId}", lambda c, w: c.products.get(w.product),
     lambda sb, w: sb.state.product(w.cid, w.product)),
    ("GET /products/{productId}/services", lambda c, w: c.products.service(w.product),
     lambda sb, w: sb.state.service_of_product(w.cid, w.product)),
    ("GET /products/{productId}/cars", lambda c, w: c.products.car(w.product),
     lambda sb, w: sb.state.car_of_product(w.cid, w.product)),
    ("GET /groups", lambda c, w: c.groups.list(), lambda sb, w: sb.state.groups(w.cid)),
    ("GET /groups/{groupId}/cars", lambda c, w: c.groups.cars(w.group),
     lambda sb, w: sb.state.members(w.cid, w.group, "cars")),
    ("GET /groups/{groupId}/users", lambda c, w: c.groups.users(w.group),
     lambda sb, w: sb.state.members(w.cid, w.group, "users")),
    ("GET /groups/{groupId}/services", lambda c, w: c.groups.services(w.group),
     lambda sb, w: sb.state.members(w.cid, w.group, "services")),
    ("GET /groups/{groupId}/products", lambda c, w: c.groups.products(w.group),
     lambda sb, w: sb.state.members(w.cid, w.group, "products")),
]  # fmt: skip


async def test_seeded_fault_rates_on_every_read(sb: Sandbox, world: World, stack: Stack) -> None:
    """Half of all reads fail in one of five ways; with enough attempts every read succeeds."""
    patient = await stack.client(
        retry=RetryPolicy(attempts=12, backoff_base=0.001, backoff_max=0.005)
    )
    sb.faults.set(
        error_rate_503=0.1,
        rate_limit_rate=0.1,
        retry_after=0,
        reset_before_rate=0.1,
        reset_after_rate=0.1,
        truncate_rate=0.1,
        routes={route for route, _, _ in READS},
    )
    for _ in range(2):
        for _route, call, truth in READS:
            assert await call(patient, world) == truth(sb, world)
    fired = {kind for (_, kind) in sb.counters.faults}
    assert fired >= {"error_503", "rate_limit", "reset_before", "reset_after", "truncate"}
    assert patient.stats.retries > 0
    assert sb.counters.tokens_issued == 1
