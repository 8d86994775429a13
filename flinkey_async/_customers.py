"""``client.customers``: the customers the API Manager may act for."""

from __future__ import annotations

import builtins

from . import _api
from ._models import Customer
from ._transport import Transport

__all__ = ["CustomersResource"]


class CustomersResource:
    """One API Manager can serve several customers; this lists them."""

    __slots__ = ("_t", "_url")

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self._url = transport.url(*_api.CUSTOMERS.path())

    def __repr__(self) -> str:
        return f"CustomersResource({self._t!r})"

    async def list(self) -> builtins.list[Customer]:
        """``GET /customers`` (not customer-scoped: no ``Customer-ID`` header is sent)."""
        payload = await self._t.fetch(self._url, None)
        return self._t.decode_list(payload, _api.CUSTOMERS.model, "GET", self._url)
