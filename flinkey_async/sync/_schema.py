"""The local store's tables, and how the API's models become rows.

Every table is keyed by ``customer_id`` plus the entity's id (or, for a link table, the pair of
ids), so that several customers share one store without collisions. Every row also records
its history:

- ``first_seen_run``: the run that inserted it;
- ``last_seen_run``: the last run that saw it upstream; for cars and products, only their own
  listing or a ``GET`` by id counts (``0``: so far only seen in a group's or a car's list);
- ``updated_in_run``: the last run that changed its data (or brought it back after a deletion);
- ``deleted_in_run``: the run that noticed it gone upstream, ``NULL`` while it exists.

Link tables (``car_products``, ``group_cars``...) and ``locations`` belong to a parent (the car,
the product or the group): each fetch of a parent's members replaces that parent's set.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import attrs

from .. import _api
from .._api import MemberKind
from .._converter import format_datetime
from .._models import Car, Customer, Group, Location, Product, Service, User

__all__ = [
    "ENTITY_TABLES",
    "HISTORY_COLUMNS",
    "LINK_TABLES",
    "MEMBER_TABLES",
    "RUN_COLUMNS",
    "TABLES",
    "Table",
    "car_row",
    "customer_row",
    "dependents",
    "group_row",
    "location_row",
    "product_row",
    "run_columns_ddl",
    "service_row",
    "user_row",
]

HISTORY_COLUMNS = ("first_seen_run", "last_seen_run", "updated_in_run", "deleted_in_run")

RUN_COLUMNS: dict[str, str] = {
    "id": "id",
    "started_at": "time",
    "finished_at": "time?",
    "status": "text",
    "source": "text?",
    "customers_json": "json?",
    "counts_json": "json?",
    "errors_json": "json?",
}
"""The columns of ``sync_runs``, one record per run, with a store-neutral kind (``id``: the
run's number, given by the store; ``?``: may be NULL). Each store maps the kinds to its types."""


def run_columns_ddl(types: dict[str, str]) -> list[str]:
    """The column definitions of ``sync_runs``, given a store's type for each kind."""
    return [
        f"{name} {types[kind.rstrip('?')]}"
        + ("" if kind.endswith("?") or kind == "id" else " NOT NULL")
        for name, kind in RUN_COLUMNS.items()
    ]


Value = str | int | float | None


@attrs.frozen(slots=True)
class Table:
    """One table of the store: its key columns, data columns, and parent column (if any)."""

    name: str
    key: tuple[str, ...]
    data: tuple[str, ...] = ()
    parent: str | None = None
    """For per-parent sets: the key column naming the parent (``car_id`` in ``car_products``)."""
    types: tuple[str, ...] = ()
    """SQLite column types of ``data``, in order."""

    @property
    def scoped(self) -> bool:
        """True for every table but ``customers``: rows carry a ``customer_id``."""
        return self.name != "customers"

    @property
    def columns(self) -> tuple[str, ...]:
        scope = ("customer_id",) if self.scoped else ()
        return (*scope, *self.key, *self.data, *HISTORY_COLUMNS)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return (("customer_id",) if self.scoped else ()) + self.key


def _entity(name: str, data: dict[str, str], key: tuple[str, ...] = ("id",)) -> Table:
    return Table(name, key, tuple(data), None, tuple(data.values()))


def _link(name: str, parent: str, child: str) -> Table:
    return Table(name, (parent, child), (), parent)


CUSTOMERS = _entity("customers", {"name": "TEXT"})
CARS = _entity(
    "cars",
    {
        "name": "TEXT",
        "description": "TEXT",
        "vin": "TEXT",
        "license_plate": "TEXT",
        "brand": "TEXT",
        "model": "TEXT",
    },
)
PRODUCTS = _entity(
    "products",
    {
        "unique_id": "TEXT",
        "serial_number": "TEXT",
        "sap_number": "TEXT",
        "type": "TEXT",
        "dongle_termination_time_stamp": "TEXT",
    },
)
SERVICES = _entity(
    "services",
    {
        "name": "TEXT",
        "is_terminated": "INTEGER",
        "termination_date": "TEXT",
        "termination_cause": "TEXT",
    },
)
GROUPS = _entity("groups", {"name": "TEXT"})
USERS = _entity("users", {"email_address": "TEXT", "first_name": "TEXT", "last_name": "TEXT"})
LOCATIONS = Table(
    "locations",
    ("car_id",),
    ("latitude", "longitude", "date", "odometer_date", "odometer"),
    "car_id",
    ("REAL", "REAL", "TEXT", "TEXT", "REAL"),
)
CAR_PRODUCTS = _link("car_products", "car_id", "product_id")
PRODUCT_SERVICES = _link("product_services", "product_id", "service_id")
MEMBER_TABLES: dict[MemberKind, Table] = {
    kind.segment: _link(f"group_{kind.segment}", "group_id", kind.argument)
    for kind in (_api.CAR_MEMBERS, _api.USER_MEMBERS, _api.SERVICE_MEMBERS, _api.PRODUCT_MEMBERS)
}
"""A group's members, one table per kind the walk reads (``group_cars``: ``group_id``,
``car_id``). The documented kinds, not the live table: a store's tables are its schema."""
GROUP_CARS, GROUP_USERS, GROUP_SERVICES, GROUP_PRODUCTS = MEMBER_TABLES.values()

ENTITY_TABLES: dict[str, Table] = {
    t.name: t for t in (CUSTOMERS, CARS, PRODUCTS, SERVICES, GROUPS, USERS)
}
LINK_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        LOCATIONS,
        CAR_PRODUCTS,
        PRODUCT_SERVICES,
        *MEMBER_TABLES.values(),
    )
}
TABLES: dict[str, Table] = {**ENTITY_TABLES, **LINK_TABLES}

