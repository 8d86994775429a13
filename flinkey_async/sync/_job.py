"""The sync job: walk the fleet, stream every event into a store, then settle deletions.

One run, per customer:

1. the fleet walk (:class:`~flinkey_async._fleet_walk.FleetWalk`) streams pages and per-entity
   answers; each becomes store operations (upserts, and "this is the whole set" for a car's
   products, a group's members...), written in batches of about ``batch_size`` rows, one
   transaction each, on the store's thread while the next requests are in flight;
2. once the walk is over, entities the listings did not return are settled: each is asked for
   by id (``GET /cars/{id}``); only a 404 marks it deleted, with this run's id. A listing that
   failed part-way settles nothing, so an interrupted or failed run never marks a live row
   deleted, and the next run completes the copy.

Memory stays flat whatever the fleet's size: a page is dropped once its rows are written, and
the walk asks for the next page only when the previous one is mostly done.

One module although long: the run, the mapping of walk events to store operations and the
settling of deletions share one run's state (its progress, failures and customers).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import attrs

from .._engine import DEFAULT_CONCURRENCY, BoundedRunner
from .._exceptions import TransportError, ValidationError
from .._fleet_events import (
    CarLocation,
    CarProducts,
    CarsPage,
    Failure,
    FleetEvent,
    GroupMembers,
    GroupsListed,
    ProductService,
    ProductsPage,
    Vanished,
    WalkEnd,
    is_retryable,
)
from .._fleet_kinds import GROUP_SERVICES, GROUP_USERS, PRODUCT_SERVICE, JobKind
from .._fleet_walk import DEFAULT_ATTEMPTS, FleetWalk
from .._models import Customer
from .._paging import DEFAULT_PAGE_SIZE
from .._validation import check_count
from ..odata import Query
from . import _schema as schema
from ._ops import MarkDeleted, Operation, ReplaceSet, Upsert, claimed

if TYPE_CHECKING:
    from .._client import FlinkeyClient

__all__ = ["Store", "SyncJob", "SyncProgress", "SyncReport"]

T = TypeVar("T")

Status = Literal["ok", "partial", "failed", "interrupted"]

_PENDING_WRITES = 2  # batches handed to the store's thread and not yet committed


class Store(Protocol):
    """What the job needs from a store (:class:`SqliteStore`, :class:`JsonlStore`)."""

    format: str
    batch_size: int

    @property
    def run_id(self) -> int | None: ...

    async def begin_run(self, *, source: str, customer_ids: Sequence[int]) -> int: ...

    async def write(self, operations: Sequence[Operation]) -> None: ...

    async def unseen_ids(self, table: str, customer_id: int | None) -> list[int]: ...

    async def mark_vanished(self, table: str, customer_id: int | None) -> int: ...

    async def run_changes(self, customer_ids: Sequence[int]) -> dict[str, dict[str, int]]: ...

    async def end_run(
        self, status: str, counts: dict[str, Any], errors: Sequence[dict[str, Any]]
    ) -> None: ...


@attrs.define(slots=True)
class SyncProgress:
    """Live counters of a running sync, for a progress display (read them at any time)."""

    entities: dict[str, int] = attrs.field(factory=dict)
    """Rows received per table in this run (``cars``, ``locations``, ``group_users``...)."""
    customer_id: int | None = None
    phase: str = "starting"
    failures: int = 0
    requeued: int = 0
    """Requests the walk repeated after the client's own retries gave up."""
    started_at: float = attrs.field(factory=time.monotonic)

    def add(self, table: str, count: int = 1) -> None:
        self.entities[table] = self.entities.get(table, 0) + count


