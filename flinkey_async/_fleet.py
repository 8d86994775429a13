"""``client.fleet``: the whole fleet in one pass, as a typed snapshot or as a stream of events.

:class:`FleetResource` is the facade: :meth:`~FleetResource.snapshot` reads a customer's whole
fleet concurrently into a :class:`FleetSnapshot`, :meth:`~FleetResource.walk` hands out the
stream of events the sync consumes, :meth:`~FleetResource.get_many` fetches many entities by id.
The walk itself lives in ``_fleet_walk`` (the kinds of request it makes in ``_fleet_kinds``),
its events in ``_fleet_events``; their names are re-exported here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import Any, TypeVar

import attrs

from ._engine import DEFAULT_CONCURRENCY, BoundedRunner, Outcome, get_many
from ._fleet_events import (
    CarLocation,
    CarProducts,
    CarsPage,
    EntityKind,
    Failure,
    FleetEvent,
    GroupMembers,
    GroupsListed,
    MemberKind,
    ProductService,
    ProductsPage,
    Vanished,
    WalkEnd,
    is_fatal,
    is_retryable,
)
from ._fleet_kinds import CarsAPI, GroupsAPI, JobKind, ProductsAPI
from ._fleet_walk import DEFAULT_ATTEMPTS, FleetWalk, WalkStats
from ._models import Car, Group, Location, Product, Service, User
from ._paging import DEFAULT_PAGE_SIZE

__all__ = [
    "DEFAULT_ATTEMPTS",
    "CarLocation",
    "CarProducts",
    "CarsAPI",
    "CarsPage",
    "Failure",
    "FleetEvent",
    "FleetResource",
    "FleetSnapshot",
    "FleetWalk",
    "GroupMembers",
    "GroupsAPI",
    "GroupsListed",
    "JobKind",
    "ProductService",
    "ProductsAPI",
    "ProductsPage",
    "Vanished",
    "WalkEnd",
    "WalkStats",
    "is_fatal",
    "is_retryable",
]

K = TypeVar("K")
R = TypeVar("R")


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
        # By member kind and entity kind; a kind never met is empty.
        self.members: defaultdict[MemberKind, dict[int, tuple[Any, ...]]] = defaultdict(dict)
        self.gone: defaultdict[EntityKind, set[int]] = defaultdict(set)
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
