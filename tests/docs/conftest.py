from __future__ import annotations

import pytest

from .test_examples import COUNTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COUNTS:
        ran = sum(r for r, _ in COUNTS.values())
        marked = sum(m for _, m in COUNTS.values())
        pages = ", ".join(f"{page} {r}/{r + m}" for page, (r, m) in COUNTS.items())
        terminalreporter.write_line(f"doc examples: {ran} run, {marked} marked not run ({pages})")
