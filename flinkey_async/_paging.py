"""Auto-paging over ``$top``/``$skip``.

The flinkey list endpoints answer plain JSON arrays: no next link, no count. Paging is the
client's job: ask for ``$top=page_size`` at ``$skip=0, page_size, 2 * page_size, ...`` and stop at
the first page shorter than asked for. The caller's own query is kept (``$filter``, ``$select``,
``$orderby``); its ``$skip`` is where paging starts and its ``$top`` caps the total.

``$skip`` is only safe over a total order: the service promises no order of its own between two
requests, nor among rows that tie on the caller's ``$orderby`` keys, and over either a page can
repeat or miss rows. So ``id`` (unique) ends the order keys unless they already hold it:
no ``$orderby`` pages by ``id``, ``brand`` by ``brand,id``, and ``id desc`` stays as it is.

This module sits below the client: it takes a page-fetching coroutine function
(``lambda q: client.cars.list(q)``), not a client. The OData package is loaded on the first paged
listing, not by ``import flinkey_async``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._exceptions import ValidationError

if TYPE_CHECKING:
    from .odata import OrderKey, Query, SelectQuery

__all__ = ["DEFAULT_PAGE_SIZE", "iterate", "iterate_pages", "page_queries"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 500
"""Rows per request: large enough to keep the request count low, small enough to stream."""


def _check_page_size(page_size: int) -> None:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValidationError("page_size", f"must be an integer >= 1, got {page_size!r}")


def _orders_by(keys: Sequence[OrderKey], name: str) -> bool:
    """Whether one of ``keys`` is the property ``name`` itself (in either direction)."""
    from .odata import Property, Raw

    for key in keys:
        expr = key.expr
        if isinstance(expr, Property) and expr.name == name:
            return True
        if isinstance(expr, Raw) and expr.text.strip() == name:
            return True
    return False


def page_queries(
    query: Query | None = None, *, page_size: int = DEFAULT_PAGE_SIZE, order_by: str | None = "id"
) -> tuple[Query, int, int | None]:
    """The base query of a paged listing, its first offset and its total cap (``$top``).

    Each page replaces the returned query's ``$skip``/``$top``. ``order_by`` (a unique
    property's wire name) ends its order keys unless they already hold it, so that pages
    neither overlap nor leave gaps.
    """
    from .odata import Property, Query

    _check_page_size(page_size)
    base = query if query is not None else Query()
    start = base.skip_value or 0
    cap = base.top_value
    if order_by is not None and not _orders_by(base.order_keys, order_by):
        base = base.order_by(Property(order_by))
    return base, start, cap


# Each page's query keeps the class of ``query``: a SelectQuery's pages are SelectQueries, so
# ``client.cars.list`` answers them with Selected rows, and the first overload says so.
@overload
def iterate_pages(
    fetch_page: Callable[[SelectQuery], Awaitable[Sequence[T]]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    query: SelectQuery,
    order_by: str | None = "id",
) -> AsyncGenerator[list[T], None]: ...
@overload
def iterate_pages(
    fetch_page: Callable[[Query], Awaitable[Sequence[T]]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    query: Query | None = None,
    order_by: str | None = "id",
) -> AsyncGenerator[list[T], None]: ...
async def iterate_pages(
    fetch_page: Callable[[Any], Awaitable[Sequence[T]]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    query: Query | None = None,
    order_by: str | None = "id",
) -> AsyncGenerator[list[T], None]:
    """Yield the listing page by page (lists of at most ``page_size`` rows).

    Stops after a page shorter than requested (an empty page included), or when the query's own
    ``$top`` is reached. Only one page is held at a time.
    """
    base, offset, cap = page_queries(query, page_size=page_size, order_by=order_by)
    got = 0
    while cap is None or got < cap:
        want = page_size if cap is None else min(page_size, cap - got)
        page = list(await fetch_page(base.skip(offset + got).top(want)))
        if page:
            yield page
        if len(page) != want:
            # Shorter: the listing ended. Longer: the service ignored $top and sent it all.
            return
        got += want


# Each page's query keeps the class of ``query``: a SelectQuery's pages are SelectQueries, so
# ``client.cars.list`` answers them with Selected rows, and the first overload says so.
@overload
def iterate(
    fetch_page: Callable[[SelectQuery], Awaitable[Sequence[T]]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    query: SelectQuery,
    order_by: str | None = "id",
) -> AsyncGenerator[T, None]: ...
@overload
def iterate(
    fetch_page: Callable[[Query], Awaitable[Sequence[T]]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    query: Query | None = None,
    order_by: str | None = "id",
) -> AsyncGenerator[T, None]: ...
async def iterate(
    fetch_page: Callable[[Any], Awaitable[Sequence[T]]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    query: Query | None = None,
    order_by: str | None = "id",
) -> AsyncGenerator[T, None]:
    """Yield the listing's rows one by one, fetching a page at a time (see :func:`iterate_pages`).

    ``async for car in iterate(client.cars.list, page_size=500, query=q): ...``
    """
    pages = iterate_pages(fetch_page, page_size=page_size, query=query, order_by=order_by)
    try:
        async for page in pages:
            for row in page:
                yield row
    finally:
        await pages.aclose()
