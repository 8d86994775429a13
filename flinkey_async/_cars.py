"""``client.cars``: the cars of a customer's fleet, their products and their location."""

from __future__ import annotations

import builtins
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import _messages as messages
from ._bulk_reads import BulkReads
from ._exceptions import FlinkeyError, OutcomeUnknownError, ValidationError
from ._models import Car, CreatedId, Location, Product
from ._transport import Transport
from ._validation import (
    check_car_name,
    check_id,
    check_optional_text,
    format_search_date,
)

if TYPE_CHECKING:
    from .odata import Query

__all__ = ["PATCHABLE_CAR_FIELDS", "CarsResource"]

_log = logging.getLogger(__name__)

PATCHABLE_CAR_FIELDS: dict[str, str] = {
    "name": "/name",
    "description": "/description",
    "vin": "/vin",
    "license_plate": "/licensePlate",
    "brand": "/brand",
    "model": "/model",
}
"""The attributes ``PATCH /cars/{carId}`` may change, and their JSON-Patch paths."""

_DELETED = frozenset({messages.CAR_NOT_ASSIGNED})


class CarsResource(BulkReads[Car]):
    """The eight car endpoints. The GET methods accept an OData ``query=``."""

    __slots__ = ("_t", "_url")

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._url = transport.url("cars")

    def __repr__(self) -> str:
        return f"CarsResource({self._t!r})"

    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Car]:
        """``GET /cars``: the customer's cars (all of them, or what the query selects)."""
        t = self._t
        return await t.get_list(t.with_query(self._url, query), Car, t.customer(customer_id))

    async def get(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Car:
        """``GET /cars/{carId}``."""
        t = self._t
        url = t.with_query(t.url("cars", check_id("car_id", car_id)), query)
        return await t.get_one(url, Car, t.customer(customer_id))

    async def create(
        self,
        name: str,
        *,
        license_plate: str | None = None,
        vin: str | None = None,
        description: str | None = None,
        brand: str | None = None,
        model: str | None = None,
        customer_id: int | None = None,
        settle: bool = False,
    ) -> int:
        """``PUT /cars``: create a car and return its id.

        A create is never repeated once it may have reached the service (a repeat would make a
        second car). If the connection breaks after sending, or a gateway answers 408/502/504,
        the outcome is unknown and :class:`~flinkey_async.OutcomeUnknownError` is raised.

        ``settle=True`` (it needs a ``vin``) settles such an outcome: the cars with this VIN are
        listed before the request (one ``GET /cars?$filter=vin eq ...``) and again after the
        failure, and a single new car with this VIN and name is taken as the one created (its id
        is returned, with a warning in the log).
        """
        body: dict[str, Any] = {"name": check_car_name(name)}
        for field, wire, value in (
            ("license_plate", "licensePlate", license_plate),
            ("vin", "vin", vin),
            ("description", "description", description),
            ("brand", "brand", brand),
            ("model", "model", model),
        ):
            if check_optional_text(field, value) is not None:
                body[wire] = value
        if settle and vin is None:
            raise ValidationError("settle", "a car is settled by its VIN: pass vin=, or no settle")
        t = self._t
        customer = t.customer(customer_id)
        before = None if vin is None or not settle else await self._with_vin(vin, customer)
        try:
            payload = await t.send("PUT", self._url, customer=customer, json=body, create=True)
        except OutcomeUnknownError as exc:
            if before is None or vin is None:
                raise
            return await self._settle(exc, name, vin, before, customer)
        return t.decode(payload, CreatedId, "PUT", self._url).id

    async def _with_vin(self, vin: str, customer: str) -> builtins.list[Car]:
        from .odata import Query, fields  # loaded only for a create that is to be settled

        t = self._t
        url = t.with_query(self._url, Query().filter(fields(Car).vin == vin))
        return await t.get_list(url, Car, customer)

    async def _settle(
        self,
        unknown: OutcomeUnknownError,
        name: str,
        vin: str,
        before: builtins.list[Car],
        customer: str,
    ) -> int:
        try:
            after = await self._with_vin(vin, customer)
        except FlinkeyError as lookup:
            unknown.add_note(f"looking the car up by its VIN failed too: {lookup}")
            raise unknown from unknown.__cause__
        known = {car.id for car in before}
        new = [car for car in after if car.id not in known and (car.vin, car.name) == (vin, name)]
        if len(new) != 1:
            unknown.add_note(
                f"{len(new)} new cars with this VIN and name were found; the outcome stays unknown"
            )
            raise unknown from unknown.__cause__
        _log.warning(
            "PUT %s: outcome was unknown; settled by VIN: the car was created with id %d",
            self._url.path,
            new[0].id,
        )
        return new[0].id

    async def update(
        self, car_id: int, *, customer_id: int | None = None, **changes: str | None
    ) -> None:
        """``PATCH /cars/{carId}``: change some fields of a car.

        Each keyword (``name``, ``description``, ``vin``, ``license_plate``, ``brand``,
        ``model``) becomes one JSON-Patch operation: ``replace`` with a value, ``remove`` for
        ``None``. The name cannot be removed or blanked.
        """
        check_id("car_id", car_id)
        if not changes:
            raise ValidationError("changes", "nothing to update: pass at least one field")
        operations: builtins.list[dict[str, Any]] = []
        for field, value in changes.items():
            path = PATCHABLE_CAR_FIELDS.get(field)
            if path is None:
                allowed = ", ".join(PATCHABLE_CAR_FIELDS)
                raise ValidationError(field, f"a car update cannot change it (allowed: {allowed})")
            if field == "name":
                if value is None:
                    raise ValidationError("name", "a car's name cannot be removed")
                check_car_name(value)
            if value is None:
                operations.append({"op": "remove", "path": path})
            else:
                check_optional_text(field, value)
                operations.append({"op": "replace", "path": path, "value": value})
        t = self._t
        await t.send(
            "PATCH", t.url("cars", car_id), customer=t.customer(customer_id), json=operations
        )

    async def delete(self, car_id: int, *, customer_id: int | None = None) -> None:
        """``DELETE /cars/{carId}``."""
        t = self._t
        url = t.url("cars", check_id("car_id", car_id))
        await t.send("DELETE", url, customer=t.customer(customer_id), settle=_DELETED)

    async def products(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product]:
        """``GET /cars/{carId}/products``: the (at most two) products installed in a car."""
        t = self._t
        url = t.url("cars", check_id("car_id", car_id), "products")
        return await t.get_list(t.with_query(url, query), Product, t.customer(customer_id))

    async def location(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Location:
        """``GET /cars/{carId}/location``: the last position recorded by the car's flinkey IQ."""
        t = self._t
        url = t.url("cars", check_id("car_id", car_id), "location")
        return await t.get_one(t.with_query(url, query), Location, t.customer(customer_id))

    async def location_at(
        self,
        car_id: int,
        when: datetime,
        query: Query | None = None,
        *,
        customer_id: int | None = None,
    ) -> Location:
        """``GET /cars/{carId}/location/{searchDate}``: the position recorded nearest to ``when``.

        ``when`` must be timezone-aware; it is sent in UTC as ``yyyy-MM-ddTHH:mm:ssZ``.
        """
        t = self._t
        url = t.url("cars", check_id("car_id", car_id), "location", format_search_date(when))
        return await t.get_one(t.with_query(url, query), Location, t.customer(customer_id))
