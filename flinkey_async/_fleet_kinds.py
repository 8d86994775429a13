"""The kinds of request of the fleet walk, as a table: one :class:`JobKind` per kind.

A row says what the request fetches (through the small protocols below: the walk does not
import the client), which 404 texts are data ("No products are assigned to this car." is a car
without products), which show that the entity vanished while the walk ran, what a success
becomes (events, and the requests that follow from it) and the label people read in a
:class:`~flinkey_async.Failure`. Adding a kind of request is adding a row here.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from . import _api, _fleet_events
from . import _messages as messages
from ._exceptions import ManagerNotFoundError, NotFoundError
from ._fleet_events import (
    CarLocation,
    EntityKind,
    FleetEvent,
    GroupMembers,
    ProductService,
    Vanished,
)
from ._models import Car, Group, Location, Product, Service, User
from .odata import Query

if TYPE_CHECKING:
    from ._fleet_walk import FleetWalk

__all__ = [
    "CAR",
    "CARS_PAGE",
    "CAR_LOCATION",
    "CAR_PRODUCTS",
    "GROUPS",
    "GROUP_CARS",
    "GROUP_MEMBERS",
    "GROUP_PRODUCTS",
    "GROUP_SERVICES",
    "GROUP_USERS",
    "JOB_KINDS",
    "PRODUCT",
    "PRODUCTS_PAGE",
    "PRODUCT_SERVICE",
    "CarsAPI",
    "GroupsAPI",
    "JobKind",
    "ProductsAPI",
]


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


# -- the kinds of request ------------------------------------------------------------------------


@attrs.frozen(slots=True, eq=False)
class JobKind:
    """One kind of request of the walk, and everything the walk needs to know about it.

    ``fetch(walk, key)`` sends it; ``done(walk, key, answer)`` turns the answer into events
    (and queues the requests that follow from it). A 404 whose text is in ``empty`` is data: the
    value it maps to. A 404 shows that entity ``key`` of kind ``gone`` vanished when its text is
    in ``gone_texts`` (any 404 when that is ``None``: a ``GET`` by id). ``fanout`` names the
    listing whose per-entity work the request is (the next page waits for it to drain),
    ``page_of`` the listing a page request reads. ``label`` names it for people (``Failure.what``).
    Kinds compare by identity: the sync keys its deletion rules on them, never on labels.
    """

    name: str
    label: str
    fetch: Callable[[FleetWalk, int], Awaitable[Any]] = attrs.field(repr=False)
    done: Callable[[FleetWalk, int, Any], list[FleetEvent]] = attrs.field(repr=False)
    empty: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    gone: EntityKind | None = None
    gone_texts: frozenset[str] | None = attrs.field(default=None, repr=False)
    fanout: EntityKind | None = None
    page_of: EntityKind | None = None

    def vanished(self, key: int, error: NotFoundError) -> Vanished | None:
        """The entity this 404 shows gone, if it shows one."""
        if self.gone is None or isinstance(error, ManagerNotFoundError):
            return None
        if self.gone_texts is None or error.message in self.gone_texts:
            return Vanished(self.gone, key)
        return None


# ``Failure.kind`` names JobKind, which ``_fleet_events`` can only import for type checkers (this
# module imports it): give the annotation its class here, so that ``get_type_hints(Failure)``
# works at run time as for every other public class.
_fleet_events.Failure.__annotations__["kind"] = JobKind | None

_GONE_CAR: Final = frozenset({messages.CAR_NOT_ASSIGNED, messages.CAR_NOT_FOUND})
_GONE_PRODUCT: Final = frozenset({messages.PRODUCT_NOT_ASSIGNED, messages.PRODUCT_NOT_FOUND})
_GONE_GROUP: Final = frozenset(
    {messages.GROUP_NOT_FOUND_BY_ID, messages.GROUP_NOT_FOUND, messages.GROUP_NOT_ASSIGNED}
)


def _members(
    member: _api.GroupMember[Any], fetch: Callable[[FleetWalk, int], Awaitable[Any]]
) -> JobKind:
    segment = member.segment

    def done(walk: FleetWalk, group_id: int, members: Any) -> list[FleetEvent]:
        return [GroupMembers(group_id, segment, tuple(members))]

    return JobKind(
        f"group_{segment}", f"group {segment}", fetch, done, gone="groups", gone_texts=_GONE_GROUP
    )


CARS_PAGE: Final = JobKind(
    "cars_page",
    "car listing",
    lambda walk, offset: walk._fetch_page("cars", offset),
    lambda walk, offset, rows: walk._page("cars", offset, rows),
    page_of="cars",
)
PRODUCTS_PAGE: Final = JobKind(
    "products_page",
    "product listing",
    lambda walk, offset: walk._fetch_page("products", offset),
    lambda walk, offset, rows: walk._page("products", offset, rows),
    page_of="products",
)
GROUPS: Final = JobKind(
    "groups",
    "group listing",
    lambda walk, _: walk._groups.list(customer_id=walk.customer_id),
    lambda walk, _, groups: walk._groups_listed_now(groups),
)
CAR_PRODUCTS: Final = JobKind(
    "car_products",
    "car products",
    lambda walk, car_id: walk._cars.products(car_id, customer_id=walk.customer_id),
    lambda walk, car_id, products: walk._car_products(car_id, products),
    empty={messages.NO_PRODUCTS_ON_CAR: []},
    gone="cars",
    gone_texts=_GONE_CAR,
    fanout="cars",
)
CAR_LOCATION: Final = JobKind(
    "car_location",
    "car location",
    lambda walk, car_id: walk._cars.location(car_id, customer_id=walk.customer_id),
    lambda walk, car_id, location: [CarLocation(car_id, location)],
    # The location endpoint answers this for a car without a flinkey IQ: no location.
    empty={messages.NO_PRODUCTS_ON_CAR: None},
    gone="cars",
    gone_texts=_GONE_CAR,
    fanout="cars",
)
PRODUCT_SERVICE: Final = JobKind(
    "product_service",
    "product service",
    lambda walk, product_id: walk._products.service(product_id, customer_id=walk.customer_id),
    lambda walk, product_id, service: [ProductService(product_id, service)],
    empty={messages.SERVICE_OF_PRODUCT_NOT_FOUND: None},
    gone="products",
    gone_texts=_GONE_PRODUCT,
    fanout="products",
)
GROUP_CARS: Final = _members(
    _api.CAR_MEMBERS,
    lambda walk, group_id: walk._groups.cars(group_id, customer_id=walk.customer_id),
)
GROUP_USERS: Final = _members(
    _api.USER_MEMBERS,
    lambda walk, group_id: walk._groups.users(group_id, customer_id=walk.customer_id),
)
GROUP_SERVICES: Final = _members(
    _api.SERVICE_MEMBERS,
    lambda walk, group_id: walk._groups.services(group_id, customer_id=walk.customer_id),
)
GROUP_PRODUCTS: Final = _members(
    _api.PRODUCT_MEMBERS,
    lambda walk, group_id: walk._groups.products(group_id, customer_id=walk.customer_id),
)
CAR: Final = JobKind(
    "car",
    "car",
    lambda walk, car_id: walk._cars.get(car_id, customer_id=walk.customer_id),
    lambda walk, _, car: walk._one_car(car),
    gone="cars",
)
PRODUCT: Final = JobKind(
    "product",
    "product",
    lambda walk, product_id: walk._products.get(product_id, customer_id=walk.customer_id),
    lambda walk, _, product: walk._one_product(product),
    gone="products",
)

GROUP_MEMBERS: Final = (GROUP_CARS, GROUP_USERS, GROUP_SERVICES, GROUP_PRODUCTS)
"""The requests that follow from each listed group."""
JOB_KINDS: Final = (
    CARS_PAGE,
    PRODUCTS_PAGE,
    GROUPS,
    CAR_PRODUCTS,
    CAR_LOCATION,
    PRODUCT_SERVICE,
    *GROUP_MEMBERS,
    CAR,
    PRODUCT,
)
"""Every kind of request the walk makes."""
