"""The example runner itself: it finds, skips, substitutes and fails as its docstring says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from flinkey_async.sandbox import Sandbox

from .examples import Block, blocks, run_block, sandbox_in_thread

PAGE = """# A page

```python
x = 1
```

<!-- not run: needs live credentials -->
```python
raise SystemExit("not run")
```

- in a list:

  ```python
  y = x + 1
  ```
"""


async def _nothing(stack: AsyncExitStack, ns: dict[str, Any], sb: Sandbox) -> None:
    return None


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with sandbox_in_thread(cars=2) as sandbox:
        yield sandbox


def test_blocks_are_found_with_their_marks(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text(PAGE)
    found = blocks(tmp_path / "page.md", "page.md")
    assert [(b.line, b.not_run) for b in found] == [
        (3, None),
        (8, "needs live credentials"),
        (14, None),
    ]
    assert found[2].source == "y = x + 1\n"


def test_a_failing_block_fails_and_names_itself(sb: Sandbox) -> None:
    block = Block("page.md", 3, "{}['missing']\n", None)
    with pytest.raises(AssertionError, match=r"page\.md:3: line 1 raised KeyError"):
        run_block(block, {}, sb, _nothing)


def test_a_block_that_says_it_raises_must_raise_there(sb: Sandbox) -> None:
    raises = Block("page.md", 1, "x = 1\nint('x')\n# ValueError: invalid literal\n", None)
    run_block(raises, {}, sb, _nothing)
    quiet = Block("page.md", 1, "int('1')\n# ValueError: invalid literal\n", None)
    with pytest.raises(AssertionError, match="says it raises ValueError"):
        run_block(quiet, {}, sb, _nothing)
    early = Block("page.md", 1, "int('x')\nx = 1\n# ValueError: invalid literal\n", None)
    with pytest.raises(AssertionError, match="line 1 raised ValueError"):
        run_block(early, {}, sb, _nothing)


def test_flinkey_client_calls_get_the_sandbox_credentials(sb: Sandbox) -> None:
    source = (
        "from flinkey_async import FlinkeyClient\n"
        "async with FlinkeyClient(api_key=..., username=..., password=..., customer_id=42) as c:\n"
        "    cars = await c.cars.list()\n"
    )
    ns: dict[str, Any] = {}
    run_block(Block("page.md", 1, source, None), ns, sb, _nothing)
    assert [car.id for car in ns["cars"]] == [car.id for car in sb.state.cars(sb.customer_id)]
