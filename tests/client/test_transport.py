"""The request path against a real loopback server: retries, Retry-After, creates that must not be
repeated, cancellation, timeouts, and borrowed sessions."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

from flinkey_async import (
    PRODUCTION_URL,
    TEST_URL,
    ConnectError,
    FlinkeyClient,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    ValidationError,
    _transport,
)
from flinkey_async._transport import _retry_after

from .conftest import FAST_RETRY, Pacing, client_for, wait_until
from .fake_secrets import API_KEY, PASSWORD, USERNAME
from .fakeapi import FakeAPI, Scripted

# -- retries on answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
async def test_transient_statuses_are_retried(api: FakeAPI, status: int) -> None:
    api.then("GET", "/cars/1", Scripted(status, "busy"), Scripted(status, "busy"))
    async with client_for(api) as client:
        assert (await client.cars.get(1)).id == 1
        assert client.stats.retries == 2
    assert api.count("GET", "/cars/1") == 3


async def test_retry_after_seconds_is_honoured(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", Scripted(503, "down for a second", {"Retry-After": "1"}))
    async with client_for(api) as client:
        assert (await client.cars.get(1)).id == 1
    first, second = (t for method, path, t in api.arrivals if path == "/v3/cars/1")
    assert second - first >= 1.0


async def test_retry_after_http_date_is_honoured(api: FakeAPI) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    api.then("GET", "/cars/1", Scripted(429, "slow down", {"Retry-After": when}))
    async with client_for(api) as client:
        assert (await client.cars.get(1)).id == 1
    first, second = (t for method, path, t in api.arrivals if path == "/v3/cars/1")
    # An HTTP date has one-second resolution: at least the whole seconds left are waited.
    assert second - first >= 0.9


async def test_retry_after_beyond_the_cap_surfaces(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    class NoWaits:
        """The transport's ``asyncio``, except that a wait is recorded, not slept."""

        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        async def sleep(self, delay: float) -> None:  # a broken cap fails at once, no hang
            waits.append(delay)

    monkeypatch.setattr(_transport, "asyncio", NoWaits())
    api.then("GET", "/cars/1", Scripted(429, "come back tomorrow", {"Retry-After": "86400"}))
    async with client_for(api) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.cars.get(1)
    assert caught.value.retry_after == 86400
    assert caught.value.message == "come back tomorrow"
    assert api.count("GET", "/cars/1") == 1
    assert waits == []


async def test_attempts_are_bounded(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", *[Scripted(503, "down")] * 10)
    async with client_for(api, retry=RetryPolicy(attempts=3, backoff_base=0.01)) as client:
        with pytest.raises(ServerError) as caught:
            await client.cars.get(1)
        assert client.stats.retries == 2
    assert caught.value.status == 503
    assert api.count("GET", "/cars/1") == 3


async def test_retries_can_be_switched_off(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", Scripted(429, "slow down", {"Retry-After": "1"}))
    async with client_for(api, retry=RetryPolicy.disabled()) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.cars.get(1)
    assert caught.value.retry_after == 1
    assert api.count("GET", "/cars/1") == 1


async def test_500_is_not_retried(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", Scripted(500, "Internal server error."))
    async with client_for(api) as client:
        with pytest.raises(ServerError):
            await client.cars.get(1)
    assert api.count("GET", "/cars/1") == 1


async def test_a_create_is_not_retried_on_503(api: FakeAPI) -> None:
    api.then("PUT", "/cars", Scripted(503, "busy", {"Retry-After": "0"}))
    async with client_for(api) as client:
        with pytest.raises(ServerError):
            await client.cars.create("Polo")
    assert api.count("PUT", "/cars") == 1


async def test_idempotent_writes_are_retried(api: FakeAPI) -> None:
    api.then("DELETE", "/cars/1", Scripted(502, "bad gateway"))
    async with client_for(api) as client:
        await client.cars.delete(1)
    assert 1 not in api.cars
    assert api.count("DELETE", "/cars/1") == 2


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0)
    for retry, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)):
        waits = [policy.backoff(retry) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        # Spread over the whole range, not a constant (the ceiling, or half of it): the chance
        # that 200 uniform draws miss either quarter is about 1e-25.
        assert min(waits) < ceiling / 4
        assert max(waits) > ceiling * 3 / 4


def test_retry_after_parsing() -> None:
    assert _retry_after(None) is None
    assert _retry_after("") is None
    assert _retry_after("7") == 7.0
    assert _retry_after("soon") is None
    past = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    assert _retry_after(past) == 0.0
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 28 <= (_retry_after(future) or 0) <= 30


def test_retry_policy_is_validated() -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValidationError):
        RetryPolicy(backoff_base=-1)


