"""What the job asks of any store: the write operations and the errors a store raises.

These are store-neutral: the job builds them from walk events, and each store
(:class:`~flinkey_async.sync.SqliteStore`, :class:`~flinkey_async.sync.JsonlStore`,
:class:`~flinkey_async.sync.PostgresStore`) applies a batch of them in one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import attrs

from ._schema import Value

__all__ = [
    "MarkDeleted",
    "Operation",
    "ReplaceSet",
    "StoreBusyError",
    "StoreError",
    "Upsert",
    "claimed",
]


class StoreError(Exception):
    """The store cannot be opened or written (not a sync store, a full disk, a lost server...)."""


class StoreBusyError(StoreError):
    """Another sync holds the store's lock: two runs at once would spoil each other's records."""


@attrs.frozen(slots=True)
class Upsert:
    """Insert or update rows of ``table`` (values: key columns then data columns, in order)."""

    table: str
    customer_id: int | None
    rows: Sequence[tuple[Value, ...]]
    seen: bool = True
    """False for rows from another entity's list (a group's cars, a car's products): they update
    the data but leave ``last_seen_run`` and a deletion mark alone, so that only the entity's own
    listing (or a ``GET`` by id) can keep it from the deletion check."""


@attrs.frozen(slots=True)
class ReplaceSet:
    """Make ``rows`` the whole set of ``table`` rows under ``parent_id`` (others marked deleted)."""

    table: str
    customer_id: int
    parent_id: int
    rows: Sequence[tuple[Value, ...]]


@attrs.frozen(slots=True)
class MarkDeleted:
    """Mark entities of ``table`` deleted (and the sets they own): confirmed gone upstream."""

    table: str
    customer_id: int
    ids: Sequence[int]


Operation = Upsert | ReplaceSet | MarkDeleted


def claimed(store: Any, customer_ids: Sequence[int]) -> AsyncGenerator[int, None]:
    """The customers of the run this worker is to sync, one at a time.

    A store shared by several workers (:class:`~flinkey_async.sync.PostgresStore`) hands each
    customer to exactly one of them (its ``claim_customers``); a local store gives them all.
    """
    claim = getattr(store, "claim_customers", None)
    return _each(customer_ids) if claim is None else claim(customer_ids)


async def _each(customer_ids: Sequence[int]) -> AsyncGenerator[int, None]:
    for cid in customer_ids:
        yield cid
