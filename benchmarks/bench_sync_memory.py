"""Sync peak memory at 100,000 vs 10,000 cars, the sync's request rate, and where its time goes.

The sync streams: pages go to the store as they arrive, so its peak memory must not grow with
the fleet (goal: peak RSS at 100k cars <= 1.2x the peak at 10k). Each size runs in a fresh
process, against a sandbox in yet another process (a fleet of 100k cars costs the sandbox itself
a few hundred MB, which must not be counted). The peak is the process's own high-water mark,
``VmHWM`` in ``/proc/self/status``: on Linux ``ru_maxrss`` survives ``exec``, so a child started
from a large parent reports the parent's peak (the suite's 60 MB hid both sizes, and the ratio
was 1.000 whatever the sync did).

The same runs give the sync's requests per second against a sandbox without latency; one more
run under ``cProfile`` shows where the client process spends its time.

``python -m benchmarks.bench_sync_memory [--quick]``
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import markdown_table, summarize
from benchmarks.bench_fleet import child_env, client_kwargs, cpu_seconds_of, sandbox_process

CONCURRENCY = 32


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's own peak resident memory (``VmHWM``), in MB; ``ru_maxrss`` off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    if pid != "self":
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


async def _sync(details: dict[str, Any], out: Path) -> dict[str, Any]:
    from flinkey_async import FlinkeyClient
    from flinkey_async.sync import SqliteStore, SyncJob

    async with FlinkeyClient(**client_kwargs(details)) as client, SqliteStore(out) as store:
        started = time.perf_counter()
        report = await SyncJob(client, store, concurrency=CONCURRENCY).run()
        seconds = time.perf_counter() - started
    assert report.ok, report.failures[:3]
    return {
        "requests": report.requests,
        "seconds": round(seconds, 2),
        "requests_per_second": round(report.requests / seconds, 1),
        "cars": report.changes["cars"]["alive"],
    }


def child(details: dict[str, Any], profile: bool) -> dict[str, Any]:
    """One sync in this (fresh) process: its figures and this process's peak RSS."""
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "fleet.sqlite"
        import flinkey_async.sync  # noqa: F401 - count the imports in the baseline

        baseline = peak_rss_mb()
        cpu0 = time.process_time()
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            figures = asyncio.run(_sync(details, out))
            profiler.disable()
            figures["profile"] = _where_time_goes(profiler)
        else:
            figures = asyncio.run(_sync(details, out))
        figures["client_cpu_s"] = round(time.process_time() - cpu0, 2)
        figures["baseline_rss_mb"] = round(baseline, 1)
        figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
        figures["store_mb"] = round(out.stat().st_size / 2**20, 1)
    return figures


_AREAS = (
    ("aiohttp/asyncio I/O", ("aiohttp", "asyncio", "selectors", "socket", "yarl", "multidict")),
    ("client transport", ("flinkey_async/_transport", "flinkey_async/_auth")),
    ("resources + decoding", ("flinkey_async/_cars", "flinkey_async/_products",
                              "flinkey_async/_groups", "flinkey_async/_validation",
                              "flinkey_async/_converter", "cattrs", "<structure", "orjson")),
    ("walk + runner", ("flinkey_async/_fleet", "flinkey_async/_engine", "flinkey_async/_paging",
                       "flinkey_async/odata")),
    ("sync + store", ("flinkey_async/sync", "sqlite3", "concurrent/futures", "threading")),
)  # fmt: skip


def _where_time_goes(profiler: cProfile.Profile) -> dict[str, Any]:
    """Own time per area of the code, and the top functions by own time."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = 0.0
    areas: dict[str, float] = {name: 0.0 for name, _ in _AREAS}
    areas["other"] = 0.0
    top: list[tuple[float, str]] = []
    for (filename, line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        total += own
        where = f"{filename}:{name}"
        for area, needles in _AREAS:
            if any(needle in where for needle in needles):
                areas[area] += own
                break
        else:
            areas["other"] += own
        top.append((own, f"{Path(filename).name}:{line}({name})"))
    top.sort(reverse=True)
    return {
        "share_of_own_time": {k: round(v / total, 3) for k, v in areas.items() if total},
        "top_functions": [f"{own:.2f}s {where}" for own, where in top[:12]],
    }


def _run_child(details: dict[str, Any], *, profile: bool = False) -> dict[str, Any]:
    arguments = [sys.executable, "-m", "benchmarks.bench_sync_memory", "--child",
                 json.dumps(details)] + (["--profile"] if profile else [])  # fmt: skip
    done = subprocess.run(
        arguments, env=child_env(), capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(quick: bool = False) -> dict[str, Any]:
    """Peak RSS of a sync of 10k and 100k cars (quick: 2k and 20k), req/s, and a profile."""
    small, large = (2_000, 20_000) if quick else (10_000, 100_000)
    figures: dict[int, dict[str, Any]] = {}
    profile: dict[str, Any] = {}
    for cars in (small, large):
        with sandbox_process(cars=cars) as details:
            server_cpu0 = cpu_seconds_of(details["pid"])
            figures[cars] = _run_child(details)
            figures[cars]["server_cpu_s"] = round(cpu_seconds_of(details["pid"]) - server_cpu0, 2)
            if cars == small:
                profile = _run_child(details, profile=True)["profile"]
    ratio = figures[large]["peak_rss_mb"] / figures[small]["peak_rss_mb"]
    growth_small = figures[small]["peak_rss_mb"] - figures[small]["baseline_rss_mb"]
    growth_large = figures[large]["peak_rss_mb"] - figures[large]["baseline_rss_mb"]
    results = [
        summarize(
            "P5 sync peak memory",
            f"client process's own peak RSS (VmHWM), {large:,} cars / {small:,} cars",
            [ratio],
            goal="<= 1.2x",
            at_most=1.2,
            small=figures[small],
            large=figures[large],
            growth_above_imports_mb={small: round(growth_small, 1), large: round(growth_large, 1)},
        ),
        summarize(
            "P5 sync request rate",
            "requests/s, sandbox without latency (separate process)",
            [figures[small]["requests_per_second"], figures[large]["requests_per_second"]],
            goal="report",
            concurrency=CONCURRENCY,
            profile=profile,
        ),
    ]
    return {"results": results, "table": markdown_table(results)}


if __name__ == "__main__":
    if "--child" in sys.argv:
        position = sys.argv.index("--child")
        print(json.dumps(child(json.loads(sys.argv[position + 1]), "--profile" in sys.argv)))
        sys.exit(0)
    outcome = run("--quick" in sys.argv)
    print(outcome["table"])
    for result in outcome["results"]:
        print()
        print(json.dumps(result.details, indent=2, default=str))