# -- creates and dropped connections ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["close", "abort"])
async def test_control_aiohttp_resends_a_put_by_itself(api: FakeAPI, mode: str) -> None:
    """Why the guard exists: a plain ``session.put`` creates two cars when the answer is lost."""
    async with client_for(api) as client:  # only to get a valid token
        await client.cars.get(1)
    token = next(iter(api.tokens))
    headers = {"flinkey-API-Key": API_KEY, "Authorization": f"Bearer {token}"}
    api.drop_after[("PUT", "/v3/cars")] = mode
    before = len(api.cars)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.base_url}/cars/1", headers=headers) as response:
            await response.read()  # a kept-alive connection, as in real use
        async with session.put(
            f"{api.base_url}/cars", json={"name": "dup"}, headers=headers
        ) as response:
            # One clean 201 for the caller...
            assert response.status == 201
    # ...and two new cars on the service.
    assert len(api.cars) == before + 2
    assert api.count("PUT", "/cars") == 2


@pytest.mark.parametrize("mode", ["close", "abort"])
@pytest.mark.parametrize("lent", [False, True], ids=["own-session", "lent-session"])
async def test_create_is_never_sent_twice(api: FakeAPI, mode: str, lent: bool) -> None:
    api.drop_after[("PUT", "/v3/cars")] = mode
    before = len(api.cars)
    session = aiohttp.ClientSession() if lent else None
    try:
        async with client_for(api, session=session) as client:
            await client.cars.get(1)  # the create goes out on a kept-alive connection
            with pytest.raises(OutcomeUnknownError) as caught:
                await client.cars.create("Polo")
            assert client.stats.outcome_unknown == 1
            assert client.stats.retries == 0
    finally:
        if session is not None:
            await session.close()
    assert len(api.cars) == before + 1
    assert api.count("PUT", "/cars") == 1
    assert "may or may not have been created" in str(caught.value)
    assert caught.value.method == "PUT"
    assert caught.value.path == "/v3/cars"


async def test_group_create_settles_by_name(api: FakeAPI, caplog: pytest.LogCaptureFixture) -> None:
    api.drop_after[("PUT", "/v3/groups")] = "close"
    async with client_for(api) as client:
        new_id = await client.groups.create("Pool Nord", settle=True)
    assert api.groups == {new_id: {"id": new_id, "name": "Pool Nord"}}
    assert api.count("PUT", "/groups") == 1
    assert "settled by name" in caplog.text


async def test_group_create_without_settling_raises(api: FakeAPI) -> None:
    api.drop_after[("PUT", "/v3/groups")] = "close"
    async with client_for(api) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.groups.create("Pool Nord", settle=False)
    assert len(api.groups) == 1


async def test_car_create_settles_by_vin(api: FakeAPI) -> None:
    api.drop_after[("PUT", "/v3/cars")] = "abort"
    async with client_for(api) as client:
        new_id = await client.cars.create("Polo", vin="WVWZZZ6RZ00000002", settle=True)
    assert api.cars[new_id]["vin"] == "WVWZZZ6RZ00000002"
    assert api.count("PUT", "/cars") == 1


async def test_car_create_without_vin_stays_unknown(api: FakeAPI) -> None:
    api.drop_after[("PUT", "/v3/cars")] = "close"
    async with client_for(api) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.cars.create("Polo")


async def test_lost_delete_answer_is_settled_by_the_retry(api: FakeAPI) -> None:
    """The delete took effect but its answer was lost; the retry's 404 means "already done"."""
    api.drop_after[("DELETE", "/v3/cars/1")] = "close"
    async with client_for(api) as client:
        await client.cars.delete(1)
        assert client.stats.retries == 1
    assert 1 not in api.cars
    assert api.count("DELETE", "/cars/1") == 2


