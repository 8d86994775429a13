"""``python -m flinkey_async`` is the ``flinkey-async`` command."""

from __future__ import annotations

import subprocess
import sys

from flinkey_async import __version__


def test_python_m_flinkey_async_runs_the_command() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "flinkey_async", "--version"], capture_output=True, text=True
    )
    assert (version.returncode, version.stdout.strip()) == (0, f"flinkey-async {__version__}")
    usage = subprocess.run(
        [sys.executable, "-m", "flinkey_async", "sync", "--no-such-option"],
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2
    assert "unrecognized arguments: --no-such-option" in usage.stderr
