"""OData: build + print + encode a 10-clause filter, and parse the same text back.

The reference for building is what people write without a builder: an f-string passed through
``urllib.parse.quote`` (which escapes nothing inside the literals, the bug the builder exists to
avoid). Both run interleaved in the same process; the figure is the per-repetition ratio.

Run ``python -m benchmarks.bench_odata [--quick]`` or ``python benchmarks/bench_odata.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Result, interleaved, markdown_table, summarize
from flinkey_async import Car
from flinkey_async.odata import Query, fields, parse_filter

F = fields(Car)


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


def _per_op(function: Callable[[], object], n: int) -> Callable[[], float]:
    def measure() -> float:
        started = time.perf_counter()
        for _ in range(n):
            function()
        return (time.perf_counter() - started) / n

    return measure


def run(quick: bool = False) -> dict[str, Any]:
    """Measure; return the figures (ops per second, ratio) and the harness results."""
    assert handwritten() == build_and_encode()  # the baseline does the same job
    assert build_query().filter_expr is not None
    assert parse_filter(FILTER_TEXT).same_as(build_query().filter_expr)
    n, repetitions = (500, 5) if quick else (5_000, 11)

    build, reference = interleaved(
        _per_op(build_and_encode, n), _per_op(handwritten, n), repetitions
    )
    parse, _ = interleaved(
        _per_op(lambda: parse_filter(FILTER_TEXT), n), _per_op(handwritten, n), repetitions
    )
    results: list[Result] = [
        summarize(
            "OData build+print+encode (10 clauses)",
            "ops/s",
            [1 / seconds for seconds in build],
        ),
        summarize("OData parse (same filter text)", "ops/s", [1 / seconds for seconds in parse]),
        summarize(
            "OData build vs hand-written f-string",
            "time ratio ours/f-string",
            [ours / ref for ours, ref in zip(build, reference, strict=True)],
        ),
    ]
    return {
        "build_print_per_second": results[0].median,
        "parse_per_second": results[1].median,
        "build_vs_handwritten_ratio": results[2].median,
        "filter_chars": len(FILTER_TEXT),
        "iterations": n,
        "repetitions": repetitions,
        "results": [result.as_dict() for result in results],
        "markdown": markdown_table(results),
    }


def main() -> None:
    figures = run(quick="--quick" in sys.argv)
    print(figures["markdown"])


if __name__ == "__main__":
    main()
