"""P3: decoding a 10,000-car list body, against ``orjson.loads`` alone and against pydantic v2.

Three ways to turn the same bytes (a ``GET /cars`` body of 10,000 cars) into Python, interleaved
repetition by repetition, CPU time of this process:

* **ours**: what the client does, ``orjson.loads`` then the generated structure hook into a list
  of frozen, slotted ``Car`` values (exact types checked, camelCase keys mapped);
* **orjson**: ``orjson.loads`` alone, dicts of the same data: the floor any decoder pays;
* **pydantic**: ``TypeAdapter(list[CarModel]).validate_json`` of an equivalent frozen pydantic v2
  model (same fields, camelCase aliases; pydantic parses the JSON itself). Skipped, with a note,
  when pydantic is not installed (it comes with the ``bench`` extra).

Goals: ours <= 2.0x orjson; ours faster than pydantic (ratio < 1).

Run: ``python -m benchmarks.bench_decode [--quick]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import orjson

from benchmarks._harness import Result, cpu_seconds, markdown_table, ratios, rotated, summarize
from benchmarks.bench_client import car_json
from flinkey_async import Car
from flinkey_async._converter import structure_list

CARS = 10_000


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


def run(quick: bool = False) -> list[Result]:
    payload = orjson.dumps([car_json(i) for i in range(CARS)])
    repetitions = 7 if quick else 21
    loops = 2 if quick else 3
    pydantic_decode = _pydantic_decoder()

    # The three decoders must agree on the data before they are timed.
    decoded = structure_list(orjson.loads(payload), Car)
    assert decoded[7].license_plate == "B-FL 7"
    if pydantic_decode is not None:
        assert pydantic_decode(payload)[7].license_plate == "B-FL 7"

    def timed(function: Callable[[], object]) -> Callable[[], float]:
        def measure() -> float:
            started = cpu_seconds()
            for _ in range(loops):
                function()
            return (cpu_seconds() - started) / loops

        return measure

    sides = [
        timed(lambda: structure_list(orjson.loads(payload), Car)),
        timed(lambda: orjson.loads(payload)),
    ]
    if pydantic_decode is not None:
        sides.append(timed(lambda: pydantic_decode(payload)))
    values = rotated(sides, repetitions)
    ours, loads = values[0], values[1]
    median_ms = {
        name: round(1e3 * sorted(v)[len(v) // 2], 2)
        for name, v in zip(("ours_ms", "orjson_ms", "pydantic_ms"), values, strict=False)
    }
    results = [
        summarize(
            "P3 decode 10,000 cars vs orjson",
            "(orjson.loads + structure into Car) / orjson.loads (CPU)",
            ratios(ours, loads),
            goal="<= 2.0x",
            at_most=2.0,
            body_bytes=len(payload),
            repetitions=repetitions,
            **median_ms,
        )
    ]
    if pydantic_decode is None:
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
    else:
        results.append(
            summarize(
                "P3 decode 10,000 cars vs pydantic",
                "ours / pydantic v2 TypeAdapter.validate_json (CPU)",
                ratios(ours, values[2]),
                goal="< 1.0x",
                at_most=0.999,
                **median_ms,
            )
        )
    return results


if __name__ == "__main__":
    print(markdown_table(run("--quick" in sys.argv)))
