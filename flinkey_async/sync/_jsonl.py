"""The JSON Lines store: one ``<table>.jsonl`` file per table, replaced atomically per run.

The files are the store; between runs nothing else is kept. A run works on a staging SQLite
file next to them (so that upserts, deletion marks and memory stay exactly as in the SQLite
store): it starts by loading the previous files into it, line by line, then the run writes
there, and at its end every table is written to ``<table>.jsonl.tmp``, flushed to disk and
moved over ``<table>.jsonl`` with ``os.replace``. A run that is interrupted leaves the previous
files untouched; the staging file is removed (or, after a crash, replaced by the next run).

Each line is one row: ``customer_id``, the key and data columns (snake_case, as in SQLite), and
the history columns ``first_seen_run``, ``last_seen_run``, ``updated_in_run`` and
``deleted_in_run``. ``sync_runs.jsonl`` records the runs.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import _json
from ._schema import TABLES
from ._sqlite import Operation, SqliteStore, StoreError

__all__ = ["JsonlStore"]

_STAGING = ".flinkey-sync-staging.sqlite"
_FILES = (*TABLES, "sync_runs")
_LOAD_BATCH = 5000


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


class JsonlStore:
    """A fleet copy as JSON Lines files in ``directory`` (created if missing).

    Same interface and semantics as :class:`~flinkey_async.sync.SqliteStore`; the files change
    only when a run finishes (``ok`` or ``partial``), each by an atomic replace.
    """

    format = "jsonl"

    def __init__(self, directory: str | os.PathLike[str], *, batch_size: int = 500) -> None:
        self.directory = Path(directory)
        self.batch_size = batch_size
        self._staging = SqliteStore(self.directory / _STAGING, batch_size=batch_size)

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.directory)!r})"

    @property
    def run_id(self) -> int | None:
        return self._staging.run_id

    def path(self, table: str) -> Path:
        """The file of ``table`` (``cars`` -> ``<directory>/cars.jsonl``)."""
        return self.directory / f"{table}.jsonl"

    async def open(self) -> None:
        """Load the previous run's files into a fresh staging database."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {self.directory}: {exc}") from exc
        if not self.directory.is_dir():
            raise StoreError(f"{self.directory} is not a directory")
        _remove(self._staging.path)
        await self._staging.open()
        try:
            for table in _FILES:
                await self._staging.run_sync(self._load_sync, table)
        except BaseException:
            await self.close()
            raise

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
                batch.append(row)
                if len(batch) >= _LOAD_BATCH:
                    self._staging.insert_rows_sync(table, batch)
                    batch = []
        if batch:
            self._staging.insert_rows_sync(table, batch)

    async def close(self) -> None:
        """Drop the staging database."""
        await self._staging.close()
        _remove(self._staging.path)

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
        """Record the run; unless it was interrupted, publish every table atomically."""
        await self._staging.end_run(status, counts, errors)
        if status in ("ok", "partial"):
            await self._staging.run_sync(self._export_sync)

    async def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows of the published file of ``table``."""
        path = self.path(table)
        if not path.exists():
            return []
        with path.open("rb") as lines:
            return [_json.loads(line) for line in lines if line.strip()]

    def _export_sync(self) -> None:
        temporaries: list[tuple[Path, Path]] = []
        try:
            for table in _FILES:
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
            for temporary, final in temporaries:
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
