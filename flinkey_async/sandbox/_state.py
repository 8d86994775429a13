"""The sandbox's ground truth: customers and their cars, products, services, groups and users.

One :class:`SandboxState` holds everything one sandbox serves. The HTTP handlers read and change
it; tests read it to check what a client did ("was exactly one car created?") and change it to
simulate edits made elsewhere (a car renamed in the flinkey Portal, a product moved to another
car) before running a sync.

Every entity belongs to exactly one customer. Lookups take the customer id, so an id of another
customer is indistinguishable from an id that does not exist: that is how customer isolation is
built in rather than checked in each handler.

Entities are the library's frozen models; their JSON form (``unstructure``) is computed once per
change and kept, because the handlers serve the same entity many times.

The documented invariants live here, not in the handlers: a car carries at most two products, one
flinkey Box and one flinkey IQ; a product sits in at most one car; a service belongs to at most
one product.

One class although long: the invariants span tables (a product's car, a group's members, a
customer's entities), and every change going through :class:`SandboxState` is what keeps them.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from .. import _api
from .._api import MemberKind
from .._converter import unstructure
from .._models import Car, Customer, Group, Location, Product, ProductType, Service, User, UserData

__all__ = [
    "HistorySource",
    "MemberKind",
    "OdometerReading",
    "Position",
    "SandboxState",
    "nearest",
]

T = TypeVar("T", Car, Product, Service, Group, User)

MAX_PRODUCTS_PER_CAR: Final = 2


@attrs.frozen(slots=True)
class Position:
    """One recorded GPS fix of a car's flinkey IQ."""

    date: datetime
    latitude: float
    longitude: float


@attrs.frozen(slots=True)
class OdometerReading:
    """One recorded odometer value (km) of a car's flinkey IQ."""

    date: datetime
    odometer: float


@attrs.define(slots=True)
class _History:
    positions: list[Position] = attrs.Factory(list)
    odometer: list[OdometerReading] = attrs.Factory(list)


class HistorySource(Protocol):
    """Where the recorded history of a car comes from until the state holds it itself.

    The generator makes histories lazily (a fleet of thousands of cars starts fast, a car
    nobody asks about costs nothing) and in parts: the latest location, or the one at a date,
    without the whole history. ``latest`` and ``nearest`` must give what :func:`nearest` gives
    on ``full``'s lists.
    """

    def full(self, car_id: int) -> tuple[list[Position], list[OdometerReading]]:
        """Every recorded fix and odometer reading of the car, oldest first."""
        ...

    def latest(self, car_id: int) -> tuple[Position | None, OdometerReading | None]:
        """The last fix and the last reading (None without recordings)."""
        ...

    def nearest(self, car_id: int, at: datetime) -> tuple[Position | None, OdometerReading | None]:
        """The fix and the reading nearest to ``at``, each on its own."""
        ...


class _Table(Generic[T]):
    """The rows of one entity kind, their owners and their cached JSON form."""

    __slots__ = ("by_customer", "kind", "next_id", "owner", "rows", "wire")

    def __init__(self, kind: str, first_id: int) -> None:
        self.kind = kind
        self.next_id = first_id
        self.rows: dict[int, T] = {}
        self.owner: dict[int, int] = {}
        self.wire: dict[int, dict[str, Any]] = {}
        # Ordered set of ids per customer; ids only grow, so insertion order is id order.
        self.by_customer: dict[int, dict[int, None]] = {}

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def put(self, customer_id: int, entity: T) -> T:
        self.rows[entity.id] = entity
        self.owner[entity.id] = customer_id
        self.wire[entity.id] = unstructure(entity)
        self.by_customer.setdefault(customer_id, {})[entity.id] = None
        return entity

    def get(self, customer_id: int, entity_id: int) -> T | None:
        if self.owner.get(entity_id) != customer_id:
            return None
        return self.rows[entity_id]

    def require(self, customer_id: int, entity_id: int) -> T:
        entity = self.get(customer_id, entity_id)
        if entity is None:
            raise LookupError(f"customer {customer_id} has no {self.kind} with id {entity_id}")
        return entity

    def remove(self, entity_id: int) -> None:
        customer_id = self.owner.pop(entity_id)
        del self.rows[entity_id]
        del self.wire[entity_id]
        del self.by_customer[customer_id][entity_id]

    def ids(self, customer_id: int) -> list[int]:
        return list(self.by_customer.get(customer_id, ()))

    def entities(self, customer_id: int) -> list[T]:
        rows = self.rows
        return [rows[i] for i in self.by_customer.get(customer_id, ())]

    def wire_list(self, customer_id: int) -> list[dict[str, Any]]:
        wire = self.wire
        return [wire[i] for i in self.by_customer.get(customer_id, ())]


