"""A PostgreSQL sync with real processes: a worker killed (``kill -9``) mid-run, the database
connection dropped by the server (``pg_terminate_backend``), two workers sharing one run.

The workers are ``flinkey-async sync`` processes against a sandbox served by another process,
as operators run them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flinkey_async.sync import _schema as schema
from flinkey_async.sync import scrub_dsn

from ._pgserver import PASSWORD, PgServer
from .test_cli import _env, flinkey, live_env
from .test_workers import differences

pytestmark = pytest.mark.postgres
asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra (asyncpg) is not installed")


@pytest.fixture(scope="module")
def slow_api() -> Iterator[dict[str, Any]]:
    """A served sandbox slow enough (latency) that a sync can be hit while it writes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flinkey_async.sandbox", "--port", "0", "--cars", "150",
         "--seed", "4", "--latency", "0.01", "--format", "json"],
        stdout=subprocess.PIPE, env=_env(), text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def start_worker(details: dict[str, Any], out: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flinkey_async.cli", "sync", "--customer", "all", "--out", out,
         "--concurrency", "8", "--progress", "none"],
        env=live_env(details), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def query(dsn: str, sql: str) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def wait_for_rows(dsn: str, sql: str, at_least: int, process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "the worker ended before it could be hit"
        try:
            found = int(query(dsn, sql) or 0)
        except asyncpg.UndefinedTableError:
            found = 0
        if found >= at_least:
            return found
        time.sleep(0.05)
    raise AssertionError("the worker wrote nothing in time")


def consistency_problems(dsn: str, s: str) -> dict[str, int]:
    """Link rows whose entity is missing: what a half-written batch would leave."""
    checks = {
        "car_products without car": f"SELECT count(*) FROM {s}.car_products l WHERE NOT EXISTS "
        f"(SELECT 1 FROM {s}.cars c WHERE c.customer_id = l.customer_id AND c.id = l.car_id)",
        "car_products without product": f"SELECT count(*) FROM {s}.car_products l WHERE NOT "
        f"EXISTS (SELECT 1 FROM {s}.products p WHERE p.customer_id = l.customer_id "
        "AND p.id = l.product_id)",
        "product_services without service": f"SELECT count(*) FROM {s}.product_services l "
        f"WHERE NOT EXISTS (SELECT 1 FROM {s}.services v WHERE v.customer_id = l.customer_id "
        "AND v.id = l.service_id)",
        "group_users without user": f"SELECT count(*) FROM {s}.group_users l WHERE NOT EXISTS "
        f"(SELECT 1 FROM {s}.users u WHERE u.customer_id = l.customer_id AND u.id = l.user_id)",
    }
    found = {name: int(query(dsn, sql)) for name, sql in checks.items()}
    return {name: n for name, n in found.items() if n}


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = process.communicate(timeout=60)
    return out, err


def test_a_worker_killed_mid_run_leaves_a_consistent_database_and_its_run_abandoned(
    pg_server: PgServer, slow_api: dict[str, Any], tmp_path: Path
) -> None:
    dsn = pg_server.dsn()
    out = f"{dsn}?schema=killed"
    doomed = start_worker(slow_api, out, tmp_path)
    try:
        wait_for_rows(dsn, "SELECT count(*) FROM killed.car_products", 40, doomed)
        os.kill(doomed.pid, signal.SIGKILL)
    finally:
        if doomed.poll() is None:
            doomed.kill()
        finish(doomed)
    assert doomed.returncode == -signal.SIGKILL
    assert consistency_problems(dsn, "killed") == {}
    assert query(dsn, "SELECT status FROM killed.sync_runs WHERE id = 1") == "running"

    # The next start records the dead run as abandoned, and its run completes the copy.
    result = flinkey("sync", "--customer", "all", "--out", out, env=live_env(slow_api),
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    statuses = query(dsn, "SELECT string_agg(id || ' ' || status, ', ' ORDER BY id) "
                          "FROM killed.sync_runs")  # fmt: skip
    assert statuses == "1 abandoned, 2 ok"
    clean = flinkey("sync", "--customer", "all", "--out", f"{dsn}?schema=clean",
                    env=live_env(slow_api), cwd=tmp_path)  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    assert asyncio.run(differences(dsn, "killed", "clean")) == {}


def test_a_dropped_connection_fails_the_run_in_one_line_and_keeps_what_was_committed(
    pg_server: PgServer, slow_api: dict[str, Any], tmp_path: Path
) -> None:
    dsn = pg_server.dsn()
    out = f"{dsn}?schema=dropped"
    worker = start_worker(slow_api, out, tmp_path)
    try:
        wait_for_rows(dsn, "SELECT count(*) FROM dropped.car_products", 10, worker)
        committed = {
            name: int(query(dsn, f"SELECT count(*) FROM dropped.{name}")) for name in schema.TABLES
        }
        # Its one connection, as soon as the database sees it (the worker may still be starting).
        dropped = 0
        while not dropped and worker.poll() is None:
            dropped = query(
                dsn,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'flinkey-async sync' AND pid <> pg_backend_pid()",
            )
        assert dropped == 1, "the worker ended before it could be hit"
        _, err = finish(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            finish(worker)
    assert worker.returncode == 5, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {scrub_dsn(dsn)} lost the connection: ")
    assert PASSWORD not in err
    for name, count in committed.items():
        assert int(query(dsn, f"SELECT count(*) FROM dropped.{name}")) >= count, name
    assert consistency_problems(dsn, "dropped") == {}
    # The run could not record its end: the next start says so, and completes the copy.
    again = flinkey("sync", "--customer", "all", "--out", out, env=live_env(slow_api),
                    cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert query(dsn, "SELECT status FROM dropped.sync_runs WHERE id = 1") == "abandoned"


def test_two_worker_processes_share_one_run_and_equal_one_worker(
    pg_server: PgServer, slow_api: dict[str, Any], tmp_path: Path
) -> None:
    dsn = pg_server.dsn()
    workers = [start_worker(slow_api, f"{dsn}?schema=pair", tmp_path) for _ in range(2)]
    outputs = [finish(worker) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    assert query(dsn, "SELECT count(*) FROM pair.sync_runs") == 1
    assert query(dsn, "SELECT status FROM pair.sync_runs") == "ok"
    assert query(dsn, "SELECT count(*) FROM pair.run_workers WHERE status = 'ok'") == 2
    # Every customer done, each by one worker, and each worker had one.
    assert query(dsn, "SELECT count(*) FROM pair.run_customers WHERE state = 'done'") == 2
    assert query(dsn, "SELECT count(DISTINCT worker_id) FROM pair.run_customers") == 2
    single = flinkey("sync", "--customer", "all", "--out", f"{dsn}?schema=single",
                     env=live_env(slow_api), cwd=tmp_path)  # fmt: skip
    assert single.returncode == 0, single.stderr
    assert asyncio.run(differences(dsn, "pair", "single")) == {}
