"""The whole fleet in one pass: a concurrent walk over every list and sub-resource.

A fleet is read with one listing per kind (cars and products paged with ``$top``/``$skip``,
groups in one call) and one request per entity for what the lists do not carry: each car's
products and location, each product's service, each group's four member lists. That is a few
thousand small requests for a fleet of a thousand cars, so they run concurrently through one
:class:`~flinkey_async._engine.BoundedRunner`, which also carries the listing requests: at no
time are more than ``concurrency`` requests in flight, whatever part of the walk they belong to.

The walk (:class:`FleetWalk`) is a stream of events (a page of cars, a car's products, ...),
consumed either by ``client.fleet.snapshot()``, which assembles a snapshot in memory, or by the
sync job, which writes each event to its store and drops it. It stays flat in memory: the next
page of a listing is only requested once the requests of the previous one are mostly done.

Expected 404s are data, not failures (a car without products, a product without a service). An
entity that disappears while the walk runs (its sub-resource answers "car not found") is
reported as :class:`~flinkey_async._fleet_events.Vanished`. Anything else that still fails
after the client's retries is retried by the walk a few more times, later, and then reported as
a :class:`~flinkey_async.Failure`: one car that cannot be read does not sink the rest. Errors no
retry can fix (the API key or the credentials rejected) end the walk at once.

Each kind of request is a row of the table in ``_fleet_kinds`` (what it fetches, what a 404
means, what its answer becomes); this module runs them. The events are in ``_fleet_events``,
the snapshot and the ``client.fleet`` facade in ``_fleet``.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Iterable, Sequence
from contextlib import aclosing
from typing import Any, Final

import attrs

from ._engine import BoundedRunner, Outcome
from ._exceptions import NotFoundError, RateLimitError
from ._fleet_events import (
    CarLocation,
    CarProducts,
    CarsPage,
    EntityKind,
    Failure,
    FleetEvent,
    GroupsListed,
    ProductsPage,
    WalkEnd,
    is_fatal,
    is_retryable,
)
from ._fleet_kinds import (
    CAR,
    CAR_LOCATION,
    CAR_PRODUCTS,
    CARS_PAGE,
    GROUP_MEMBERS,
    GROUPS,
    PRODUCT,
    PRODUCT_SERVICE,
    PRODUCTS_PAGE,
    CarsAPI,
    GroupsAPI,
    JobKind,
    ProductsAPI,
)
from ._models import Car, Product
from ._paging import DEFAULT_PAGE_SIZE, page_queries
from ._validation import check_count
from .odata import Query

__all__ = ["DEFAULT_ATTEMPTS", "FleetWalk", "WalkStats"]

DEFAULT_ATTEMPTS: Final = 3
"""How often the walk tries a request whose failure survived the client's own retries."""


# -- the walk ------------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class _Job:
    kind: JobKind
    key: int
    attempt: int = 1


@attrs.define(slots=True)
class _Listing:
    kind: EntityKind
    page: JobKind
    base: Query
    start: int
    cap: int | None
    next_offset: int | None = None  # a page waiting to be requested
    fanout: int = 0  # per-entity requests of this listing not yet finished
    done: bool = False
    complete: bool = False


@attrs.define(slots=True)
class WalkStats:
    """Counters of a walk, readable while it runs (for progress displays)."""

    done: dict[str, int] = attrs.field(factory=dict)
    """Requests finished per kind of request (:attr:`JobKind.name`)."""
    requeued: int = 0
    """Requests the walk tried again after the client had given up on them."""
    failures: int = 0


