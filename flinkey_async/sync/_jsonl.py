"""The JSON Lines store: one ``<table>.jsonl`` file per table, replaced atomically per run.

The files are the store; between runs nothing else is kept. A run works on a staging SQLite
file next to them (so that upserts, deletion marks and memory stay exactly as in the SQLite
store): it starts by loading the previous files into it, line by line, then the run writes
there, and at its end every table is written to ``<table>.jsonl.tmp``, flushed to disk and
moved over ``<table>.jsonl`` with ``os.replace``, ``sync_runs.jsonl`` last. A run that fails or
is interrupted replaces ``sync_runs.jsonl`` only, to record itself: the entity files stay those
of the last ``ok`` or ``partial`` run. The staging file is removed (or, after a crash, read for
the dead run's record and replaced by the next run).

Each line is one row: ``customer_id``, the key and data columns (snake_case, as in SQLite), and
the history columns ``first_seen_run``, ``last_seen_run``, ``updated_in_run`` and
``deleted_in_run``. ``sync_runs.jsonl`` records every run; run ids are never reused, not even
those of a run that died while it was replacing the files.

While the store is open it holds an exclusive lock on ``<directory>.lock`` (see
:class:`~flinkey_async.sync.SqliteStore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _json
from ._ops import Operation, StoreError
from ._schema import HISTORY_COLUMNS, RUN_COLUMNS, TABLES
from ._sqlite import SqliteStore, StoreLock

__all__ = ["JsonlStore"]

_STAGING = ".flinkey-sync-staging.sqlite"
_FILES = (*TABLES, "sync_runs")
_LOAD_BATCH = 5000
_RUN_COLUMNS = tuple(name for name in RUN_COLUMNS if name != "status")  # a dead run's own


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


class JsonlStore:
    """A fleet copy as JSON Lines files in ``directory`` (created if missing).

    Same interface and semantics as :class:`~flinkey_async.sync.SqliteStore`; the entity files
    change only when a run finishes (``ok`` or ``partial``), each by an atomic replace, and
    ``sync_runs.jsonl`` records every run, replaced last.
    """

    format = "jsonl"

    def __init__(self, directory: str | os.PathLike[str], *, batch_size: int = 500) -> None:
        self.directory = Path(directory)
        self.batch_size = batch_size
        # The staging file needs no lock of its own: the store's lock covers the directory.
        self._staging = SqliteStore(self.directory / _STAGING, batch_size=batch_size, lock=False)
        self._lock: StoreLock | None = None
        self._newest_run = 0  # the highest run id any file or a dead run's staging file names

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.directory)!r})"

    @property
    def run_id(self) -> int | None:
        return self._staging.run_id

    def path(self, table: str) -> Path:
        """The file of ``table`` (``cars`` -> ``<directory>/cars.jsonl``)."""
        return self.directory / f"{table}.jsonl"

    async def open(self) -> None:
        """Lock the directory and load the previous run's files into a fresh staging database."""
        loop = asyncio.get_running_loop()
        preparing = loop.run_in_executor(None, self._prepare_sync)
        try:
            dead_runs = await asyncio.shield(preparing)
        except BaseException:
            # Cut short (or failed): give the lock back once the preparation is over.
            preparing.add_done_callback(self._prepared_in_vain)
            raise
        try:
            await self._staging.open()
            for table in _FILES:
                await self._staging.run_sync(self._load_sync, table)
            await self._staging.run_sync(self._settle_runs_sync, dead_runs)
        except BaseException:
            await self.close()
            raise

    def _prepare_sync(self) -> list[dict[str, Any]]:
        """Create and lock the directory; read a dead run's record from its staging file."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.directory}: {exc}") from exc
        if not self.directory.is_dir():
            raise StoreError(f"{self.directory} is not a directory")
        resolved = self.directory.resolve()
        lock_path = (
            resolved.with_name(resolved.name + ".lock")
            if resolved.name
            else (resolved / ".flinkey-sync.lock")
        )
        lock = StoreLock(lock_path, self.directory)
        lock.acquire()
        self._lock = lock
        try:
            # Locked: a staging file left here belongs to a run that died.
            dead_runs = _runs_of(self._staging.path)
            _remove(self._staging.path)
        except BaseException:
            self._release_lock()
            raise
        return dead_runs

    def _prepared_in_vain(self, preparing: asyncio.Future[list[dict[str, Any]]]) -> None:
        if not preparing.cancelled():
            preparing.exception()  # seen: it was reported, or the open was cancelled anyway
        self._release_lock()

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _settle_runs_sync(self, dead_runs: list[dict[str, Any]]) -> None:
        """Record runs that died as ``abandoned``; make the next run id exceed every one seen."""
        known = [int(row["id"] or 0) for row in self._staging.iter_rows_sync("sync_runs")]
        newest_known = max(known, default=0)
        lost = [{**run, "status": "abandoned"} for run in dead_runs if run["id"] > newest_known]
        if lost:
            self._staging.insert_rows_sync("sync_runs", lost)
        newest = max([self._newest_run, *(run["id"] for run in lost)])
        self._staging.reserve_run_ids(newest)

    def _load_sync(self, table: str) -> None:
        path = self.path(table)
        if not path.exists():
            return
        batch: list[dict[str, Any]] = []
        with path.open("rb") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = _json.loads(line)
                except ValueError as exc:
                    raise StoreError(f"{path}:{number}: not a JSON line ({exc})") from exc
                if table == "sync_runs":
                    row = {
                        **row,
                        "customers_json": json.dumps(row.get("customers")),
                        "counts_json": json.dumps(row.get("counts")),
                        "errors_json": json.dumps(row.get("errors")),
                    }
                    stamps = [row.get("id")]
                else:
                    stamps = [row.get(column) for column in HISTORY_COLUMNS]
                self._newest_run = max(
                    [self._newest_run, *(s for s in stamps if isinstance(s, int))]
                )
                batch.append(row)
                if len(batch) >= _LOAD_BATCH:
                    self._staging.insert_rows_sync(table, batch)
                    batch = []
        if batch:
            self._staging.insert_rows_sync(table, batch)

    async def close(self) -> None:
        """Drop the staging database and give the lock back."""
        try:
            await self._staging.close()
        finally:
            loop = asyncio.get_running_loop()
            await asyncio.shield(loop.run_in_executor(None, self._cleanup_sync))

    def _cleanup_sync(self) -> None:
        try:
            if self._lock is not None:
                _remove(self._staging.path)
        finally:
            self._release_lock()

    async def __aenter__(self) -> JsonlStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the store interface (see SqliteStore) ----------------------------------------------------

    async def begin_run(self, *, source: str, customer_ids: Sequence[int]) -> int:
        return await self._staging.begin_run(source=source, customer_ids=customer_ids)

    async def write(self, operations: Sequence[Operation]) -> None:
        await self._staging.write(operations)

    async def unseen_ids(self, table: str, customer_id: int | None) -> list[int]:
        return await self._staging.unseen_ids(table, customer_id)

    async def mark_vanished(self, table: str, customer_id: int | None) -> int:
        return await self._staging.mark_vanished(table, customer_id)

    async def run_changes(self, customer_ids: Sequence[int]) -> dict[str, dict[str, int]]:
        return await self._staging.run_changes(customer_ids)

    async def end_run(
        self, status: str, counts: Mapping[str, Any], errors: Sequence[Mapping[str, Any]]
    ) -> None:
        """Record the run; publish every table if it finished, else ``sync_runs.jsonl`` only."""
        await self._staging.end_run(status, counts, errors)
        tables = _FILES if status in ("ok", "partial") else ("sync_runs",)
        await self._staging.run_sync(self._export_sync, tables)

    async def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows of the published file of ``table``."""
        path = self.path(table)
        if not path.exists():
            return []
        with path.open("rb") as lines:
            return [_json.loads(line) for line in lines if line.strip()]

    def _export_sync(self, tables: Sequence[str]) -> None:
        temporaries: list[tuple[Path, Path]] = []
        try:
            for table in tables:
                final = self.path(table)
                temporary = final.with_name(final.name + ".tmp")
                temporaries.append((temporary, final))
                with temporary.open("wb") as out:
                    for row in self._staging.iter_rows_sync(table):
                        if table == "sync_runs":
                            row = _run_row(row)
                        out.write(_json.dumps(row))
                        out.write(b"\n")
                    out.flush()
                    os.fsync(out.fileno())
            # sync_runs.jsonl goes last, once the others are in place on disk: when it names a
            # finished run, every other file is that run's.
            for temporary, final in temporaries:
                if final.name == "sync_runs.jsonl":
                    _fsync_directory(self.directory)
                os.replace(temporary, final)
            _fsync_directory(self.directory)
        except OSError as exc:
            for temporary, _ in temporaries:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(temporary)
            raise StoreError(f"cannot write {self.directory}: {exc}") from exc


def _run_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in row.items() if not key.endswith("_json")}
    for key in ("customers", "counts", "errors"):
        text = row.get(f"{key}_json")
        out[key] = json.loads(text) if text else None
    return out


def _runs_of(staging: Path) -> list[dict[str, Any]]:
    """The runs recorded in a staging file a dead run left behind (none if it is unreadable)."""
    if not staging.exists():
        return []
    try:
        db = sqlite3.connect(staging)
    except sqlite3.Error:
        return []
    try:
        cursor = db.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM sync_runs ORDER BY id")
        return [dict(zip(_RUN_COLUMNS, row, strict=True)) for row in cursor]
    except sqlite3.Error:
        return []
    finally:
        db.close()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