CASCADES: dict[str, tuple[Table, ...]] = {
    "cars": (LOCATIONS, CAR_PRODUCTS),
    "products": (PRODUCT_SERVICES,),
    "groups": tuple(MEMBER_TABLES.values()),
}
"""When an entity is marked deleted, the sets it is the parent of go with it."""

MEMBERSHIPS: dict[str, tuple[tuple[Table, str], ...]] = {
    "cars": ((GROUP_CARS, "car_id"),),
    "products": ((CAR_PRODUCTS, "product_id"), (GROUP_PRODUCTS, "product_id")),
}
"""When a car or a product is marked deleted, its links in other sets go too (table, column):
a car that no longer exists is in no group, a product in no car and no group."""


def dependents(table: str) -> list[tuple[Table, str]]:
    """The sets that go when a ``table`` row is marked deleted, with the column naming it."""
    owned = [(t, t.parent) for t in CASCADES.get(table, ()) if t.parent is not None]
    return owned + list(MEMBERSHIPS.get(table, ()))


def _value(value: Any) -> Value:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot store a {type(value).__name__}")  # pragma: no cover - models only


def _when(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


# Row builders: one per model, written out (they run for every entity of every sync).


def car_row(car: Car) -> tuple[Value, ...]:
    return (car.id, car.name, car.description, car.vin, car.license_plate, car.brand, car.model)


def product_row(product: Product) -> tuple[Value, ...]:
    return (
        product.id,
        product.unique_id,
        product.serial_number,
        product.sap_number,
        _value(product.type),
        _when(product.dongle_termination_time_stamp),
    )


def service_row(service: Service) -> tuple[Value, ...]:
    return (
        service.id,
        service.name,
        int(service.is_terminated),
        _when(service.termination_date),
        service.termination_cause,
    )


def group_row(group: Group) -> tuple[Value, ...]:
    return (group.id, group.name)


def customer_row(customer: Customer) -> tuple[Value, ...]:
    return (customer.id, customer.name)


def user_row(user: User) -> tuple[Value, ...]:
    """A user: its nested ``user_data`` is flattened into ``first_name``/``last_name``."""
    return (user.id, user.email_address, user.user_data.first_name, user.user_data.last_name)


def location_row(car_id: int, location: Location) -> tuple[Value, ...]:
    return (
        car_id,
        location.latitude,
        location.longitude,
        _when(location.date),
        _when(location.odometer_date),
        location.odometer,
    )
