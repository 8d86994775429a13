"""Fault injection and counters: each fault kind, one-shot and by rate, per route, seeded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from flinkey_async import _messages as m
from flinkey_async.sandbox import ENDPOINTS, ROUTES, FaultConfig, FaultKind, Faults, Sandbox
from flinkey_async.sandbox._app import _SandboxApp
from flinkey_async.sandbox._cli import main

from .rawhttp import Api, http_request, raw_exchange


async def _headers(api: Api) -> dict[str, str]:
    return {
        "flinkey-API-Key": api.sandbox.api_key,
        "Authorization": f"Bearer {await api.token()}",
        "Customer-ID": str(api.sandbox.customer_id),
    }


async def _create_car_raw(api: Api, name: str = "Raw car") -> tuple[bytes, BaseException | None]:
    headers = {**await _headers(api), "Content-Type": "application/json"}
    request = http_request(
        api.sandbox, "PUT", "/cars", headers, json.dumps({"name": name}).encode()
    )
    return await raw_exchange(api.sandbox, request)


# -- one-shot faults ----------------------------------------------------------------------------


async def test_reset_before_processing_creates_nothing(api: Api, sandbox: Sandbox) -> None:
    cars_before = len(sandbox.state.cars(sandbox.customer_id))
    sandbox.faults.reset_before_next("PUT /cars")
    received, _ = await _create_car_raw(api)
    assert received == b""  # not a single byte of an answer
    assert len(sandbox.state.cars(sandbox.customer_id)) == cars_before
    assert sandbox.counters.created["car"] == 0
    assert sandbox.counters.requests["PUT /cars"] == 1
    assert sandbox.counters.responses[("PUT /cars", 0)] == 1
    assert sandbox.counters.faults[("PUT /cars", "reset_before")] == 1


async def test_reset_after_processing_has_created_the_car(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.reset_after_next("PUT /cars")
    received, _ = await _create_car_raw(api, "Created in the dark")
    assert received == b""
    assert sandbox.counters.created["car"] == 1
    names = [car.name for car in sandbox.state.cars(sandbox.customer_id)]
    assert names.count("Created in the dark") == 1
    # the fault was used up: the next create answers normally
    received, _ = await _create_car_raw(api, "Second")
    assert received.startswith(b"HTTP/1.1 201 Created")


async def test_aiohttp_replays_a_put_after_a_reset_unless_told_not_to(sandbox: Sandbox) -> None:
    """What the counters are for: a plain aiohttp session sends an interrupted PUT again, and
    the sandbox sees two creates. A client has to switch that off."""
    async with aiohttp.ClientSession() as plain:
        api = Api(sandbox, plain)
        await api.token()
        sandbox.faults.reset_after_next("PUT /cars")
        reply = await api.call("PUT", "/cars", json_body={"name": "Twice"})
        assert reply.status == 201  # the replay's answer
    assert sandbox.counters.requests["PUT /cars"] == 2
    assert sandbox.counters.created["car"] == 2


async def test_reset_is_seen_by_aiohttp_as_a_disconnect(api: Api, sandbox: Sandbox) -> None:
    await api.token()
    sandbox.faults.reset_before_next("GET /cars")
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await api.get("/cars")
    assert (await api.get("/cars")).status == 200


async def test_truncated_body(api: Api, sandbox: Sandbox) -> None:
    full = (await api.get("/cars")).body
    sandbox.faults.truncate_next("GET /cars")
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.get("/cars")
    sandbox.faults.truncate_next("GET /cars")
    request = http_request(sandbox, "GET", "/cars", await _headers(api))
    received, _ = await raw_exchange(sandbox, request)
    head, _, body = received.partition(b"\r\n\r\n")
    assert f"Content-Length: {len(full)}".encode() in head
    assert 0 < len(body) < len(full)
    assert full.startswith(body)
    assert sandbox.counters.faults[("GET /cars", "truncate")] == 2


async def test_truncation_waits_for_an_answer_with_a_body(api: Api, sandbox: Sandbox) -> None:
    await api.token()
    sandbox.faults.truncate_next()  # any endpoint
    car = sandbox.state.add_car(sandbox.customer_id, "Patched")
    patch = [{"op": "replace", "path": "/model", "value": "X"}]
    assert (await api.call("PATCH", f"/cars/{car.id}", json_body=patch)).status == 204
    assert sandbox.faults.pending == 1
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.get(f"/cars/{car.id}")
    assert sandbox.faults.pending == 0


@pytest.mark.parametrize("status", [500, 503])
async def test_fail_next(api: Api, sandbox: Sandbox, status: int) -> None:
    sandbox.faults.fail_next("GET /groups", status=status, count=2)
    for _ in range(2):
        reply = await api.get("/groups")
        assert reply.status == status
        assert reply.content_type == "text/plain; charset=utf-8"
        expected = m.INTERNAL_SERVER_ERROR if status == 500 else "Service unavailable."
        assert reply.text == expected
    assert (await api.get("/groups")).status == 200
    assert sandbox.counters.faults[("GET /groups", f"error_{status}")] == 2


async def test_rate_limit_with_retry_after(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.rate_limit_next("GET /cars", retry_after=7)
    reply = await api.get("/cars")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.json() == {
        "statusCode": 429,
        "message": "Rate limit is exceeded. Try again in 7 seconds.",
    }
    sandbox.faults.set(retry_after=3)
    sandbox.faults.rate_limit_next()
    assert (await api.get("/cars")).headers["Retry-After"] == "3"


async def test_crash_is_an_internal_server_error(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.crash_next("PUT /groups")
    reply = await api.call("PUT", "/groups", json_body={"name": "Never"})
    assert (reply.status, reply.text) == (500, m.INTERNAL_SERVER_ERROR)
    assert sandbox.state.group_named(sandbox.customer_id, "Never") is None


async def test_one_shot_faults_only_hit_their_route(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.fail_next("GET /products")
    assert (await api.get("/cars")).status == 200
    assert (await api.get("/groups")).status == 200
    assert (await api.get("/products")).status == 500


async def test_faults_come_after_the_auth_checks(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.fail_next("GET /cars")
    reply = await api.get("/cars", api_key="wrong")
    assert reply.status == 401
    assert sandbox.faults.pending == 1  # still armed for a request that passes the gate


# -- the token endpoint -------------------------------------------------------------------------


async def test_token_outage(api: Api, sandbox: Sandbox) -> None:
    token = await api.token()
    sandbox.faults.token_outage = True
    reply = await api.request_token()
    assert (reply.status, reply.text) == (503, "Service unavailable.")
    assert (await api.get("/cars", token=token)).status == 200  # issued tokens keep working
    sandbox.faults.token_outage = False
    assert (await api.request_token()).status == 200
    assert sandbox.counters.token_requests == 3
    assert sandbox.counters.tokens_issued == 2


async def test_outage_still_checks_the_key_first(api: Api, sandbox: Sandbox) -> None:
    sandbox.faults.token_outage = True
    reply = await api.request_token(api_key="wrong")
    assert reply.status == 401


# -- rates --------------------------------------------------------------------------------------


async def test_rate_one_fails_every_request_of_the_route(api: Api, sandbox: Sandbox) -> None:
    await api.token()
    sandbox.faults.set(error_rate_503=1.0, routes={"GET /cars"})
    for _ in range(3):
        assert (await api.get("/cars")).status == 503
    assert (await api.get("/products")).status == 200
    sandbox.faults.clear()
    assert (await api.get("/cars")).status == 200


async def _statuses(sandbox: Sandbox, session: aiohttp.ClientSession, n: int) -> list[int]:
    api = Api(sandbox, session)
    await api.token()
    out = []
    for _ in range(n):
        try:
            out.append((await api.get("/groups")).status)
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            out.append(0)
    return out


async def test_random_faults_are_seeded(session: aiohttp.ClientSession) -> None:
    config = FaultConfig(
        error_rate_500=0.1, error_rate_503=0.1, rate_limit_rate=0.1, reset_before_rate=0.05,
        truncate_rate=0.05, routes={"GET /groups"},
    )  # fmt: skip
    runs = []
    for _ in range(2):
        async with Sandbox(cars=2, seed=42, faults=config) as sb:
            runs.append(await _statuses(sb, session, 40))
            counted = sb.counters.responses
            assert sum(n for (route, _), n in counted.items() if route == "GET /groups") == 40
    assert runs[0] == runs[1]
    assert {0, 200, 429, 500, 503} <= set(runs[0])
    async with Sandbox(cars=2, seed=43, faults=config) as sb:
        assert await _statuses(sb, session, 40) != runs[0]


async def test_reset_after_rate_creates_but_does_not_answer(api: Api, sandbox: Sandbox) -> None:
    await api.token()
    sandbox.faults.set(reset_after_rate=1.0, routes={"PUT /groups"})
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await api.call("PUT", "/groups", json_body={"name": "Silent"})
    assert sandbox.state.group_named(sandbox.customer_id, "Silent") is not None
    assert sandbox.counters.created["group"] == 1


async def test_latency_is_added_and_counted(api: Api, sandbox: Sandbox) -> None:
    await api.token()
    sandbox.faults.set(latency=0.01, latency_jitter=0.01, routes={"GET /cars"})
    assert (await api.get("/cars")).status == 200
    assert (await api.get("/groups")).status == 200
    assert sandbox.counters.faults[("GET /cars", "latency")] == 1
    assert ("GET /groups", "latency") not in sandbox.counters.faults


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_rate_500": 1.5},
        {"error_rate_503": -0.1},
        {"latency": -1.0},
        {"error_rate_500": 0.6, "rate_limit_rate": 0.6},
    ],
)
def test_fault_config_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the field
        FaultConfig(**kwargs)


def test_fault_config_routes_accept_a_single_route() -> None:
    config = FaultConfig(error_rate_500=0.5, routes="PUT /cars")
    assert config.routes == frozenset({"PUT /cars"})
    assert config.applies_to("PUT /cars")
    assert not config.applies_to("GET /cars")


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("PUT /cars/", "'PUT /cars'"),
        ("GET /cars/{carid}", "'GET /cars/{carId}'"),
        ("put /cars", "'PUT /cars'"),
        ("DELETE /groups/{groupId}/car/{carId}", "'DELETE /groups/{groupId}/cars/{carId}'"),
        ("POST /oauth/token", "'POST /oauth2/token'"),
        ("GET /cars/10001", "'GET /cars/{carId}'"),
    ],
)
def test_a_route_the_sandbox_does_not_serve_is_refused(typo: str, suggestion: str) -> None:
    """A misspelt route would never match, so its fault would never fire: refuse it."""
    faults = Faults()
    injectors: list[Callable[[str], object]] = [
        faults.reset_after_next,
        faults.reset_before_next,
        faults.truncate_next,
        faults.crash_next,
        faults.fail_next,
        faults.rate_limit_next,
        lambda route: faults.inject(FaultKind.ERROR_503, route),
    ]
    for inject in injectors:
        with pytest.raises(ValueError, match="no route") as caught:
            inject(typo)
        assert suggestion in str(caught.value)
    assert faults.pending == 0
    with pytest.raises(ValueError, match="no route"):
        FaultConfig(error_rate_500=0.5, routes={"GET /cars", typo})
    with pytest.raises(ValueError, match="no route"):
        FaultConfig(routes=typo)
    with pytest.raises(ValueError, match="no route"):
        faults.set(routes={typo})
    assert faults.config.routes is None


def test_a_route_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ValueError, match="METHOD /template"):
        FaultConfig(routes={("PUT", "/cars")})
    with pytest.raises(ValueError, match="METHOD /template"):
        Faults().reset_after_next(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_served_route_takes_faults(route: str) -> None:
    faults = Faults()
    faults.reset_after_next(route)
    assert faults.pending == 1
    assert FaultConfig(error_rate_500=1.0, routes=route).applies_to(route)


def test_the_fault_routes_are_the_apps_routes(sandbox: Sandbox) -> None:
    app = _SandboxApp(
        state=sandbox.state,
        credentials=sandbox.credentials,
        authority=sandbox.authority,
        faults=sandbox.faults,
        counters=sandbox.counters,
    )
    served = [route for route, *_ in app.routes()]
    assert len(served) == len(set(served)) == 30
    assert set(served) == ROUTES
    assert {*ENDPOINTS, "GET /customers", "POST /oauth2/token"} == ROUTES


def test_cli_refuses_an_unknown_fault_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--error-rate-500", "0.5", "--fault-route", "PUT /car"]) == 2
    err = capsys.readouterr().err
    assert "no route 'PUT /car'" in err
    assert "'PUT /cars'" in err


def test_one_shot_validation() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match="latency"):
        faults.inject(FaultKind.LATENCY)
    with pytest.raises(ValueError, match="count"):
        faults.reset_after_next(count=0)
    with pytest.raises(ValueError, match="500 or 503"):
        faults.fail_next(status=502)
    faults.reset_after_next("PUT /cars", count=3)
    assert faults.pending == 3
    faults.clear()
    assert faults.pending == 0


async def test_counters_reset_and_snapshot(api: Api, sandbox: Sandbox) -> None:
    await api.get("/cars")
    await api.call("PUT", "/cars", json_body={"name": "Counted"})
    snapshot = sandbox.counters.snapshot()
    assert snapshot["requests"] == {"POST /oauth2/token": 1, "GET /cars": 1, "PUT /cars": 1}
    assert snapshot["responses"]["PUT /cars 201"] == 1
    assert snapshot["created"] == {"car": 1}
    assert snapshot["tokens_issued"] == 1
    sandbox.counters.reset()
    assert sandbox.counters.total_requests == 0
    assert sandbox.counters.snapshot()["created"] == {}
