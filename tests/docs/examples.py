"""Find the ```python blocks of a Markdown page and run them against a sandbox.

A page's blocks share one namespace and one sandbox and run in order, as a reader would run them.
A block runs as in ``python -m asyncio``: top-level ``await``, ``async with`` and ``async for``
work (a block that calls ``asyncio.run`` itself runs as a script). The names a page's snippets
assume (such as ``client``) are its set-up, given once per page in ``test_examples.PAGES``.

- In a ``FlinkeyClient(...)`` call without ``**``, the credentials, base URL and customer are the
  sandbox's: the ``...`` and the literal values of the docs stand for the reader's own.
- A block right after ``<!-- not run: REASON -->`` is not run; the reason is shown on the page.
- A comment that names an exception (``# ValueError: ...``) says the statement before it raises
  it: the block must end by raising it there.
- ``async def test_*`` functions a block defines are called with ``flinkey_client`` and
  ``flinkey_sandbox`` from the page's sandbox, as the pytest plugin would.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import attrs

from flinkey_async import FlinkeyClient
from flinkey_async.sandbox import Sandbox

_NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.+?)\s*-->")
_RAISES = re.compile(r"#\s*(?P<name>[A-Z]\w*(?:Error|Exception))\b")
_CREDENTIALS = frozenset({"api_key", "username", "password", "customer_id", "base_url"})
SANDBOX_KWARGS = "__sandbox_client_kwargs__"

Setup = Callable[[AsyncExitStack, dict[str, Any], Sandbox], Awaitable[None]]


@attrs.frozen
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    source: str
    not_run: str | None  # the reason, for a block that is not run

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(path: Path, name: str) -> list[Block]:
    """The ```python blocks of a page, indented ones (in a list item) included."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    previous = ""
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == "```python":
            indent = len(lines[i]) - len(lines[i].lstrip())
            end = i + 1
            while lines[end].strip() != "```":
                end += 1
            body = "\n".join(line[indent:] for line in lines[i + 1 : end])
            marker = _NOT_RUN.fullmatch(previous)
            found.append(Block(name, i + 1, body + "\n", marker["reason"] if marker else None))
            i = end
        elif stripped:
            previous = stripped
        i += 1
    return found


class _SandboxCredentials(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name == "FlinkeyClient" and all(k.arg is not None for k in node.keywords):
            node.args = [
                a for a in node.args if not (isinstance(a, ast.Constant) and a.value is ...)
            ]
            node.keywords = [k for k in node.keywords if k.arg not in _CREDENTIALS]
            node.keywords.append(ast.keyword(value=ast.Name(SANDBOX_KWARGS, ast.Load())))
        return node


def _compile(block: Block) -> Any:
    tree = _SandboxCredentials().visit(ast.parse(block.source, block.where))
    ast.fix_missing_locations(tree)
    return compile(tree, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _expected_raise(block: Block) -> tuple[str, int] | None:
    """The exception a block says it raises, and the line of the last statement."""
    for line in block.source.splitlines():
        match = _RAISES.search(line)
        if match:
            last = ast.parse(block.source).body[-1]
            return match["name"], last.end_lineno or last.lineno
    return None


async def _run_async(
    code: Any, block: Block, ns: dict[str, Any], sb: Sandbox, setup: Setup
) -> None:
    async with AsyncExitStack() as stack:
        ns[SANDBOX_KWARGS] = sb.client_kwargs()
        await setup(stack, ns, sb)
        before = set(ns)
        result = eval(code, ns)
        if inspect.iscoroutine(result):
            await result
        for name in sorted(set(ns) - before):
            test = ns[name]
            if name.startswith("test_") and inspect.iscoroutinefunction(test):
                client = await stack.enter_async_context(FlinkeyClient(**sb.client_kwargs()))
                fixtures = {"flinkey_client": client, "flinkey_sandbox": sb}
                parameters = inspect.signature(test).parameters
                await test(**{p: fixtures[p] for p in parameters})


def run_block(block: Block, ns: dict[str, Any], sb: Sandbox, setup: Setup) -> None:
    """Run one block in the page's namespace; raise AssertionError naming the block on failure."""
    code = _compile(block)
    expected = _expected_raise(block)
    try:
        if not code.co_flags & inspect.CO_COROUTINE and "asyncio.run(" in block.source:
            ns[SANDBOX_KWARGS] = sb.client_kwargs()
            exec(code, ns)
        else:
            asyncio.run(_run_async(code, block, ns, sb, setup))
    except Exception as exc:
        names = {cls.__name__ for cls in type(exc).__mro__}
        line = _block_line(exc, block)
        if expected is None or expected[0] not in names or line != expected[1]:
            raise AssertionError(f"{block.where}: line {line} raised {exc!r}") from exc
        return
    if expected is not None:
        raise AssertionError(f"{block.where} says it raises {expected[0]}, and it did not")


def _block_line(exc: BaseException, block: Block) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == block.where:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@contextlib.contextmanager
def sandbox_in_thread(**options: Any) -> Iterator[Sandbox]:
    """A sandbox served from its own event loop in a thread, so that the blocks can start and end
    event loops of their own (``asyncio.run``) while it keeps its state."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        sb = Sandbox(**options)
        try:
            loop.run_until_complete(sb.start())
        except BaseException as exc:
            box["error"] = exc
            started.set()
            loop.close()
            return
        box["sandbox"] = sb
        started.set()
        loop.run_forever()
        loop.run_until_complete(sb.close())
        loop.close()

    thread = threading.Thread(target=serve, name="docs-sandbox", daemon=True)
    thread.start()
    started.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    try:
        yield box["sandbox"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
