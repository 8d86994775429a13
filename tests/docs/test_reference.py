"""Every public name has a place in the API reference (docs/reference/, built by mkdocstrings)."""

from __future__ import annotations

import re
from pathlib import Path

import flinkey_async

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
SUBPACKAGES = ("odata", "sandbox", "sync")


def _directives() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in REFERENCE.glob("*.md"))
    return set(re.findall(r"^::: (\S+)$", text, re.M))


def test_every_public_name_is_in_the_reference() -> None:
    directives = _directives()
    missing = [n for n in flinkey_async.__all__ if f"flinkey_async.{n}" not in directives]
    assert missing == []
    # The subpackages are documented whole: their __all__ is what the page shows.
    assert {f"flinkey_async.{p}" for p in SUBPACKAGES} <= directives
