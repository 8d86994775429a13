"""``client.cars``: the cars of a customer's fleet, their products and their location."""

from __future__ import annotations

import builtins
import enum
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Never, overload

from . import _api
from . import _messages as messages
from ._bulk_reads import BulkReads
from ._exceptions import FlinkeyError, OutcomeUnknownError, ValidationError
from ._models import Car, Location, Product
from ._selected import Selected, selected_list, selected_one
from ._transport import Transport
from ._validation import (
    check_car_name,
    check_id,
    check_optional_text,
    format_search_date,
)

if TYPE_CHECKING:
    from .odata import Query, SelectQuery

__all__ = ["PATCHABLE_CAR_FIELDS", "UNCHANGED", "CarsResource", "Unchanged"]

_log = logging.getLogger(__name__)

PATCHABLE_CAR_FIELDS: Final = {field.attribute: field.pointer for field in _api.CAR_FIELDS}
"""The attributes ``PATCH /cars/{carId}`` may change, and their JSON-Patch paths."""

_DELETED = frozenset({messages.CAR_NOT_ASSIGNED})


class Unchanged(enum.Enum):
    """The type of :data:`UNCHANGED`, the default of :meth:`CarsResource.update`'s fields."""

    UNCHANGED = "UNCHANGED"

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED
"""Leave the field as it is (``None`` removes it)."""


