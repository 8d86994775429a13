"""``flinkey-async sync``: exit statuses and the one-line messages of expected failures.

The live-API cases run against a sandbox served by another process (``python -m
flinkey_async.sandbox``), so that the command under test runs exactly as a user runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flinkey_async import _client as client_module
from flinkey_async import cli
from flinkey_async.sandbox import Sandbox

from .conftest import FAST_RETRY

ROOT = Path(__file__).resolve().parents[2]


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLINKEY_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, Any]]:
    """A sandbox in its own process; its details as printed on its first line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flinkey_async.sandbox", "--port", "0", "--cars", "40",
         "--seed", "3", "--latency", "0.002", "--format", "json"],
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        details = json.loads(process.stdout.readline())
        yield details
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck sandbox
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def live_env(details: dict[str, Any], **overrides: str) -> dict[str, str]:
    values = {
        "FLINKEY_API_KEY": details["api_key"],
        "FLINKEY_USERNAME": details["username"],
        "FLINKEY_PASSWORD": details["password"],
        "FLINKEY_CUSTOMER_ID": str(details["customer_ids"][0]),
        "FLINKEY_BASE_URL": details["base_url"],
    }
    values.update(overrides)
    return _env(**values)


def flinkey(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flinkey_async.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def count(path: Path, sql: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def test_without_credentials_it_syncs_the_embedded_sandbox_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in cli.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "fleet.sqlite"
    status = cli.main(["sync", "--out", str(out), "--sandbox-cars", "30", "--progress", "plain"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    first = captured.out.splitlines()[0]
    assert first.startswith(
        "No FLINKEY_* credentials set: syncing from the embedded sandbox (30 cars, seed 7) at "
        "http://127.0.0.1:"
    )
    assert "/v3" in first
    assert count(out, "select count(*) from cars where deleted_in_run is null") == 30
    assert "run 1 ok" in captured.out
    assert "Traceback" not in captured.err


def test_rich_progress_and_jsonl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in cli.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "fleet"
    args = ["sync", "--format", "jsonl", "--out", str(out), "--sandbox-cars", "20",
            "--progress", "rich", "--customer", "all"]  # fmt: skip
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "run 1: ok" in captured.out  # the summary table's title
    assert "customers" in captured.out
    cars = [json.loads(line) for line in (out / "cars.jsonl").read_text().splitlines()]
    assert len(cars) == 40
    assert len({car["customer_id"] for car in cars}) == 2


def test_live_sync_with_environment_credentials(served: dict[str, Any], tmp_path: Path) -> None:
    result = flinkey("sync", "--customer", "all", env=live_env(served), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(f"Syncing from {served['base_url']}")
    assert count(tmp_path / "fleet.sqlite", "select count(distinct customer_id) from cars") == 2
    assert count(tmp_path / "fleet.sqlite", "select count(*) from cars") == 80
    again = flinkey(
        "sync", "--format", "jsonl", "--concurrency", "4", "--rate", "500",
        env=live_env(served), cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    lines = (tmp_path / "fleet-jsonl" / "cars.jsonl").read_text().splitlines()
    assert len(lines) == 40


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"FLINKEY_API_KEY": "wrong-key"}, "error: the API key was rejected (401 Access denied"),
        ({"FLINKEY_PASSWORD": "wrong-password"}, "error: username or password rejected ("),
        ({"FLINKEY_USERNAME": "nobody@example.test"}, "error: username or password rejected"),
    ],
)
def test_bad_credentials_say_which(
    served: dict[str, Any], tmp_path: Path, override: dict[str, str], message: str
) -> None:
    result = flinkey("sync", env=live_env(served, **override), cwd=tmp_path)
    assert result.returncode == cli.EXIT_CREDENTIALS
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    for secret in override.values():
        assert secret not in result.stderr + result.stdout


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("fmt", ["sqlite", "jsonl"])
def test_an_unreachable_host_says_so_and_the_failed_run_is_recorded(
    served: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    port = _closed_port()
    env = live_env(served, FLINKEY_BASE_URL=f"http://127.0.0.1:{port}/v3")
    out = tmp_path / "out"
    result = flinkey("sync", "--format", fmt, "--out", str(out), env=env, cwd=tmp_path)
    assert result.returncode == cli.EXIT_UNREACHABLE
    assert result.stderr.startswith(f"error: cannot reach 127.0.0.1:{port}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # The store the sync opened says why it is empty.
    if fmt == "sqlite":
        db = sqlite3.connect(out)
        try:
            runs = db.execute(
                "select status, customers_json, errors_json from sync_runs"
            ).fetchall()
        finally:
            db.close()
        [(status, customers_json, errors_json)] = runs
        customers, errors = json.loads(customers_json), json.loads(errors_json)
    else:
        [run] = [json.loads(line) for line in (out / "sync_runs.jsonl").read_text().splitlines()]
        status, customers, errors = run["status"], run["customers"], run["errors"]
    assert status == "failed"
    assert customers == [served["customer_ids"][0]]
    assert [e["error"] for e in errors] == ["ConnectError"]


def test_a_credential_with_a_line_break_is_one_line_naming_the_setting(
    served: dict[str, Any], tmp_path: Path
) -> None:
    key = served["api_key"] + "\r\n"  # as read from a file with Windows line ends
    result = flinkey("sync", env=live_env(served, FLINKEY_API_KEY=key), cwd=tmp_path)
    assert result.returncode == cli.EXIT_USAGE
    assert result.stderr.splitlines() == [
        "error: FLINKEY_API_KEY contains a control character (a line break read with it from "
        "a file?)"
    ]
    assert served["api_key"] not in result.stderr + result.stdout
    result = flinkey("sync", "--password", "pass\x1bword", env=live_env(served), cwd=tmp_path)
    assert result.returncode == cli.EXIT_USAGE
    assert result.stderr.startswith("error: --password contains a control character")
    assert "pass" not in result.stderr.replace("--password", "")
    assert not (tmp_path / "fleet.sqlite").exists()


def test_incomplete_credentials_are_a_usage_error(tmp_path: Path) -> None:
    result = flinkey("sync", env=_env(FLINKEY_API_KEY="k"), cwd=tmp_path)
    assert result.returncode == cli.EXIT_USAGE
    assert result.stderr.startswith(
        "error: FLINKEY_USERNAME and FLINKEY_PASSWORD not set: a live sync needs"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    no_customer = flinkey(
        "sync", env=_env(FLINKEY_API_KEY="k", FLINKEY_USERNAME="u", FLINKEY_PASSWORD="p"),
        cwd=tmp_path,
    )  # fmt: skip
    assert no_customer.returncode == cli.EXIT_USAGE
    assert "FLINKEY_CUSTOMER_ID" in no_customer.stderr


@pytest.mark.parametrize(
    "args",
    [["--concurrency", "0"], ["--rate", "-1"], ["--format", "csv"], ["--customer", "x"]],
)
def test_bad_options_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sync", *args])
    assert exited.value.code == cli.EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


@pytest.fixture
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the sync starts its sandbox."""

    def refuse(settings: object) -> Any:
        raise AssertionError("the sandbox was started")

    monkeypatch.setattr(cli, "_sandbox_process", refuse)


@pytest.mark.usefixtures("no_sandbox")
def test_an_unwritable_output_is_reported_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    status = cli.main(
        ["sync", "--sandbox", "--sandbox-cars", "5", "--out", str(blocker / "fleet.sqlite"),
         "--progress", "none"]
    )  # fmt: skip
    assert status == cli.EXIT_STORE
    captured = capsys.readouterr()
    assert captured.err.startswith("error: cannot open")
    assert len(captured.err.splitlines()) == 1
    assert captured.out == ""  # no banner


@pytest.mark.usefixtures("no_sandbox")
def test_a_read_only_directory_is_reported_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status = cli.main(["sync", "--out", str(locked / "fleet.sqlite"), "--progress", "none"])
    finally:
        locked.chmod(0o700)
    captured = capsys.readouterr()
    assert status == cli.EXIT_STORE
    assert captured.err.startswith("error: cannot open")
    assert captured.out == ""


@pytest.mark.usefixtures("no_sandbox")
@pytest.mark.parametrize("fmt", ["sqlite", "jsonl"])
def test_a_missing_directory_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    out = tmp_path / "no" / "such" / "fleet"
    status = cli.main(["sync", "--format", fmt, "--out", str(out), "--progress", "none"])
    captured = capsys.readouterr()
    assert status == cli.EXIT_STORE
    assert captured.err.splitlines() == [
        f"error: cannot open {out}: the directory {out.parent} does not exist"
    ]
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_help_documents_options_environment_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sync", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for needle in ("--out", "--format", "--concurrency", "--rate", "--customer", "FLINKEY_API_KEY",
                   "FLINKEY_BASE_URL", "exit status:", "130", "deleted_in_run"):  # fmt: skip
        assert needle in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "sandbox" in capsys.readouterr().out


def test_sandbox_command_is_delegated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sandbox", "--help"])
    assert exited.value.code == 0
    assert "--cars" in capsys.readouterr().out


def _slow_sync(out: Path, env: dict[str, str], cwd: Path, **streams: Any) -> subprocess.Popen[str]:
    """A slow run (one request at a time, rate-limited), started once ``out`` has some rows."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flinkey_async.cli", "sync", "--out", str(out),
         "--concurrency", "1", "--rate", "100", "--page-size", "10"],
        env=env, cwd=cwd, text=True, **streams,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists():
            try:
                if count(out, "select count(*) from car_products") >= 5:
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    return process


def test_ctrl_c_stops_cleanly_and_records_the_interrupted_run(
    served: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "fleet.sqlite"
    process = _slow_sync(
        out, live_env(served), tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert stderr.strip().splitlines() == [
        "interrupted: the store is consistent; run the sync again to complete it"
    ]
    assert count(out, "select count(*) from sync_runs where status = 'interrupted'") == 1
    assert count(out, "select count(*) from cars where deleted_in_run is not null") == 0


def test_a_killed_run_leaves_a_consistent_store_that_the_next_run_completes(
    served: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "fleet.sqlite"
    env = live_env(served)
    # Killed without warning part-way: no chance to record anything.
    process = _slow_sync(out, env, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process.kill()
    process.wait()
    assert count(out, "select count(*) from sync_runs where status = 'running'") == 1
    assert count(out, "select count(*) from cars where deleted_in_run is not null") == 0
    result = flinkey("sync", "--out", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert count(out, "select count(*) from sync_runs where id = 1 and status = 'abandoned'") == 1
    assert count(out, "select count(*) from sync_runs where id = 2 and status = 'ok'") == 1
    assert count(out, "select count(*) from cars where deleted_in_run is null") == 40
    assert count(out, "select count(*) from car_products where deleted_in_run is null") == count(
        out, "select count(*) from car_products"
    )


def _no_flinkey_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in cli.ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_sandbox_option_says_so_and_what_it_ignores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_flinkey_env(monkeypatch)
    for name in ("FLINKEY_API_KEY", "FLINKEY_USERNAME", "FLINKEY_PASSWORD"):
        monkeypatch.setenv(name, "live-secret-" + name[-3:])
    monkeypatch.setenv("FLINKEY_CUSTOMER_ID", "4711")  # a live customer: not the sandbox's
    out = tmp_path / "fleet.sqlite"
    status = cli.main(["sync", "--sandbox", "--sandbox-cars", "5", "--out", str(out),
                       "--progress", "none"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.out.splitlines()[0].startswith(
        "--sandbox: syncing from the embedded sandbox (5 cars, seed 7) at http://127.0.0.1:"
    )
    assert captured.out.splitlines()[0].endswith(
        "; ignoring FLINKEY_API_KEY, FLINKEY_USERNAME, FLINKEY_PASSWORD and FLINKEY_CUSTOMER_ID"
    )
    assert "live-secret" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("env", "args", "missing", "present"),
    [
        ({"FLINKEY_BASE_URL": "https://api.example.test/v3"}, [],
         "FLINKEY_API_KEY, FLINKEY_USERNAME and FLINKEY_PASSWORD", "FLINKEY_BASE_URL is set"),
        ({}, ["--base-url", "https://api.example.test/v3"],
         "FLINKEY_API_KEY, FLINKEY_USERNAME and FLINKEY_PASSWORD", "--base-url is set"),
        ({"FLINKEY_PASSWORD": "p", "FLINKEY_BASE_URL": "https://api.example.test/v3"}, [],
         "FLINKEY_API_KEY and FLINKEY_USERNAME",
         "FLINKEY_PASSWORD and FLINKEY_BASE_URL are set"),
    ],
)  # fmt: skip
def test_partial_settings_are_refused_not_replaced_by_the_sandbox(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
    missing: str,
    present: str,
) -> None:
    _no_flinkey_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = cli.main(["sync", "--out", str(tmp_path / "fleet.sqlite"), *args])
    captured = capsys.readouterr()
    assert status == cli.EXIT_USAGE
    assert captured.out == ""  # no sandbox was started
    assert captured.err.startswith(f"error: {missing} not set: a live sync needs"), captured.err
    assert present in captured.err
    assert "--sandbox" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "fleet.sqlite").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FLINKEY_BASE_URL", "notaurl", "error: base_url: "),
        ("FLINKEY_BASE_URL", "ftp://127.0.0.1/v3", "error: base_url: "),
        ("FLINKEY_CUSTOMER_ID", "99999999999", "error: customer_id: must be a positive int32"),
        ("FLINKEY_CUSTOMER_ID", "abc", "error: FLINKEY_CUSTOMER_ID: expected a customer id"),
        ("FLINKEY_CUSTOMER_ID", "0", "error: FLINKEY_CUSTOMER_ID: a customer id is a positive"),
    ],
)
def test_a_value_the_client_refuses_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    message: str,
) -> None:
    _no_flinkey_env(monkeypatch)
    settings = {
        "FLINKEY_API_KEY": "a-key",
        "FLINKEY_USERNAME": "manager@example.test",
        "FLINKEY_PASSWORD": "a-password",
        "FLINKEY_CUSTOMER_ID": "1001",
        "FLINKEY_BASE_URL": "http://127.0.0.1:9/v3",
        name: value,
    }
    for key, setting in settings.items():
        monkeypatch.setenv(key, setting)
    status = cli.main(["sync", "--out", str(tmp_path / "fleet.sqlite")])
    captured = capsys.readouterr()
    assert status == cli.EXIT_USAGE
    assert captured.err.startswith(message), captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err
    assert "a-password" not in captured.err + captured.out


def test_a_customer_the_manager_cannot_act_for_names_both_causes(
    served: dict[str, Any], tmp_path: Path
) -> None:
    result = flinkey("sync", env=live_env(served, FLINKEY_CUSTOMER_ID="999"), cwd=tmp_path)
    assert result.returncode == cli.EXIT_CREDENTIALS
    assert result.stderr.startswith(
        "error: the service found no API Manager for this token and customer 999 (404 Unable "
        "to find a manager for the given OAuth ID claim data.): check FLINKEY_CUSTOMER_ID / "
        "--customer"
    ), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["sqlite", "jsonl"])
def test_a_store_in_use_by_another_sync_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    import fcntl

    _no_flinkey_env(monkeypatch)
    out = tmp_path / ("fleet.sqlite" if fmt == "sqlite" else "fleet-jsonl")
    with open(f"{out}.lock", "w") as held:  # as another sync holds it
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status = cli.main(["sync", "--sandbox-cars", "5", "--format", fmt, "--out", str(out),
                           "--progress", "none"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == cli.EXIT_BUSY
    assert captured.err.strip().splitlines() == [f"error: another sync is running on {out}"]
    assert captured.out == ""  # refused before the sandbox started and the banner printed
    assert cli.main(["sync", "--sandbox-cars", "5", "--format", fmt, "--out", str(out),
                     "--progress", "none"]) == 0  # fmt: skip


def test_timeout_bounds_each_attempt_against_a_host_that_never_answers(
    served: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept_and_say_nothing() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    _no_flinkey_env(monkeypatch)
    for name, value in live_env(served, FLINKEY_BASE_URL=f"http://127.0.0.1:{port}/v3").items():
        if name.startswith("FLINKEY_"):
            monkeypatch.setenv(name, value)
    started = time.monotonic()
    try:
        status = cli.main(["sync", "--out", str(tmp_path / "fleet.sqlite"), "--timeout", "0.2"])
    finally:
        listener.close()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert status == cli.EXIT_UNREACHABLE
    assert captured.err.strip().splitlines() == [
        f"error: 127.0.0.1:{port} did not answer in time (no answer in time)"
    ]
    assert len(accepted) >= 2  # the attempts were made, each cut after 0.2 s
    assert elapsed >= 0.2 * len(accepted) * 0.95


def test_help_documents_the_timeout_and_the_busy_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["sync", "--help"])
    text = capsys.readouterr().out
    assert "--timeout SECONDS" in text
    assert f"  {cli.EXIT_BUSY}    another sync is running" in text


async def test_rate_caps_every_http_request_retries_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Half the requests fail with 503 and the client retries them at once: every attempt must
    # count against --rate, not only the calls the sync makes.
    class QuickRetries(client_module.FlinkeyClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**{"retry": FAST_RETRY, **kwargs})

    monkeypatch.setattr(client_module, "FlinkeyClient", QuickRetries)
    rate = 100.0
    async with Sandbox(cars=30, seed=5, customers=1) as sb:
        sb.faults.set(error_rate_503=0.5)
        env = {
            "FLINKEY_API_KEY": sb.api_key,
            "FLINKEY_USERNAME": sb.username,
            "FLINKEY_PASSWORD": sb.password,
            "FLINKEY_CUSTOMER_ID": str(sb.customer_id),
            "FLINKEY_BASE_URL": sb.base_url,
        }
        args = cli.build_parser().parse_args(
            ["sync", "--out", str(tmp_path / "fleet.sqlite"), "--rate", str(rate),
             "--concurrency", "32", "--progress", "none"]
        )  # fmt: skip
        settings = cli.settings_from(args, env)
        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        status = await cli._sync(settings, out, err)
        elapsed = time.monotonic() - started
        requests = sum(sb.counters.requests.values())  # token requests included
        faults = sum(n for (_, kind), n in sb.counters.faults.items() if kind == "error_503")
    assert status == cli.EXIT_OK, err.getvalue()
    assert faults > 50
    # Evenly spaced from the first: n requests take at least (n - 1) / rate seconds.
    assert elapsed >= (requests - 1) / rate * 0.95, (requests, elapsed)


# -- Ctrl-C and the sandbox process --------------------------------------------------------------

_SLOW_IMPORT = """
import importlib.abc, pathlib, sys, time
marker = pathlib.Path(sys.argv.pop(1))
class Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "flinkey_async.sync":
            marker.touch()
            time.sleep(60)
        return None
sys.meta_path.insert(0, Slow())
from flinkey_async.cli import main
sys.exit(main())
"""
"""The installed script, with the import of the sync package held up long enough to be hit."""


def _wait_for(condition: Any, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the listening TCP socket of ``port``."""
    inodes = {
        fields[9]
        for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())[1].endswith(f":{port:04X}") and fields[3] == "0A"
    }
    fds = Path(f"/proc/{pid}/fd")
    held = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            held.add(os.readlink(fd))
    return any(f"socket:[{inode}]" in held for inode in inodes)


needs_proc = pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs /proc/PID/task/PID/children",
)


def test_ctrl_c_during_the_imports_is_one_line(tmp_path: Path) -> None:
    marker, out = tmp_path / "importing", tmp_path / "fleet.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_IMPORT, str(marker), "sync", "--out", str(out)],
        env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(marker.exists)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert stderr.splitlines() == [
        "interrupted: the store is consistent; run the sync again to complete it"
    ]
    assert stdout == ""
    assert not out.exists()


@needs_proc
def test_ctrl_c_while_the_sandbox_starts_stops_it(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "flinkey_async.cli", "sync", "--sandbox-cars", "2000"],
        env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(lambda: bool(_children(process.pid)))
    [sandbox] = _children(process.pid)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert stderr.splitlines() == [
        "interrupted: the store is consistent; run the sync again to complete it"
    ]
    assert stdout == ""  # interrupted before the banner
    assert not _running(sandbox)
    # The store was opened first; it says the run was interrupted before it began.
    runs = "select count(*) from sync_runs where status = 'interrupted'"
    assert count(tmp_path / "fleet.sqlite", runs) == 1


def test_a_sandbox_that_cannot_start_is_one_line_and_a_failed_run(tmp_path: Path) -> None:
    broken = tmp_path / "site"
    broken.mkdir()
    (broken / "jwt.py").write_text("raise ModuleNotFoundError(\"No module named 'jwt'\")\n")
    env = _env()
    env["PYTHONPATH"] = f"{broken}{os.pathsep}{env['PYTHONPATH']}"
    result = flinkey("sync", env=env, cwd=tmp_path)
    assert result.returncode == cli.EXIT_USAGE
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the embedded sandbox did not start (")
    assert line.endswith("install the extra: python -m pip install 'flinkey-async[cli,sandbox]'")
    assert result.stdout == ""
    runs = "select count(*) from sync_runs where status = 'failed'"
    assert count(tmp_path / "fleet.sqlite", runs) == 1


def _slow_sandbox_sync(cwd: Path, stderr: int) -> subprocess.Popen[str]:
    """A sync of the embedded sandbox slow enough to be caught running (stdout piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "flinkey_async.cli", "sync", "--sandbox-cars", "300",
         "--concurrency", "1", "--rate", "50", "--progress", "none"],
        env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip


@needs_proc
def test_the_sandbox_runs_in_its_own_process_and_stops_with_the_sync(tmp_path: Path) -> None:
    process = _slow_sandbox_sync(tmp_path, stderr=subprocess.PIPE)
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert banner.startswith("No FLINKEY_* credentials set: syncing from the embedded sandbox")
    [sandbox] = _children(process.pid)
    port = int(banner.split("http://127.0.0.1:")[1].split("/")[0])
    # The sandbox process listens on the port, the sync does not.
    assert _listens(sandbox, port)
    assert not _listens(process.pid, port)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == cli.EXIT_INTERRUPTED
    assert len(stderr.splitlines()) == 1
    assert not _running(sandbox)


@needs_proc
def test_a_killed_sync_leaves_no_sandbox_running(tmp_path: Path) -> None:
    process = _slow_sandbox_sync(tmp_path, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    assert process.stdout.readline().startswith("No FLINKEY_* credentials set")
    [sandbox] = _children(process.pid)
    process.kill()  # no chance to clean up: the sandbox notices its standard input closing
    process.wait()
    process.stdout.close()
    _wait_for(lambda: not _running(sandbox), within=30)


def test_uvloop_runs_the_sync_when_installed_and_gc_settings_are_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[asyncio.AbstractEventLoop] = []

    def new_event_loop() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        made.append(loop)
        return loop

    uvloop = types.ModuleType("uvloop")
    uvloop.new_event_loop = new_event_loop  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uvloop", uvloop)
    _no_flinkey_env(monkeypatch)
    thresholds = gc.get_threshold()
    status = cli.main(["sync", "--sandbox-cars", "5", "--out", str(tmp_path / "fleet.sqlite"),
                       "--progress", "none"])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert len(made) == 1
    assert made[0].is_closed()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0