class SandboxState:
    """Everything one sandbox serves, with the invariants the pages document.

    Read methods take ``customer_id`` first and return ``None`` (single entity) or an empty list
    when the id is not one of that customer's. Change methods raise ``LookupError`` for an unknown
    id and ``ValueError`` when the change would break a documented invariant.
    """

    def __init__(self, *, history_source: HistorySource | None = None) -> None:
        self._customers: dict[int, Customer] = {}
        self._customers_wire: list[dict[str, Any]] | None = None
        self._next_customer_id = 1001
        self._cars: _Table[Car] = _Table("car", 10_001)
        self._products: _Table[Product] = _Table("product", 50_001)
        self._services: _Table[Service] = _Table("service", 80_001)
        self._groups: _Table[Group] = _Table("group", 301)
        self._users: _Table[User] = _Table("user", 2_001)
        self._by_model: dict[type, _Table[Any]] = {
            Car: self._cars, Product: self._products, Service: self._services, User: self._users
        }  # fmt: skip
        self._car_products: dict[int, list[int]] = {}
        self._product_car: dict[int, int] = {}
        self._product_service: dict[int, int] = {}
        self._service_product: dict[int, int] = {}
        self._members: dict[int, dict[MemberKind, dict[int, None]]] = {}
        # Histories the state holds itself: recorded or cleared through it, or asked for whole.
        self._histories: dict[int, _History] = {}
        self._history_source = history_source
        # The latest location's JSON form per car: what every `GET .../location` answers.
        self._latest_wire: dict[int, dict[str, Any]] = {}

    # -- customers -------------------------------------------------------------------------

    def add_customer(self, name: str) -> Customer:
        """A new customer; the sandbox's API Manager may act for every customer."""
        customer = Customer(id=self._next_customer_id, name=name)
        self._next_customer_id += 1
        self._customers[customer.id] = customer
        self._customers_wire = None
        return customer

    @property
    def customers(self) -> list[Customer]:
        """All customers, in id order."""
        return list(self._customers.values())

    def customers_wire(self) -> list[dict[str, Any]]:
        """The customers' JSON form (what ``GET /customers`` answers), made once."""
        if self._customers_wire is None:
            self._customers_wire = [unstructure(customer) for customer in self._customers.values()]
        return self._customers_wire

    @property
    def customer_ids(self) -> list[int]:
        return list(self._customers)

    def customer(self, customer_id: int) -> Customer | None:
        return self._customers.get(customer_id)

    def _require_customer(self, customer_id: int) -> None:
        if customer_id not in self._customers:
            raise LookupError(f"there is no customer with id {customer_id}")

    # -- cars ------------------------------------------------------------------------------

    def cars(self, customer_id: int) -> list[Car]:
        return self._cars.entities(customer_id)

    def car(self, customer_id: int, car_id: int) -> Car | None:
        return self._cars.get(customer_id, car_id)

    def add_car(
        self,
        customer_id: int,
        name: str,
        *,
        description: str | None = None,
        vin: str | None = None,
        license_plate: str | None = None,
        brand: str | None = None,
        model: str | None = None,
    ) -> Car:
        """A new car without products (as ``PUT /cars`` creates it)."""
        self._require_customer(customer_id)
        car = Car(
            id=self._cars.new_id(),
            name=name,
            description=description,
            vin=vin,
            license_plate=license_plate,
            brand=brand,
            model=model,
        )
        return self._cars.put(customer_id, car)

    def update_car(self, customer_id: int, car_id: int, **changes: str | None) -> Car:
        """Change a car's fields (snake_case names: ``license_plate=...``)."""
        car = self._cars.require(customer_id, car_id)
        if "id" in changes:
            raise ValueError("a car's id cannot change")
        fields: dict[str, Any] = changes
        return self._cars.put(customer_id, attrs.evolve(car, **fields))

    def delete_car(self, customer_id: int, car_id: int) -> None:
        """Remove a car: its products stay (unassigned), its group memberships and history go."""
        self._cars.require(customer_id, car_id)
        for product_id in self._car_products.pop(car_id, []):
            del self._product_car[product_id]
        self._forget_member("cars", car_id)
        self._histories.pop(car_id, None)
        self._latest_wire.pop(car_id, None)
        self._cars.remove(car_id)

    # -- products --------------------------------------------------------------------------

    def products(self, customer_id: int) -> list[Product]:
        return self._products.entities(customer_id)

    def product(self, customer_id: int, product_id: int) -> Product | None:
        return self._products.get(customer_id, product_id)

    def add_product(
        self,
        customer_id: int,
        type: ProductType,
        *,
        unique_id: str,
        serial_number: str,
        sap_number: str,
        dongle_termination_time_stamp: datetime | None = None,
        car_id: int | None = None,
    ) -> Product:
        """A new product of the customer, optionally mounted in one of the customer's cars."""
        self._require_customer(customer_id)
        if car_id is not None:
            self._check_car_can_take(customer_id, car_id, type)
        product = Product(
            id=self._products.new_id(),
            unique_id=unique_id,
            serial_number=serial_number,
            sap_number=sap_number,
            type=type,
            dongle_termination_time_stamp=dongle_termination_time_stamp,
        )
        self._products.put(customer_id, product)
        if car_id is not None:
            self._mount(car_id, product.id)
        return product

    def _check_car_can_take(self, customer_id: int, car_id: int, kind: ProductType) -> None:
        self._cars.require(customer_id, car_id)
        mounted = self._car_products.get(car_id, [])
        if len(mounted) >= MAX_PRODUCTS_PER_CAR:
            raise ValueError(f"car {car_id} already has {MAX_PRODUCTS_PER_CAR} products")
        if any(self._products.rows[p].type is kind for p in mounted):
            raise ValueError(f"car {car_id} already has a {kind.value}")

    def _mount(self, car_id: int, product_id: int) -> None:
        self._car_products.setdefault(car_id, []).append(product_id)
        self._product_car[product_id] = car_id

    def assign_product(self, customer_id: int, product_id: int, car_id: int) -> None:
        """Mount a product in a car (moving it out of the car it was in)."""
        product = self._products.require(customer_id, product_id)
        if self._product_car.get(product_id) == car_id:
            return
        self._check_car_can_take(customer_id, car_id, product.type)
        self.unassign_product(customer_id, product_id)
        self._mount(car_id, product_id)

    def unassign_product(self, customer_id: int, product_id: int) -> None:
        """Take a product out of its car (no-op when it is in none)."""
        self._products.require(customer_id, product_id)
        car_id = self._product_car.pop(product_id, None)
        if car_id is not None:
            mounted = self._car_products[car_id]
            mounted.remove(product_id)
            if not mounted:
                del self._car_products[car_id]

    def update_product(self, customer_id: int, product_id: int, **changes: Any) -> Product:
        product = self._products.require(customer_id, product_id)
        if "type" in changes and changes["type"] is not product.type:
            car_id = self._product_car.get(product_id)
            if car_id is not None:
                raise ValueError("unassign the product before changing its type")
        return self._products.put(customer_id, attrs.evolve(product, **changes))

    def delete_product(self, customer_id: int, product_id: int) -> None:
        self.unassign_product(customer_id, product_id)
        service_id = self._product_service.pop(product_id, None)
        if service_id is not None:
            del self._service_product[service_id]
        self._forget_member("products", product_id)
        self._products.remove(product_id)

    def products_of_car(self, customer_id: int, car_id: int) -> list[Product]:
        if self._cars.get(customer_id, car_id) is None:
            return []
        rows = self._products.rows
        return sorted((rows[p] for p in self._car_products.get(car_id, ())), key=_by_id)

    def car_of_product(self, customer_id: int, product_id: int) -> Car | None:
        if self._products.get(customer_id, product_id) is None:
            return None
        car_id = self._product_car.get(product_id)
        return None if car_id is None else self._cars.rows[car_id]

    # -- services --------------------------------------------------------------------------

    def services(self, customer_id: int) -> list[Service]:
        return self._services.entities(customer_id)

    def service(self, customer_id: int, service_id: int) -> Service | None:
        return self._services.get(customer_id, service_id)

    def add_service(
        self,
        customer_id: int,
        name: str,
        *,
        is_terminated: bool = False,
        termination_date: datetime | None = None,
        termination_cause: str | None = None,
        product_id: int | None = None,
    ) -> Service:
        """A new service contract, optionally bound to one of the customer's products."""
        self._require_customer(customer_id)
        if product_id is not None:
            self._products.require(customer_id, product_id)
            if product_id in self._product_service:
                raise ValueError(f"product {product_id} already has a service")
        service = Service(
            id=self._services.new_id(),
            name=name,
            is_terminated=is_terminated,
            termination_date=termination_date,
            termination_cause=termination_cause,
        )
        self._services.put(customer_id, service)
        if product_id is not None:
            self._product_service[product_id] = service.id
            self._service_product[service.id] = product_id
        return service

    def update_service(self, customer_id: int, service_id: int, **changes: Any) -> Service:
        """Change a service: ``is_terminated=True, termination_date=..., termination_cause=...``."""
        service = self._services.require(customer_id, service_id)
        return self._services.put(customer_id, attrs.evolve(service, **changes))

    def delete_service(self, customer_id: int, service_id: int) -> None:
        self._services.require(customer_id, service_id)
        product_id = self._service_product.pop(service_id, None)
        if product_id is not None:
            del self._product_service[product_id]
        self._forget_member("services", service_id)
        self._services.remove(service_id)

    def service_of_product(self, customer_id: int, product_id: int) -> Service | None:
        if self._products.get(customer_id, product_id) is None:
            return None
        service_id = self._product_service.get(product_id)
        return None if service_id is None else self._services.rows[service_id]

    # -- users -----------------------------------------------------------------------------

    def users(self, customer_id: int) -> list[User]:
        return self._users.entities(customer_id)

    def user(self, customer_id: int, user_id: int) -> User | None:
        return self._users.get(customer_id, user_id)

    def add_user(
        self,
        customer_id: int,
        email_address: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> User:
        self._require_customer(customer_id)
        user = User(
            id=self._users.new_id(),
            email_address=email_address,
            user_data=UserData(first_name=first_name, last_name=last_name),
        )
        return self._users.put(customer_id, user)

    def delete_user(self, customer_id: int, user_id: int) -> None:
        self._users.require(customer_id, user_id)
        self._forget_member("users", user_id)
        self._users.remove(user_id)

    # -- groups ----------------------------------------------------------------------------

    def groups(self, customer_id: int) -> list[Group]:
        return self._groups.entities(customer_id)

    def group(self, customer_id: int, group_id: int) -> Group | None:
        return self._groups.get(customer_id, group_id)

    def group_named(self, customer_id: int, name: str) -> Group | None:
        """The customer's group with this name; names compare case-insensitively."""
        wanted = name.casefold()
        for group in self._groups.entities(customer_id):
            if group.name.casefold() == wanted:
                return group
        return None

    def add_group(self, customer_id: int, name: str) -> Group:
        self._require_customer(customer_id)
        if self.group_named(customer_id, name) is not None:
            raise ValueError(f"customer {customer_id} already has a group named {name!r}")
        group = Group(id=self._groups.new_id(), name=name)
        self._members[group.id] = {kind: {} for kind in _api.GROUP_MEMBERS}
        return self._groups.put(customer_id, group)

    def rename_group(self, customer_id: int, group_id: int, name: str) -> Group:
        group = self._groups.require(customer_id, group_id)
        other = self.group_named(customer_id, name)
        if other is not None and other.id != group_id:
            raise ValueError(f"customer {customer_id} already has a group named {name!r}")
        return self._groups.put(customer_id, attrs.evolve(group, name=name))

    def delete_group(self, customer_id: int, group_id: int, *, force: bool = False) -> None:
        """Remove a group; without ``force`` only an empty one (as the API requires)."""
        self._groups.require(customer_id, group_id)
        if not force and self.group_has_members(customer_id, group_id):
            raise ValueError(f"group {group_id} still has members")
        del self._members[group_id]
        self._groups.remove(group_id)

    def group_has_members(self, customer_id: int, group_id: int) -> bool:
        self._groups.require(customer_id, group_id)
        return any(self._members[group_id].values())

    def member_ids(self, customer_id: int, group_id: int, kind: MemberKind) -> list[int]:
        """The ids of a group's members of one kind, in id order (empty for an unknown group)."""
        if self._groups.get(customer_id, group_id) is None:
            return []
        return sorted(self._members[group_id][kind])

    def members(self, customer_id: int, group_id: int, kind: MemberKind) -> list[Any]:
        """A group's members of one kind as models (``Car``, ``User``, ``Service``, ``Product``)."""
        rows = self._table(kind).rows
        return [rows[i] for i in self.member_ids(customer_id, group_id, kind)]

    def members_wire(
        self, customer_id: int, group_id: int, kind: MemberKind
    ) -> list[dict[str, Any]]:
        wire = self._table(kind).wire
        return [wire[i] for i in self.member_ids(customer_id, group_id, kind)]

    def is_member(self, group_id: int, kind: MemberKind, member_id: int) -> bool:
        members = self._members.get(group_id)
        return members is not None and member_id in members[kind]

    def add_member(self, customer_id: int, group_id: int, kind: MemberKind, member_id: int) -> None:
        """Put one of the customer's entities into one of the customer's groups."""
        self._groups.require(customer_id, group_id)
        self._table(kind).require(customer_id, member_id)
        members = self._members[group_id][kind]
        if member_id in members:
            raise ValueError(f"{kind[:-1]} {member_id} is already in group {group_id}")
        members[member_id] = None

    def remove_member(
        self, customer_id: int, group_id: int, kind: MemberKind, member_id: int
    ) -> None:
        self._groups.require(customer_id, group_id)
        members = self._members[group_id][kind]
        if member_id not in members:
            raise LookupError(f"{kind[:-1]} {member_id} is not in group {group_id}")
        del members[member_id]

    def _forget_member(self, kind: MemberKind, member_id: int) -> None:
        for members in self._members.values():
            members[kind].pop(member_id, None)

    def member(self, customer_id: int, kind: MemberKind, member_id: int) -> Any:
        """The customer's entity that would be a member of this kind (None if there is none)."""
        return self._table(kind).get(customer_id, member_id)

    def _table(self, kind: MemberKind) -> _Table[Any]:
        """The entities a kind's members are, found by the kind's model."""
        return self._by_model[_api.GROUP_MEMBERS[kind].model]

    # -- location history ------------------------------------------------------------------

    def _history(self, car_id: int) -> _History:
        """The car's whole history, taken over from the source on first use."""
        history = self._histories.get(car_id)
        if history is None:
            history = _History()
            if self._history_source is not None:
                positions, odometer = self._history_source.full(car_id)
                history.positions.extend(sorted(positions, key=_by_date))
                history.odometer.extend(sorted(odometer, key=_by_date))
            self._histories[car_id] = history
        return history

    def _changed_history(self, car_id: int) -> _History:
        self._latest_wire.pop(car_id, None)
        return self._history(car_id)

    @property
    def history_source(self) -> HistorySource | None:
        """Where histories the state does not hold itself come from (the generator's)."""
        return self._history_source

    def positions(self, customer_id: int, car_id: int) -> list[Position]:
        """The car's recorded GPS fixes, oldest first."""
        self._cars.require(customer_id, car_id)
        return list(self._history(car_id).positions)

    def odometer_readings(self, customer_id: int, car_id: int) -> list[OdometerReading]:
        """The car's recorded odometer values, oldest first."""
        self._cars.require(customer_id, car_id)
        return list(self._history(car_id).odometer)

    def record_position(
        self, customer_id: int, car_id: int, date: datetime, latitude: float, longitude: float
    ) -> None:
        self._cars.require(customer_id, car_id)
        _insort(self._changed_history(car_id).positions, Position(date, latitude, longitude))

    def record_odometer(
        self, customer_id: int, car_id: int, date: datetime, odometer: float
    ) -> None:
        self._cars.require(customer_id, car_id)
        _insort(self._changed_history(car_id).odometer, OdometerReading(date, odometer))

    def clear_history(self, customer_id: int, car_id: int) -> None:
        self._cars.require(customer_id, car_id)
        self._histories[car_id] = _History()
        self._latest_wire.pop(car_id, None)

    def location(self, customer_id: int, car_id: int, at: datetime | None = None) -> Location:
        """The car's location: the latest recorded values, or the ones nearest to ``at``.

        Position and odometer are looked up separately, as the page describes: ``date`` is the
        fix nearest to ``at`` and ``odometerDate`` the odometer reading nearest to it. A car
        without recordings has a location whose fields are all null.
        """
        self._cars.require(customer_id, car_id)
        history = self._histories.get(car_id)
        position: Position | None
        reading: OdometerReading | None
        if history is not None:
            position, reading = nearest(history.positions, at), nearest(history.odometer, at)
        elif self._history_source is None:
            position = reading = None
        elif at is None:
            position, reading = self._history_source.latest(car_id)
        else:
            position, reading = self._history_source.nearest(car_id, at)
        return Location(
            latitude=None if position is None else position.latitude,
            longitude=None if position is None else position.longitude,
            date=None if position is None else position.date,
            odometer_date=None if reading is None else reading.date,
            odometer=None if reading is None else reading.odometer,
        )

    # -- wire views (for the handlers) -----------------------------------------------------

    def cars_wire(self, customer_id: int) -> list[dict[str, Any]]:
        return self._cars.wire_list(customer_id)

    def car_wire(self, customer_id: int, car_id: int) -> dict[str, Any] | None:
        return self._cars.wire[car_id] if self._cars.owner.get(car_id) == customer_id else None

    def products_wire(self, customer_id: int) -> list[dict[str, Any]]:
        return self._products.wire_list(customer_id)

    def product_wire(self, customer_id: int, product_id: int) -> dict[str, Any] | None:
        products = self._products
        return products.wire[product_id] if products.owner.get(product_id) == customer_id else None

    def groups_wire(self, customer_id: int) -> list[dict[str, Any]]:
        return self._groups.wire_list(customer_id)

    def wire(self, kind: MemberKind, entity_id: int) -> dict[str, Any]:
        return self._table(kind).wire[entity_id]

    def location_wire(
        self, customer_id: int, car_id: int, at: datetime | None = None
    ) -> dict[str, Any]:
        """:meth:`location` in its JSON form; the latest one is made once per car and kept."""
        if at is not None:
            dated: dict[str, Any] = unstructure(self.location(customer_id, car_id, at))
            return dated
        self._cars.require(customer_id, car_id)
        row = self._latest_wire.get(car_id)
        if row is None:
            row = self._latest_wire[car_id] = unstructure(self.location(customer_id, car_id))
        return row

    def has_products(self, car_id: int) -> bool:
        return bool(self._car_products.get(car_id))

    def product_ids_of_car(self, car_id: int) -> list[int]:
        return sorted(self._car_products.get(car_id, ()))

    # -- ground truth for tests ------------------------------------------------------------

    def snapshot(self, customer_id: int) -> dict[str, Any]:
        """The customer's data as JSON-shaped copies: what a complete, correct sync would hold.

        ``{"cars": [...], "products": [...], "services": [...], "users": [...],
        "groups": [{"id", "name", "cars": [ids], "users": [...], ...}],
        "carProducts": {carId: [productIds]}, "productServices": {productId: serviceId}}``
        """
        groups = []
        for group in self._groups.entities(customer_id):
            entry: dict[str, Any] = {"id": group.id, "name": group.name}
            for kind in self._members[group.id]:
                entry[kind] = self.member_ids(customer_id, group.id, kind)
            groups.append(entry)
        car_ids = self._cars.ids(customer_id)
        product_ids = self._products.ids(customer_id)
        return {
            "cars": [dict(row) for row in self._cars.wire_list(customer_id)],
            "products": [dict(row) for row in self._products.wire_list(customer_id)],
            "services": [dict(row) for row in self._services.wire_list(customer_id)],
            "users": [_deep_copy(row) for row in self._users.wire_list(customer_id)],
            "groups": groups,
            "carProducts": {
                car_id: self.product_ids_of_car(car_id)
                for car_id in car_ids
                if self.has_products(car_id)
            },
            "productServices": {
                product_id: self._product_service[product_id]
                for product_id in product_ids
                if product_id in self._product_service
            },
        }

    def counts(self, customer_id: int) -> dict[str, int]:
        """How many entities of each kind the customer has."""
        return {
            "cars": len(self._cars.by_customer.get(customer_id, ())),
            "products": len(self._products.by_customer.get(customer_id, ())),
            "services": len(self._services.by_customer.get(customer_id, ())),
            "users": len(self._users.by_customer.get(customer_id, ())),
            "groups": len(self._groups.by_customer.get(customer_id, ())),
        }

    def __repr__(self) -> str:
        return (
            f"<SandboxState customers={len(self._customers)} cars={len(self._cars.rows)} "
            f"products={len(self._products.rows)} groups={len(self._groups.rows)}>"
        )


def _by_id(entity: Product) -> int:
    return entity.id


def _by_date(entry: Position | OdometerReading) -> datetime:
    return entry.date


def _insort(entries: list[Any], entry: Position | OdometerReading) -> None:
    bisect.insort(entries, entry, key=_by_date)


def nearest(entries: list[Any], at: datetime | None) -> Any:
    """The entry whose date is nearest to ``at`` (the latest when ``at`` is None).

    On a tie (``at`` exactly between two recordings) the earlier one wins.
    """
    if not entries:
        return None
    if at is None:
        return entries[-1]
    index = bisect.bisect_left(entries, at, key=_by_date)
    if index == 0:
        return entries[0]
    if index == len(entries):
        return entries[-1]
    before, after = entries[index - 1], entries[index]
    return after if after.date - at < at - before.date else before


def _deep_copy(row: dict[str, Any]) -> dict[str, Any]:
    return {key: dict(value) if isinstance(value, dict) else value for key, value in row.items()}
