"""Tracing with OpenTelemetry's aiohttp instrumentation: one span per HTTP attempt, no secret.

The client sends every attempt (token requests, retries, replays) through its aiohttp session, so
the instrumentation's ``TraceConfig`` sees each one; these tests count the spans against what the
sandbox received and search every span attribute for the credentials and the issued token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from client.fake_secrets import API_KEY, PASSWORD, USERNAME

from flinkey_async import FlinkeyClient
from flinkey_async.sandbox import Sandbox

from .conftest import FAST_RETRY, Stack, World

pytest.importorskip("opentelemetry.sdk")
aiohttp_client = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

SENSITIVE = ["authorization", "flinkey-api-key"]
"""The request headers that carry secrets: name them in ``sensitive_headers``."""


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


def _texts(span: ReadableSpan) -> Iterator[str]:
    yield span.name
    for key, value in (span.attributes or {}).items():
        yield str(key)
        yield str(value)
    for event in span.events:
        yield event.name
        for key, value in (event.attributes or {}).items():
            yield f"{key}={value!r}"


JWT_START = "eyJ"
"""How every token the sandbox issues begins (a JWT's base64url header ``{"...``)."""


def _assert_no_secret(spans: tuple[ReadableSpan, ...]) -> None:
    secrets = [API_KEY, PASSWORD, USERNAME, JWT_START]
    for span in spans:
        for text in _texts(span):
            for secret in secrets:
                assert secret not in text, f"a secret in span {span.name!r}"


def _methods_and_paths(spans: tuple[ReadableSpan, ...]) -> list[tuple[str, str, int]]:
    found = []
    for span in spans:
        attributes: dict[str, Any] = dict(span.attributes or {})
        url = str(attributes.get("url.full", attributes.get("http.url", "")))
        method = str(attributes.get("http.request.method", attributes.get("http.method", "")))
        status = int(
            attributes.get("http.response.status_code", attributes.get("http.status_code", 0))
        )
        path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        found.append((method, "/" + path, status))
    return found


async def test_one_span_per_attempt_with_a_borrowed_session(
    sb: Sandbox,
    world: World,
    stack: Stack,
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
) -> None:
    trace_config = aiohttp_client.create_trace_config(
        tracer_provider=provider,
        captured_request_headers=["authorization", "flinkey-api-key", "customer-id"],
        sensitive_headers=SENSITIVE,
    )
    session = await stack.session(trace_configs=[trace_config])
    client = await stack.client(session=session)
    sb.faults.fail_next("GET /cars", status=503)

    assert await client.cars.list() == sb.state.cars(world.cid)

    spans = exporter.get_finished_spans()
    attempts = _methods_and_paths(spans)
    assert attempts == [
        ("POST", "/v3/oauth2/token", 200),
        ("GET", "/v3/cars", 503),
        ("GET", "/v3/cars", 200),
    ]
    assert sb.counters.requests["GET /cars"] == 2
    assert len(spans) == client.stats.requests + client.stats.token_requests
    assert client.stats.retries == 1
    _assert_no_secret(spans)


async def test_the_global_instrumentor_traces_the_clients_own_session(
    sb: Sandbox,
    world: World,
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
) -> None:
    instrumentor = aiohttp_client.AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        async with FlinkeyClient(**sb.client_kwargs(), retry=FAST_RETRY) as client:
            sb.faults.fail_next("GET /cars/{carId}", status=503, count=2)
            car = await client.cars.get(world.car)
            assert car.id == world.car
    finally:
        instrumentor.uninstrument()

    spans = exporter.get_finished_spans()
    statuses = [status for method, path, status in _methods_and_paths(spans) if method == "GET"]
    assert statuses == [503, 503, 200]
    assert len(spans) == client.stats.requests + client.stats.token_requests
    _assert_no_secret(spans)
