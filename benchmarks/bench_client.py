"""P1: the client's CPU per ``cars.get`` against raw aiohttp, at concurrency 1, 16 and 64.

A minimal static aiohttp server runs in a child process (it answers one fixed car body, so it
costs next to nothing, and its CPU is not this process's). In this process, interleaved round by
round, the same number of ``GET /cars/1`` go

* through ``FlinkeyClient.cars.get(1)`` (token, headers, URL, retry loop, error mapping,
  decoding into a frozen ``Car``);
* through a bare ``aiohttp.ClientSession``: ``session.get(url, headers=...)`` and
  ``await resp.json()``, the anchor named by the goal;
* through the strict anchor: the same bare session given a prebuilt ``yarl.URL`` (aiohttp parses
  no string) and decoding with ``orjson.loads`` (the client's own decoder when the ``speed``
  extra is installed): the least a hand-written call can do.

Each side keeps the given number of requests in flight (workers that loop). The figure is CPU
per request (``getrusage``, user + system) of this process, client over anchor, the ratio taken
per repetition; goals <= 1.10x over ``resp.json()`` and <= 1.05x over the strict anchor.

Run: ``python -m benchmarks.bench_client [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from benchmarks._harness import (
    Result,
    cpu_seconds,
    markdown_table,
    ratios,
    rotated_async,
    summarize,
)
from flinkey_async import FlinkeyClient

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
TOKEN = "bench-token"
CONCURRENCIES = (1, 16, 64)
GOAL = 1.10
STRICT_GOAL = 1.05


def car_json(i: int) -> dict[str, Any]:
    """A car as the service sends it (also the body of the P3 decoding benchmark)."""
    return {
        "id": i,
        "name": f"Car {i}",
        "description": None if i % 3 else "pool car",
        "vin": f"WVWZZZ1JZXW{i:06d}",
        "licensePlate": f"B-FL {i}",
        "brand": ("VW", "BMW", "Audi")[i % 3],
        "model": None if i % 5 == 0 else "Golf",
    }


# -- the server (runs in a child process) -------------------------------------------------------


def _serve(port: int) -> None:
    car_body = orjson.dumps(car_json(1))
    token_body = orjson.dumps({"token_type": "Bearer", "expires_in": "3600", "access_token": TOKEN})

    async def token(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=token_body, content_type="application/json")

    async def car(request: web.Request) -> web.Response:
        return web.Response(body=car_body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v3/oauth2/token", token)
    app.router.add_get("/v3/cars/{id}", car)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StaticServer:
    """The static server above, in a child process (``with StaticServer() as server:``)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def __enter__(self) -> StaticServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_client", "--serve", str(self.port)],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("benchmark server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


# -- P1 -------------------------------------------------------------------------------------------


async def cpu_per_call(total: int, concurrency: int, call: Callable[[], Awaitable[None]]) -> float:
    """CPU seconds per call for ``total`` calls made by ``concurrency`` looping workers."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    share, extra = divmod(total, concurrency)
    started = cpu_seconds()
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    return (cpu_seconds() - started) / total


async def _measure(quick: bool) -> list[Result]:
    repetitions = 6 if quick else 9
    results: list[Result] = []
    with StaticServer() as server:
        base = server.base_url
        url = f"{base}/cars/1"
        prebuilt = URL(url)
        headers = {
            "flinkey-API-Key": API_KEY,
            "Authorization": f"Bearer {TOKEN}",
            "Customer-ID": "42",
        }
        limit = max(CONCURRENCIES)
        async with (
            FlinkeyClient(
                api_key=API_KEY, username="bench", password="bench", customer_id=42,
                base_url=base, connector_limit=limit,
            ) as client,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as session,
        ):  # fmt: skip

            async def ours_call() -> None:
                car = await client.cars.get(1)
                assert car.id == 1

            async def raw_call() -> None:
                async with session.get(url, headers=headers) as response:
                    response.raise_for_status()
                    data = await response.json()
                assert data["id"] == 1

            async def strict_call() -> None:
                async with session.get(prebuilt, headers=headers) as response:
                    response.raise_for_status()
                    data = orjson.loads(await response.read())
                assert data["id"] == 1

            for concurrency in CONCURRENCIES:
                # A single request in flight waits for the round trip: fewer of them per round.
                per_round = (500 if quick else 1000) * (1 if concurrency == 1 else 2)

                def side(
                    call: Callable[[], Awaitable[None]], c: int = concurrency, n: int = per_round
                ) -> Callable[[], Awaitable[float]]:
                    return lambda: cpu_per_call(n, c, call)

                ours, raw, strict = await rotated_async(
                    [side(ours_call), side(raw_call), side(strict_call)], repetitions
                )
                common = {"concurrency": concurrency, "requests_per_round": per_round,
                          "repetitions": repetitions}  # fmt: skip
                results.append(
                    summarize(
                        f"P1 cars.get CPU, c={concurrency}",
                        "client / raw aiohttp session.get + resp.json() (CPU per request)",
                        ratios(ours, raw),
                        goal=f"<= {GOAL:.2f}x",
                        at_most=GOAL,
                        client_us=round(1e6 * sorted(ours)[len(ours) // 2], 1),
                        raw_us=round(1e6 * sorted(raw)[len(raw) // 2], 1),
                        **common,
                    )
                )
                results.append(
                    summarize(
                        f"P1 cars.get CPU, c={concurrency}, strict anchor",
                        "client / raw aiohttp + prebuilt URL + orjson.loads (CPU per request)",
                        ratios(ours, strict),
                        goal=f"<= {STRICT_GOAL:.2f}x",
                        at_most=STRICT_GOAL,
                        client_us=round(1e6 * sorted(ours)[len(ours) // 2], 1),
                        raw_us=round(1e6 * sorted(strict)[len(strict) // 2], 1),
                        **common,
                    )
                )
    return results


def run(quick: bool = False) -> list[Result]:
    return asyncio.run(_measure(quick))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        _serve(options.serve)
        return
    results = run(options.quick)
    print(markdown_table(results))
    for result in results:
        print(f"{result.name}: {result.details}")


if __name__ == "__main__":
    main()
