"""The fleet sync job: copy a fleet into a local store, and bring the copy up to date.

```python
from flinkey_async import FlinkeyClient
from flinkey_async.sync import SqliteStore, SyncJob

async with FlinkeyClient(...) as client, SqliteStore("fleet.sqlite") as store:
    report = await SyncJob(client, store, concurrency=32).run()
```

Stores: :class:`SqliteStore` (one SQLite file, WAL, a table per entity and link tables),
:class:`JsonlStore` (a directory of JSON Lines files, each replaced atomically) and
:class:`PostgresStore` (the same tables in a PostgreSQL schema, shared by several workers; the
``postgres`` extra). All keep every row's history (``first_seen_run``, ``last_seen_run``,
``updated_in_run``, ``deleted_in_run``) and a ``sync_runs`` record per run. The command line
is ``flinkey-async sync``; see ``docs/sync.md``.
"""

from ._job import Store, SyncJob, SyncProgress, SyncReport, run_sync
from ._jsonl import JsonlStore
from ._ops import MarkDeleted, ReplaceSet, StoreBusyError, StoreError, Upsert
from ._postgres import DatabaseUrl, PostgresStore, is_dsn, scrub_dsn
from ._schema import ENTITY_TABLES, LINK_TABLES, TABLES, Table
from ._sqlite import SCHEMA_VERSION, SqliteStore

__all__ = [
    "ENTITY_TABLES",
    "LINK_TABLES",
    "SCHEMA_VERSION",
    "TABLES",
    "DatabaseUrl",
    "JsonlStore",
    "MarkDeleted",
    "PostgresStore",
    "ReplaceSet",
    "SqliteStore",
    "Store",
    "StoreBusyError",
    "StoreError",
    "SyncJob",
    "SyncProgress",
    "SyncReport",
    "Table",
    "Upsert",
    "is_dsn",
    "run_sync",
    "scrub_dsn",
]