class FleetWalk:
    """One pass over a customer's fleet as an async stream of :data:`FleetEvent`\\ s.

    ``async with aclosing(walk.events()) as events: async for event in events: ...``

    ``listings=False`` skips the three listings: only the entities named by ``cars=`` and
    ``products=`` are fetched (with their sub-resources), which is how a sync double-checks
    the entities a listing did not return before it marks them deleted.
    """

    # Declared here for the table of kinds, whose rows use them (a module this one imports).
    _cars: CarsAPI
    _products: ProductsAPI
    _groups: GroupsAPI
    customer_id: int | None

    def __init__(
        self,
        cars: CarsAPI,
        products: ProductsAPI,
        groups: GroupsAPI,
        runner: BoundedRunner,
        *,
        customer_id: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        attempts: int = DEFAULT_ATTEMPTS,
        retry_delay: float = 0.5,
        listings: bool = True,
        car_ids: Iterable[int] = (),
        product_ids: Iterable[int] = (),
    ) -> None:
        check_count("attempts", attempts)
        self._cars = cars
        self._products = products
        self._groups = groups
        self.runner = runner
        self.customer_id = customer_id
        self.page_size = page_size
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.stats = WalkStats()
        base, start, cap = page_queries(None, page_size=page_size)
        self._listings: dict[EntityKind, _Listing] = {
            "cars": _Listing("cars", CARS_PAGE, base, start, cap),
            "products": _Listing("products", PRODUCTS_PAGE, base, start, cap),
        }
        self._queue: deque[_Job] = deque()
        self._outstanding = 0
        self._wake = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._failures: list[Failure] = []
        self._groups_listed = False
        self._initial: list[_Job] = []
        if listings:
            self._initial += [_Job(CARS_PAGE, start), _Job(PRODUCTS_PAGE, start), _Job(GROUPS, 0)]
        else:
            for listing in self._listings.values():
                listing.done = True
        self._initial += [_Job(CAR, car_id) for car_id in car_ids]
        self._initial += [_Job(PRODUCT, product_id) for product_id in product_ids]

    # -- queue ---------------------------------------------------------------------------------

    def _push(self, job: _Job, *, front: bool = False) -> None:
        self._outstanding += 1
        if front:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)
        self._wake.set()

    def _push_later(self, job: _Job, delay: float) -> None:
        self._outstanding += 1
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self._outstanding -= 1
            self._push(job)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    async def _jobs(self) -> AsyncGenerator[_Job, None]:
        while True:
            if self._queue:
                yield self._queue.popleft()
                continue
            if self._outstanding == 0:
                return
            self._wake.clear()
            await self._wake.wait()

    # -- requests ------------------------------------------------------------------------------

    async def _call(self, job: _Job) -> Any:
        kind = job.kind
        try:
            return await kind.fetch(self, job.key)
        except NotFoundError as exc:
            # Expected answers that are data: no products, no location, no service.
            if exc.message in kind.empty:
                return kind.empty[exc.message]
            raise

    def _fetch_page(self, kind: EntityKind, offset: int) -> Awaitable[Sequence[Any]]:
        listing = self._listings[kind]
        query = listing.base.skip(offset).top(self._page_want(listing, offset))
        api: CarsAPI | ProductsAPI = self._cars if kind == "cars" else self._products
        return api.list(query=query, customer_id=self.customer_id)

    def _page_want(self, listing: _Listing, offset: int) -> int:
        want = self.page_size
        if listing.cap is not None:
            want = min(want, listing.start + listing.cap - offset)
        return want

    # -- outcomes ------------------------------------------------------------------------------

    def _fanout_done(self, job: _Job) -> None:
        if job.kind.fanout is not None:
            self._listings[job.kind.fanout].fanout -= 1

    def _handle(self, outcome: Outcome[_Job, Any]) -> list[FleetEvent]:
        job = outcome.item
        kind = job.kind
        error = outcome.error
        if error is not None:
            if is_fatal(error):
                raise error
            if isinstance(error, NotFoundError):
                vanished = kind.vanished(job.key, error)
                if vanished is not None:
                    self._fanout_done(job)
                    self._count(kind)
                    return [vanished]
            if is_retryable(error) and job.attempt < self.attempts:
                self.stats.requeued += 1
                retry_after = error.retry_after if isinstance(error, RateLimitError) else None
                ceiling = self.retry_delay * 2 ** (job.attempt - 1)
                delay = (
                    retry_after if retry_after is not None else random.uniform(ceiling / 2, ceiling)
                )
                self._push_later(attrs.evolve(job, attempt=job.attempt + 1), delay)
                return []
            failure = Failure(kind.label, job.key, error, job.attempt, self.customer_id, kind)
            self._failures.append(failure)
            self.stats.failures += 1
            self._fanout_done(job)
            if kind.page_of is not None:
                self._listings[kind.page_of].done = True  # a listing with a hole is not complete
            return [failure]
        self._count(kind)
        self._fanout_done(job)
        return kind.done(self, job.key, outcome.value)

    def _count(self, kind: JobKind) -> None:
        self.stats.done[kind.name] = self.stats.done.get(kind.name, 0) + 1

    def _car_products(self, car_id: int, products: Sequence[Product]) -> list[FleetEvent]:
        event = CarProducts(car_id, tuple(products))
        if not products:
            # The location endpoint answers "No products are assigned to this car." for
            # exactly these cars: no need to ask.
            return [event, CarLocation(car_id, None)]
        self._push(_Job(CAR_LOCATION, car_id), front=True)
        self._listings["cars"].fanout += 1
        return [event]

    def _groups_listed_now(self, groups: Sequence[Any]) -> list[FleetEvent]:
        self._groups_listed = True
        for group in groups:
            for member_kind in GROUP_MEMBERS:
                self._push(_Job(member_kind, group.id))
        return [GroupsListed(tuple(groups))]

    def _one_car(self, car: Car) -> list[FleetEvent]:
        self._fan_out_cars([car])
        return [CarsPage((car,))]

    def _one_product(self, product: Product) -> list[FleetEvent]:
        self._fan_out_products([product])
        return [ProductsPage((product,))]

    def _fan_out_cars(self, cars: Sequence[Car]) -> None:
        for car in cars:
            # A car's location is asked for once its products are known (_car_products).
            self._push(_Job(CAR_PRODUCTS, car.id))
        self._listings["cars"].fanout += len(cars)

    def _fan_out_products(self, products: Sequence[Product]) -> None:
        for product in products:
            self._push(_Job(PRODUCT_SERVICE, product.id))
        self._listings["products"].fanout += len(products)

    def _page(self, kind: EntityKind, offset: int, rows: Sequence[Any]) -> list[FleetEvent]:
        listing = self._listings[kind]
        want = self._page_want(listing, offset)
        if kind == "cars":
            self._fan_out_cars(rows)
            event: FleetEvent = CarsPage(tuple(rows))
        else:
            self._fan_out_products(rows)
            event = ProductsPage(tuple(rows))
        following = offset + want
        if len(rows) == want and (listing.cap is None or following < listing.start + listing.cap):
            listing.next_offset = following
        else:
            listing.done = listing.complete = True
        return [event] if rows else []

    def _request_pages(self) -> None:
        # The next page of a listing is asked for once fewer than a page's worth of its
        # per-entity requests remain: enough to keep the runner busy while the page arrives,
        # few enough that memory does not grow with the fleet.
        for listing in self._listings.values():
            if listing.next_offset is not None and listing.fanout <= self.page_size:
                self._push(_Job(listing.page, listing.next_offset), front=True)
                listing.next_offset = None

    # -- the stream ----------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[FleetEvent, None]:
        """Run the walk; yield its events as requests complete, :class:`WalkEnd` last."""
        for job in self._initial:
            self._push(job)
        self._initial = []
        jobs = self._jobs()
        try:
            async with aclosing(self.runner.run(self._call, jobs)) as outcomes:
                async for outcome in outcomes:
                    self._outstanding -= 1
                    events = self._handle(outcome)
                    self._request_pages()
                    if self._outstanding == 0:
                        self._wake.set()
                    for event in events:
                        yield event
        finally:
            await jobs.aclose()
            for handle in self._timers:
                handle.cancel()
            self._timers.clear()
        listed: set[EntityKind] = {
            listing.kind for listing in self._listings.values() if listing.complete
        }
        if self._groups_listed:
            listed.add("groups")
        yield WalkEnd(frozenset(listed), tuple(self._failures))
