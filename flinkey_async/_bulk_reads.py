"""``iterate`` and ``get_many`` for the resources that have a listing and a single-entity getter.

Cars and products both offer ``list(query)`` and ``get(id)``; these two bulk reads are built on
them the same way, so they live here once.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from . import _engine, _paging
from ._transport import Transport

if TYPE_CHECKING:
    from ._selected import Selected
    from .odata import Query, SelectQuery

__all__ = ["BulkReads"]

T = TypeVar("T")


class BulkReads(Generic[T]):
    """Auto-paging and concurrent get for a resource (a mixin: it needs ``list`` and ``get``)."""

    __slots__ = ()

    _t: Transport

    @overload
    async def list(
        self, query: SelectQuery, *, customer_id: int | None = None
    ) -> builtins.list[Selected[T]]: ...
    @overload
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[T]: ...
    async def list(
        self, query: Query | None = None, *, customer_id: int | None = None
    ) -> builtins.list[T] | builtins.list[Selected[T]]:
        raise NotImplementedError

    @overload
    async def get(
        self, entity_id: int, query: SelectQuery, *, customer_id: int | None = None
    ) -> Selected[T]: ...
    @overload
    async def get(
        self, entity_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> T: ...
    async def get(
        self, entity_id: int, query: Query | None = None, *, customer_id: int | None = None
    ) -> T | Selected[T]:
        raise NotImplementedError

    @overload
    def iterate(
        self,
        query: SelectQuery,
        *,
        page_size: int = _paging.DEFAULT_PAGE_SIZE,
        customer_id: int | None = None,
    ) -> AsyncGenerator[Selected[T], None]: ...
    @overload
    def iterate(
        self,
        query: Query | None = None,
        *,
        page_size: int = _paging.DEFAULT_PAGE_SIZE,
        customer_id: int | None = None,
    ) -> AsyncGenerator[T, None]: ...
    def iterate(
        self,
        query: Query | None = None,
        *,
        page_size: int = _paging.DEFAULT_PAGE_SIZE,
        customer_id: int | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Every entity of the listing, fetched ``page_size`` at a time over ``$top``/``$skip``.

        ``async for car in client.cars.iterate(page_size=500, query=q): ...`` holds one page
        in memory at a time and stops at the first short page.
        """

        async def fetch_page(page: Query) -> builtins.list[Any]:
            # The pages keep the query's class: a SelectQuery's rows come back Selected.
            return await self.list(page, customer_id=customer_id)

        return _paging.iterate(fetch_page, page_size=page_size, query=query)

    def get_many(
        self,
        ids: Iterable[int] | AsyncIterable[int],
        *,
        concurrency: int = _engine.DEFAULT_CONCURRENCY,
        rate: float | None = None,
        customer_id: int | None = None,
    ) -> AsyncGenerator[_engine.Outcome[int, T], None]:
        """Fetch many entities concurrently; yields an :class:`Outcome` per id as each completes.

        At most ``concurrency`` requests (capped at the client's ``connector_limit``) are in
        flight, at most ``rate`` calls per second if given (a call's retries are paced by the
        client's ``rate_limit``, not by ``rate``). A failed id is an outcome with ``error``.
        """

        async def fetch(entity_id: int) -> T:
            return await self.get(entity_id, customer_id=customer_id)

        return _engine.get_many(
            fetch,
            ids,
            concurrency=concurrency,
            rate=rate,
            connector_limit=self._t.connector_limit,
        )
