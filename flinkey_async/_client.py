"""The client object: configuration, lifetime, and the four resources."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp
from yarl import URL

from ._auth import DEFAULT_REFRESH_MARGIN
from ._cars import CarsResource
from ._config import DEFAULT_TIMEOUT, PRODUCTION_URL, ClientConfig, RetryPolicy
from ._customers import CustomersResource
from ._exceptions import ValidationError
from ._groups import GroupsResource
from ._products import ProductsResource
from ._transport import ClientStats, Transport
from ._validation import check_id

if TYPE_CHECKING:
    from ._fleet import FleetResource
    from .odata import Query

__all__ = ["FlinkeyClient"]


class FlinkeyClient:
    """An asyncio client for the flinkey API v3.

    ::

        async with FlinkeyClient(
            api_key="...", username="...", password="...", customer_id=42
        ) as client:
            cars = await client.cars.list()

    Authentication: the API Manager's ``username`` and ``password`` (a token is requested on the
    first call and renewed before it expires), or ``token=`` for a caller who already holds one.

    ``base_url``: :data:`PRODUCTION_URL` (default), :data:`TEST_URL`, or any URL (a sandbox).
    ``customer_id`` is sent as ``Customer-ID``; every method takes ``customer_id=`` to override
    it, so one client can serve all the customers of an API Manager.

    ``session``: an ``aiohttp.ClientSession`` to borrow. It is never closed and never modified by
    the client. Without one the client creates its own (with a connection pool of
    ``connector_limit``) and closes it on exit.

    ``timeout`` applies to each request; ``retry`` says when failures are repeated (see
    :class:`RetryPolicy`); ``token_refresh_margin`` is how many seconds before expiry the token
    is renewed. ``rate_limit`` caps the HTTP requests this client sends per second, every attempt
    counted (retries, token requests and replays too), evenly spaced from the first one.
    """

    __slots__ = ("_fleet", "_transport", "cars", "customers", "groups", "products")

    def __init__(
        self,
        *,
        api_key: str,
        username: str | None = None,
        password: str | None = None,
        customer_id: int | None = None,
        base_url: str | URL = PRODUCTION_URL,
        session: aiohttp.ClientSession | None = None,
        token: str | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        connector_limit: int = 100,
        token_refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        rate_limit: float | None = None,
    ) -> None:
        config = ClientConfig(
            api_key=api_key,
            base_url=base_url,
            username=username,
            password=password,
            token=token,
            customer_id=customer_id,
            timeout=timeout,
            retry=retry,
            connector_limit=connector_limit,
            token_refresh_margin=token_refresh_margin,
            rate_limit=rate_limit,
        )
        self._transport = Transport(config, session=session)
        self.cars = CarsResource(self._transport)
        """Cars, their products and location (8 endpoints)."""
        self.products = ProductsResource(self._transport)
        """flinkey Box and flinkey IQ devices (4 endpoints)."""
        self.groups = GroupsResource(self._transport)
        """Groups and their members (16 endpoints)."""
        self.customers = CustomersResource(self._transport)
        """The customers this API Manager may act for."""
        self._fleet: FleetResource | None = None

    def __repr__(self) -> str:
        t = self._transport
        return f"FlinkeyClient(base_url={str(t.base_url)!r}, customer_id={t.customer_id!r})"

    async def __aenter__(self) -> Self:
        await self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client's own session (a borrowed one stays open). Idempotent."""
        await self._transport.close()

    @property
    def closed(self) -> bool:
        return self._transport.closed

    @property
    def config(self) -> ClientConfig:
        """The settings the client was made with (secrets are left out of its repr)."""
        return self._transport.config

    @property
    def base_url(self) -> URL:
        """The API root every path is appended to (ends in ``/v3`` for the real service)."""
        return self._transport.base_url

    @property
    def customer_id(self) -> int | None:
        """The default ``Customer-ID``."""
        return self._transport.customer_id

    @property
    def rate_limit(self) -> float | None:
        """The cap on HTTP requests per second, or None."""
        return self._transport.rate_limit

    @property
    def connector_limit(self) -> int:
        """Connections the session opens at most (for a borrowed session, also no more than its
        own pool); bulk work is bound to it."""
        return self._transport.connector_limit

    @property
    def fleet(self) -> FleetResource:
        """Bulk reads over the whole fleet (see docs/bulk.md), bound to ``connector_limit``."""
        if self._fleet is None:
            # Imported on first use: the bulk helpers (and OData) are not needed for plain calls.
            from ._fleet import FleetResource

            self._fleet = FleetResource(
                self.cars, self.products, self.groups, connector_limit=self.connector_limit
            )
        return self._fleet

    @property
    def stats(self) -> ClientStats:
        """Live counters: requests, retries, token requests, token replays, unknown outcomes."""
        return self._transport.stats

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use (None before the first request of a client that owns its own)."""
        return self._transport.session

    async def get_json(
        self,
        *segments: str | int,
        query: Query | None = None,
        customer_id: int | None = None,
        scoped: bool = True,
    ) -> Any:
        """``GET {base}/segment/...`` through the same request path, returning the decoded JSON.

        For answers the typed methods cannot express, for example a ``$select`` that leaves out
        fields a model requires: ``await client.get_json("cars", query=q)``. ``scoped=False``
        sends no ``Customer-ID``.
        """
        t = self._transport
        parts: list[str] = []
        for segment in segments:
            if isinstance(segment, int):
                parts.append(str(check_id("segment", segment)))
            elif isinstance(segment, str) and segment not in ("", ".", "..") and "/" not in segment:
                parts.append(segment)
            else:
                raise ValidationError("segments", f"not a single path segment: {segment!r}")
        url = t.with_query(t.url(*parts), query)
        payload = await t.send("GET", url, customer=t.customer(customer_id) if scoped else None)
        return t.decode_json(payload, "GET", url)
