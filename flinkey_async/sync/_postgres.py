"""The PostgreSQL store: the SQLite store's tables and rules in a shared database, on asyncpg.

Same tables, history columns, ``sync_runs`` records, deletion rules and resumability as
:class:`~flinkey_async.sync.SqliteStore`, in a schema the user names (default ``flinkey``). A
batch of operations is one transaction; its rows go to the server as one ``INSERT ... SELECT
FROM unnest(<arrays>) ON CONFLICT DO UPDATE`` per table, all of a batch in one statement as a
rule (see ``_pgsql``): one round trip per batch, never one per row.

Several workers (processes or hosts) may share one sync: each opens its own store on the same
database. A worker that begins a run while an unfinished run with the same source and customers
is alive joins it; the run's customers are then handed out one at a time (:meth:`claim_customers`)
under a session advisory lock per customer, so each is synced by exactly one worker. A worker
that dies loses its connection and with it its locks: the customer it held goes to another
worker of the run (or to the next run), and a run none of whose workers is alive is recorded
``abandoned`` by the next worker that starts. A sync of a customer another run is syncing waits
for it; a run never syncs a customer that a newer run has already started, so run ids only grow
in every row's history.

One class, as long as the store's interface: connection, runs, claims, writes and reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._converter import format_datetime
from .._exceptions import ValidationError
from ._ops import Operation, StoreError
from ._pgsql import Segment, Sql, signed32
from ._schema import ENTITY_TABLES, RUN_COLUMNS, TABLES, Value, dependents

__all__ = ["DEFAULT_SCHEMA", "DatabaseUrl", "PostgresStore", "is_dsn", "scrub_dsn"]

T = TypeVar("T")

log = logging.getLogger(__name__)


SCHEMA_VERSION = 1
DEFAULT_SCHEMA = "flinkey"
_MIGRATIONS: dict[int, tuple[str, ...]] = {}
"""Statements that take a schema from version ``n`` to ``n + 1`` (``{schema}`` is replaced)."""

_CHANGE_KINDS = ("alive", "seen", "new", "updated", "deleted")
_STATUS_RANK = {"ok": 0, "partial": 1, "interrupted": 2, "failed": 3}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def is_dsn(text: str) -> bool:
    """True for a PostgreSQL connection URL (``postgresql://...`` or ``postgres://...``)."""
    return text.startswith(("postgresql://", "postgres://"))


def scrub_dsn(dsn: str) -> str:
    """``dsn`` with its password (in the user part or a ``password=`` parameter) as ``***``."""
    try:
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            auth, _, hosts = netloc.rpartition("@")
            if ":" in auth:
                auth = auth.split(":", 1)[0] + ":***"
            netloc = f"{auth}@{hosts}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, "***" if k.lower() in ("password", "passfile") else v) for k, v in pairs],
                safe="*/",
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "postgresql://***"


class DatabaseUrl:
    """A PostgreSQL URL that shows itself without its password (``str``, ``repr``, f-strings).

    Give it where a URL would be printed; ``url`` is the URL itself, for connecting.
    """

    __slots__ = ("shown", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = scrub_dsn(url)

    def __str__(self) -> str:
        return self.shown

    def __format__(self, spec: str) -> str:
        return format(self.shown, spec)

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.shown!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseUrl) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)


def _password_of(dsn: str) -> str | None:
    try:
        parts = urlsplit(dsn)
        password = parts.password
        for key, value in parse_qsl(parts.query):
            if key.lower() == "password":
                password = value
        return password
    except ValueError:
        return None


def _now_text(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value.replace(microsecond=0))


