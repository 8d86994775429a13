"""The events of a fleet walk: what the walk streams to its consumer (the snapshot, the sync).

A page of a listing, one entity's sub-resource, an entity gone while the walk ran
(:class:`Vanished`), a request that failed for good (:class:`Failure`), and :class:`WalkEnd`
last, saying which listings were read to the end. The two error classifications decide what
the walk does with a failed request: end the walk (:func:`is_fatal`), try again later
(:func:`is_retryable`), or report it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from ._api import MemberKind
from ._exceptions import (
    AuthenticationError,
    DecodeError,
    InvalidTokenError,
    ManagerNotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._models import Car, Group, Location, Product, Service, User

if TYPE_CHECKING:
    from ._fleet_kinds import JobKind

__all__ = [
    "CarLocation",
    "CarProducts",
    "CarsPage",
    "EntityKind",
    "Failure",
    "FleetEvent",
    "GroupMembers",
    "GroupsListed",
    "MemberKind",
    "ProductService",
    "ProductsPage",
    "Vanished",
    "WalkEnd",
    "is_fatal",
    "is_retryable",
]


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
    kind: JobKind | None = attrs.field(default=None, eq=False, repr=False)
    """The kind of request that failed (``what`` is its label): what code should compare."""

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
