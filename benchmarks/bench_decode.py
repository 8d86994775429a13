"""P3: decoding a 10,000-car list body, against ``orjson.loads`` alone and against pydantic v2.

Four ways to turn the same bytes (a ``GET /cars`` body of 10,000 cars) into Python, CPU time:

* **ours**: the converter, ``orjson.loads`` then the generated structure hook into a list of
  frozen, slotted ``Car`` values (exact types checked, camelCase keys mapped);
* **speed**: ``decode_list`` with the ``speed`` extra: msgspec reads the bytes into the same
  ``Car`` values (skipped, with a note, when msgspec is not installed);
* **orjson**: ``orjson.loads`` alone, dicts of the same data: the floor any decoder pays;
* **pydantic**: ``TypeAdapter(list[CarModel]).validate_json`` of an equivalent frozen pydantic v2
  model (same fields, camelCase aliases; pydantic parses the JSON itself). Skipped, with a note,
  when pydantic is not installed (it comes with the ``bench`` extra).

Goals: ours <= 2.0x orjson, speed <= 1.0x orjson; ours faster than pydantic (ratio < 1).

Each measurement runs in a fresh interpreter (the sides alternate, repetition by repetition):
two decodes to warm up, then the median of five rounds of three decodes, whose values are kept
until the round ends, as a caller keeps what it decoded. In one process the sides measure each
other's heap more than themselves: the memory a side frees makes the next side's allocations
cheaper (``orjson.loads`` gets up to a third cheaper after a pydantic round), which is noise
that depends on the order, not a property of either decoder.

Run: ``python -m benchmarks.bench_decode [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks._harness import Result, cpu_seconds, markdown_table, ratios, summarize
from benchmarks.bench_client import car_json
from flinkey_async import Car
from flinkey_async._converter import decode_list, structure_list

ROOT = Path(__file__).resolve().parent.parent
CARS = 10_000
SIDES = ("ours", "speed", "orjson", "pydantic")


def _have_msgspec() -> bool:
    try:
        import msgspec  # noqa: F401
    except ImportError:
        return False
    return True


def _pydantic_decoder() -> Callable[[bytes], Any] | None:
    """``validate_json`` of a pydantic model equivalent to ``Car``, or None without pydantic."""
    try:
        from pydantic import BaseModel, ConfigDict, TypeAdapter
        from pydantic.alias_generators import to_camel
    except ImportError:
        return None

    class CarModel(BaseModel):
        model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

        id: int
        name: str
        description: str | None = None
        vin: str | None = None
        license_plate: str | None = None
        brand: str | None = None
        model: str | None = None

    adapter = TypeAdapter(list[CarModel])
    return adapter.validate_json


def _payload() -> bytes:
    return orjson.dumps([car_json(i) for i in range(CARS)])


def _decoder(side: str, payload: bytes) -> Callable[[], object]:
    if side == "ours":
        return lambda: structure_list(orjson.loads(payload), Car)
    if side == "orjson":
        return lambda: orjson.loads(payload)
    if side == "speed":
        if not _have_msgspec():
            raise SystemExit("msgspec is not installed")
        return lambda: decode_list(payload, Car)
    decode = _pydantic_decoder()
    if decode is None:
        raise SystemExit("pydantic is not installed")
    return lambda: decode(payload)


def measure_here(side: str, rounds: int = 5, per_round: int = 3) -> float:
    """CPU seconds per decode of one side, in this process (the child's work)."""
    payload = _payload()
    decode = _decoder(side, payload)
    checked = decode()
    if side != "orjson":  # the decoders agree on the data before they are timed
        assert checked[7].license_plate == "B-FL 7"  # type: ignore[index]
    decode()
    del checked
    times = []
    for _ in range(rounds):
        kept = []
        gc.collect()
        started = cpu_seconds()
        for _ in range(per_round):
            kept.append(decode())
        times.append((cpu_seconds() - started) / per_round)
        del kept
    return sorted(times)[len(times) // 2]


def _measure_in_child(side: str) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_decode", "--side", side],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return float(out.stdout.strip())


def _series(sides: tuple[str, ...], repetitions: int) -> list[list[float]]:
    """The sides, each measurement in a fresh process, the order rotating by repetition."""
    values: list[list[float]] = [[] for _ in sides]
    for repetition in range(repetitions):
        shift = repetition % len(sides)
        for index in [*range(shift, len(sides)), *range(shift)]:
            values[index].append(_measure_in_child(sides[index]))
    return values


def _median_ms(values: list[float]) -> float:
    return round(1e3 * sorted(values)[len(values) // 2], 2)


def run(quick: bool = False) -> list[Result]:
    repetitions = 6 if quick else 12
    speed = _have_msgspec()
    series = _series(("ours", "orjson", "speed") if speed else ("ours", "orjson"), repetitions)
    ours, loads = series[0], series[1]
    results = [
        summarize(
            "P3 decode 10,000 cars vs orjson",
            "(orjson.loads + structure into Car) / orjson.loads (CPU)",
            ratios(ours, loads),
            goal="<= 2.0x",
            at_most=2.0,
            body_bytes=len(_payload()),
            repetitions=repetitions,
            ours_ms=_median_ms(ours),
            orjson_ms=_median_ms(loads),
        )
    ]
    if speed:
        results.append(
            summarize(
                "P3 decode 10,000 cars with [speed] vs orjson",
                "decode_list (msgspec into Car) / orjson.loads (CPU)",
                ratios(series[2], loads),
                goal="<= 1.0x",
                at_most=1.0,
                speed_ms=_median_ms(series[2]),
                orjson_ms=_median_ms(loads),
            )
        )
    else:
        results.append(
            Result(
                "P3 decode 10,000 cars with [speed] vs orjson",
                "skipped: msgspec is not installed (pip install -e '.[speed]')",
                float("nan"),
                float("nan"),
                float("nan"),
                goal="<= 1.0x",
            )
        )
    if _pydantic_decoder() is None:
        results.append(
            Result(
                "P3 decode 10,000 cars vs pydantic",
                "skipped: pydantic is not installed (pip install -e '.[bench]')",
                float("nan"),
                float("nan"),
                float("nan"),
                goal="< 1.0x",
            )
        )
        return results
    ours_again, pydantic = _series(("ours", "pydantic"), repetitions)
    results.append(
        summarize(
            "P3 decode 10,000 cars vs pydantic",
            "ours / pydantic v2 TypeAdapter.validate_json (CPU)",
            ratios(ours_again, pydantic),
            goal="< 1.0x",
            at_most=0.999,
            ours_ms=_median_ms(ours_again),
            pydantic_ms=_median_ms(pydantic),
        )
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.side:
        print(measure_here(options.side))
        return
    print(markdown_table(run(options.quick)))


if __name__ == "__main__":
    main()
