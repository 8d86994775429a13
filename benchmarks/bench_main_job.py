"""P5b and P7: the main job, ``flinkey-async sync``, as users run it and against its limit.

**P5b** runs the command exactly as a user does: no credentials, so it syncs the embedded
sandbox (``--sandbox-cars`` 1,000 and 10,000), into a fresh SQLite file. Each run is a fresh
process; its peak memory is the sum of the own peaks (``VmHWM``) of the command's process and of
every process it starts, read from ``/proc`` while they run. Goal: 10,000 / 1,000 cars <= 1.3x.
In the same run, interleaved, the command of the baseline commit (``BASELINE``, the code before
the speed work; its package is unpacked from git into a temporary directory) syncs the same
1,000 cars; goal: wall time <= 0.6x of the baseline's.

**P7** compares the command with its physical limit: against one sandbox in its own process,
the command (given the sandbox's URL and credentials) and a raw aiohttp script that issues the
very same requests (recorded from one sync first: URLs known up front, a semaphore of the same
concurrency, each body read with ``orjson.loads`` and dropped; ``_raw_plan.py``, which imports
aiohttp and orjson only) alternate run by run, each in a fresh process. Figures: wall time of
the process, and its CPU (``wait4``) per request, command over script; goal <= 1.15x each.

``python -m benchmarks.bench_main_job [--quick]``
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

from benchmarks._harness import Result, markdown_table, ratios, summarize
from benchmarks.bench_fleet import child_env, client_kwargs, cpu_seconds_of, sandbox_process
from benchmarks.bench_sync_memory import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
BASELINE = os.environ.get("FLINKEY_BENCH_BASELINE", "5816175")
"""The commit whose command the main job's wall time is compared with (before the speed work)."""
CONCURRENCY = 32  # the command's default --concurrency
_RUN_CLI = "import sys; from flinkey_async.cli import main; sys.exit(main())"


# -- running a command and reading its peak -------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc/<pid>/task/<tid>/children``)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
    return found


