"""The SQLite store: upserts keyed by id, one transaction per batch, history per row.

All SQLite work happens on one dedicated thread that owns the connection, so the event loop
never blocks on disk. Writes are batches of operations (:class:`Upsert`, :class:`ReplaceSet`),
each batch one transaction: a crash or Ctrl-C leaves the file as it was after the last committed
batch, and since a parent's set is replaced inside a single batch, never half a set.

Deletions are marked, not performed: :meth:`SqliteStore.mark_vanished` sets ``deleted_in_run``
on the rows of a kind that this run did not see, and is called only after the run listed that
kind completely. A run that was cut short therefore marks nothing, and the next run completes it.

While a store is open it holds an exclusive lock on ``<path>.lock`` (where ``fcntl`` exists), so
that a second sync on the same file fails at once instead of declaring the first one's run
abandoned.

One class, as long as the store's interface (connection, runs, writes, reads); the lock and the
SQL helpers above it serve only it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ._ops import MarkDeleted, Operation, ReplaceSet, StoreBusyError, StoreError, Upsert
from ._schema import (
    ENTITY_TABLES,
    RUN_COLUMNS,
    TABLES,
    Table,
    Value,
    dependents,
    run_columns_ddl,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: stores are not locked there
    fcntl = None  # type: ignore[assignment]

__all__ = ["SCHEMA_VERSION", "SqliteStore", "StoreLock"]

T = TypeVar("T")

SCHEMA_VERSION = 1
_CHANGE_KINDS = ("alive", "seen", "new", "updated", "deleted")
_MAX_INLINE_KEYS = 500  # beyond this, a set's keys go through a temporary table


class StoreLock:
    """An exclusive, non-blocking ``flock`` on a file beside the store, held while it is open.

    Blocking file calls: use it on the store's thread. Where ``fcntl`` is missing it does
    nothing. The lock file is left in place: removing it would let a third process lock a new
    file while the second still holds the old one.
    """

    def __init__(self, path: Path, target: Path) -> None:
        self.path = path
        self.target = target
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None or self._fd is not None:  # pragma: no cover - no fcntl
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreBusyError(f"another sync is running on {self.target}") from None
        except OSError as exc:  # a file system without locks: go on unlocked
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return
            raise StoreError(f"cannot lock {self.path}: {exc}") from exc
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


_RUN_DDL = run_columns_ddl(
    {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "time": "TEXT", "text": "TEXT", "json": "TEXT"}
)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    """One transaction: committed if the block ends, rolled back if it raises (or is cut)."""
    db.execute(begin)
    try:
        yield db
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _create_statements() -> list[str]:
    statements = [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS sync_runs ({', '.join(_RUN_DDL)})",
    ]
    for table in TABLES.values():
        scope = ["customer_id INTEGER NOT NULL"] if table.scoped else []
        keys = [f"{name} INTEGER NOT NULL" for name in table.key]
        data = [f"{name} {kind}" for name, kind in zip(table.data, table.types, strict=True)]
        history = [
            "first_seen_run INTEGER NOT NULL",
            "last_seen_run INTEGER NOT NULL",
            "updated_in_run INTEGER NOT NULL",
            "deleted_in_run INTEGER",
        ]
        columns = ", ".join([*scope, *keys, *data, *history])
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {table.name} "
            f"({columns}, PRIMARY KEY ({', '.join(table.primary_key)})) WITHOUT ROWID"
        )
    return statements


def _upsert_sql(table: Table, seen: bool = True) -> str:
    """The upsert of ``table``; ``seen=False``: data only, for an alive row (see :class:`Upsert`).

    Parameters: the key and data values, then ``first_seen_run``, ``last_seen_run`` and
    ``updated_in_run`` of a new row.
    """
    columns = (*table.primary_key, *table.data, "first_seen_run", "last_seen_run", "updated_in_run")
    placeholders = ", ".join("?" for _ in columns)
    differs = [f"{table.name}.{name} IS NOT excluded.{name}" for name in table.data]
    changed = " OR ".join(["deleted_in_run IS NOT NULL", *differs] if seen else differs)
    assignments = [f"{name} = excluded.{name}" for name in table.data]
    if changed:
        assignments.append(
            f"updated_in_run = CASE WHEN {changed} THEN excluded.updated_in_run "
            "ELSE updated_in_run END"
        )
    if seen:
        assignments += ["last_seen_run = excluded.last_seen_run", "deleted_in_run = NULL"]
    where = "" if seen else f" WHERE {table.name}.deleted_in_run IS NULL"
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(table.primary_key)}) DO UPDATE SET {', '.join(assignments)}"
        f"{where}"
    )


class SqliteStore:
    """A fleet copy in one SQLite file (WAL mode): a table per entity, link tables, ``sync_runs``.

    Use as ``async with SqliteStore("fleet.sqlite") as store:``; the job drives it. For reading,
    open the file with any SQLite client: alive rows are those with ``deleted_in_run IS NULL``.
    """

    format = "sqlite"

    def __init__(
        self, path: str | os.PathLike[str], *, batch_size: int = 500, lock: bool = True
    ) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.run_id: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        self._upserts = {(name, True): _upsert_sql(table) for name, table in TABLES.items()}
        # Data-only upserts exist for entities (their rows have data columns to update).
        self._upserts.update(
            {(name, False): _upsert_sql(table, False) for name, table in ENTITY_TABLES.items()}
        )
        in_memory = str(path) in ("", ":memory:")
        self._lock = (
            StoreLock(Path(f"{self.path}.lock"), self.path) if lock and not in_memory else None
        )

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # -- thread plumbing -------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("the store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:  # a full disk, a locked or corrupt file: the store's fault
            raise StoreError(f"{self.path}: {exc}") from exc

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:  # pragma: no cover - guarded by _call
            raise StoreError("the store is not open")
        return self._db

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (or create) the file, in WAL mode, and close out runs that never finished."""
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flinkey-sqlite")
        try:
            await self._call(self._open_sync)
        except BaseException:
            await self.close()
            raise

    def _open_sync(self) -> None:
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        if self._lock is not None:
            self._lock.acquire()  # before anything is read: "running" runs are then truly dead
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            self._release_lock()
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with _transaction(db, "BEGIN IMMEDIATE"):
                for statement in _create_statements():
                    db.execute(statement)
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                elif int(row[0]) != SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} has store schema {row[0]}, "
                        f"this version writes {SCHEMA_VERSION}"
                    )
                # A run still "running" was cut off (a crash, a kill): say so.
                db.execute("UPDATE sync_runs SET status = 'abandoned' WHERE status = 'running'")
        except sqlite3.DatabaseError as exc:
            db.close()
            self._release_lock()
            raise StoreError(f"{self.path} is not a usable sync store: {exc}") from exc
        except BaseException:
            db.close()
            self._release_lock()
            raise
        self._db = db

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    async def close(self) -> None:
        """Close the connection (on its thread) and stop the thread. Safe to call twice."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await asyncio.shield(loop.run_in_executor(executor, self._close_sync))
        finally:
            executor.shutdown(wait=False)

    def _close_sync(self) -> None:
        db, self._db = self._db, None
        try:
            if db is not None:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.close()
        finally:
            self._release_lock()

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- runs --------------------------------------------------------------------------------

    async def begin_run(self, *, source: str, customer_ids: Sequence[int]) -> int:
        """Record a new run (status ``running``) and make it the run rows are stamped with."""
        self.run_id = await self._call(self._begin_run_sync, source, list(customer_ids))
        return self.run_id

    def _begin_run_sync(self, source: str, customer_ids: list[int]) -> int:
        cursor = self._conn.execute(
            "INSERT INTO sync_runs (started_at, status, source, customers_json) "
            "VALUES (?, 'running', ?, ?)",
            (_now(), source, json.dumps(customer_ids)),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def end_run(
        self, status: str, counts: Mapping[str, Any], errors: Sequence[Mapping[str, Any]]
    ) -> None:
        """Close the current run with its status, counts and errors."""
        run_id = self._require_run()
        await self._call(self._end_run_sync, run_id, status, dict(counts), list(errors))

    def _end_run_sync(
        self, run_id: int, status: str, counts: dict[str, Any], errors: list[dict[str, Any]]
    ) -> None:
        self._conn.execute(
            "UPDATE sync_runs SET finished_at = ?, status = ?, counts_json = ?, errors_json = ? "
            "WHERE id = ?",
            (_now(), status, json.dumps(counts), json.dumps(errors), run_id),
        )

    def _require_run(self) -> int:
        if self.run_id is None:
            raise StoreError("no run in progress: call begin_run() first")
        return self.run_id

    # -- writes ------------------------------------------------------------------------------

    async def write(self, operations: Sequence[Operation]) -> None:
        """Apply ``operations`` in one transaction (all or nothing)."""
        if operations:
            await self._call(self._write_sync, self._require_run(), operations)

    def _write_sync(self, run_id: int, operations: Sequence[Operation]) -> None:
        with _transaction(self._conn) as db:
            for op in operations:
                if isinstance(op, Upsert):
                    self._upsert(db, run_id, op.table, op.customer_id, op.rows, seen=op.seen)
                elif isinstance(op, ReplaceSet):
                    self._replace(db, run_id, op)
                else:
                    self._delete(db, run_id, op)

    def _upsert(
        self,
        db: sqlite3.Connection,
        run_id: int,
        table: str,
        customer_id: int | None,
        rows: Iterable[tuple[Value, ...]],
        *,
        seen: bool = True,
    ) -> None:
        # A row first known from another entity's list has not been seen by its own listing.
        stamps = (run_id, run_id if seen else 0, run_id)
        if TABLES[table].scoped:
            params: Iterable[tuple[Value, ...]] = ((customer_id, *row, *stamps) for row in rows)
        else:
            params = ((*row, *stamps) for row in rows)
        db.executemany(self._upserts[table, seen], params)

    def _replace(self, db: sqlite3.Connection, run_id: int, op: ReplaceSet) -> None:
        table = TABLES[op.table]
        assert table.parent is not None, f"{op.table} is not a per-parent set"
        self._upsert(db, run_id, op.table, op.customer_id, op.rows)
        where = f"customer_id = ? AND {table.parent} = ? AND deleted_in_run IS NULL"
        params: list[Value] = [run_id, op.customer_id, op.parent_id]
        children = [name for name in table.key if name != table.parent]
        if children and op.rows:
            (child,) = children
            index = table.key.index(child)
            keys = [row[index] for row in op.rows]
            if len(keys) <= _MAX_INLINE_KEYS:
                where += f" AND {child} NOT IN ({', '.join('?' for _ in keys)})"
                params += keys
            else:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (k INTEGER PRIMARY KEY)")
                db.execute("DELETE FROM keep_keys")
                db.executemany(
                    "INSERT OR IGNORE INTO keep_keys (k) VALUES (?)", ((k,) for k in keys)
                )
                where += f" AND {child} NOT IN (SELECT k FROM keep_keys)"
        elif op.rows:
            return  # a one-row set (a car's location) that is present: the upsert was all
        db.execute(f"UPDATE {table.name} SET deleted_in_run = ? WHERE {where}", params)

    def _delete(self, db: sqlite3.Connection, run_id: int, op: MarkDeleted) -> None:
        for start in range(0, len(op.ids), _MAX_INLINE_KEYS):
            ids = list(op.ids[start : start + _MAX_INLINE_KEYS])
            marks = ", ".join("?" for _ in ids)
            db.execute(
                f"UPDATE {op.table} SET deleted_in_run = ? "
                f"WHERE customer_id = ? AND deleted_in_run IS NULL AND id IN ({marks})",
                [run_id, op.customer_id, *ids],
            )
            for owned, column in dependents(op.table):
                db.execute(
                    f"UPDATE {owned.name} SET deleted_in_run = ? WHERE customer_id = ? "
                    f"AND deleted_in_run IS NULL AND {column} IN ({marks})",
                    [run_id, op.customer_id, *ids],
                )

    # -- end of a listing -------------------------------------------------------------------

    async def unseen_ids(self, table: str, customer_id: int | None) -> list[int]:
        """Ids of alive ``table`` rows this run has not seen (candidates for deletion)."""
        run_id = self._require_run()
        return await self._call(self._unseen_sync, run_id, table, customer_id)

    def _unseen_sync(self, run_id: int, table: str, customer_id: int | None) -> list[int]:
        where, params = self._unseen_where(run_id, ENTITY_TABLES[table], customer_id)
        rows = self._conn.execute(f"SELECT id FROM {table} WHERE {where} ORDER BY id", params)
        return [row[0] for row in rows]

    @staticmethod
    def _unseen_where(
        run_id: int, table: Table, customer_id: int | None
    ) -> tuple[str, list[Value]]:
        where = "deleted_in_run IS NULL AND last_seen_run < ?"
        params: list[Value] = [run_id]
        if table.scoped:
            where += " AND customer_id = ?"
            params.append(customer_id)
        return where, params

    async def mark_vanished(self, table: str, customer_id: int | None) -> int:
        """Mark alive rows this run did not see as deleted (and the sets they own); a count.

        Call only once the run has listed ``table`` completely for ``customer_id``.
        """
        run_id = self._require_run()
        return await self._call(self._mark_sync, run_id, table, customer_id)

    def _mark_sync(self, run_id: int, table: str, customer_id: int | None) -> int:
        where, params = self._unseen_where(run_id, ENTITY_TABLES[table], customer_id)
        with _transaction(self._conn) as db:
            cursor = db.execute(
                f"UPDATE {table} SET deleted_in_run = ? WHERE {where}", [run_id, *params]
            )
            count = cursor.rowcount
            for owned, column in dependents(table):
                db.execute(
                    f"UPDATE {owned.name} SET deleted_in_run = ? "
                    f"WHERE customer_id = ? AND deleted_in_run IS NULL AND {column} IN "
                    f"(SELECT id FROM {table} WHERE customer_id = ? AND deleted_in_run = ?)",
                    (run_id, customer_id, customer_id, run_id),
                )
            if table == "customers":
                # A customer gone upstream takes its whole fleet with it.
                for scoped in TABLES.values():
                    if scoped.scoped:
                        db.execute(
                            f"UPDATE {scoped.name} SET deleted_in_run = ? "
                            "WHERE deleted_in_run IS NULL AND customer_id IN "
                            "(SELECT id FROM customers WHERE deleted_in_run = ?)",
                            (run_id, run_id),
                        )
        return count

    # -- reading -----------------------------------------------------------------------------

    async def run_changes(self, customer_ids: Sequence[int]) -> dict[str, dict[str, int]]:
        """Per table: rows ``alive``, ``seen``, ``new``, ``updated`` and ``deleted`` in this run."""
        run_id = self._require_run()
        return await self._call(self._changes_sync, run_id, list(customer_ids))

    def _changes_sync(self, run_id: int, customer_ids: list[int]) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for name, table in TABLES.items():
            if table.scoped:
                marks = ", ".join("?" for _ in customer_ids) or "NULL"
                scope, params = f"customer_id IN ({marks})", list(customer_ids)
            else:
                scope, params = "1", []
            row = self._conn.execute(
                "SELECT "
                "coalesce(sum(deleted_in_run IS NULL), 0), "
                "coalesce(sum(last_seen_run = ?), 0), "
                "coalesce(sum(first_seen_run = ?), 0), "
                "coalesce(sum(updated_in_run = ? AND first_seen_run < ?), 0), "
                "coalesce(sum(deleted_in_run = ?), 0) "
                f"FROM {name} WHERE {scope}",
                [run_id, run_id, run_id, run_id, run_id, *params],
            ).fetchone()
            result[name] = dict(zip(_CHANGE_KINDS, row, strict=True))
        return result

    async def rows(self, table: str) -> list[dict[str, Value]]:
        """Every row of ``table`` (or ``sync_runs``) as dicts, in key order. For tests and tools."""
        return await self._call(self._rows_sync, table)

    def _rows_sync(self, table: str) -> list[dict[str, Value]]:
        return list(self.iter_rows_sync(table))

    def iter_rows_sync(self, table: str) -> Iterable[dict[str, Value]]:
        """Stream ``table``'s rows as dicts; call on the store's thread (see :meth:`run_sync`)."""
        if table == "sync_runs":
            order = "id"
            columns: tuple[str, ...] = tuple(RUN_COLUMNS)
        else:
            spec = TABLES[table]
            order = ", ".join(spec.primary_key)
            columns = spec.columns
        cursor = self._conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
        for row in cursor:
            yield dict(zip(columns, row, strict=True))

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the store's thread (it may use the connection's methods)."""
        return await self._call(fn, *args)

    def reserve_run_ids(self, newest: int) -> None:
        """Make the next run's id larger than ``newest``; store's thread only."""
        with _transaction(self._conn) as db:
            db.execute(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = 'sync_runs' AND seq < ?",
                (newest, newest),
            )
            db.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'sync_runs', ? "
                "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sync_runs')",
                (newest,),
            )

    def insert_rows_sync(self, table: str, rows: Iterable[Mapping[str, Value]]) -> None:
        """Load rows exactly as given (history columns included); store's thread only."""
        if table == "sync_runs":
            columns: tuple[str, ...] = tuple(RUN_COLUMNS)
        else:
            columns = TABLES[table].columns
        sql = (
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        with _transaction(self._conn) as db:
            db.executemany(sql, (tuple(row.get(c) for c in columns) for row in rows))
