"""P6: import time of ``flinkey_async`` against ``aiohttp`` alone, each in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks._harness import Result, interleaved, markdown_table, ratios, summarize


def _import_seconds(module: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - started


def _baseline_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def run(quick: bool = False) -> list[Result]:
    repetitions = 5 if quick else 15
    empty = min(_baseline_seconds() for _ in range(3))

    def ours() -> float:
        return max(_import_seconds("flinkey_async") - empty, 1e-6)

    def reference() -> float:
        return max(_import_seconds("aiohttp") - empty, 1e-6)

    ours_values, reference_values = interleaved(ours, reference, repetitions)
    return [
        summarize(
            "P6 import time",
            "flinkey_async / aiohttp (interpreter start subtracted)",
            ratios(ours_values, reference_values),
            goal="<= 1.3x",
            at_most=1.3,
            ours_ms=1000 * min(ours_values),
            aiohttp_ms=1000 * min(reference_values),
        )
    ]


if __name__ == "__main__":
    print(markdown_table(run("--quick" in sys.argv)))
