"""``flinkey-async sync --out postgresql://...``: a URL picks the PostgreSQL store, and its
password never shows, not in the first line, the summary, an error or a log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flinkey_async import cli
from flinkey_async.sync import scrub_dsn

from ._pgserver import PASSWORD, PgServer

pytestmark = pytest.mark.postgres
asyncpg = pytest.importorskip("asyncpg", reason="the postgres extra (asyncpg) is not installed")


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in cli.ENV_VARS:
        monkeypatch.delenv(name, raising=False)


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def test_a_url_selects_the_postgres_store_and_its_password_is_never_printed(
    pg_server: PgServer,
    pg_schema: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _clean(monkeypatch)
    dsn = pg_server.dsn()
    out = f"{dsn}?schema={pg_schema}"
    args = ["sync", "--out", out, "--sandbox-cars", "20", "--customer", "all", "-vv",
            "--progress", "plain"]  # fmt: skip
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert PASSWORD not in text
    assert f"into {scrub_dsn(out)} (postgresql)" in captured.out.splitlines()[0]
    assert "run 1 ok" in captured.out
    import asyncio

    cars = asyncio.run(_count(dsn, f'SELECT count(*) FROM "{pg_schema}".cars'))
    assert cars == 40
    # Again, from the environment: the same schema, a second run.
    monkeypatch.setenv("FLINKEY_DATABASE_URL", out)
    assert cli.main(["sync", "--sandbox-cars", "20", "--customer", "all"]) == 0
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    assert "run 2 ok" in captured.out


@pytest.mark.parametrize("case", ["wrong password", "no such database", "bad url", "bad schema"])
def test_a_database_that_cannot_be_used_is_one_line_and_exit_5(
    pg_server: PgServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
) -> None:
    _clean(monkeypatch)
    out, status = {
        "wrong password": (pg_server.dsn(password=PASSWORD + "x"), cli.EXIT_STORE),
        "no such database": (pg_server.dsn(database="nope"), cli.EXIT_STORE),
        "bad url": (f"postgresql://flinkey:{PASSWORD}@127.0.0.1:port/db", cli.EXIT_STORE),
        "bad schema": (pg_server.dsn() + "?schema=a-b", cli.EXIT_USAGE),
    }[case]
    assert cli.main(["sync", "--out", out, "--sandbox-cars", "5", "--progress", "none"]) == status
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in captured.err
    if status == cli.EXIT_STORE:
        assert lines[0].startswith(f"error: cannot connect to {scrub_dsn(out)}: ")


def test_database_url_must_be_a_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("FLINKEY_DATABASE_URL", "fleet.db")
    assert cli.main(["sync", "--sandbox-cars", "5"]) == cli.EXIT_USAGE
    assert "FLINKEY_DATABASE_URL" in capsys.readouterr().err
