"""``client.products``: the flinkey Box and flinkey IQ devices of a customer."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, overload

from . import _api
from ._bulk_reads import BulkReads
from ._models import Car, Product, Service
from ._selected import Selected, selected_list, selected_one
from ._transport import Transport
from ._validation import check_id

if TYPE_CHECKING:
    from .odata import Query, SelectQuery

__all__ = ["ProductsResource"]


class ProductsResource(BulkReads[Product]):
    """The four product endpoints. Every method accepts an OData ``query=``."""

    __slots__ = ("_car", "_product", "_service", "_t", "_url")

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._url = transport.url(*_api.PRODUCTS.path())
        self._product = transport.route(_api.PRODUCT)
        self._service = transport.route(_api.SERVICE_OF_PRODUCT)
        self._car = transport.route(_api.CAR_OF_PRODUCT)

    def __repr__(self) -> str:
        return f"ProductsResource({self._t!r})"

    @overload
    async def list(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, query: SelectQuery, *, customer_id: int | None = None
    ) -> builtins.list[Selected[Product]]: ...
    @overload
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product]: ...
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[Product] | builtins.list[Selected[Product]]:
        """``GET /products``: every product of the customer."""
        t = self._t
        url = t.with_query(self._url, query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_list(t.decode_list(payload, _api.PRODUCTS.model, "GET", url), query)

    @overload
    async def get(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, product_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[Product]: ...
    @overload
    async def get(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Product: ...
    async def get(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Product | Selected[Product]:
        """``GET /products/{productId}``."""
        t = self._t
        url = self._product.at(check_id("product_id", product_id), query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_one(t.decode(payload, _api.PRODUCT.model, "GET", url), query)

    @overload
    async def service(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, product_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[Service]: ...
    @overload
    async def service(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Service: ...
    async def service(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Service | Selected[Service]:
        """``GET /products/{productId}/services``: the service contract of a product."""
        t = self._t
        url = self._service.at(check_id("product_id", product_id), query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_one(t.decode(payload, _api.SERVICE_OF_PRODUCT.model, "GET", url), query)

    @overload
    async def car(  # type: ignore[overload-overlap]  # SelectQuery is the narrower Query
        self, product_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[Car]: ...
    @overload
    async def car(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Car: ...
    async def car(
        self, product_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> Car | Selected[Car]:
        """``GET /products/{productId}/cars``: the car a product is installed in."""
        t = self._t
        url = self._car.at(check_id("product_id", product_id), query)
        payload = await t.fetch(url, t.customer(customer_id))
        return selected_one(t.decode(payload, _api.CAR_OF_PRODUCT.model, "GET", url), query)
