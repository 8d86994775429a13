"""SB: the sandbox's server CPU per ``GET /cars/{carId}``, next to the client's CPU per request.

The sandbox must not be the bottleneck of the other benchmarks. Two figures, one run:

* **server**: the sandbox runs in this process and a load generator in a child process sends
  ``GET /cars/{carId}`` (raw aiohttp, keep-alive, 32 concurrent, a different car each time).
  This process's CPU time during a round, divided by the requests, is what one request costs the
  server: HTTP parsing, key, token and customer checks, the lookup, JSON, the response. The
  reference, interleaved round by round, is a bare aiohttp.web handler in this process answering
  a fixed car body to the same load: the figure is sandbox / bare aiohttp.
* **client**: the sandbox runs in a child process (``python -m flinkey_async.sandbox``) and this
  process sends the same requests through ``FlinkeyClient.cars.get`` and, interleaved, through a
  bare ``aiohttp.ClientSession`` with orjson: the client's CPU per request against the sandbox.

Only CPU time is compared, never wall time: the machine is shared, and the other side of each
exchange lives in another process, so its cost does not leak into the measured one.

Run: ``python -m benchmarks.bench_sandbox [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from benchmarks._harness import (
    Result,
    cpu_seconds,
    interleaved_async,
    markdown_table,
    ratios,
    summarize,
)
from flinkey_async._converter import unstructure
from flinkey_async.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
CARS = 1000


# -- the load generator (child process) ---------------------------------------------------------


async def _send_round(
    session: aiohttp.ClientSession,
    prefix: str,
    ids: list[int],
    headers: dict[str, str],
    count: int,
) -> None:
    async def worker(offset: int, n: int) -> None:
        for i in range(n):
            car_id = ids[(offset + i * CONCURRENCY) % len(ids)]
            async with session.get(f"{prefix}/cars/{car_id}", headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"GET /cars/{car_id}: {response.status}")
                await response.read()

    share, extra = divmod(count, CONCURRENCY)
    await asyncio.gather(*(worker(w, share + (w < extra)) for w in range(CONCURRENCY)))


async def _load_loop() -> None:
    """Read ``<url-prefix> <ids-json> <headers-json> <count>`` lines; answer ``done`` each."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        while line := await reader.readline():
            prefix, ids_text, headers_text, count_text = line.decode().rstrip("\n").split("\t")
            await _send_round(
                session, prefix, json.loads(ids_text), json.loads(headers_text), int(count_text)
            )
            sys.stdout.write("done\n")
            sys.stdout.flush()


class _LoadGenerator:
    """The child process that sends the load; each round is timed by this process's CPU."""

    async def __aenter__(self) -> _LoadGenerator:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.bench_sandbox", "--load",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()

    async def cpu_per_request(
        self, prefix: str, ids: list[int], headers: dict[str, str], count: int
    ) -> float:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        line = "\t".join([prefix, json.dumps(ids), json.dumps(headers), str(count)]) + "\n"
        started = cpu_seconds()
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        answer = await self.process.stdout.readline()
        spent = cpu_seconds() - started
        if answer.strip() != b"done":
            raise RuntimeError("the load generator failed")
        return spent / count