class PostgresStore:
    """A fleet copy in a PostgreSQL database: the SQLite store's tables, in schema ``schema``.

    Use as ``async with PostgresStore("postgresql://user@host/db") as store:``. The password
    may be in the URL, in ``PGPASSWORD`` or in ``~/.pgpass`` (asyncpg reads both); it never
    appears in ``repr``, errors or logs. Needs the ``postgres`` extra (asyncpg).
    """

    format = "postgresql"

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        batch_size: int = 2000,
        connect_timeout: float = 10.0,
    ) -> None:
        if not _IDENTIFIER.fullmatch(schema):
            raise ValidationError(
                "schema", "a PostgreSQL schema name: letters, digits and _, at most 63"
            )
        self._dsn = dsn
        self._password = _password_of(dsn)
        self.where = scrub_dsn(dsn)
        self.schema = schema
        self.batch_size = batch_size
        self.connect_timeout = connect_timeout
        self.run_id: int | None = None
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._worker_id: int | None = None
        self._claim: int | None = None
        self._claimed: list[int] = []
        self._sql = Sql(schema)

    def __repr__(self) -> str:
        return f"PostgresStore({self.where!r}, schema={self.schema!r})"

    def _scrub(self, text: str) -> str:
        text = text.replace(self._dsn, self.where)
        if self._password:
            text = text.replace(self._password, "***")
        return text

    # -- plumbing ------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fn(connection, *args)``, one at a time; database errors become :class:`StoreError`."""
        if self._conn is None:
            raise StoreError("the store is not open")
        import asyncpg  # type: ignore[import-untyped, import-not-found, unused-ignore]

        async with self._lock:
            try:
                return await fn(self._conn, *args)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                lost = self._conn.is_closed() or isinstance(
                    exc, asyncpg.ConnectionDoesNotExistError | OSError
                )
                what = "lost the connection" if lost else "failed"
                detail = self._scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                raise StoreError(f"{self.where} {what}: {detail}") from None

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, create or migrate the tables, and record dead workers' runs as abandoned."""
        if self._conn is not None:
            return
        try:
            import asyncpg
        except ImportError:
            raise StoreError(
                "a PostgreSQL output needs asyncpg: python -m pip install 'flinkey-async[postgres]'"
            ) from None
        try:
            self._conn = await asyncpg.connect(
                self._dsn,
                timeout=self.connect_timeout,
                server_settings={"application_name": "flinkey-async sync"},
            )
        except Exception as exc:  # a bad URL, a refused password, no server: one clear line
            detail = self._scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise StoreError(f"cannot connect to {self.where}: {detail}") from None
        try:
            await self._call(self._open_tx)
        except BaseException:
            await self.close()
            raise

    async def _open_tx(self, conn: Any) -> None:
        sql = self._sql
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", sql.keys["setup"])
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {sql.schema}")
            for statement in sql.create_statements():
                await conn.execute(statement)
            version = await conn.fetchval(
                f"SELECT value FROM {sql.schema}.meta WHERE key = 'schema_version'"
            )
            if version is None:
                await conn.execute(
                    f"INSERT INTO {sql.schema}.meta (key, value) VALUES ('schema_version', $1)",
                    str(SCHEMA_VERSION),
                )
            elif int(version) != SCHEMA_VERSION:
                await self._migrate(conn, int(version))
            await self._abandon_dead_runs(conn)
            await conn.execute(";".join(sql.row_type_statements()))

    async def _migrate(self, conn: Any, version: int) -> None:
        where = f"{self.where} schema {self.schema}"
        if version > SCHEMA_VERSION or any(
            v not in _MIGRATIONS for v in range(version, SCHEMA_VERSION)
        ):
            raise StoreError(
                f"{where} has store schema {version}, this version writes {SCHEMA_VERSION}"
            )
        for step in range(version, SCHEMA_VERSION):  # pragma: no cover - no migration yet
            for statement in _MIGRATIONS[step]:
                await conn.execute(statement.format(schema=self._sql.schema))
        await conn.execute(  # pragma: no cover
            f"UPDATE {self._sql.schema}.meta SET value = $1 WHERE key = 'schema_version'",
            str(SCHEMA_VERSION),
        )

    async def _abandon_dead_runs(self, conn: Any) -> None:
        """Runs still ``running`` with no worker left (each holds its run's lock): abandoned."""
        s, key = self._sql.schema, self._sql.keys["run"]
        running = await conn.fetch(f"SELECT id FROM {s}.sync_runs WHERE status = 'running'")
        for row in running:
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", key, row["id"]):
                await conn.execute(
                    f"UPDATE {s}.sync_runs SET status = 'abandoned' WHERE id = $1", row["id"]
                )
                await conn.execute(
                    f"UPDATE {s}.run_workers SET status = 'abandoned' "
                    "WHERE run_id = $1 AND status = 'running'",
                    row["id"],
                )

    async def close(self) -> None:
        """Close the connection: its locks (the run's, a customer's) go with it. Safe twice."""
        conn, self._conn = self._conn, None
        self._claim = None
        if conn is not None:
            try:
                await asyncio.shield(conn.close(timeout=5))
            except Exception:  # a connection already lost: nothing to give back
                conn.terminate()

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- runs --------------------------------------------------------------------------------

    async def begin_run(self, *, source: str, customer_ids: Sequence[int]) -> int:
        """Record a new run, or join the live unfinished run of the same source and customers."""
        self.run_id = await self._call(self._begin_tx, source, list(customer_ids))
        self._claimed = []
        return self.run_id

    async def _begin_tx(self, conn: Any, source: str, customer_ids: list[int]) -> int:
        s, keys = self._sql.schema, self._sql.keys
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", keys["setup"])
            await self._abandon_dead_runs(conn)
            customers = json.dumps(customer_ids)
            run_id = await conn.fetchval(
                f"SELECT id FROM {s}.sync_runs WHERE status = 'running' AND source = $1 "
                "AND customers_json = $2::jsonb ORDER BY id DESC LIMIT 1",
                source,
                customers,
            )
            if run_id is None:
                run_id = await conn.fetchval(
                    f"INSERT INTO {s}.sync_runs (started_at, status, source, customers_json) "
                    "VALUES (now(), 'running', $1, $2::jsonb) RETURNING id",
                    source,
                    customers,
                )
                await conn.execute(
                    f"INSERT INTO {s}.run_customers (run_id, position, customer_id) "
                    "SELECT $1, p, c FROM unnest($2::bigint[]) WITH ORDINALITY AS u(c, p) "
                    "ON CONFLICT DO NOTHING",
                    run_id,
                    customer_ids,
                )
            else:
                log.info("joining run %s of %s", run_id, source)
            # Held while this worker takes part: a run nobody holds is dead.
            await conn.execute("SELECT pg_advisory_lock_shared($1, $2)", keys["run"], run_id)
            self._worker_id = await conn.fetchval(
                f"INSERT INTO {s}.run_workers (run_id, backend_pid, started_at, status) "
                "VALUES ($1, pg_backend_pid(), now(), 'running') RETURNING id",
                run_id,
            )
        return int(run_id)

    async def end_run(
        self, status: str, counts: Mapping[str, Any], errors: Sequence[Mapping[str, Any]]
    ) -> None:
        """Record this worker's part; the last worker of the run closes the run's record."""
        run_id = self._require_run()
        await self._call(self._end_tx, run_id, status, dict(counts), list(errors))

    async def _end_tx(
        self,
        conn: Any,
        run_id: int,
        status: str,
        counts: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> None:
        s, keys = self._sql.schema, self._sql.keys
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", keys["setup"])
            await conn.execute(
                f"UPDATE {s}.run_workers SET finished_at = now(), status = $2, "
                "counts_json = $3::jsonb, errors_json = $4::jsonb, customers_json = $5::jsonb "
                "WHERE id = $1",
                self._worker_id,
                status,
                json.dumps(counts),
                json.dumps(errors),
                json.dumps(self._claimed),
            )
            await self._release_claim(conn)
            await conn.execute("SELECT pg_advisory_unlock_shared($1, $2)", keys["run"], run_id)
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", keys["run"], run_id):
                await self._close_run(conn, run_id)

    async def _close_run(self, conn: Any, run_id: int) -> None:
        """Write the run's record from its workers' parts (the last worker does this)."""
        s = self._sql.schema
        await conn.execute(
            f"UPDATE {s}.run_workers SET status = 'abandoned' "
            "WHERE run_id = $1 AND status = 'running'",
            run_id,
        )
        parts = await conn.fetch(
            f"SELECT status, counts_json, errors_json FROM {s}.run_workers "
            "WHERE run_id = $1 AND status <> 'abandoned' ORDER BY finished_at, id",
            run_id,
        )
        status = max(
            (p["status"] for p in parts), key=lambda s: _STATUS_RANK.get(s, 3), default="ok"
        )
        counts: dict[str, Any] = {}
        errors: list[Any] = []
        for part in parts:
            for key, value in json.loads(part["counts_json"] or "{}").items():
                known = counts.get(key)
                if isinstance(value, int | float) and isinstance(known, int | float):
                    counts[key] = max(known, value) if key == "seconds" else known + value
                else:
                    counts[key] = value  # the last part's (its table counts are the latest)
            errors += json.loads(part["errors_json"] or "[]")
        await conn.execute(
            f"UPDATE {s}.sync_runs SET finished_at = now(), status = $2, counts_json = $3::jsonb, "
            "errors_json = $4::jsonb WHERE id = $1",
            run_id,
            status,
            json.dumps(counts),
            json.dumps(errors),
        )

    def _require_run(self) -> int:
        if self.run_id is None:
            raise StoreError("no run in progress: call begin_run() first")
        return self.run_id

    # -- customers, one worker each ----------------------------------------------------------

    async def claim_customers(self, customer_ids: Sequence[int]) -> AsyncGenerator[int, None]:
        """The run's customers this worker is to sync, each claimed for it alone.

        A customer is done (and its lock given back) when the caller asks for the next one;
        if the caller stops early, the claim is given back by :meth:`end_run` or by the
        connection's end, undone, for another worker to take.
        """
        run_id = self._require_run()
        while True:
            cid = await self._call(self._claim_next, run_id)
            if cid is None:
                return
            yield cid
            await self._call(self._finish_claim, run_id, cid)

    async def _claim_next(self, conn: Any, run_id: int) -> int | None:
        s, key = self._sql.schema, self._sql.keys["customer"]
        while True:
            todo = await conn.fetch(
                f"SELECT customer_id FROM {s}.run_customers "
                "WHERE run_id = $1 AND state IN ('pending', 'claimed') ORDER BY position",
                run_id,
            )
            if not todo:
                return None
            for row in todo:
                cid = int(row["customer_id"])
                if not await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", key, _lock_id(cid)
                ):
                    continue
                if await self._take(conn, run_id, cid):
                    return cid
                await conn.execute("SELECT pg_advisory_unlock($1, $2)", key, _lock_id(cid))
            # Every customer left is being synced by someone else: wait for the first one (if
            # its worker dies, the lock comes free and the customer is ours to finish).
            cid = int(todo[0]["customer_id"])
            log.warning("customer %s is being synced by another worker: waiting", cid)
            await conn.execute("SELECT pg_advisory_lock($1, $2)", key, _lock_id(cid))
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", key, _lock_id(cid))

    async def _take(self, conn: Any, run_id: int, cid: int) -> bool:
        """With the customer's lock held: make it this worker's, unless done or newer elsewhere."""
        s = self._sql.schema
        async with conn.transaction():
            state = await conn.fetchval(
                f"SELECT state FROM {s}.run_customers WHERE run_id = $1 AND customer_id = $2 "
                "FOR UPDATE",
                run_id,
                cid,
            )
            if state not in ("pending", "claimed"):
                return False
            newest = await conn.fetchval(
                f"SELECT run_id FROM {s}.customer_runs WHERE customer_id = $1 FOR UPDATE", cid
            )
            if newest is not None and newest > run_id:
                # A newer run has synced it: this older run's stamps would go back in time.
                await conn.execute(
                    f"UPDATE {s}.run_customers SET state = 'skipped', finished_at = now() "
                    "WHERE run_id = $1 AND customer_id = $2",
                    run_id,
                    cid,
                )
                return False
            await conn.execute(
                f"INSERT INTO {s}.customer_runs (customer_id, run_id) VALUES ($1, $2) "
                "ON CONFLICT (customer_id) DO UPDATE SET run_id = excluded.run_id",
                cid,
                run_id,
            )
            await conn.execute(
                f"UPDATE {s}.run_customers SET state = 'claimed', worker_id = $3, "
                "claimed_at = now() WHERE run_id = $1 AND customer_id = $2",
                run_id,
                cid,
                self._worker_id,
            )
        self._claim = cid
        self._claimed.append(cid)
        return True

    async def _finish_claim(self, conn: Any, run_id: int, cid: int) -> None:
        await conn.execute(
            f"UPDATE {self._sql.schema}.run_customers SET state = 'done', finished_at = now() "
            "WHERE run_id = $1 AND customer_id = $2",
            run_id,
            cid,
        )
        await self._release_claim(conn)

    async def _release_claim(self, conn: Any) -> None:
        cid, self._claim = self._claim, None
        if cid is not None:
            await conn.execute(
                "SELECT pg_advisory_unlock($1, $2)", self._sql.keys["customer"], _lock_id(cid)
            )

    # -- writes ------------------------------------------------------------------------------

    async def write(self, operations: Sequence[Operation]) -> None:
        """Apply ``operations`` in one transaction (all or nothing)."""
        if operations:
            run_id = self._require_run()
            segments = self._sql.plan(run_id, operations)
            await self._call(self._write_tx, segments)

    @staticmethod
    async def _write_tx(conn: Any, segments: list[Segment]) -> None:
        if len(segments) == 1:  # one statement is atomic by itself: one round trip
            statement, args = segments[0]
            await conn.execute(statement, *args)
            return
        async with conn.transaction():
            for statement, args in segments:
                await conn.execute(statement, *args)

    # -- end of a listing -------------------------------------------------------------------

    async def unseen_ids(self, table: str, customer_id: int | None) -> list[int]:
        """Ids of alive ``table`` rows this run has not seen (candidates for deletion)."""
        run_id = self._require_run()
        where, args = self._sql.unseen_where(ENTITY_TABLES[table], run_id, customer_id)
        sql = f"SELECT id FROM {self._sql.name(table)} WHERE {where} ORDER BY id"
        rows = await self._call(lambda conn: conn.fetch(sql, *args))
        return [int(row["id"]) for row in rows]

    async def mark_vanished(self, table: str, customer_id: int | None) -> int:
        """Mark alive rows this run did not see as deleted (and the sets they own); a count.

        Call only once the run has listed ``table`` completely for ``customer_id``.
        """
        run_id = self._require_run()
        return await self._call(self._mark_tx, run_id, table, customer_id)

    async def _mark_tx(self, conn: Any, run_id: int, table: str, customer_id: int | None) -> int:
        sql = self._sql
        where, args = sql.unseen_where(ENTITY_TABLES[table], run_id, customer_id)
        async with conn.transaction():
            status = await conn.execute(
                f"UPDATE {sql.name(table)} SET deleted_in_run = $1 WHERE {where}", *args
            )
            for owned, column in dependents(table):
                await conn.execute(
                    f"UPDATE {sql.name(owned.name)} SET deleted_in_run = $1 "
                    f"WHERE customer_id = $2 AND deleted_in_run IS NULL AND {column} IN "
                    f"(SELECT id FROM {sql.name(table)} WHERE customer_id = $2 "
                    "AND deleted_in_run = $1)",
                    run_id,
                    customer_id,
                )
            if table == "customers":
                # A customer gone upstream takes its whole fleet with it.
                for scoped in TABLES.values():
                    if scoped.scoped:
                        await conn.execute(
                            f"UPDATE {sql.name(scoped.name)} SET deleted_in_run = $1 "
                            "WHERE deleted_in_run IS NULL AND customer_id IN "
                            f"(SELECT id FROM {sql.name('customers')} WHERE deleted_in_run = $1)",
                            run_id,
                        )
        return int(status.split()[-1])

    # -- reading -----------------------------------------------------------------------------

    async def run_changes(self, customer_ids: Sequence[int]) -> dict[str, dict[str, int]]:
        """Per table: rows ``alive``, ``seen``, ``new``, ``updated`` and ``deleted`` in this run."""
        run_id = self._require_run()
        return await self._call(self._changes, run_id, list(customer_ids))

    async def _changes(
        self, conn: Any, run_id: int, customer_ids: list[int]
    ) -> dict[str, dict[str, int]]:
        parts = []
        for name, table in TABLES.items():
            scope = (
                "customer_id = ANY($2::bigint[])" if table.scoped else "$2::bigint[] IS NOT NULL"
            )
            parts.append(
                f"SELECT '{name}' AS t, "
                "count(*) FILTER (WHERE deleted_in_run IS NULL), "
                "count(*) FILTER (WHERE last_seen_run = $1), "
                "count(*) FILTER (WHERE first_seen_run = $1), "
                "count(*) FILTER (WHERE updated_in_run = $1 AND first_seen_run < $1), "
                "count(*) FILTER (WHERE deleted_in_run = $1) "
                f"FROM {self._sql.name(name)} WHERE {scope}"
            )
        rows = await conn.fetch(" UNION ALL ".join(parts), run_id, customer_ids)
        return {
            row[0]: dict(zip(_CHANGE_KINDS, (int(v) for v in row[1:]), strict=True)) for row in rows
        }

    async def rows(self, table: str) -> list[dict[str, Value]]:
        """Every row of ``table`` (or ``sync_runs``) as dicts, in key order. For tests and tools.

        Values as the SQLite store gives them: times of ``sync_runs`` as ISO text, JSON as text.
        """
        if table == "sync_runs":
            columns: tuple[str, ...] = tuple(RUN_COLUMNS)
            order = "id"
        else:
            spec = TABLES[table]
            columns, order = spec.columns, ", ".join(spec.primary_key)
        sql = f"SELECT {', '.join(columns)} FROM {self._sql.name(table)} ORDER BY {order}"
        records = await self._call(lambda conn: conn.fetch(sql))
        out = []
        for record in records:
            row = dict(zip(columns, record, strict=True))
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = _now_text(value)
            out.append(row)
        return out


def _lock_id(value: int) -> int:
    """A 32-bit advisory lock id for ``value`` (itself where it fits)."""
    if -(1 << 31) <= value < 1 << 31:
        return value
    return signed32(zlib.crc32(str(value).encode()))
