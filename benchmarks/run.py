"""Run the benchmark suite and write its results.

    python -m benchmarks            # full run (see benchmarks/README.md for the durations)
    python -m benchmarks --quick    # smaller inputs, fewer repetitions
    python -m benchmarks --only P1 P4
    python -m benchmarks --page     # also rewrite docs/benchmarks.md and its P2 plot

Each benchmark module exposes ``run(quick: bool)`` (or the function named after a colon)
returning a list of :class:`benchmarks._harness.Result` (or a dict, which is wrapped as details).
The run ends with the goals table: each goal and the figures that judge it. Results go to
``benchmarks/results/latest.json`` and ``benchmarks/results/latest.md``; ``--page`` also rewrites
``docs/benchmarks.md`` (see :mod:`benchmarks._page`) and the P2 plot.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks._harness import Result, markdown_table

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"

# (key, module[:function], what it measures)
SUITE: list[tuple[str, str, str]] = [
    ("P1", "benchmarks.bench_client", "client CPU per request vs raw aiohttp, c = 1/16/64"),
    ("P2", "benchmarks.bench_fleet", "fleet snapshot fan-out vs N*L/C and raw aiohttp"),
    ("P3", "benchmarks.bench_decode", "decoding 10,000 cars vs orjson and pydantic"),
    ("P4", "benchmarks.bench_token", "token storm across an expiry"),
    ("P5", "benchmarks.bench_sync_memory", "sync peak memory, 100k vs 10k cars"),
    ("P5b", "benchmarks.bench_main_job:p5b", "the main job as users run it, 10k vs 1k cars"),
    ("P6", "benchmarks.bench_import", "import time vs aiohttp"),
    ("P7", "benchmarks.bench_main_job:p7", "the main job vs the same requests from raw aiohttp"),
    ("OD", "benchmarks.bench_odata", "OData build+print and parse throughput"),
    ("SB", "benchmarks.bench_sandbox", "sandbox server CPU per request"),
]

# (goal, the names of the figures that judge it): the goals of issue 11, then the others.
GOALS: list[tuple[str, tuple[str, ...]]] = [
    ("P1 vs raw aiohttp + prebuilt URL + orjson, c = 1/16/64: <= 1.05x",
     tuple(f"P1 cars.get CPU, c={c}, strict anchor" for c in (1, 16, 64))),
    ("P3 decode 10,000 cars with [speed]: <= 1.0x orjson.loads",
     ("P3 decode 10,000 cars with [speed] vs orjson",)),
    ("P3 decode 10,000 cars without [speed]: <= 2.0x orjson.loads",
     ("P3 decode 10,000 cars vs orjson",)),
    ("P5 sync peak memory 100k vs 10k cars, own process measured honestly: <= 1.2x",
     ("P5 sync peak memory",)),
    ("P5b main job as run by users, 10k vs 1k cars: <= 1.3x", ("P5b main job peak memory",)),
    ("P7 main job wall and client CPU per request vs the raw plan: <= 1.15x",
     ("P7 main job wall vs raw plan", "P7 main job CPU per request vs raw plan")),
    ("main job (default, 1,000 cars) wall time vs the baseline, same run: <= 0.6x",
     ("P5b main job wall vs baseline",)),
    ("P1 vs raw aiohttp + resp.json(), c = 1/16/64: <= 1.10x",
     tuple(f"P1 cars.get CPU, c={c}" for c in (1, 16, 64))),
    ("P3 faster than pydantic v2: < 1.0x", ("P3 decode 10,000 cars vs pydantic",)),
    ("P4 one token request per storm", ("P4 token storm",)),
    ("P6 import time vs aiohttp: <= 1.3x", ("P6 import time",)),
]  # fmt: skip


def goals_table(results: list[Result]) -> str:
    """Every goal with the figures that judge it (median, min-max, met), or "not run"."""
    by_name: dict[str, list[Result]] = {}
    for result in results:
        by_name.setdefault(result.name, []).append(result)
    lines = ["| goal | figure | median (min-max) | met |", "| --- | --- | --- | --- |"]
    for goal, names in GOALS:
        for name in names:
            rows = [r for r in by_name.get(name, []) if r.goal != "close to 1"]
            if not rows:
                lines.append(f"| {goal} | {name} | not in this run | |")
            for r in rows:
                met = "" if r.met is None else ("yes" if r.met else "**no**")
                lines.append(
                    f"| {goal} | {name} | {r.median:.3f} ({r.low:.3f}-{r.high:.3f}) | {met} |"
                )
    return "\n".join(lines)


def _as_results(key: str, value: Any) -> list[Result]:
    if isinstance(value, list) and all(isinstance(item, Result) for item in value):
        return value
    if isinstance(value, Result):
        return [value]
    if isinstance(value, dict):
        rows = value.get("results")
        if isinstance(rows, list) and all(isinstance(item, Result) for item in rows):
            return rows
        return [Result(key, "see details", float("nan"), float("nan"), float("nan"), details=value)]
    raise TypeError(f"{key}: run() returned {type(value).__name__}")


def _processor() -> str:
    """The CPU's model name (what ``lscpu`` shows), and the architecture."""
    arch = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({arch})"
    except OSError:
        pass
    return platform.processor() or arch


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _processor(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller inputs")
    parser.add_argument(
        "--only", nargs="*", default=None, help="keys to run (P1 P2 P3 P4 P5 P6 OD SB)"
    )
    parser.add_argument(
        "--page", action="store_true", help="rewrite docs/benchmarks.md and its P2 plot"
    )
    args = parser.parse_args(argv)

    results: list[Result] = []
    failures: list[str] = []
    timings: dict[str, float] = {}
    load_before = machine()["load_average"]
    run_started = time.perf_counter()
    for key, module_name, what in SUITE:
        if args.only and key not in args.only:
            continue
        print(f"== {key}: {what}", flush=True)
        started = time.perf_counter()
        try:
            module_path, _, function = module_name.partition(":")
            module = importlib.import_module(module_path)
            rows = _as_results(key, getattr(module, function or "run")(args.quick))
        except Exception:  # a broken benchmark must not hide the others' figures
            failures.append(key)
            traceback.print_exc()
            continue
        results.extend(rows)
        timings[key] = round(time.perf_counter() - started, 1)
        print(markdown_table(rows), flush=True)
        print(f"   ({timings[key]} s)", flush=True)

    RESULTS.mkdir(exist_ok=True)
    document = {
        "machine": {**machine(), "load_average_at_start": load_before},
        "quick": args.quick,
        "seconds": round(time.perf_counter() - run_started, 1),
        "seconds_per_benchmark": timings,
        "command": " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)]),
        "results": [r.as_dict() for r in results],
        "failed": failures,
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    table = markdown_table(results)
    goals = goals_table(results)
    (RESULTS / "latest.md").write_text(table + "\n\n" + goals + "\n")
    print("\n" + table)
    print("\n" + goals)
    if args.page:
        from benchmarks._page import write_page

        write_page(document)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
