"""P4: the token storm. 1,000 concurrent calls that all find the token expired.

Counts the token requests the storm causes (goal: exactly one per expiry) and compares its wall
time with the same 1,000 calls made while the token is still valid, in the same run.
"""

from __future__ import annotations

import asyncio
import sys
import time

from benchmarks._harness import Result, markdown_table, ratios, summarize
from flinkey_async import FlinkeyClient
from flinkey_async.sandbox import Sandbox

TOKEN_TTL = 2
MARGIN = 0.5


async def _storm(client: FlinkeyClient, car_ids: list[int], calls: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(client.cars.get(car_ids[i % len(car_ids)]) for i in range(calls)))
    return time.perf_counter() - started


async def _main(quick: bool) -> list[Result]:
    calls = 1000
    repetitions = 3 if quick else 5
    async with Sandbox(cars=50, seed=4, customers=1, token_ttl=TOKEN_TTL) as sandbox:
        car_ids = [car.id for car in sandbox.state.cars(sandbox.customer_id)]
        async with FlinkeyClient(**sandbox.client_kwargs(), token_refresh_margin=MARGIN) as client:
            storm_walls: list[float] = []
            valid_walls: list[float] = []
            token_requests: list[int] = []
            await client.cars.get(car_ids[0])  # warm-up: connections and first token
            for _ in range(repetitions):
                # Across an expiry: wait until the cached token is due for renewal.
                await asyncio.sleep(TOKEN_TTL - MARGIN + 0.1)
                before = sandbox.counters.token_requests
                storm_walls.append(await _storm(client, car_ids, calls))
                token_requests.append(sandbox.counters.token_requests - before)
                # The same calls with the token that the storm just obtained.
                valid_walls.append(await _storm(client, car_ids, calls))
    return [
        summarize(
            "P4 token storm",
            "token requests per storm of 1,000 calls",
            [float(n) for n in token_requests],
            goal="exactly 1",
            at_most=1.0,
            at_least=1.0,
        ),
        summarize(
            "P4 token storm",
            "storm wall / valid-token wall",
            ratios(storm_walls, valid_walls),
            goal="close to 1",
        ),
    ]


def run(quick: bool = False) -> list[Result]:
    return asyncio.run(_main(quick))


if __name__ == "__main__":
    print(markdown_table(run("--quick" in sys.argv)))
