"""OD: building a query next to sending it; build+print+encode and parse, per second.

The goal: building a query is negligible next to a request, under 5 % of the client CPU of one
raw aiohttp request measured in the same run. Figures, all CPU time (``time.process_time``) of
this process:

* **query / request**: build + print + percent-encode one query (``Query().filter(...)...
  .encoded()``), divided by one raw request: ``session.get(url)`` and ``await resp.json()``
  against a minimal ``aiohttp.web`` server on 127.0.0.1 that answers a small static car object.
  The server runs in a child process, so its CPU is not counted. Requests go one at a time (the
  cost of a single ``await``); a second figure divides by the cheaper per-request CPU of 32
  concurrent requests. Both sides alternate repetition by repetition; the figure is the median
  of the per-repetition ratios. Measured for a 10-clause filter and for a typical 2-clause one.
* **ops/s**: builds per CPU second (10 and 2 clauses), and parses of the 10-clause text.
* **vs f-string**: the 10-clause build against what people write without a builder, an f-string
  passed through ``urllib.parse.quote`` (which escapes nothing inside the literals, the bug the
  builder exists to avoid).

Run ``python -m benchmarks.bench_odata [--quick]`` or ``python benchmarks/bench_odata.py``.
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
from urllib.parse import quote

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
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
from flinkey_async import Car
from flinkey_async.odata import Query, fields, parse_filter

ROOT = Path(__file__).resolve().parent.parent
F = fields(Car)
GOAL_PERCENT = 5.0
CONCURRENCY = 32
CAR_BODY = (
    b'{"id":1,"name":"Golf GTI","description":null,"vin":"WVWZZZ1JZXW000001",'
    b'"licensePlate":"B-FL 1","brand":"VW","model":"Golf"}'
)


# -- the queries ------------------------------------------------------------------------------


def build_query() -> Query:
    """Ten clauses, a select and a top."""
    condition = (
        (F.brand == "VW")
        & (F.name.startswith("Golf") | F.vin.is_null())
        & (F.id > 100)
        & (F.id <= 5000)
        & F.model.in_(["Golf", "Polo", "Passat"])
        & ~F.description.contains("defekt")
        & (F.license_plate != None)  # noqa: E711 - builds 'ne null'
        & (F.name.lower() == "golf gti")
        & (F.id % 2 == 0)
    )
    return Query().filter(condition).select(F.id, F.name).top(50)


def build_and_encode() -> str:
    """The builder's whole path: tree, text, percent-encoding."""
    return build_query().encoded()


def build_small_and_encode() -> str:
    """A typical query: two clauses and a page size."""
    return Query().filter((F.brand == "VW") & (F.name.startswith("Golf"))).top(50).encoded()


def handwritten() -> str:
    """The same query by hand (no quote doubling: the unsafe baseline)."""
    brand, prefix, low, high = "VW", "Golf", 100, 5000
    text = (
        f"brand eq '{brand}' and (startswith(name,'{prefix}') or vin eq null) "
        f"and id gt {low} and id le {high} and model in ('Golf','Polo','Passat') "
        f"and not (contains(description,'defekt')) and licensePlate ne null "
        f"and tolower(name) eq 'golf gti' and id mod 2 eq 0"
    )
    return "$filter=" + quote(text, safe="$'(),:/@") + "&$select=id,name&$top=50"


FILTER_TEXT = build_query().params()["$filter"]


# -- the server (a child process) -------------------------------------------------------------