async def test_lost_add_member_answer_is_settled_by_the_retry(api: FakeAPI) -> None:
    async with client_for(api) as client:
        group_id = await client.groups.create("Pool Süd")
        api.drop_after[("PUT", f"/v3/groups/{group_id}/cars")] = "close"
        await client.groups.add_car(group_id, 1)
    assert api.members == {(group_id, "car", 1)}
    assert api.count("PUT", f"/groups/{group_id}/cars") == 2


async def test_a_plain_404_on_delete_still_raises(api: FakeAPI) -> None:
    async with client_for(api) as client:
        with pytest.raises(NotFoundError):
            await client.cars.delete(999)


# -- connection failures and timeouts --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_retried_then_raised() -> None:
    base = f"http://127.0.0.1:{_closed_port()}/v3"
    async with FlinkeyClient(
        api_key=API_KEY, token="TOK-s3cr3t-static", customer_id=1, base_url=base, retry=FAST_RETRY
    ) as client:
        with pytest.raises(ConnectError) as caught:
            await client.cars.get(1)
        assert client.stats.retries == 3
        # Nothing was sent, so a create may be retried too, and the error is not "unknown".
        with pytest.raises(ConnectError) as create_error:
            await client.cars.create("Polo")
        assert not isinstance(create_error.value, OutcomeUnknownError)
    assert "could not connect" in str(caught.value)


async def test_read_timeout_is_retried_for_reads(api: FakeAPI) -> None:
    api.delay[("GET", "/v3/cars/1")] = 0.5
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with client_for(
        api, timeout=timeout, retry=RetryPolicy(attempts=2, backoff_base=0.01)
    ) as client:
        with pytest.raises(RequestTimeoutError) as caught:
            await client.cars.get(1)
    assert isinstance(caught.value, TimeoutError)
    assert api.count("GET", "/cars/1") == 2


async def test_read_timeout_on_a_create_is_an_unknown_outcome(api: FakeAPI) -> None:
    api.delay[("PUT", "/v3/cars")] = 0.5
    before = len(api.cars)
    async with client_for(api, timeout=aiohttp.ClientTimeout(total=0.2)) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.cars.create("Polo")
    await wait_until(lambda: len(api.cars) == before + 1)  # the server finishes the create
    assert api.count("PUT", "/cars") == 1


