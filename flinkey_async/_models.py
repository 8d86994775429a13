"""The entities of the flinkey API v3, as frozen attrs values.

Attributes are snake_case; on the wire they are camelCase (``license_plate`` <-> ``licensePlate``),
see :func:`wire_name`. Fields the pages declare nullable are ``X | None``; the others are required.
Timestamps are timezone-aware ``datetime`` values; the location's numbers, which the service sends
as strings, are ``float``.

Like ``tuple`` and ``int``, the values take no weak references (``weakref_slot=False``): their
slots are then exactly their fields, which lets the decoder build them quickly (see
:mod:`flinkey_async._converter`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from functools import cache

import attrs

__all__ = [
    "Car",
    "CreatedId",
    "Customer",
    "Group",
    "Location",
    "Product",
    "ProductType",
    "Service",
    "Token",
    "User",
    "UserData",
    "wire_name",
]


@cache
def wire_name(attribute: str) -> str:
    """The JSON (camelCase) name of an attribute: ``license_plate`` -> ``licensePlate``."""
    head, *rest = attribute.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class ProductType(enum.StrEnum):
    """The two kinds of flinkey hardware."""

    BOX = "flinkey Box"
    """Keeps the car key and presses the key fob's buttons."""
    IQ = "flinkey IQ"
    """Car interface device that records telemetry (location, odometer)."""


@attrs.frozen(slots=True, weakref_slot=False)
class Car:
    """A car of the customer's fleet (``GET /cars``)."""

    id: int
    name: str
    description: str | None = None
    vin: str | None = None
    license_plate: str | None = None
    brand: str | None = None
    model: str | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class Product:
    """A flinkey Box or flinkey IQ (``GET /products``)."""

    id: int
    unique_id: str
    serial_number: str
    sap_number: str
    type: ProductType
    dongle_termination_time_stamp: datetime | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class Service:
    """A service contract (flinkey Go) of a product or group."""

    id: int
    name: str
    is_terminated: bool
    termination_date: datetime | None = None
    termination_cause: str | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class Group:
    """A named set of cars, users, services and products."""

    id: int
    name: str


@attrs.frozen(slots=True, weakref_slot=False)
class UserData:
    """A user's personal data."""

    first_name: str | None = None
    last_name: str | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class User:
    """A person with access to cars, as listed among a group's members."""

    id: int
    email_address: str
    user_data: UserData = UserData()


@attrs.frozen(slots=True, weakref_slot=False)
class Location:
    """A car's position and odometer reading, as recorded by its flinkey IQ."""

    latitude: float | None = None
    longitude: float | None = None
    date: datetime | None = None
    odometer_date: datetime | None = None
    odometer: float | None = None


@attrs.frozen(slots=True, weakref_slot=False)
class Customer:
    """A customer the API Manager may act for (``GET /customers``)."""

    id: int
    name: str


@attrs.frozen(slots=True, weakref_slot=False)
class CreatedId:
    """The body of a ``201 Created``: the new entity's id."""

    id: int


@attrs.frozen(slots=True, weakref_slot=False)
class Token:
    """The token endpoint's answer. ``access_token`` is kept out of ``repr``."""

    access_token: str = attrs.field(repr=False)
    expires_in: float
    token_type: str = "Bearer"
