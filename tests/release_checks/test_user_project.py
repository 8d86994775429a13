"""The pytest fixtures in a user's own project, as the README documents them.

A fresh project with the README's fixture example verbatim and its documented pytest
configuration, a fresh venv with nothing but the built wheel and its documented extra: pytest
passes there, with every warning an error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXTRA = "pytest"  # the extra the README names for the fixtures

pytestmark = pytest.mark.slow


def _fenced(language: str, containing: str) -> str:
    for body in re.findall(rf"^```{language}\n(.*?)^```$", README, re.S | re.M):
        if containing in body:
            return str(body)
    raise AssertionError(f"README has no {language} block with {containing!r}")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_readme_fixture_example_passes_in_a_fresh_project(tmp_path: Path) -> None:
    assert f"`{EXTRA}`\nextra" in README or f"`{EXTRA}` extra" in README.replace("\n", " ")
    built = _run(
        sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", ROOT, cwd=ROOT
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")

    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    installed = _run(python, "-m", "pip", "install", "--quiet", f"{wheel}[{EXTRA}]", cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "my-report"\nversion = "1"\n\n' + _fenced("toml", "asyncio_mode")
    )
    (project / "tests" / "test_report.py").write_text(_fenced("python", "flinkey_client"))

    result = _run(python, "-m", "pytest", "-W", "error", "-p", "no:cacheprovider", cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^=+ 1 passed in ", output, re.M), output
    assert "warning" not in output.lower(), output