@attrs.frozen(slots=True)
class SyncReport:
    """The outcome of a run: what changed, what it cost, what failed."""

    run_id: int
    status: Status
    customer_ids: tuple[int, ...]
    changes: dict[str, dict[str, int]]
    """Per table: ``alive``, ``seen``, ``new``, ``updated``, ``deleted`` rows."""
    requests: int
    retries: int
    failures: tuple[Failure, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Writer:
    """Batches operations and keeps at most a couple of batches in flight to the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._batch: list[Operation] = []
        self._rows = 0
        self._pending: deque[asyncio.Future[None]] = deque()

    async def add(self, operations: Sequence[Operation]) -> None:
        self._batch.extend(operations)
        self._rows += sum(
            len(op.rows) if not isinstance(op, MarkDeleted) else 1 for op in operations
        ) + len(operations)
        if self._rows >= self._store.batch_size:
            await self.flush(wait=False)

    async def flush(self, *, wait: bool = True) -> None:
        if self._batch:
            batch, self._batch, self._rows = self._batch, [], 0
            self._pending.append(asyncio.ensure_future(self._store.write(batch)))
        while self._pending and (wait or len(self._pending) > _PENDING_WRITES):
            await self._pending.popleft()

    async def abandon(self) -> None:
        """Drop the unwritten batch and wait for the ones already handed over (they commit)."""
        self._batch = []
        pending, self._pending = self._pending, deque()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _operations(event: FleetEvent, cid: int, progress: SyncProgress) -> list[Operation]:
    """The store operations one walk event becomes."""
    if isinstance(event, CarsPage):
        progress.add("cars", len(event.cars))
        return [Upsert("cars", cid, [schema.car_row(car) for car in event.cars])]
    if isinstance(event, ProductsPage):
        progress.add("products", len(event.products))
        return [Upsert("products", cid, [schema.product_row(p) for p in event.products])]
    if isinstance(event, GroupsListed):
        progress.add("groups", len(event.groups))
        return [Upsert("groups", cid, [schema.group_row(g) for g in event.groups])]
    if isinstance(event, CarProducts):
        progress.add("car_products", len(event.products))
        return [
            # Not the product listing: the rows are updated, but the products are not "seen".
            Upsert("products", cid, [schema.product_row(p) for p in event.products], seen=False),
            ReplaceSet(
                "car_products", cid, event.car_id, [(event.car_id, p.id) for p in event.products]
            ),
        ]
    if isinstance(event, CarLocation):
        rows = [] if event.location is None else [schema.location_row(event.car_id, event.location)]
        progress.add("locations", len(rows))
        return [ReplaceSet("locations", cid, event.car_id, rows)]
    if isinstance(event, ProductService):
        service = event.service
        progress.add("product_services", int(service is not None))
        ops: list[Operation] = []
        if service is not None:
            ops.append(Upsert("services", cid, [schema.service_row(service)]))
        links = [] if service is None else [(event.product_id, service.id)]
        ops.append(ReplaceSet("product_services", cid, event.product_id, links))
        return ops
    if isinstance(event, GroupMembers):
        table = schema.MEMBER_TABLES[event.kind].name
        progress.add(table, len(event.members))
        row_of: dict[str, Callable[[Any], tuple[schema.Value, ...]]] = {
            "cars": schema.car_row,
            "users": schema.user_row,
            "services": schema.service_row,
            "products": schema.product_row,
        }
        row = row_of[event.kind]
        # Cars and products have listings of their own, and only those (or a GET by id) may keep
        # one from the deletion check; users and services are known from member lists alone.
        seen = event.kind in ("users", "services")
        return [
            Upsert(
                event.kind,
                cid,
                [row(m) for m in event.members],
                seen=seen,
            ),
            ReplaceSet(table, cid, event.group_id, [(event.group_id, m.id) for m in event.members]),
        ]
    if isinstance(event, Vanished):
        progress.add(f"vanished {event.kind}")
        return [MarkDeleted(event.kind, cid, [event.id])]
    return []


class SyncJob:
    """Copy the fleet of one or more customers into ``store``.

    ``customer_ids``: the customers to sync; ``None`` syncs the client's own ``customer_id``;
    ``"all"`` lists the customers the API Manager may act for (``GET /customers``) and syncs
    each; a customer no longer listed is marked deleted with its whole fleet. ``concurrency``
    caps the requests in flight (clipped to the client's connection pool). ``rate`` caps the
    walk's calls per second; a call may cost several HTTP requests (the client's retries, token
    renewals), so to cap the HTTP requests themselves give the client ``rate_limit`` instead.
    ``attempts`` is how often a request that still fails after the client's retries is tried
    again later in the run.

    ``confirm_deletions`` (default) asks for each entity a listing no longer returned before
    marking it deleted, so that a row shifted between two pages while the fleet was being
    edited is not mistaken for a deletion.
    """

    def __init__(
        self,
        client: FlinkeyClient,
        store: Store,
        *,
        customer_ids: Sequence[int] | Literal["all"] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        attempts: int = DEFAULT_ATTEMPTS,
        retry_delay: float = 0.5,
        confirm_deletions: bool = True,
    ) -> None:
        self.client = client
        self.store = store
        self.customer_ids = customer_ids
        self.runner = BoundedRunner(concurrency, rate, connector_limit=client.connector_limit)
        # Refused here, not when the walk starts: by then the run is already recorded.
        self.page_size = check_count("page_size", page_size)
        self.attempts = check_count("attempts", attempts)
        self.retry_delay = retry_delay
        self.confirm_deletions = confirm_deletions
        self.progress = SyncProgress()
        self._failures: list[Failure] = []
        self._customers: list[Customer] = []
        self._gone_customers: list[int] = []

    def __repr__(self) -> str:
        return f"SyncJob({self.store!r}, customers={self.customer_ids!r}, {self.runner!r})"

    @property
    def requests(self) -> int:
        """HTTP requests the client has sent (every attempt)."""
        return self.client.stats.requests

    @property
    def retries(self) -> int:
        """Client retries plus requests the walk repeated."""
        return self.client.stats.retries + self.progress.requeued

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> SyncReport:
        """Run the sync once and report.

        Bad credentials, an unreachable host and other errors no retry fixes raise, with the run
        recorded as ``failed`` (from the first request on: a run that never reached the API is
        recorded too, with no rows).
        Cancellation records the run as ``interrupted`` and propagates. Failures of single
        requests do not raise: the run ends ``partial``.
        """
        started = time.monotonic()
        stats = self.client.stats
        requests0, retries0 = stats.requests, stats.retries
        self.progress = SyncProgress()
        self._failures = []
        self._gone_customers = []
        asked = self._asked_ids()
        try:
            customers = await self._resolve_customers(asked)
        except BaseException as exc:
            # Nothing reached the store yet; the run is still recorded, so that a store opened
            # for a sync that could not reach the API says why it is empty.
            customers = [] if asked == "all" else asked
            await self._record_end(exc, customers, started, requests0, retries0, begin=True)
            raise
        await self.store.begin_run(source=str(self.client.base_url), customer_ids=customers)
        try:
            if self.customer_ids == "all":
                await self._sync_customers()
            # Several workers may share the run: each syncs the customers the store gives it.
            async with aclosing(claimed(self.store, customers)) as mine:
                async for cid in mine:
                    await self._sync_customer(cid)
        except BaseException as exc:
            await self._record_end(exc, customers, started, requests0, retries0)
            raise
        return await self._close_run(
            "ok" if not self._failures else "partial",
            customers,
            started,
            [],
            requests0,
            retries0,
        )

    async def _record_end(
        self,
        exc: BaseException,
        customers: list[int],
        started: float,
        requests0: int,
        retries0: int,
        *,
        begin: bool = False,
    ) -> None:
        """Record a run that ``exc`` ended: ``interrupted`` (cancelled), else ``failed``."""
        interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
        error = (
            []
            if interrupted
            else [{"what": "run", "error": type(exc).__name__, "message": str(exc)}]
        )
        try:
            if begin:
                await self.store.begin_run(source=str(self.client.base_url), customer_ids=customers)
            await self._close_run(
                "interrupted" if interrupted else "failed",
                customers,
                started,
                error,
                requests0,
                retries0,
            )
        except Exception as close_error:  # the original error is the one to report
            exc.add_note(f"recording the run failed too: {close_error}")

    async def _close_run(
        self,
        status: Status,
        customers: list[int],
        started: float,
        errors: list[dict[str, Any]],
        requests0: int,
        retries0: int,
    ) -> SyncReport:
        self.progress.phase = status
        stats = self.client.stats
        changes = await self.store.run_changes([*customers, *self._gone_customers])
        seconds = round(time.monotonic() - started, 3)
        requests = stats.requests - requests0
        retries = stats.retries - retries0 + self.progress.requeued
        counts = {
            "tables": changes,
            "requests": requests,
            "retries": retries,
            "failures": len(self._failures),
            "seconds": seconds,
        }
        await self.store.end_run(status, counts, [f.as_dict() for f in self._failures] + errors)
        run_id = self.store.run_id
        assert run_id is not None
        return SyncReport(
            run_id=run_id,
            status=status,
            customer_ids=tuple(customers),
            changes=changes,
            requests=requests,
            retries=retries,
            failures=tuple(self._failures),
            seconds=seconds,
        )

    def _asked_ids(self) -> list[int] | Literal["all"]:
        """The customers asked for (``"all"``: listed by the API); refused before any request."""
        if self.customer_ids == "all":
            return "all"
        if self.customer_ids is None:
            cid = self.client.customer_id
            if cid is None:
                raise ValidationError(
                    "customer_ids",
                    "no customer: pass customer_ids or give the client a customer_id",
                )
            return [cid]
        return list(self.customer_ids)

    async def _resolve_customers(self, asked: list[int] | Literal["all"]) -> list[int]:
        self.progress.phase = "connecting"
        if asked == "all":
            customers = await self._persist(self.client.customers.list)
            self._customers = customers
            return [c.id for c in customers]
        # One cheap request first: bad credentials or an unreachable host fail here, clearly,
        # before any work is started.
        await self._persist(lambda: self.client.cars.list(Query().top(1), customer_id=asked[0]))
        return asked

    async def _persist(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, tried again like the walk's requests when the service failed transiently.

        Transport errors are not tried again here: the client already did, and a host that
        cannot be reached should be reported at once.
        """
        attempt = 1
        while True:
            try:
                return await call()
            except Exception as exc:
                transient = is_retryable(exc) and not isinstance(exc, TransportError)
                if not transient or attempt >= self.attempts:
                    raise
            await asyncio.sleep(self.retry_delay * 2 ** (attempt - 1))
            attempt += 1

    async def _sync_customers(self) -> None:
        rows = [schema.customer_row(c) for c in self._customers]
        await self.store.write([Upsert("customers", None, rows)])
        self.progress.add("customers", len(rows))
        # A customer no longer listed is marked deleted with every row of its fleet.
        self._gone_customers = await self.store.unseen_ids("customers", None)
        await self.store.mark_vanished("customers", None)

    async def _sync_customer(self, cid: int) -> None:
        self.progress.customer_id = cid
        self.progress.phase = "walking"
        walk = self._new_walk(cid)
        end = await self._consume(walk, cid)
        listed = end.listed
        failed: set[JobKind | None] = {f.kind for f in end.failures}

        self.progress.phase = "settling deletions"
        confirm: dict[str, list[int]] = {}
        for kind in ("cars", "products"):
            if kind not in listed:
                continue
            if self.confirm_deletions:
                confirm[kind] = await self.store.unseen_ids(kind, cid)
            else:
                await self.store.mark_vanished(kind, cid)
        if confirm.get("cars") or confirm.get("products"):
            check = self._new_walk(
                cid,
                listings=False,
                car_ids=confirm.get("cars", ()),
                product_ids=confirm.get("products", ()),
            )
            end = await self._consume(check, cid)
            failed |= {f.kind for f in end.failures}
        if "groups" in listed:
            await self.store.mark_vanished("groups", cid)
            # Users and services are known from these lists only: one that failed may hide some.
            if GROUP_USERS not in failed:
                await self.store.mark_vanished("users", cid)
            if "products" in listed and not failed & {GROUP_SERVICES, PRODUCT_SERVICE}:
                await self.store.mark_vanished("services", cid)

    def _new_walk(self, cid: int, **kwargs: Any) -> FleetWalk:
        walk = FleetWalk(
            self.client.cars,
            self.client.products,
            self.client.groups,
            self.runner,
            customer_id=cid,
            page_size=self.page_size,
            attempts=self.attempts,
            retry_delay=self.retry_delay,
            **kwargs,
        )
        return walk

    async def _consume(self, walk: FleetWalk, cid: int) -> WalkEnd:
        writer = _Writer(self.store)
        progress = self.progress
        requeued0 = progress.requeued
        end: WalkEnd | None = None
        try:
            async with aclosing(walk.events()) as events:
                async for event in events:
                    if isinstance(event, WalkEnd):
                        end = event
                    elif isinstance(event, Failure):
                        self._failures.append(event)
                        progress.failures += 1
                    else:
                        await writer.add(_operations(event, cid, progress))
                    progress.requeued = requeued0 + walk.stats.requeued
            await writer.flush()
        except BaseException:
            await writer.abandon()
            raise
        assert end is not None
        return end


async def run_sync(
    client: FlinkeyClient, store: Store, **options: Any
) -> SyncReport:  # pragma: no cover - a convenience spelled out in the docs
    """``await run_sync(client, store, concurrency=32)``: one :class:`SyncJob` run."""
    return await SyncJob(client, store, **options).run()