async def _bare_server(body: bytes) -> tuple[web.AppRunner, str]:
    async def car(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v3/cars/{carId}", car)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v3"


async def _bench_server(quick: bool) -> list[Result]:
    per_round = 1000 if quick else 3000
    repetitions = 5 if quick else 11
    async with Sandbox(cars=CARS, seed=7) as sb:
        cars = sb.state.cars(sb.customer_id)
        ids = [car.id for car in cars]
        headers = {
            "flinkey-API-Key": sb.api_key,
            "Authorization": f"Bearer {sb.issue_token()}",
            "Customer-ID": str(sb.customer_id),
        }
        runner, bare_url = await _bare_server(orjson.dumps(unstructure(cars[0])))
        try:
            async with _LoadGenerator() as load:

                async def sandbox_round() -> float:
                    return await load.cpu_per_request(sb.base_url, ids, headers, per_round)

                async def bare_round() -> float:
                    return await load.cpu_per_request(bare_url, ids, headers, per_round)

                sandbox_cpu, bare_cpu = await interleaved_async(
                    sandbox_round, bare_round, repetitions
                )
        finally:
            await runner.cleanup()
        served = sb.counters.responses[("GET /cars/{carId}", 200)]
    return [
        summarize(
            "SB sandbox server CPU",
            "sandbox / bare aiohttp.web handler (server CPU per GET /cars/{carId})",
            ratios(sandbox_cpu, bare_cpu),
            goal="report",
            sandbox_us=1e6 * min(sandbox_cpu),
            sandbox_us_median=1e6 * sorted(sandbox_cpu)[len(sandbox_cpu) // 2],
            bare_aiohttp_us=1e6 * min(bare_cpu),
            requests_per_round=per_round,
            concurrency=CONCURRENCY,
            fleet_cars=CARS,
            served=served,
        )
    ]


# -- the client against the sandbox (sandbox in a child process) --------------------------------


async def _bench_client(quick: bool) -> list[Result]:
    try:
        from flinkey_async import FlinkeyClient  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return []
    per_round = 1000 if quick else 3000
    repetitions = 5 if quick else 11
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flinkey_async.sandbox", "--port", "0", "--cars", str(CARS),
        "--seed", "7", "--format", "json",
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        details = json.loads(await process.stdout.readline())
        base, customer = details["base_url"], details["customer_ids"][0]
        async with (
            FlinkeyClient(
                api_key=details["api_key"], username=details["username"],
                password=details["password"], customer_id=customer, base_url=base,
            ) as client,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session,
        ):  # fmt: skip
            ids = [car.id for car in await client.cars.list()]
            async with session.post(
                f"{base}/oauth2/token",
                data={"grant_type": "password", "username": details["username"],
                      "password": details["password"]},
                headers={"flinkey-API-Key": details["api_key"]},
            ) as response:  # fmt: skip
                token = (await response.json())["access_token"]
            headers = {
                "flinkey-API-Key": details["api_key"],
                "Authorization": f"Bearer {token}",
                "Customer-ID": str(customer),
            }

            async def in_workers(call: Any) -> float:
                async def worker(offset: int, n: int) -> None:
                    for i in range(n):
                        await call(ids[(offset + i * CONCURRENCY) % len(ids)])

                share, extra = divmod(per_round, CONCURRENCY)
                started = cpu_seconds()
                await asyncio.gather(*(worker(w, share + (w < extra)) for w in range(CONCURRENCY)))
                return (cpu_seconds() - started) / per_round

            async def client_call(car_id: int) -> None:
                await client.cars.get(car_id)

            async def raw_call(car_id: int) -> None:
                async with session.get(f"{base}/cars/{car_id}", headers=headers) as response:
                    response.raise_for_status()
                    orjson.loads(await response.read())

            async def ours() -> float:
                return await in_workers(client_call)

            async def raw() -> float:
                return await in_workers(raw_call)

            client_cpu, raw_cpu = await interleaved_async(ours, raw, repetitions)
    finally:
        process.terminate()
        await process.wait()
    return [
        summarize(
            "SB client CPU vs sandbox",
            "FlinkeyClient.cars.get / raw aiohttp + orjson (client CPU per request)",
            ratios(client_cpu, raw_cpu),
            goal="report",
            client_us=1e6 * min(client_cpu),
            raw_us=1e6 * min(raw_cpu),
            requests_per_round=per_round,
        )
    ]


async def _run(quick: bool) -> list[Result]:
    results = await _bench_server(quick)
    results += await _bench_client(quick)
    return results


def run(quick: bool = False) -> dict[str, Any]:
    """The figures as ``{"results": [Result, ...], "server_us": ..., "client_us": ...}``."""
    results = asyncio.run(_run(quick))
    figures: dict[str, Any] = {"results": results}
    for result in results:
        if "sandbox_us" in result.details:
            figures["server_us"] = result.details["sandbox_us"]
            figures["bare_server_us"] = result.details["bare_aiohttp_us"]
        if "client_us" in result.details:
            figures["client_us"] = result.details["client_us"]
            figures["raw_client_us"] = result.details["raw_us"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.load:
        asyncio.run(_load_loop())
        return
    figures = run(options.quick)
    print(markdown_table(figures["results"]))
    for result in figures["results"]:
        details = ", ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in result.details.items()
        )
        print(f"{result.name}: {details}")
    if "server_us" in figures and "client_us" in figures:
        print(
            f"server CPU per GET /cars/{{carId}}: {figures['server_us']:.1f} us; "
            f"client CPU per cars.get: {figures['client_us']:.1f} us"
        )


if __name__ == "__main__":
    main()
