"""The whole fleet in one pass: a concurrent walk over every list and sub-resource.

A fleet is read with one listing per kind (cars and products paged with ``$top``/``$skip``,
groups in one call) and one request per entity for what the lists do not carry: each car's
products and location, each product's service, each group's four member lists. That is a few
thousand small requests for a fleet of a thousand cars, so they run concurrently through one
:class:`~flinkey_async._engine.BoundedRunner`, which also carries the listing requests: at no
time are more than ``concurrency`` requests in flight, whatever part of the walk they belong to.

The walk (:class:`FleetWalk`) is a stream of events (a page of cars, a car's products, ...),
consumed either by :meth:`FleetResource.snapshot`, which assembles a :class:`FleetSnapshot` in
memory, or by the sync job, which writes each event to its store and drops it. It stays flat in
memory: the next page of a listing is only requested once the requests of the previous one are
mostly done.

Expected 404s are data, not failures: "No products are assigned to this car." is a car without
products (and, from the location endpoint, a car without a location: so a car's location is only
asked for once the car turned out to have products); "No service can be found that is assigned
to this productId." is a product without a service. An entity that disappears
while the walk runs (its sub-resource answers "car not found") is reported as
:class:`Vanished`. Anything else that still fails after the client's retries is retried by the
walk a few more times, later, and then reported as a :class:`Failure`: one car that cannot be
read does not sink the rest. Errors no retry can fix (the API key or the credentials rejected)
end the walk at once.

This module talks to the resources through small protocols: it does not import the client.
"""

from __future__ import annotations

import asyncio
import builtins
import random
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from typing import Any, Final, Literal, Protocol, TypeAlias, TypeVar

import attrs

