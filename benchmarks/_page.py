"""``docs/benchmarks.md`` and its P2 plot, written from one run's results document.

``python -m benchmarks --page`` calls :func:`write_page` with the document it also writes to
``benchmarks/results/latest.json``; ``python -m benchmarks._page`` rewrites the page from that file.
The page says what each benchmark measures and how to reproduce it, then gives the table of the
run with the machine it ran on, a few figures derived from the details, and the plot of P2's wall
time against concurrency next to the N·L/C line (``docs/benchmarks-p2.png``, matplotlib, Agg).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from benchmarks._harness import Result

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-p2.png"
REPRODUCE = 'python -m pip install -e ".[bench,speed]" && python -m benchmarks --page'

INTRO = """\
# Benchmarks

What a request costs, how close bulk fetches come to the physical limit, and how that compares
with what you would write by hand with aiohttp.

Our machines are shared and noisy (2 cores, 20-100 % spread between repetitions), so every figure
below is a **ratio of two things measured side by side in one run**: each repetition runs ours
and the reference back to back, alternating which goes first, and the ratio is taken per
repetition. The table gives the median and the min-max of those ratios. Absolute times from
different runs are never compared. Nothing here is asserted in the test suite.

## Reproduce

```console
{reproduce}
```

`python -m benchmarks --quick` runs everything with smaller inputs and fewer repetitions (how
long each takes, as measured, is in `benchmarks/README.md`); `--only P1 P3` runs some of them;
each module also runs alone (`python -m benchmarks.bench_fleet --quick`). Results go to
`benchmarks/results/latest.json` and `latest.md`; `--page` rewrites this page and
`docs/benchmarks-p2.png`. The `bench` extra brings orjson, pydantic (P3's second reference;
without it that row is skipped with a note) and matplotlib (the plot); the `speed` extra brings
msgspec (P3's `[speed]` row).

## What each benchmark measures

| id | measures | reference, same run | goal |
| --- | --- | --- | --- |
| P1 | CPU per request (`getrusage`, user + system, client process only) of `client.cars.get(id)`: token, headers, URL, retry loop, error mapping, decoding into a frozen `Car`; at 1, 16 and 64 requests in flight. The server is a minimal static aiohttp app in a child process, so it costs next to nothing and its CPU is not counted. | raw `aiohttp.ClientSession.get` + `await resp.json()` on the same server and concurrency; the strict anchor: raw aiohttp given a prebuilt `yarl.URL`, decoding with `orjson.loads` | <= 1.10x; strict <= 1.05x |
| P2 | wall time of `client.fleet.snapshot()` of 2,000 cars (about 6,000 requests: pages, each car's products and location, each product's service, each group's members), every answer delayed L = 20 ms by the sandbox (own process), at concurrency C = 16, 64, 256 | the latency bound N·L/C; a raw aiohttp fan-out of the very same N URLs (known up front, one task each, a semaphore of C) | <= 1.10x of N·L/C at C <= 64 |
| P3 | CPU to decode a 10,000-car `GET /cars` body into `list[Car]`: by the converter (`orjson.loads` + the generated structure hook), and with the `speed` extra (`decode_list`: msgspec reads the bytes); each measurement in a fresh interpreter, so that no side runs on the heap another side left behind | `orjson.loads` alone (dicts); pydantic v2 `TypeAdapter(list[CarModel]).validate_json` of an equivalent frozen model | converter <= 2.0x orjson, `[speed]` <= 1.0x; faster than pydantic |
| P4 | 1,000 concurrent `cars.get` that all find the token due for renewal (sandbox tokens live 2 s) | the token requests the storm makes; the same 1,000 calls with a valid token | exactly 1 token request |
| P5 | the sync process's own peak RSS (`VmHWM`) during the sync job (each size in a fresh process, sandbox in another) | the same at 10,000 cars | 100,000 / 10,000 <= 1.2x |
| P5b | `flinkey-async sync` exactly as users run it (no credentials: the embedded sandbox), each run a fresh process: the sum of the own peaks (`VmHWM`) of its process and every process it starts; its wall time | the same at 1,000 cars; the command of the baseline commit at 1,000 cars, interleaved | 10,000 / 1,000 <= 1.3x; wall <= 0.6x of the baseline |
| P7 | `flinkey-async sync` of 1,000 cars against one sandbox in its own process: wall time of the command and its CPU per request (`wait4`) | a raw aiohttp script issuing the very same requests (recorded from one sync; URLs known up front, the same concurrency, bodies read with `orjson.loads` and dropped), interleaved | <= 1.15x, wall and CPU |
| P6 | import time of `flinkey_async` in a fresh interpreter (interpreter start subtracted) | `import aiohttp` alone | <= 1.3x |
| OD | OData: building + printing + encoding a 10-clause and a 2-clause query, and parsing filter text | one raw aiohttp request's client CPU (the build must be negligible next to it); an f-string | build < 5 % of a request |
| SB | the sandbox's own CPU per `GET /cars/{{id}}` (it must not be what the other figures measure) | a bare aiohttp.web handler | report |
"""  # noqa: E501 (a Markdown table: one row a line)

FOOTER = """\
## Reading the figures

- **P1** compares the whole client path with the few lines you would write by hand; the client's
  own work (token check, headers, URL, retry bookkeeping, typed decoding) is a few microseconds on
  top of aiohttp's own cost per request, so the ratios sit close to 1 and the noise of the
  machine decides single repetitions. Ratios below 1 against `resp.json()` come from orjson
  (the client decodes with it when the `speed` extra is installed) and from passing aiohttp a
  ready `yarl.URL` instead of a string it must parse. Against the strict anchor, the read path
  was made leaner on 2026-12-03: URLs from per-endpoint prefixes joined once (about 0.5 µs
  instead of 3), header sets made once per token and customer, and one call level fewer
  between a resource and aiohttp (every level is paid again each time a request resumes).
  Medians of 4 interleaved `--quick` runs, c = 1/16/64: 1.102/1.169/1.175 before,
  1.014/1.054/1.069 after (run medians 0.92-1.10, 1.00-1.10, 1.03-1.18 after). What is left is
  mostly aiohttp's per-request middleware chain (two call levels: the guard against aiohttp's
  silent resend, which has no public switch) and decoding into a frozen `Car`.
- **P2**: with C requests in flight and every answer taking L, nothing finishes N requests faster
  than N·L/C. That bound only holds while the CPU keeps up: each request also costs the client
  and the sandbox CPU time, and when their sum per request exceeds L/C on the machine's cores,
  CPU becomes the limit. The raw fan-out shows where that limit lies on the machine; "ours / raw"
  is what the client adds to it. At C = 256, L/C is 78 µs, far below what one request costs
  either process, so both sides are CPU bound and the row is reported, not judged.
- **P3**: the structure hooks are generated as straight-line code per model. Each value is built
  as an instance of a plain twin class with the same slots (plain attribute stores, which the
  interpreter does itself) and then given its frozen class; what remains is reading, checking
  and storing seven fields per car, which costs a little less than `orjson.loads` of the body.
  The twin is the decoder's one way past the attrs `__init__`, kept because it pays: 1.87x
  `orjson.loads` with it, 2.67x through `__init__` (7 fresh-process rounds, 2026-12-03).
  With the `speed` extra, msgspec reads the bytes into a camelCase mirror of the model (a
  Struct, in C, about half the cost of `orjson.loads`) and a generated builder makes the model
  from it through the same twin: 1.27x `orjson.loads` for 10,000 cars, and a single car in
  2.4 µs instead of 4.9. msgspec's own attrs support cannot serve: it reads fields only by their
  attribute names, and `msgspec.convert` costs about 3 µs a call. Measured in one process, the
  ratio moves between 1.8 and 2.6 with the order of the sides, because the memory one side
  frees makes the next side's allocations cheaper; hence the fresh interpreter per measurement.
- **OD**: a typical query (two clauses and a page size) costs under 5 % of a request; ten
  clauses cost about 27 µs, some 15-20 % of a sequential request. Most of it is building some
  40 tree nodes and printing them with correct parentheses and escaping; an f-string passed
  through `urllib.parse.quote`, which escapes nothing inside the literals, costs 40 % of that.
- **P5** is a ratio of peak memory, not of time: the sync streams pages into its store, so its
  peak should not grow with the fleet. It reads the process's own `VmHWM`: `ru_maxrss` survives
  `exec` on Linux, so a child started from the suite reported the suite's peak, and runs before
  2026-12-03 show exactly 1.000 whatever the sync did (a quick run now: 1.039).
- **P5b** is the main job as a user meets it: the command, its imports and the embedded
  sandbox (in a process of its own), whose fleet data grows with the fleet.
- **P7** is the main job against its physical limit: the same requests from the least code that
  can send them. Both sides are whole processes, interpreter start and imports included, and at
  1,000 cars (3,712 requests) the start-up is most of the difference in CPU per request:
  importing what the command needs costs about 0.65 s of CPU, aiohttp and orjson alone 0.3 s,
  and 0.35 s over 3,712 requests is about 95 µs a request (and as much wall time, in runs of
  1-3 s). A py-spy profile of the command
  (2026-12-03): start-up imports 42 % of its samples (the client 21 %, the sync 13 %, the CLI
  5 %), aiohttp 25 %, the library 9 %, asyncio 6 %, SQLite 4 %. The per-request work is close to
  the script's; the fixed cost weighs less as the fleet grows.
"""


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| benchmark | metric | median | min | max | goal | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        met = "" if r.get("met") is None else ("yes" if r["met"] else "**no**")
        lines.append(
            f"| {r['name']} | {r['metric']} | {_fmt(r['median'])} | {_fmt(r['low'])} "
            f"| {_fmt(r['high'])} | {r.get('goal', '')} | {met} |"
        )
    return "\n".join(lines)


def _machine(document: dict[str, Any]) -> str:
    m = document.get("machine", {})
    load = m.get("load_average_at_start") or m.get("load_average") or []
    parts = [
        f"- date: {m.get('date', '?')}",
        f"- machine: {m.get('processor', '?')}, {m.get('cpus', '?')} CPUs, "
        f"{m.get('platform', '?')}",
        f"- Python {m.get('python', '?')}",
    ]
    if load:
        parts.append(
            f"- load average (1, 5, 15 min) at the start: {', '.join(str(x) for x in load)}"
            " (other jobs share the machine)"
        )
    mode = "quick (smaller inputs, fewer repetitions)" if document.get("quick") else "full"
    duration = document.get("seconds")
    parts.append(
        f"- run: `{document.get('command', 'python -m benchmarks')}`, {mode}"
        + (f", {duration:.0f} s" if isinstance(duration, int | float) else "")
    )
    if document.get("failed"):
        parts.append(f"- failed (see the run's output): {', '.join(document['failed'])}")
    return "\n".join(parts)


def _p2_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r for r in document.get("results", [])
        if r["name"].startswith("P2 fleet snapshot") and "ideal_s" in r.get("details", {})
    ]  # fmt: skip


def _p2_notes(rows: list[dict[str, Any]]) -> str:
    """A few sentences on P2 computed from the details: CPU per request against L/C."""
    if not rows:
        return ""
    lines = [
        "| C | N·L/C (s) | ours, median (s) | raw, median (s) | L/C (µs) | client CPU/request, "
        "ours (µs) | client CPU/request, raw (µs) | sandbox CPU/request (µs) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        d = r["details"]
        budget = 1e3 * d["latency_ms"] / d["concurrency"]
        lines.append(
            f"| {d['concurrency']} | {d['ideal_s']:.2f} | {_median(d['ours_s']):.2f} "
            f"| {_median(d['raw_s']):.2f} | {budget:.0f} "
            f"| {d['client_cpu_us_per_request_ours']:.0f} "
            f"| {d['client_cpu_us_per_request_raw']:.0f} "
            f"| {d.get('server_cpu_us_per_request', float('nan')):.0f} |"
        )
    first = rows[0]["details"]
    intro = (
        f"N = {first['requests']:,} requests for {first['cars']:,} cars, L = "
        f"{first['latency_ms']:.0f} ms. L/C is the time per request the latency bound leaves; "
        "when the client's and the sandbox's CPU per request do not fit in it (two processes on "
        "the machine's cores, shared with other jobs), the CPU sets the pace:"
    )
    return intro + "\n\n" + "\n".join(lines)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def plot_p2(rows: list[dict[str, Any]], path: Path = PLOT) -> str | None:
    """Wall time against concurrency, ours and raw (median, min-max) and N·L/C; None if unable."""
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    details = sorted((r["details"] for r in rows), key=lambda d: d["concurrency"])
    cs = [d["concurrency"] for d in details]
    figure, axes = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    low_c, high_c = cs[0] / 1.5, cs[-1] * 1.5
    n, latency = details[0]["requests"], details[0]["latency_ms"] / 1000
    grid = [low_c * (high_c / low_c) ** (i / 50) for i in range(51)]
    axes.plot(grid, [n * latency / c for c in grid], "k--", linewidth=1.2,
              label="N·L/C (latency bound)")  # fmt: skip
    for key, label, style in (("ours_s", "fleet snapshot (ours)", "o-"),
                              ("raw_s", "raw aiohttp fan-out", "s-")):  # fmt: skip
        medians = [_median(d[key]) for d in details]
        below = [m - min(d[key]) for m, d in zip(medians, details, strict=True)]
        above = [max(d[key]) - m for m, d in zip(medians, details, strict=True)]
        axes.errorbar(cs, medians, yerr=[below, above], fmt=style, capsize=4, label=label)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(cs, [str(c) for c in cs])
    axes.set_xlabel("concurrency C (requests in flight)")
    axes.set_ylabel("wall time (s), median and min-max")
    axes.set_title(f"P2: fleet snapshot of {details[0]['cars']:,} cars, N = {n:,}, L = "
                   f"{latency * 1000:.0f} ms")  # fmt: skip
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path.name


def write_page(document: dict[str, Any], page: Path = PAGE, plot: Path = PLOT) -> Path:
    """Write the results page (and the P2 plot) for one run's results document."""
    rows = document.get("results", [])
    p2 = _p2_rows(document)
    image = plot_p2(p2, plot)
    parts = [INTRO.format(reproduce=REPRODUCE)]
    parts.append("## Latest results\n")
    parts.append(_machine(document) + "\n")
    parts.append(_table(rows) + "\n")
    from benchmarks.run import goals_table

    parts.append("### Goals\n")
    parts.append(goals_table([Result(**row) for row in rows]) + "\n")
    parts.append("## P2: how close to the limit\n")
    if image is not None:
        parts.append(f"![P2 wall time against concurrency, with the N·L/C line]({image})\n")
    elif p2:
        parts.append("(No plot: matplotlib is not installed; it comes with the `bench` extra.)\n")
    else:
        parts.append("P2 was not part of this run.\n")
    notes = _p2_notes(p2)
    if notes:
        parts.append(notes + "\n")
    parts.append(FOOTER)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("\n".join(parts))
    return page


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "benchmarks/results/latest.json"
    print(write_page(json.loads(source.read_text())))
