"""P7's raw side, in its own process: one token, then every URL of a recorded plan.

It imports aiohttp and orjson only, as a hand-written script would (nothing of the library, nor
the benchmark modules that import it): ``python -m benchmarks._raw_plan PLAN.json``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import orjson


async def run_plan(plan_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text())
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=plan["concurrency"])
    ) as session:
        async with session.post(
            plan["token_url"], data=plan["form"], headers={"flinkey-API-Key": plan["api_key"]}
        ) as answer:
            token = orjson.loads(await answer.read())["access_token"]
        headers = {
            "flinkey-API-Key": plan["api_key"],
            "Authorization": f"Bearer {token}",
            "Customer-ID": str(plan["customer_id"]),
        }
        gate = asyncio.Semaphore(plan["concurrency"])

        async def fetch(url: str) -> None:
            # The sync's answers include the 404s that say "no products/location": the same.
            async with gate, session.get(url, headers=headers) as response:
                body = await response.read()
                if response.status == 200:
                    orjson.loads(body)

        await asyncio.gather(*(fetch(url) for url in plan["urls"]))


if __name__ == "__main__":
    asyncio.run(run_plan(sys.argv[1]))
