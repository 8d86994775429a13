"""The docs name public things only: the error tree is the exported one, no private module."""

from __future__ import annotations

import re
from pathlib import Path

import flinkey_async
import flinkey_async.odata
from flinkey_async import FlinkeyError

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _drawn_tree() -> dict[str, str | None]:
    """errors.md's tree: each class and the class it is drawn under."""
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    tree = text.split("## The tree", 1)[1].split("```", 2)[1]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in tree.splitlines():
        match = re.search(r"[A-Z]\w+", line)
        if match is None:
            continue
        depth = match.start()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group()] = stack[-1][1] if stack else None
        stack.append((depth, match.group()))
    return parents


def _exported_tree() -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    for module in (flinkey_async, flinkey_async.odata):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, FlinkeyError):
                bases = [b for b in value.__bases__ if issubclass(b, FlinkeyError)]
                parents[name] = bases[0].__name__ if bases else None
    return parents


def test_the_error_tree_is_the_exported_one() -> None:
    assert _drawn_tree() == _exported_tree()


def test_no_page_names_a_private_module() -> None:
    private = re.compile(r"flinkey_async(?:\.\w+)*\._\w+")
    found = [
        f"{page.relative_to(ROOT)}: {match.group()}"
        for page in PAGES
        for paragraph in page.read_text(encoding="utf-8").split("\n\n")
        for match in private.finditer(paragraph)
        if "logger" not in paragraph  # logger names are module names, private or not
    ]
    assert found == []