class CarsResource(BulkReads[Car]):
    """The eight car endpoints. The GET methods accept an OData ``query=``."""

    __slots__ = ("_car", "_location", "_location_at", "_products", "_t", "_url")

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._url = transport.url(*_api.CARS.path())
        self._car = transport.route(_api.CAR)
        self._products = transport.route(_api.PRODUCTS_OF_CAR)
        self._location = transport.route(_api.LOCATION)
        self._location_at = transport.route(_api.LOCATION_AT)

    def __repr__(self) -> str:
        return f"CarsResource({self._t!r})"

    @overload
    async def list(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, query: SelectQuery, *, customer_id: int | None = None
    ) -> builtins.list[Selected[Car]]: ...
    @overload
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Car]: ...
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Car] | builtins.list[Selected[Car]]:
        """``GET /cars``: the customer's cars (all of them, or what the query selects)."""
        t = self._t
        url = t.with_query(self._url, query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_list(t.decode_list(payload, _api.CARS.model, "GET", url), query)

    @overload
    async def get(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, car_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[Car]: ...
    @overload
    async def get(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Car: ...
    async def get(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Car | Selected[Car]:
        """``GET /cars/{carId}``."""
        t = self._t
        url = self._car.at(check_id("car_id", car_id), query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_one(t.decode(payload, _api.CAR.model, "GET", url), query)

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
        given = {
            "license_plate": license_plate,
            "vin": vin,
            "description": description,
            "brand": brand,
            "model": model,
        }
        body: dict[str, Any] = {"name": check_car_name(name)}
        for field in _api.CAR_FIELDS:
            if field.nullable:
                value = given[field.attribute]
                if check_optional_text(field.attribute, value) is not None:
                    body[field.wire] = value
        if settle and vin is None:
            raise ValidationError("settle", "a car is settled by its VIN: pass vin=, or no settle")
        t = self._t
        customer = t.customer(customer_id)
        before = None if vin is None or not settle else await self._with_vin(vin, customer)
        try:
            payload = await t.send(
                _api.CREATE_CAR.method, self._url, customer=customer, json=body, create=True
            )
        except OutcomeUnknownError as exc:
            if before is None or vin is None:
                raise
            return await self._settle(exc, name, vin, before, customer)
        return t.decode(payload, _api.CREATE_CAR.model, _api.CREATE_CAR.method, self._url).id

    async def _with_vin(self, vin: str, customer: str) -> builtins.list[Car]:
        from .odata import Query, fields  # loaded only for a create that is to be settled

        t = self._t
        url = t.with_query(self._url, Query().filter(fields(Car).vin == vin))
        payload = await t.fetch(url, customer)
        return t.decode_list(payload, _api.CARS.model, "GET", url)

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
        self,
        car_id: int,
        *,
        name: str | Unchanged = UNCHANGED,
        description: str | Unchanged | None = UNCHANGED,
        vin: str | Unchanged | None = UNCHANGED,
        license_plate: str | Unchanged | None = UNCHANGED,
        brand: str | Unchanged | None = UNCHANGED,
        model: str | Unchanged | None = UNCHANGED,
        customer_id: int | None = None,
        **unknown: Never,
    ) -> None:
        """``PATCH /cars/{carId}``: change some fields of a car.

        Each field given becomes one JSON-Patch operation: ``replace`` with a value, ``remove``
        for ``None``; the others stay as they are. The name cannot be removed or blanked. Any
        other keyword is refused with a :class:`~flinkey_async.ValidationError` naming it.
        """
        check_id("car_id", car_id)
        for field in unknown:
            allowed = ", ".join(PATCHABLE_CAR_FIELDS)
            raise ValidationError(field, f"a car update cannot change it (allowed: {allowed})")
        given: dict[str, str | Unchanged | None] = {
            "name": name,
            "description": description,
            "vin": vin,
            "license_plate": license_plate,
            "brand": brand,
            "model": model,
        }
        operations: builtins.list[dict[str, Any]] = []
        for patchable in _api.CAR_FIELDS:
            value = given[patchable.attribute]
            if value is UNCHANGED:
                continue
            if not patchable.nullable:
                if value is None:
                    raise ValidationError(patchable.attribute, "a car's name cannot be removed")
                check_car_name(value)
            if value is None:
                operations.append({"op": "remove", "path": patchable.pointer})
            else:
                check_optional_text(patchable.attribute, value)
                operations.append({"op": "replace", "path": patchable.pointer, "value": value})
        if not operations:
            raise ValidationError("changes", "nothing to update: pass at least one field")
        t = self._t
        await t.send(
            _api.UPDATE_CAR.method,
            t.route(_api.UPDATE_CAR).at(car_id),
            customer=t.customer(customer_id),
            json=operations,
        )

    async def delete(self, car_id: int, *, customer_id: int | None = None) -> None:
        """``DELETE /cars/{carId}``."""
        t = self._t
        url = t.route(_api.DELETE_CAR).at(check_id("car_id", car_id))
        await t.send(_api.DELETE_CAR.method, url, customer=t.customer(customer_id), settle=_DELETED)

    @overload
    async def products(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, car_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> builtins.list[Selected[Product]]: ...
    @overload
    async def products(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product]: ...
    async def products(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product] | builtins.list[Selected[Product]]:
        """``GET /cars/{carId}/products``: the (at most two) products installed in a car."""
        t = self._t
        url = self._products.at(check_id("car_id", car_id), query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_list(t.decode_list(payload, _api.PRODUCTS_OF_CAR.model, "GET", url), query)

    @overload
    async def location(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, car_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[Location]: ...
    @overload
    async def location(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Location: ...
    async def location(
        self, car_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Location | Selected[Location]:
        """``GET /cars/{carId}/location``: the last position recorded by the car's flinkey IQ."""
        t = self._t
        url = self._location.at(check_id("car_id", car_id), query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_one(t.decode(payload, _api.LOCATION.model, "GET", url), query)

    @overload
    async def location_at(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, car_id: int, when: datetime, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[Location]: ...
    @overload
    async def location_at(
        self,
        car_id: int,
        when: datetime,
        query: Query | None = None,
        *,
        customer_id: int | None = None,
    ) -> Location: ...
    async def location_at(
        self,
        car_id: int,
        when: datetime,
        query: Query | None = None,
        *,
        customer_id: int | None = None,
    ) -> Location | Selected[Location]:
        """``GET /cars/{carId}/location/{searchDate}``: the position recorded nearest to ``when``.

        ``when`` must be timezone-aware; it is sent in UTC as ``yyyy-MM-ddTHH:mm:ssZ``.
        """
        t = self._t
        car = check_id("car_id", car_id)
        url = self._location_at.of(car, format_search_date(when), query=query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_one(t.decode(payload, _api.LOCATION_AT.model, "GET", url), query)