from . import _messages as messages
from ._engine import DEFAULT_CONCURRENCY, BoundedRunner, Outcome, get_many
from ._exceptions import (
    AuthenticationError,
    DecodeError,
    InvalidTokenError,
    ManagerNotFoundError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._models import Car, Group, Location, Product, Service, User
from ._paging import DEFAULT_PAGE_SIZE, page_queries
from .odata import Query

__all__ = [
    "CarLocation",
    "CarProducts",
    "CarsPage",
    "Failure",
    "FleetEvent",
    "FleetResource",
    "FleetSnapshot",
    "FleetWalk",
    "GroupMembers",
    "GroupsListed",
    "ProductService",
    "ProductsPage",
    "Vanished",
    "WalkEnd",
    "is_fatal",
    "is_retryable",
]

K = TypeVar("K")
R = TypeVar("R")

DEFAULT_ATTEMPTS: Final = 3
"""How often the walk tries a request whose failure survived the client's own retries."""


# -- what the walk needs from the resources -----------------------------------------------------


class CarsAPI(Protocol):
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Car]: ...

    async def get(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Car: ...

    async def products(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product]: ...

    async def location(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Location: ...


class ProductsAPI(Protocol):
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product]: ...

    async def get(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Product: ...

    async def service(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Service: ...


class GroupsAPI(Protocol):
    async def list(self, *, customer_id: int | None = None) -> builtins.list[Group]: ...

    async def cars(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Car]: ...

    async def users(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[User]: ...

    async def services(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Service]: ...

    async def products(
        self, group_id: int, *, customer_id: int | None = None
    ) -> builtins.list[Product]: ...


# -- events --------------------------------------------------------------------------------------

MemberKind: TypeAlias = Literal["cars", "users", "services", "products"]
EntityKind: TypeAlias = Literal["cars", "products", "groups"]


@attrs.frozen(slots=True)
class CarsPage:
    """A page of the car listing (each car's products and location follow as their own events)."""

    cars: tuple[Car, ...]


@attrs.frozen(slots=True)
class ProductsPage:
    """A page of the product listing."""

    products: tuple[Product, ...]


@attrs.frozen(slots=True)
class GroupsListed:
    """The group listing (one request: the endpoint takes no OData)."""

    groups: tuple[Group, ...]


@attrs.frozen(slots=True)
class CarProducts:
    """The products installed in a car (empty: none)."""

    car_id: int
    products: tuple[Product, ...]


@attrs.frozen(slots=True)
class CarLocation:
    """A car's last location; ``None`` when the car has no flinkey IQ to report one."""

    car_id: int
    location: Location | None


@attrs.frozen(slots=True)
class ProductService:
    """A product's service contract; ``None`` when it has none."""

    product_id: int
    service: Service | None


@attrs.frozen(slots=True)
class GroupMembers:
    """One of a group's four member lists."""

    group_id: int
    kind: MemberKind
    members: tuple[Car, ...] | tuple[User, ...] | tuple[Service, ...] | tuple[Product, ...]


@attrs.frozen(slots=True)
class Vanished:
    """An entity that was listed but is gone by the time its details were asked for."""

    kind: EntityKind
    id: int


@attrs.frozen(slots=True)
class Failure:
    """A request that failed for good; ``what`` names it (``"car products"``), ``key`` its id.

    For a failed listing page, ``key`` is the page's ``$skip``.
    """

    what: str
    key: int
    error: Exception = attrs.field(eq=False)
    attempts: int = 1
    customer_id: int | None = None

    @property
    def message(self) -> str:
        """One line: the error's class and text (never a secret: errors carry none)."""
        return f"{type(self.error).__name__}: {self.error}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "key": self.key,
            "customer_id": self.customer_id,
            "error": type(self.error).__name__,
            "message": str(self.error),
            "attempts": self.attempts,
        }


@attrs.frozen(slots=True)
class WalkEnd:
    """The last event: which listings were read to the end (only those may be trusted whole)."""

    listed: frozenset[EntityKind]
    failures: tuple[Failure, ...]


FleetEvent: TypeAlias = (
    CarsPage
    | ProductsPage
    | GroupsListed
    | CarProducts
    | CarLocation
    | ProductService
    | GroupMembers
    | Vanished
    | Failure
    | WalkEnd
)


def is_fatal(error: BaseException) -> bool:
    """Errors that no retry fixes and that every other request would hit too."""
    if isinstance(error, InvalidTokenError):
        return False  # a token can be renewed; the client does, and the walk tries again
    return isinstance(error, AuthenticationError | ManagerNotFoundError)


def is_retryable(error: BaseException) -> bool:
    """Failures that may pass when tried again a little later (the walk tries them again)."""
    return isinstance(
        error, TransportError | ServerError | RateLimitError | DecodeError | InvalidTokenError
    )


# -- the walk ------------------------------------------------------------------------------------

_WHAT: Final = {
    "cars_page": "car listing",
    "products_page": "product listing",
    "groups": "group listing",
    "car_products": "car products",
    "car_location": "car location",
    "product_service": "product service",
    "group_cars": "group cars",
    "group_users": "group users",
    "group_services": "group services",
    "group_products": "group products",
    "car": "car",
    "product": "product",
}

_MEMBER_JOBS: Final = ("group_cars", "group_users", "group_services", "group_products")
_GONE_CAR: Final = frozenset({messages.CAR_NOT_ASSIGNED, messages.CAR_NOT_FOUND})
_GONE_PRODUCT: Final = frozenset({messages.PRODUCT_NOT_ASSIGNED, messages.PRODUCT_NOT_FOUND})
_GONE_GROUP: Final = frozenset(
    {messages.GROUP_NOT_FOUND_BY_ID, messages.GROUP_NOT_FOUND, messages.GROUP_NOT_ASSIGNED}
)


@attrs.frozen(slots=True)
class _Job:
    kind: str
    key: int
    attempt: int = 1


@attrs.define(slots=True)
class _Listing:
    kind: EntityKind
    page_kind: str
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
    """Requests finished per kind of request."""
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
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._cars = cars
        self._products = products
        self._groups = groups
        self.runner = runner
        self.customer_id = customer_id
        self.page_size = page_size
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.stats = WalkStats()
        self._listings: dict[str, _Listing] = {}
        base, start, cap = page_queries(None, page_size=page_size)
        for kind, page_kind in (("cars", "cars_page"), ("products", "products_page")):
            self._listings[page_kind] = _Listing(kind, page_kind, base, start, cap)  # type: ignore[arg-type]
        self._queue: deque[_Job] = deque()
        self._outstanding = 0
        self._wake = asyncio.Event()
        self._timers: set[asyncio.TimerHandle] = set()
        self._failures: list[Failure] = []
        self._groups_listed = False
        self._initial: list[_Job] = []
        if listings:
            self._initial += [_Job("cars_page", start), _Job("products_page", start)]
            self._initial.append(_Job("groups", 0))
        else:
            for listing in self._listings.values():
                listing.done = True
        self._initial += [_Job("car", car_id) for car_id in car_ids]
        self._initial += [_Job("product", product_id) for product_id in product_ids]

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
        cid = self.customer_id
        kind, key = job.kind, job.key
        try:
            if kind == "car_products":
                return await self._cars.products(key, customer_id=cid)
            if kind == "car_location":
                return await self._cars.location(key, customer_id=cid)
            if kind == "product_service":
                return await self._products.service(key, customer_id=cid)
            if kind == "group_cars":
                return await self._groups.cars(key, customer_id=cid)
            if kind == "group_users":
                return await self._groups.users(key, customer_id=cid)
            if kind == "group_services":
                return await self._groups.services(key, customer_id=cid)
            if kind == "group_products":
                return await self._groups.products(key, customer_id=cid)
            if kind in ("cars_page", "products_page"):
                listing = self._listings[kind]
                want = self.page_size
                if listing.cap is not None:
                    want = min(want, listing.start + listing.cap - key)
                query = listing.base.skip(key).top(want)
                api = self._cars if kind == "cars_page" else self._products
                return await api.list(query=query, customer_id=cid)
            if kind == "groups":
                return await self._groups.list(customer_id=cid)
            if kind == "car":
                return await self._cars.get(key, customer_id=cid)
            if kind == "product":
                return await self._products.get(key, customer_id=cid)
        except NotFoundError as exc:
            # Expected answers that are data: no products, no location, no service.
            if exc.message == messages.NO_PRODUCTS_ON_CAR:
                if kind == "car_products":
                    return []
                if kind == "car_location":
                    return None
            if kind == "product_service" and exc.message == messages.SERVICE_OF_PRODUCT_NOT_FOUND:
                return None
            raise
        raise AssertionError(f"unknown job kind {kind!r}")  # pragma: no cover

    # -- outcomes ------------------------------------------------------------------------------

    def _vanished(self, job: _Job, error: NotFoundError) -> Vanished | None:
        if isinstance(error, ManagerNotFoundError):
            return None
        if job.kind in ("car", "product"):
            return Vanished("cars" if job.kind == "car" else "products", job.key)
        if job.kind in ("car_products", "car_location") and error.message in _GONE_CAR:
            return Vanished("cars", job.key)
        if job.kind == "product_service" and error.message in _GONE_PRODUCT:
            return Vanished("products", job.key)
        if job.kind.startswith("group_") and error.message in _GONE_GROUP:
            return Vanished("groups", job.key)
        return None

    def _fanout_done(self, job: _Job) -> None:
        if job.kind in ("car_products", "car_location"):
            self._listings["cars_page"].fanout -= 1
        elif job.kind == "product_service":
            self._listings["products_page"].fanout -= 1

    def _handle(self, outcome: Outcome[_Job, Any]) -> list[FleetEvent]:
        job = outcome.item
        error = outcome.error
        if error is not None:
            if is_fatal(error):
                raise error
            if isinstance(error, NotFoundError):
                vanished = self._vanished(job, error)
                if vanished is not None:
                    self._fanout_done(job)
                    self._count(job.kind)
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
            failure = Failure(_WHAT[job.kind], job.key, error, job.attempt, self.customer_id)
            self._failures.append(failure)
            self.stats.failures += 1
            self._fanout_done(job)
            if job.kind in self._listings:
                self._listings[job.kind].done = True  # a listing with a hole is not complete
            return [failure]

        self._count(job.kind)
        value: Any = outcome.value
        kind = job.kind
        if kind in ("cars_page", "products_page"):
            return self._page(self._listings[kind], job.key, value)
        self._fanout_done(job)
        if kind == "car_products":
            products = CarProducts(job.key, tuple(value))
            if not value:
                # The location endpoint answers "No products are assigned to this car." for
                # exactly these cars: no need to ask.
                return [products, CarLocation(job.key, None)]
            self._push(_Job("car_location", job.key), front=True)
            self._listings["cars_page"].fanout += 1
            return [products]
        if kind == "car_location":
            return [CarLocation(job.key, value)]
        if kind == "product_service":
            return [ProductService(job.key, value)]
        if kind.startswith("group_"):
            member_kind: MemberKind = kind.removeprefix("group_")  # type: ignore[assignment]
            return [GroupMembers(job.key, member_kind, tuple(value))]
        if kind == "groups":
            self._groups_listed = True
            for group in value:
                for member_job in _MEMBER_JOBS:
                    self._push(_Job(member_job, group.id))
            return [GroupsListed(tuple(value))]
        if kind == "car":
            self._fan_out_cars([value])
            return [CarsPage((value,))]
        if kind == "product":
            self._fan_out_products([value])
            return [ProductsPage((value,))]
        raise AssertionError(f"unknown job kind {kind!r}")  # pragma: no cover

    def _count(self, kind: str) -> None:
        self.stats.done[kind] = self.stats.done.get(kind, 0) + 1

    def _fan_out_cars(self, cars: Sequence[Car]) -> None:
        listing = self._listings["cars_page"]
        for car in cars:
            # A car's location is asked for once its products are known (see _handle).
            self._push(_Job("car_products", car.id))
        listing.fanout += len(cars)

    def _fan_out_products(self, products: Sequence[Product]) -> None:
        listing = self._listings["products_page"]
        for product in products:
            self._push(_Job("product_service", product.id))
        listing.fanout += len(products)

    def _page(self, listing: _Listing, offset: int, rows: Sequence[Any]) -> list[FleetEvent]:
        want = self.page_size
        if listing.cap is not None:
            want = min(want, listing.start + listing.cap - offset)
        if listing.kind == "cars":
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
                self._push(_Job(listing.page_kind, listing.next_offset), front=True)
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


# -- the snapshot --------------------------------------------------------------------------------


def _by_id(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(items, key=lambda item: item.id))


@attrs.frozen(slots=True)
class FleetSnapshot:
    """A customer's whole fleet at one moment, typed.

    ``cars``, ``products``, ``groups``, ``users`` and ``services`` are sorted by id. The mappings
    are keyed by the parent's id: ``car_products[car.id]`` (empty tuple: none installed),
    ``car_locations[car.id]`` (``None``: no location), ``product_services[product.id]``
    (``None``: no service), ``group_cars[group.id]`` and so on. ``users`` are the users of all
    groups; ``services`` those of products and groups.

    ``failures`` lists what could not be read, with the cause; a car whose products failed
    has no entry in ``car_products``. :attr:`complete` is true when nothing failed.
    """

    customer_id: int | None
    cars: tuple[Car, ...]
    products: tuple[Product, ...]
    groups: tuple[Group, ...]
    users: tuple[User, ...]
    services: tuple[Service, ...]
    car_products: Mapping[int, tuple[Product, ...]]
    car_locations: Mapping[int, Location | None]
    product_services: Mapping[int, Service | None]
    group_cars: Mapping[int, tuple[Car, ...]]
    group_users: Mapping[int, tuple[User, ...]]
    group_services: Mapping[int, tuple[Service, ...]]
    group_products: Mapping[int, tuple[Product, ...]]
    failures: tuple[Failure, ...] = ()
    requests: int = 0
    """Calls made by the walk (the client's own retries not counted)."""

    @property
    def complete(self) -> bool:
        return not self.failures

    def raise_for_failures(self) -> None:
        """Raise the first failure's error (with the count in a note) if anything failed."""
        if self.failures:
            first = self.failures[0].error
            first.add_note(f"{len(self.failures)} part(s) of the fleet snapshot failed")
            raise first


class _Collector:
    """Assembles a :class:`FleetSnapshot` from walk events."""

    def __init__(self) -> None:
        self.cars: dict[int, Car] = {}
        self.products: dict[int, Product] = {}
        self.groups: dict[int, Group] = {}
        self.users: dict[int, User] = {}
        self.services: dict[int, Service] = {}
        self.car_products: dict[int, tuple[Product, ...]] = {}
        self.car_locations: dict[int, Location | None] = {}
        self.product_services: dict[int, Service | None] = {}
        self.members: dict[str, dict[int, tuple[Any, ...]]] = {
            "cars": {},
            "users": {},
            "services": {},
            "products": {},
        }
        self.gone: dict[str, set[int]] = {"cars": set(), "products": set(), "groups": set()}
        self.failures: list[Failure] = []

    def add(self, event: FleetEvent) -> None:
        if isinstance(event, CarsPage):
            self.cars.update((car.id, car) for car in event.cars)
        elif isinstance(event, ProductsPage):
            self.products.update((p.id, p) for p in event.products)
        elif isinstance(event, GroupsListed):
            self.groups.update((g.id, g) for g in event.groups)
        elif isinstance(event, CarProducts):
            self.car_products[event.car_id] = _by_id(event.products)
        elif isinstance(event, CarLocation):
            self.car_locations[event.car_id] = event.location
        elif isinstance(event, ProductService):
            self.product_services[event.product_id] = event.service
            if event.service is not None:
                self.services[event.service.id] = event.service
        elif isinstance(event, GroupMembers):
            self.members[event.kind][event.group_id] = _by_id(event.members)
            members: tuple[Any, ...] = event.members
            if event.kind == "users":
                self.users.update((user.id, user) for user in members)
            elif event.kind == "services":
                self.services.update((service.id, service) for service in members)
        elif isinstance(event, Vanished):
            self.gone[event.kind].add(event.id)
        elif isinstance(event, Failure):
            self.failures.append(event)

    def snapshot(self, customer_id: int | None, requests: int) -> FleetSnapshot:
        gone_cars, gone_products, gone_groups = (
            self.gone["cars"],
            self.gone["products"],
            self.gone["groups"],
        )

        def keep(mapping: dict[int, Any], gone: set[int]) -> dict[int, Any]:
            return {key: mapping[key] for key in sorted(mapping) if key not in gone}

        return FleetSnapshot(
            customer_id=customer_id,
            cars=_by_id(c for c in self.cars.values() if c.id not in gone_cars),
            products=_by_id(p for p in self.products.values() if p.id not in gone_products),
            groups=_by_id(g for g in self.groups.values() if g.id not in gone_groups),
            users=_by_id(self.users.values()),
            services=_by_id(self.services.values()),
            car_products=keep(self.car_products, gone_cars),
            car_locations=keep(self.car_locations, gone_cars),
            product_services=keep(self.product_services, gone_products),
            group_cars=keep(self.members["cars"], gone_groups),
            group_users=keep(self.members["users"], gone_groups),
            group_services=keep(self.members["services"], gone_groups),
            group_products=keep(self.members["products"], gone_groups),
            failures=tuple(self.failures),
            requests=requests,
        )


class FleetResource:
    """Bulk reads over the whole fleet: ``client.fleet``.

    ``snapshot()`` reads everything concurrently into a :class:`FleetSnapshot`; ``get_many``
    fetches many entities by id with any single-entity getter, yielding each as it arrives (for
    cars and products, ``client.cars.get_many`` and ``client.products.get_many`` do the same).
    Every method
    bounds its requests in flight by ``concurrency`` (clipped to the client's connection pool,
    ``connector_limit``: more would only wait for a connection) and, with ``rate``, spaces its
    calls to at most ``rate`` per second. A call's retries and token requests are not counted
    there: the client's ``rate_limit`` caps every HTTP attempt.
    """

    def __init__(
        self,
        cars: CarsAPI,
        products: ProductsAPI,
        groups: GroupsAPI,
        *,
        connector_limit: int | None = None,
    ) -> None:
        self._cars = cars
        self._products = products
        self._groups = groups
        self.connector_limit = connector_limit

    def __repr__(self) -> str:
        return f"FleetResource(connector_limit={self.connector_limit!r})"

    def runner(
        self, concurrency: int = DEFAULT_CONCURRENCY, rate: float | None = None
    ) -> BoundedRunner:
        """A runner bound to the client's pool, to share limits across several bulk calls."""
        return BoundedRunner(concurrency, rate, connector_limit=self.connector_limit)

    def walk(
        self,
        *,
        customer_id: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        attempts: int = DEFAULT_ATTEMPTS,
        retry_delay: float = 0.5,
        runner: BoundedRunner | None = None,
        listings: bool = True,
        car_ids: Iterable[int] = (),
        product_ids: Iterable[int] = (),
    ) -> FleetWalk:
        """A :class:`FleetWalk` over this client's resources (the stream the sync job consumes)."""
        return FleetWalk(
            self._cars,
            self._products,
            self._groups,
            runner if runner is not None else self.runner(concurrency, rate),
            customer_id=customer_id,
            page_size=page_size,
            attempts=attempts,
            retry_delay=retry_delay,
            listings=listings,
            car_ids=car_ids,
            product_ids=product_ids,
        )

    async def snapshot(
        self,
        *,
        customer_id: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        attempts: int = DEFAULT_ATTEMPTS,
        runner: BoundedRunner | None = None,
    ) -> FleetSnapshot:
        """Read the whole fleet of one customer concurrently.

        Cars with their products and location, products with their service, groups with their
        cars, users, services and products. What fails even after retries is listed in
        ``snapshot.failures`` (the rest is still returned); a rejected API key or rejected
        credentials raise at once. Cancelling the call cancels every request in flight.

        ``rate`` caps the walk's calls per second; to cap HTTP requests, retries included, give
        the client ``rate_limit`` instead.
        """
        walk = self.walk(
            customer_id=customer_id,
            concurrency=concurrency,
            rate=rate,
            page_size=page_size,
            attempts=attempts,
            runner=runner,
        )
        collector = _Collector()
        async with aclosing(walk.events()) as events:
            async for event in events:
                collector.add(event)
        return collector.snapshot(customer_id, walk.runner.started)

    def get_many(
        self,
        fetch: Callable[[K], Awaitable[R]],
        ids: Iterable[K] | AsyncIterable[K],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        runner: BoundedRunner | None = None,
    ) -> AsyncGenerator[Outcome[K, R], None]:
        """``fetch(id)`` for many ids under this client's limits; outcomes as they complete.

        ``async for outcome in client.fleet.get_many(client.groups.users, group_ids): ...``
        """
        return get_many(fetch, ids, runner=runner or self.runner(concurrency, rate))
