"""Every ```python block of README.md and docs/*.md runs against the sandbox (see ``examples``).

The set-up of each page, the names its snippets use without defining them, is given once here:
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from flinkey_async import FlinkeyClient
from flinkey_async.sandbox import Sandbox

from .examples import Block, blocks, run_block, sandbox_in_thread

ROOT = Path(__file__).resolve().parents[2]
COUNTS: dict[str, tuple[int, int]] = {}
"""Per page: blocks run, blocks marked not run. Printed at the end of the session."""


async def _client(stack: AsyncExitStack, ns: dict[str, Any], sb: Sandbox) -> None:
    """``client``: a ``FlinkeyClient`` logged in to the page's sandbox as its first customer;
    ``sb``: that sandbox; ``asyncio``; ``log``: a logger."""
    ns["client"] = await stack.enter_async_context(FlinkeyClient(**sb.client_kwargs()))
    ns["sb"] = sb
    ns["asyncio"] = asyncio
    ns["log"] = logging.getLogger("docs")


async def _client_and_json(stack: AsyncExitStack, ns: dict[str, Any], sb: Sandbox) -> None:
    """As ``_client``, and ``cars_as_json``, ``car_json``: the cars as the API answers them."""
    await _client(stack, ns, sb)
    ns["cars_as_json"] = await ns["client"].get_json("cars")
    ns["car_json"] = ns["cars_as_json"][0]


Setup = Callable[[AsyncExitStack, dict[str, Any], Sandbox], Awaitable[None]]
PAGES: dict[str, Setup] = {
    "README.md": _client,
    "docs/index.md": _client,
    "docs/quickstart.md": _client,
    "docs/client.md": _client,
    "docs/errors.md": _client,
    "docs/odata.md": _client_and_json,
    "docs/bulk.md": _client,
    "docs/sync.md": _client,
    "docs/sandbox.md": _client,
    "docs/benchmarks.md": _client,
    "docs/observability.md": _client,
}


def _pages() -> list[str]:
    return ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


def test_every_page_has_a_setup() -> None:
    assert set(_pages()) <= set(PAGES), "give the new page its set-up in PAGES"


@pytest.mark.parametrize("page", _pages())
def test_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found: list[Block] = blocks(ROOT / page, page)
    monkeypatch.chdir(tmp_path)  # what the examples write (fleet.sqlite) lands here
    ns: dict[str, Any] = {"__name__": "__docs__"}
    ran = 0
    with sandbox_in_thread(cars=5, seed=0) as sb:
        for block in found:
            if block.not_run is None:
                run_block(block, ns, sb, PAGES[page])
                ran += 1
    COUNTS[page] = (ran, len(found) - ran)
