"""P1: client CPU per ``cars.get`` against raw aiohttp, and decoding a 10,000-car list.

P1a runs a small aiohttp server in a separate process (so this process's CPU time is the client's
alone) and, interleaved in one run, sends the same number of ``GET /cars/{id}`` through
``FlinkeyClient.cars.get`` and through a bare ``aiohttp.ClientSession`` with the same three headers,
the same concurrency and the same JSON decoder, returning a dict. The figure is CPU per request,
client over raw (goal <= 1.10x). P1b: the reference decodes with the standard ``json`` module, as
``response.json()`` would.

P1c decodes a 10,000-car list body as the client does (JSON parse + structure into ``Car``) and
divides by ``orjson.loads`` alone on the same bytes (goal <= 2.0x).

Run: ``python -m benchmarks.bench_client [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from benchmarks._harness import (
    Result,
    cpu_seconds,
    interleaved,
    interleaved_async,
    markdown_table,
    ratios,
    summarize,
)
from flinkey_async import Car, FlinkeyClient
from flinkey_async._converter import structure_list

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
TOKEN = "bench-token"
CONCURRENCY = 32


def _car(i: int) -> dict[str, Any]:
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
    car_body = orjson.dumps(_car(1))
    token_body = orjson.dumps(
        {"token_type": "Bearer", "expires_in": "3600", "access_token": TOKEN}
    )

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


class _Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Server:
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


# -- P1 -------------------------------------------------------------------------------------------


async def _in_workers(total: int, call: Any) -> float:
    """CPU seconds per request for ``total`` calls spread over CONCURRENCY workers."""

    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    share, extra = divmod(total, CONCURRENCY)
    started = cpu_seconds()
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(CONCURRENCY)))
    return (cpu_seconds() - started) / total


async def _bench_get(quick: bool) -> list[Result]:
    per_round = 1000 if quick else 1500
    repetitions = 5 if quick else 21
    with _Server() as server:
        base = f"http://127.0.0.1:{server.port}/v3"
        headers = {
            "flinkey-API-Key": API_KEY,
            "Authorization": f"Bearer {TOKEN}",
            "Customer-ID": "42",
        }
        url = f"{base}/cars/1"
        connector = aiohttp.TCPConnector(limit=100)
        async with (
            FlinkeyClient(
                api_key=API_KEY, username="bench", password="bench", customer_id=42,
                base_url=base,
            ) as client,
            aiohttp.ClientSession(connector=connector) as session,
        ):

            async def ours_call() -> None:
                car = await client.cars.get(1)
                assert car.id == 1

            async def raw_call() -> None:
                async with session.get(url, headers=headers) as response:
                    response.raise_for_status()
                    data = orjson.loads(await response.read())
                assert data["id"] == 1

            async def raw_std_call() -> None:
                async with session.get(url, headers=headers) as response:
                    response.raise_for_status()
                    data = json.loads(await response.read())
                assert data["id"] == 1

            async def ours() -> float:
                return await _in_workers(per_round, ours_call)

            async def raw() -> float:
                return await _in_workers(per_round, raw_call)

            async def raw_std() -> float:
                return await _in_workers(per_round, raw_std_call)

            ours_cpu, raw_cpu = await interleaved_async(ours, raw, repetitions)
            ours_cpu2, std_cpu = await interleaved_async(ours, raw_std, repetitions)
    return [
        summarize(
            "P1a cars.get CPU",
            "client / raw aiohttp + orjson (CPU per request, same server and concurrency)",
            ratios(ours_cpu, raw_cpu),
            goal="<= 1.10x",
            at_most=1.10,
            client_us=1e6 * min(ours_cpu),
            raw_us=1e6 * min(raw_cpu),
            requests_per_round=per_round,
            concurrency=CONCURRENCY,
        ),
        summarize(
            "P1b cars.get CPU (stdlib json)",
            "client / raw aiohttp + json (stdlib decoder)",
            ratios(ours_cpu2, std_cpu),
            goal="<= 1.10x",
            at_most=1.10,
            client_us=1e6 * min(ours_cpu2),
            raw_us=1e6 * min(std_cpu),
        ),
    ]


# -- P1c ------------------------------------------------------------------------------------------


def _bench_decode(quick: bool) -> list[Result]:
    payload = orjson.dumps([_car(i) for i in range(10_000)])
    repetitions = 9 if quick else 31
    loops = 3

    def timed(function: Any) -> float:
        started = cpu_seconds()
        for _ in range(loops):
            function()
        return (cpu_seconds() - started) / loops

    def ours() -> float:
        return timed(lambda: structure_list(orjson.loads(payload), Car))

    def reference() -> float:
        return timed(lambda: orjson.loads(payload))

    ours_s, reference_s = interleaved(ours, reference, repetitions)
    return [
        summarize(
            "P1c decode 10,000 cars",
            "(orjson.loads + structure into Car) / orjson.loads",
            ratios(ours_s, reference_s),
            goal="<= 2.0x",
            at_most=2.0,
            decode_ms=1e3 * min(ours_s),
            loads_ms=1e3 * min(reference_s),
            body_bytes=len(payload),
        )
    ]


def run(quick: bool = False) -> list[Result]:
    results = _bench_decode(quick)
    results += asyncio.run(_bench_get(quick))
    return results


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
        details = ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in result.details.items())
        print(f"{result.name}: {details}")


if __name__ == "__main__":
    main()
