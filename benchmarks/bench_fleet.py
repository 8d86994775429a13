"""P2: fleet snapshot wall time against the latency bound N·L/C, and against raw aiohttp.

A snapshot of N requests, each answered after L seconds by the sandbox, cannot finish faster
than N·L/C with C requests in flight: that is the physical limit. For C = 16, 64 and 256 the
figures are the snapshot's wall time over N·L/C (goal <= 1.10x at C <= 64), the same for a
raw-aiohttp fan-out of the very same N requests (URLs known up front, one task per request, a
semaphore of C, each JSON answer decoded with ``orjson.loads`` into dicts; the snapshot must
discover the URLs, pages first, then each car's products, then its location, and decodes into
typed models), and ours over raw. Both alternate repetition by repetition in one run.

The sandbox runs in its own process, so its CPU time is not charged to the client; but both share
the machine's cores, so once the client's and the server's CPU per request exceed L/C, CPU and
not latency bounds the wall time (the details carry both processes' CPU per request).

``python -m benchmarks.bench_fleet [--quick]``
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks._harness import Result, interleaved_async, markdown_table, ratios, summarize
from flinkey_async import FlinkeyClient
from flinkey_async._fleet import FleetSnapshot
from flinkey_async._paging import page_queries

ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """This environment, with the repository importable and no FLINKEY_* credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLINKEY_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@contextmanager
def sandbox_process(
    *,
    cars: int,
    customers: int = 1,
    seed: int = 1,
    latency: float = 0.0,
    products: int | None = None,
    groups: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Serve ``python -m flinkey_async.sandbox``; yields its details (URL, credentials, pid).

    ``products`` and ``groups`` default to the sandbox's own sizes for the fleet (about 1.6
    products per car, a group per 20 cars).
    """
    sizes = [f"--{name}={value}" for name, value in (("products", products), ("groups", groups))
             if value is not None]  # fmt: skip
    process = subprocess.Popen(
        [
            sys.executable, "-m", "flinkey_async.sandbox", "--port", "0", "--format", "json",
            "--cars", str(cars), "--customers", str(customers), "--seed", str(seed),
            "--latency", str(latency), *sizes,
        ],
        stdout=subprocess.PIPE,
        env=child_env(),
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        details = json.loads(line)
        details["pid"] = process.pid
        yield details
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds of another process (Linux ``/proc``); 0.0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def client_kwargs(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_key": details["api_key"],
        "username": details["username"],
        "password": details["password"],
        "customer_id": details["customer_ids"][0],
        "base_url": details["base_url"],
    }


LATENCY = 0.020
CONCURRENCIES = (16, 64, 256)
GOAL = 1.10
GOAL_UP_TO = 64
PAGE_SIZE = 500


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def snapshot_urls(base: str, snapshot: FleetSnapshot, cars: int, products: int) -> list[str]:
    """The URLs a snapshot requests, for the raw fan-out (listing pages included)."""
    query, _, _ = page_queries(None, page_size=PAGE_SIZE)
    urls: list[str] = []
    for path, total in (("cars", cars), ("products", products)):
        for skip in range(0, total + 1, PAGE_SIZE):
            urls.append(f"{base}/{path}?{query.skip(skip).top(PAGE_SIZE).encoded()}")
    urls.append(f"{base}/groups")
    for car in snapshot.cars:
        urls.append(f"{base}/cars/{car.id}/products")
        if snapshot.car_products[car.id]:  # no location is asked of a car without products
            urls.append(f"{base}/cars/{car.id}/location")
    urls += [f"{base}/products/{p.id}/services" for p in snapshot.products]
    for group in snapshot.groups:
        urls += [f"{base}/groups/{group.id}/{kind}" for kind in ("cars", "users", "services",
                                                                 "products")]  # fmt: skip
    return urls


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _per_request_us(cpu_per_round: list[float], requests: int) -> float:
    return round(1e6 * _median(cpu_per_round) / requests, 1)


async def _measure(cars: int, repetitions: int) -> list[Result]:
    results: list[Result] = []
    limit = max(CONCURRENCIES)
    with sandbox_process(cars=cars, latency=LATENCY) as details:
        kwargs = client_kwargs(details)
        async with (
            FlinkeyClient(**kwargs, connector_limit=limit) as client,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as raw_session,
        ):
            fleet = client.fleet
            warm = await fleet.snapshot(concurrency=limit, page_size=PAGE_SIZE)
            assert warm.complete, warm.failures
            urls = snapshot_urls(details["base_url"], warm, len(warm.cars), len(warm.products))
            requests = warm.requests
            assert len(urls) == requests, (len(urls), requests)
            async with raw_session.post(
                details["base_url"] + "/oauth2/token",
                data={"grant_type": "password", "username": kwargs["username"],
                      "password": kwargs["password"]},
                headers={"flinkey-API-Key": kwargs["api_key"]},
            ) as answer:  # fmt: skip
                token = (await answer.json())["access_token"]
            headers = {
                "flinkey-API-Key": kwargs["api_key"],
                "Authorization": f"Bearer {token}",
                "Customer-ID": str(kwargs["customer_id"]),
            }

            for concurrency in CONCURRENCIES:
                cpu: dict[str, list[float]] = {"ours": [], "raw": []}

                async def ours(c: int = concurrency, cpu: dict[str, list[float]] = cpu) -> float:
                    cpu0 = _cpu()
                    started = time.perf_counter()
                    snapshot = await fleet.snapshot(concurrency=c, page_size=PAGE_SIZE)
                    elapsed = time.perf_counter() - started
                    cpu["ours"].append(_cpu() - cpu0)
                    assert snapshot.complete
                    assert snapshot.requests == requests
                    return elapsed

                async def raw(c: int = concurrency, cpu: dict[str, list[float]] = cpu) -> float:
                    semaphore = asyncio.Semaphore(c)

                    async def one(url: str) -> None:
                        async with semaphore, raw_session.get(url, headers=headers) as response:
                            body = await response.read()
                            if response.status == 200:
                                orjson.loads(body)
                            else:  # 404 "No products are assigned ..." (plain text) is data too
                                assert response.status == 404, (response.status, url, body)

                    cpu0 = _cpu()
                    started = time.perf_counter()
                    await asyncio.gather(*(one(url) for url in urls))
                    elapsed = time.perf_counter() - started
                    cpu["raw"].append(_cpu() - cpu0)
                    return elapsed

                server_cpu0 = cpu_seconds_of(details["pid"])
                ours_s, raw_s = await interleaved_async(ours, raw, repetitions, warmup=1)
                server_cpu = cpu_seconds_of(details["pid"]) - server_cpu0
                ideal = requests * LATENCY / concurrency
                rounds = 2 * (repetitions + 1)  # warm-up included
                common: dict[str, Any] = {
                    "concurrency": concurrency,
                    "cars": cars,
                    "requests": requests,
                    "latency_ms": LATENCY * 1000,
                    "ideal_s": round(ideal, 4),
                    "ours_s": [round(v, 4) for v in ours_s],
                    "raw_s": [round(v, 4) for v in raw_s],
                    "client_cpu_us_per_request_ours": _per_request_us(cpu["ours"], requests),
                    "client_cpu_us_per_request_raw": _per_request_us(cpu["raw"], requests),
                    "server_cpu_us_per_request": round(1e6 * server_cpu / (rounds * requests), 1),
                }
                bounded = concurrency <= GOAL_UP_TO
                results += [
                    summarize(
                        f"P2 fleet snapshot, c={concurrency}",
                        "wall / (N·L/C)",
                        [v / ideal for v in ours_s],
                        goal=f"<= {GOAL:.2f}x" if bounded else "report (C > 64)",
                        at_most=GOAL if bounded else None,
                        **common,
                    ),
                    summarize(
                        f"P2 raw aiohttp fan-out, c={concurrency}",
                        "wall / (N·L/C)",
                        [v / ideal for v in raw_s],
                        goal="reference",
                        concurrency=concurrency,
                    ),
                    summarize(
                        f"P2 snapshot vs raw, c={concurrency}",
                        "ours / raw aiohttp wall, same run",
                        ratios(ours_s, raw_s),
                        goal="report",
                        concurrency=concurrency,
                    ),
                ]
    return results


def run(quick: bool = False) -> dict[str, Any]:
    """Snapshot of 2,000 cars (quick: 300) at 20 ms latency, concurrency 16, 64 and 256."""
    cars = 300 if quick else 2000
    repetitions = 5
    results = asyncio.run(_measure(cars, repetitions))
    return {"results": results, "table": markdown_table(results)}


if __name__ == "__main__":
    outcome = run("--quick" in sys.argv)
    print(outcome["table"])
    for result in outcome["results"]:
        if "ideal_s" in result.details:
            print(result.details)