@pytest.mark.parametrize("status", [408, 502, 504])
async def test_a_create_answered_by_a_gateway_is_an_unknown_outcome(
    api: FakeAPI, status: int
) -> None:
    api.gateway_after[("PUT", "/v3/cars")] = status
    before = len(api.cars)
    async with client_for(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.cars.create("Polo")
        assert client.stats.outcome_unknown == 1
    assert str(status) in caught.value.message
    assert api.count("PUT", "/cars") == 1
    assert len(api.cars) == before + 1  # it was created: a repeat would have made two


async def test_a_gateway_answer_to_a_create_is_settled_by_name(api: FakeAPI) -> None:
    api.gateway_after[("PUT", "/v3/groups")] = 504
    async with client_for(api) as client:
        group_id = await client.groups.create("Pool Süd", settle=True)
    assert api.groups == {group_id: {"id": group_id, "name": "Pool Süd"}}
    assert api.count("PUT", "/groups") == 1


async def test_settling_never_takes_a_group_that_existed_before(api: FakeAPI) -> None:
    api.groups[7] = {"id": 7, "name": "Pool"}
    api.drop_after[("PUT", "/v3/groups")] = "close"  # its answer (a 409) is lost
    async with client_for(api) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.groups.create("Pool", settle=True)
    assert "existed before" in " ".join(caught.value.__notes__)
    assert api.groups == {7: {"id": 7, "name": "Pool"}}


async def test_settling_never_takes_a_car_that_existed_before(api: FakeAPI) -> None:
    vin = "WVWZZZ6RZ00000009"
    api.cars[50] = {"id": 50, "name": "Polo", "description": None, "vin": vin,
                    "licensePlate": None, "brand": None, "model": None}  # fmt: skip
    api.drop_after[("PUT", "/v3/cars")] = "close"
    async with client_for(api) as client:
        new_id = await client.cars.create("Polo", vin=vin, settle=True)
    assert new_id != 50
    assert api.cars[new_id]["vin"] == vin
    assert api.count("PUT", "/cars") == 1


async def test_settling_a_car_needs_its_vin(api: FakeAPI) -> None:
    async with client_for(api) as client:
        with pytest.raises(ValidationError) as caught:
            await client.cars.create("Polo", settle=True)
    assert caught.value.field == "settle"
    assert api.count("PUT", "/cars") == 0


@pytest.mark.parametrize("status", [502, 504])
async def test_a_delete_whose_gateway_answer_hid_its_effect_is_settled(
    api: FakeAPI, status: int
) -> None:
    """The delete took effect, the gateway answered 502/504; the retry's 404 means done."""
    api.gateway_after[("DELETE", "/v3/cars/1")] = status
    async with client_for(api) as client:
        await client.cars.delete(1)
    assert 1 not in api.cars
    assert api.count("DELETE", "/cars/1") == 2


async def test_the_response_is_released_before_the_retry_wait(api: FakeAPI) -> None:
    """With one pooled connection, another call goes through while a retry waits."""
    api.then("GET", "/cars/1", Scripted(503, "busy", {"Retry-After": "30"}))
    async with client_for(api, connector_limit=1) as client:
        await client.groups.list()  # token and connection first
        waiting = asyncio.create_task(client.cars.get(1))
        await wait_until(lambda: client.stats.retries == 1)  # the 30 s wait has begun
        await client.groups.list()  # needs the one connection
        assert not waiting.done()
        assert api.count("GET", "/cars/1") == 1  # the retry is still waiting
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting


async def test_rate_limit_paces_every_attempt(api: FakeAPI, pacing: Pacing) -> None:
    """Retries and the token request count against the client's rate limit too."""
    api.then("GET", "/cars/1", *[Scripted(503, "busy", {"Retry-After": "0"})] * 3)
    rate = 20.0
    async with client_for(api, rate_limit=rate) as client:
        assert client.rate_limit == rate
        await asyncio.gather(client.cars.get(1), client.cars.get(1))
    assert len(api.arrivals) == len(pacing.slots) == 6  # the token, three 503s, two answers
    # Spaced by the limiter's own schedule (not by arrival times, which a loaded machine blurs).
    assert min(pacing.gaps()) >= 1 / rate - 1e-6
    assert max(pacing.slots) - min(pacing.slots) >= 5 / rate - 1e-6


def test_non_ascii_segments_are_percent_encoded_once() -> None:
    client = FlinkeyClient(api_key="k", token="t", base_url="http://127.0.0.1:9/v3")
    url = client._transport.url("cars", "zweiräder²")
    assert url.raw_path == "/v3/cars/zweir%C3%A4der%C2%B2"
    assert url.path == "/v3/cars/zweiräder²"


# -- cancellation ----------------------------------------------------------------------------------


async def test_cancelling_an_in_flight_call_propagates(api: FakeAPI) -> None:
    gate = asyncio.Event()
    api.hold[("GET", "/v3/cars/1")] = gate
    async with client_for(api) as client:
        await client.cars.list()  # token and connection first
        task = asyncio.create_task(client.cars.get(1))
        await wait_until(lambda: api.count("GET", "/cars/1") == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.stats.retries == 0
        gate.set()
        # The client stays usable.
        assert (await client.cars.get(1)).id == 1
    assert api.count("GET", "/cars/1") == 2


async def test_cancelling_during_a_retry_wait_propagates(api: FakeAPI) -> None:
    api.then("GET", "/cars/1", Scripted(503, "down", {"Retry-After": "30"}))
    async with client_for(api) as client:
        task = asyncio.create_task(client.cars.get(1))
        await wait_until(lambda: client.stats.retries == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert api.count("GET", "/cars/1") == 1  # the 30 s wait was cut: no retry was sent


async def test_caller_timeout_cancels_cleanly(api: FakeAPI) -> None:
    api.hold[("GET", "/v3/cars/1")] = asyncio.Event()
    async with client_for(api) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.cars.get(1)
        assert client.stats.retries == 0


# -- sessions --------------------------------------------------------------------------------------


async def test_own_session_is_created_and_closed(api: FakeAPI) -> None:
    client = client_for(api, connector_limit=7)
    async with client:
        session = client.session
        assert session is not None
        assert session.connector is not None
        assert session.connector.limit == 7
        assert client.connector_limit == 7
        await client.cars.get(1)
    assert session.closed
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.cars.get(1)


async def test_client_without_context_manager_opens_lazily(api: FakeAPI) -> None:
    client = client_for(api)
    try:
        assert client.session is None
        await client.cars.get(1)
        assert client.session is not None
    finally:
        await client.close()
    await client.close()  # idempotent


async def test_lent_session_is_borrowed_not_closed_nor_changed(api: FakeAPI) -> None:
    seen: list[str] = []

    async def tag(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        request.headers["X-Caller-Tag"] = "mine"
        seen.append(request.method)
        return await handler(request)

    async with aiohttp.ClientSession(raise_for_status=True, middlewares=(tag,)) as session:
        middlewares_before = session._middlewares
        async with client_for(api, session=session) as client:
            assert client.session is session
            await client.cars.get(1)
            new_id = await client.cars.create("Polo")
            # raise_for_status=True on the lent session does not bypass the error mapping.
            with pytest.raises(NotFoundError):
                await client.cars.get(404404)
            await client.cars.delete(new_id)
        assert not session.closed
        assert session._middlewares is middlewares_before
        assert session.raise_for_status is True
        # Still usable by its owner.
        with pytest.raises(aiohttp.ClientResponseError):
            await session.get(f"{api.origin}/v3/cars/1")
    assert seen == ["POST", "GET", "PUT", "GET", "DELETE", "GET"]
    assert all(h.get("X-Caller-Tag") == "mine" for h in api.seen_headers)


def test_environments() -> None:
    assert PRODUCTION_URL == "https://api.flinkey.de/v3"
    assert TEST_URL == "https://api-uat.flinkey.de/v3"
    client = FlinkeyClient(api_key=API_KEY, username=USERNAME, password=PASSWORD)
    assert str(client.base_url) == PRODUCTION_URL
    uat = FlinkeyClient(
        api_key=API_KEY, username=USERNAME, password=PASSWORD, base_url=TEST_URL + "/"
    )
    assert str(uat.base_url) == TEST_URL
    assert str(uat.cars._url) == TEST_URL + "/cars"
    with pytest.raises(ValidationError, match="base_url"):
        FlinkeyClient(api_key=API_KEY, username=USERNAME, password=PASSWORD, base_url="ftp://x")
    with pytest.raises(ValidationError, match="base_url"):
        FlinkeyClient(api_key=API_KEY, username=USERNAME, password=PASSWORD, base_url="/v3")


async def test_customer_id_is_required_for_scoped_calls(api: FakeAPI) -> None:
    async with client_for(api, customer_id=None) as client:
        with pytest.raises(ValidationError, match="customer_id"):
            await client.cars.list()
        assert (await client.cars.list(customer_id=5))[0].id == 1
    assert api.seen_headers[-1]["Customer-ID"] == "5"


async def test_get_json_escape_hatch(api: FakeAPI) -> None:
    async with client_for(api) as client:
        assert await client.get_json("cars", 1) == api.cars[1]


async def test_a_borrowed_session_sets_the_pool_size_that_binds() -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=7)) as session:
        client = FlinkeyClient(api_key="k", token="t", session=session)
        assert client.connector_limit == 7  # the pool binds below the default of 100
        client = FlinkeyClient(api_key="k", token="t", session=session, connector_limit=3)
        assert client.connector_limit == 3  # and a lower limit of the caller's stays
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as unlimited:
        client = FlinkeyClient(api_key="k", token="t", session=unlimited, connector_limit=50)
        assert client.connector_limit == 50


def test_fleet_is_bound_to_the_pool() -> None:
    from flinkey_async._fleet import FleetResource

    client = FlinkeyClient(api_key=API_KEY, token="TOK-s3cr3t-x", connector_limit=12)
    assert isinstance(client.fleet, FleetResource)
    assert client.fleet is client.fleet
    assert client.fleet.connector_limit == 12
