"""Suite-wide test support: the fake secrets and the watch that keeps them out of every output.

Every client test authenticates with the distinctive fake secrets of ``client/fake_secrets.py``.
While the suite runs, every log record of the ``flinkey_async`` loggers (at DEBUG) and the text of
every ``FlinkeyError`` created is collected; ``tests/client/test_secrets.py`` (run last) and the
end of the session check that none of the secrets appears in any of it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from client.fake_secrets import WATCH

from flinkey_async import FlinkeyError


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        WATCH.add(text)


_COLLECTOR = _Collector(level=logging.DEBUG)
_original_init: Any = None


def _recording_init(self: FlinkeyError, *args: Any) -> None:
    super(FlinkeyError, self).__init__(*args)
    WATCH.add(str(self))
    WATCH.add(repr(self))


def pytest_configure(config: pytest.Config) -> None:
    global _original_init
    config.addinivalue_line("markers", "run_last: run after every other test of the session")
    _original_init = FlinkeyError.__init__
    FlinkeyError.__init__ = _recording_init  # type: ignore[method-assign,assignment]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _original_init is not None:
        FlinkeyError.__init__ = _original_init  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)


@pytest.fixture(autouse=True)
def _watch_library_logs() -> Iterator[None]:
    """Log every ``flinkey_async`` record at DEBUG into the secret watch."""
    logger = logging.getLogger("flinkey_async")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_COLLECTOR)
    try:
        yield
    finally:
        logger.removeHandler(_COLLECTOR)
        logger.setLevel(level)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = WATCH.leaks()
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"SECRET LEAK in {len(leaks)} library outputs, first: {leaks[0]!r}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
