"""Shared measuring tools: interleaved repetitions, ratios, and the result record.

Our machines are shared and noisy, so a figure is only ever a ratio of two things measured side by
side in the same run: each repetition runs ours and the reference back to back, alternating which
goes first, and the ratio is taken per repetition before the median is.
"""

from __future__ import annotations

import gc
import resource
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """One benchmark figure: the median and the spread of a ratio (or of a plain value)."""

    name: str
    metric: str
    median: float
    low: float
    high: float
    goal: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    name: str,
    metric: str,
    values: list[float],
    *,
    goal: str = "",
    at_most: float | None = None,
    at_least: float | None = None,
    **details: Any,
) -> Result:
    """A Result from repeated values; ``at_most``/``at_least`` judge the median against the goal."""
    median = statistics.median(values)
    met: bool | None = None
    if at_most is not None:
        met = median <= at_most
    if at_least is not None:
        met = median >= at_least
    return Result(name, metric, median, min(values), max(values), goal, met, dict(details))


def cpu_seconds() -> float:
    """CPU time of this process (user + system, ``getrusage``), the measure of per-request cost.

    Only this process is counted: a server measured against lives in a child process.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def interleaved(
    ours: Callable[[], float],
    reference: Callable[[], float],
    repetitions: int,
    warmup: int = 1,
) -> tuple[list[float], list[float]]:
    """Run ``ours`` and ``reference`` alternately; each returns its own measured cost."""
    for _ in range(warmup):
        ours()
        reference()
    ours_values: list[float] = []
    reference_values: list[float] = []
    for repetition in range(repetitions):
        gc.collect()
        if repetition % 2 == 0:
            ours_values.append(ours())
            reference_values.append(reference())
        else:
            reference_values.append(reference())
            ours_values.append(ours())
    return ours_values, reference_values


async def interleaved_async(
    ours: Callable[[], Awaitable[float]],
    reference: Callable[[], Awaitable[float]],
    repetitions: int,
    warmup: int = 1,
) -> tuple[list[float], list[float]]:
    """The async twin of :func:`interleaved`."""
    for _ in range(warmup):
        await ours()
        await reference()
    ours_values: list[float] = []
    reference_values: list[float] = []
    for repetition in range(repetitions):
        gc.collect()
        if repetition % 2 == 0:
            ours_values.append(await ours())
            reference_values.append(await reference())
        else:
            reference_values.append(await reference())
            ours_values.append(await ours())
    return ours_values, reference_values


async def rotated_async(
    sides: list[Callable[[], Awaitable[float]]],
    repetitions: int,
    warmup: int = 1,
) -> list[list[float]]:
    """Several sides in one run: each repetition runs all of them, the order rotating.

    With two sides this is :func:`interleaved_async`; with ours and two references, each
    reference gets to follow ours as often as it precedes it (over a multiple of the count).
    """
    for _ in range(warmup):
        for side in sides:
            await side()
    values: list[list[float]] = [[] for _ in sides]
    for repetition in range(repetitions):
        gc.collect()
        shift = repetition % len(sides)
        for index in [*range(shift, len(sides)), *range(shift)]:
            values[index].append(await sides[index]())
    return values


def rotated(
    sides: list[Callable[[], float]],
    repetitions: int,
    warmup: int = 1,
) -> list[list[float]]:
    """The synchronous twin of :func:`rotated_async`."""
    for _ in range(warmup):
        for side in sides:
            side()
    values: list[list[float]] = [[] for _ in sides]
    for repetition in range(repetitions):
        gc.collect()
        shift = repetition % len(sides)
        for index in [*range(shift, len(sides)), *range(shift)]:
            values[index].append(sides[index]())
    return values


def ratios(ours: list[float], reference: list[float]) -> list[float]:
    """Per-repetition ratios ours/reference."""
    return [a / b for a, b in zip(ours, reference, strict=True)]


def markdown_table(results: list[Result]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| benchmark | metric | median | min | max | goal | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        met = "" if r.met is None else ("yes" if r.met else "no")
        lines.append(
            f"| {r.name} | {r.metric} | {r.median:.3f} | {r.low:.3f} | {r.high:.3f} "
            f"| {r.goal} | {met} |"
        )
    return "\n".join(lines)