def _serve() -> None:
    """Answer GET /cars/{id} with a fixed car; print the port once listening."""

    async def car(request: web.Request) -> web.Response:
        return web.Response(body=CAR_BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/cars/{id}", car)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)  # after bind: the parent may connect (backlog)
    web.run_app(app, sock=sock, print=None, access_log=None)


class _Server:
    """The server in a child process, so that its CPU time is not this process's."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> _Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_odata", "--serve"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert self.process.stdout is not None
            self.port = int(self.process.stdout.readline())
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("benchmark server did not start") from None
                    time.sleep(0.05)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()


# -- measuring ----------------------------------------------------------------------------------


def _cpu_per_op(function: Callable[[], object], n: int) -> Callable[[], float]:
    """CPU seconds per call of ``function``, over ``n`` calls."""

    def measure() -> float:
        started = cpu_seconds()
        for _ in range(n):
            function()
        return (cpu_seconds() - started) / n

    return measure


def _as_async(measure: Callable[[], float]) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        return measure()

    return run


async def _request_cpu(quick: bool) -> dict[str, tuple[list[float], list[float]]]:
    """Per-repetition CPU per query and per raw request, interleaved, keyed by comparison."""
    repetitions = 5 if quick else 11
    builds = 2_000 if quick else 10_000
    requests = 400 if quick else 2_000
    with _Server() as server:
        url = f"http://127.0.0.1:{server.port}/cars/1"
        async with aiohttp.ClientSession() as session:

            async def one_request() -> None:
                async with session.get(url) as response:
                    response.raise_for_status()
                    car = await response.json()
                assert car["id"] == 1

            async def sequential() -> float:
                started = cpu_seconds()
                for _ in range(requests):
                    await one_request()
                return (cpu_seconds() - started) / requests

            async def concurrent() -> float:
                async def worker(count: int) -> None:
                    for _ in range(count):
                        await one_request()

                share = requests // CONCURRENCY
                started = cpu_seconds()
                await asyncio.gather(*(worker(share) for _ in range(CONCURRENCY)))
                return (cpu_seconds() - started) / (share * CONCURRENCY)

            big = _as_async(_cpu_per_op(build_and_encode, builds))
            small = _as_async(_cpu_per_op(build_small_and_encode, builds))
            return {
                "10 clauses, sequential": await interleaved_async(big, sequential, repetitions),
                "2 clauses, sequential": await interleaved_async(small, sequential, repetitions),
                "10 clauses, 32 concurrent": await interleaved_async(big, concurrent, repetitions),
            }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure; return the harness results and the headline figures."""
    assert handwritten() == build_and_encode()  # the baseline does the same job
    assert build_query().filter_expr is not None
    assert parse_filter(FILTER_TEXT).same_as(build_query().filter_expr)
    n, repetitions = (2_000, 5) if quick else (10_000, 11)

    build, reference = interleaved(
        _cpu_per_op(build_and_encode, n), _cpu_per_op(handwritten, n), repetitions
    )
    small, parse = interleaved(
        _cpu_per_op(build_small_and_encode, n),
        _cpu_per_op(lambda: parse_filter(FILTER_TEXT), n),
        repetitions,
    )
    versus = asyncio.run(_request_cpu(quick))

    results: list[Result] = [
        summarize(
            "OD build+print+encode, 10 clauses",
            "ops per CPU second",
            [1 / s for s in build],
            cpu_us=1e6 * min(build),
        ),
        summarize(
            "OD build+print+encode, 2 clauses",
            "ops per CPU second",
            [1 / s for s in small],
            cpu_us=1e6 * min(small),
        ),
        summarize(
            "OD parse, the 10-clause text",
            "ops per CPU second",
            [1 / s for s in parse],
            cpu_us=1e6 * min(parse),
            chars=len(FILTER_TEXT),
        ),
        summarize(
            "OD build vs hand-written f-string",
            "time ratio ours/f-string",
            ratios(build, reference),
        ),
    ]
    for label, (ours, request) in versus.items():
        results.append(
            summarize(
                f"OD query vs raw aiohttp request, {label}",
                "% of the request's client CPU",
                [100 * ratio for ratio in ratios(ours, request)],
                goal=f"< {GOAL_PERCENT:g} %",
                at_most=GOAL_PERCENT,
                query_us=1e6 * min(ours),
                request_us=1e6 * min(request),
            )
        )
    return {
        "results": results,
        "build_per_second": results[0].median,
        "build_small_per_second": results[1].median,
        "parse_per_second": results[2].median,
        "build_vs_handwritten_ratio": results[3].median,
        "percent_of_request": {
            label: result.median for label, result in zip(versus, results[4:], strict=True)
        },
        "filter_chars": len(FILTER_TEXT),
        "iterations": n,
        "repetitions": repetitions,
        "markdown": markdown_table(results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        _serve()
        return
    figures = run(options.quick)
    print(figures["markdown"])
    for result in figures["results"]:
        if result.details:
            details = ", ".join(
                f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in result.details.items()
            )
            print(f"{result.name}: {details}")


if __name__ == "__main__":
    main()