def _spawn(
    arguments: list[str], env: dict[str, str], logs: Path, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    # ``python -c`` puts the working directory first on sys.path: it picks the package.
    with (logs / "out").open("wb") as out, (logs / "err").open("wb") as err:
        return subprocess.Popen(arguments, env=env, cwd=cwd, stdout=out, stderr=err)


def _check(process: subprocess.Popen[bytes], arguments: list[str], logs: Path) -> None:
    if process.returncode != 0:
        error = (logs / "err").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{arguments[:4]} failed ({process.returncode}): {error}")


def run_measured(arguments: list[str], env: dict[str, str], cwd: Path = ROOT) -> dict[str, Any]:
    """Run a process to its end: wall seconds, and the sum of the own peaks (``VmHWM``, MB) of
    it and of every process it starts, sampled every 50 ms while they run."""
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        logs = Path(directory)
        started = time.perf_counter()
        process = _spawn(arguments, env, logs, cwd)
        while process.poll() is None:
            for pid in _tree(process.pid):
                peak = peak_rss_mb(pid)
                if peak > peaks.get(pid, 0.0):
                    peaks[pid] = peak
            time.sleep(0.05)
        wall = time.perf_counter() - started
        _check(process, arguments, logs)
    return {"wall_s": wall, "peak_mb": round(sum(peaks.values()), 1)}


def run_with_cpu(arguments: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a process to its end: wall seconds and CPU seconds (``wait4``: its own, and its
    reaped children's); nothing sampled meanwhile, so that measuring costs it nothing."""
    with tempfile.TemporaryDirectory() as directory:
        logs = Path(directory)
        started = time.perf_counter()
        process = _spawn(arguments, env, logs)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        _check(process, arguments, logs)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


@contextmanager
def baseline_tree() -> Iterator[Path | None]:
    """The package of ``BASELINE``, unpacked into a temporary directory (None without git)."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", BASELINE, "flinkey_async"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="flinkey-baseline-") as directory:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(directory, filter="data")
        yield Path(directory)


def _cli_env(tree: Path) -> dict[str, str]:
    env = child_env()
    env["PYTHONPATH"] = str(tree) + os.pathsep + env["PYTHONPATH"]
    return env


# -- P5b -------------------------------------------------------------------------------------------


def _user_sync(tree: Path, cars: int, directory: str) -> dict[str, Any]:
    out = Path(directory) / f"fleet-{time.monotonic_ns()}.sqlite"
    arguments = [sys.executable, "-c", _RUN_CLI, "sync", "--out", str(out)]
    if cars != 1000:
        arguments += ["--sandbox-cars", str(cars)]
    return run_measured(arguments, _cli_env(tree), cwd=tree)


def p5b(quick: bool) -> list[Result]:
    repetitions = 3 if quick else 5
    small, large = 1_000, 10_000
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as directory, baseline_tree() as baseline:
        ours_small: list[dict[str, Any]] = []
        base_small: list[dict[str, Any]] = []
        for repetition in range(repetitions):
            if baseline is None:
                ours_small.append(_user_sync(ROOT, small, directory))
                continue
            sides = [(ours_small, ROOT), (base_small, baseline)]
            for into, tree in sides if repetition % 2 == 0 else sides[::-1]:
                into.append(_user_sync(tree, small, directory))
        ours_large = [_user_sync(ROOT, large, directory) for _ in range(1 if quick else 2)]
    peak_small = [run["peak_mb"] for run in ours_small]
    peak_large = [run["peak_mb"] for run in ours_large]
    median_small = sorted(peak_small)[len(peak_small) // 2]
    results.append(
        summarize(
            "P5b main job peak memory",
            f"flinkey-async sync (embedded sandbox): peak RSS {large:,} / {small:,} cars",
            [peak / median_small for peak in peak_large],
            goal="<= 1.3x",
            at_most=1.3,
            peak_mb={small: peak_small, large: peak_large},
            wall_s={
                small: [round(r["wall_s"], 2) for r in ours_small],
                large: [round(r["wall_s"], 2) for r in ours_large],
            },
        )
    )
    if baseline is None:
        results.append(
            Result(
                "P5b main job wall vs baseline",
                f"skipped: no git or no commit {BASELINE}",
                float("nan"),
                float("nan"),
                float("nan"),
                goal="<= 0.6x",
            )
        )
        return results
    results.append(
        summarize(
            "P5b main job wall vs baseline",
            f"flinkey-async sync, {small:,} cars: wall time / the command of {BASELINE}",
            ratios([r["wall_s"] for r in ours_small], [r["wall_s"] for r in base_small]),
            goal="<= 0.6x",
            at_most=0.6,
            ours_wall_s=[round(r["wall_s"], 2) for r in ours_small],
            baseline_wall_s=[round(r["wall_s"], 2) for r in base_small],
            ours_peak_mb=peak_small,
            baseline_peak_mb=[r["peak_mb"] for r in base_small],
        )
    )
    return results


# -- P7 --------------------------------------------------------------------------------------------


async def _record_plan(details: dict[str, Any], out: Path) -> list[str]:
    """The GET URLs one sync requests (recorded from a sync through a borrowed session)."""
    import aiohttp

    from flinkey_async import FlinkeyClient
    from flinkey_async.sync import SqliteStore, SyncJob

    urls: list[str] = []

    async def on_start(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        if params.method == "GET":
            urls.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY), trace_configs=[trace]
        ) as session,
        FlinkeyClient(**client_kwargs(details), session=session) as client,
        SqliteStore(out) as store,
    ):
        report = await SyncJob(client, store, concurrency=CONCURRENCY).run()
    assert report.ok, report.failures[:3]
    assert len(urls) == report.requests, (len(urls), report.requests)
    return urls


def p7(quick: bool) -> list[Result]:
    cars = 1_000
    repetitions = 4 if quick else 8
    with tempfile.TemporaryDirectory() as directory, sandbox_process(cars=cars) as details:
        kwargs = client_kwargs(details)
        urls = asyncio.run(_record_plan(details, Path(directory) / "warm.sqlite"))
        requests = len(urls) + 1
        plan_file = Path(directory) / "plan.json"
        plan_file.write_text(
            json.dumps(
                {
                    "urls": urls,
                    "concurrency": CONCURRENCY,
                    "api_key": kwargs["api_key"],
                    "customer_id": kwargs["customer_id"],
                    "token_url": details["base_url"] + "/oauth2/token",
                    "form": {
                        "grant_type": "password",
                        "username": kwargs["username"],
                        "password": kwargs["password"],
                    },
                }
            )
        )
        env = child_env()
        env.update(
            {
                "FLINKEY_API_KEY": kwargs["api_key"],
                "FLINKEY_USERNAME": kwargs["username"],
                "FLINKEY_PASSWORD": kwargs["password"],
                "FLINKEY_BASE_URL": kwargs["base_url"],
                "FLINKEY_CUSTOMER_ID": str(kwargs["customer_id"]),
            }
        )
        ours: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        server_cpu: dict[str, list[float]] = {"ours": [], "raw": []}

        def run_ours() -> None:
            out = Path(directory) / f"fleet-{len(ours)}.sqlite"
            before = cpu_seconds_of(details["pid"])
            ours.append(
                run_with_cpu([sys.executable, "-c", _RUN_CLI, "sync", "--out", str(out)], env)
            )
            server_cpu["ours"].append(cpu_seconds_of(details["pid"]) - before)

        def run_raw() -> None:
            before = cpu_seconds_of(details["pid"])
            raw.append(
                run_with_cpu(
                    [sys.executable, "-m", "benchmarks._raw_plan", str(plan_file)], child_env()
                )
            )
            server_cpu["raw"].append(cpu_seconds_of(details["pid"]) - before)

        for repetition in range(repetitions):
            for side in (run_ours, run_raw) if repetition % 2 == 0 else (run_raw, run_ours):
                side()
    per_request = {
        name: [round(1e6 * run["cpu_s"] / requests, 1) for run in runs]
        for name, runs in (("ours", ours), ("raw", raw))
    }
    common = {
        "cars": cars,
        "requests": requests,
        "concurrency": CONCURRENCY,
        "ours_wall_s": [round(run["wall_s"], 2) for run in ours],
        "raw_wall_s": [round(run["wall_s"], 2) for run in raw],
        "client_cpu_us_per_request": per_request,
        "server_cpu_us_per_request": {
            name: [round(1e6 * cpu / requests, 1) for cpu in values]
            for name, values in server_cpu.items()
        },
    }
    return [
        summarize(
            "P7 main job wall vs raw plan",
            f"flinkey-async sync / raw aiohttp, same {requests:,} requests (wall, process)",
            ratios([run["wall_s"] for run in ours], [run["wall_s"] for run in raw]),
            goal="<= 1.15x",
            at_most=1.15,
            **common,
        ),
        summarize(
            "P7 main job CPU per request vs raw plan",
            "flinkey-async sync / raw aiohttp (client process CPU per request)",
            ratios([run["cpu_s"] for run in ours], [run["cpu_s"] for run in raw]),
            goal="<= 1.15x",
            at_most=1.15,
        ),
    ]


def run(quick: bool = False) -> list[Result]:
    return [*p5b(quick), *p7(quick)]


def main() -> None:
    quick = "--quick" in sys.argv
    only = {arg for arg in sys.argv[1:] if arg in ("P5b", "P7")} or {"P5b", "P7"}
    results = [*(p5b(quick) if "P5b" in only else []), *(p7(quick) if "P7" in only else [])]
    print(markdown_table(results))
    for result in results:
        print(f"{result.name}: {json.dumps(result.details, default=str)}")


if __name__ == "__main__":
    main()
