"""The bearer token: obtained once, shared by every call, renewed before it expires.

The API Manager's token comes from ``POST {base}/oauth2/token`` (password grant; see the transport,
which sends it). There is no refresh token: renewing means asking again with the same credentials.

:class:`TokenManager` caches the token and renews it a safety margin before it expires, measured
on the monotonic clock (wall-clock jumps must not expire or extend a token). Any number of calls
that find no valid token share one renewal, and with it its outcome: exactly one token request is
made for all of them, and when it fails they all get its error (no caller starts a request of its
own behind it). A renewal that fails while the cached token has not yet expired keeps that token
in use and tries again a few seconds later, so a short outage of the token endpoint does not fail
calls that still hold a good token. :meth:`TokenManager.invalidate` drops the cached token only if
it is the one that failed: a stale 401 arriving after another call already renewed the token must
not throw the new one away. :meth:`TokenManager.close` cancels a renewal in progress and waits for
it: nothing the client started outlives it, and callers still waiting get
:class:`~flinkey_async.ClientClosedError`.

:class:`StaticToken` is for callers who already hold a token; it cannot be renewed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from ._exceptions import AuthenticationError, ClientClosedError, ValidationError
from ._models import Token
from ._validation import check_no_controls

__all__ = ["DEFAULT_REFRESH_MARGIN", "StaticToken", "TokenManager", "TokenSource"]

_log = logging.getLogger(__name__)

DEFAULT_REFRESH_MARGIN = 60.0
"""Seconds before expiry at which a token is renewed."""

RENEWAL_RETRY_DELAY = 5.0
"""Seconds to keep using a still valid token after its renewal failed, before trying again."""


class TokenSource(Protocol):
    """Where the transport gets the bearer token from."""

    @property
    def renewable(self) -> bool:
        """Whether a rejected token can be replaced by a new one."""
        ...

    def current(self) -> str | None:
        """The cached token if it is still good, without waiting (the hot path); else None."""
        ...

    async def get(self) -> str:
        """A token to send: the cached one while it is good, else a new one."""
        ...

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` if it is the cached one; True if it was."""
        ...

    async def close(self) -> None:
        """End what is running (a renewal) and forget the token; later calls are refused."""
        ...


class TokenManager:
    """Caches the API Manager's token and renews it before it expires.

    ``fetch`` performs one token request. ``refresh_margin`` is how long before expiry the token is
    renewed; it is capped at half the token's lifetime, so that a short-lived token is not
    considered expired the moment it arrives.
    """

    __slots__ = (
        "_clock",
        "_closed",
        "_expires_at",
        "_fetch",
        "_margin",
        "_renew_at",
        "_renewal",
        "_token",
        "_url",
    )

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        token_url: str = "",
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_margin < 0:
            raise ValidationError("token_refresh_margin", "must not be negative")
        self._fetch = fetch
        self._url = token_url
        self._margin = float(refresh_margin)
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._renewal: asyncio.Task[str] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"TokenManager(token_url={self._url!r}, has_valid_token={self.has_valid_token})"

    @property
    def renewable(self) -> bool:
        return True

    @property
    def has_valid_token(self) -> bool:
        """Whether a cached token is there and not yet due for renewal."""
        return self._token is not None and self._clock() < self._renew_at

    @property
    def expires_in(self) -> float | None:
        """Seconds until the cached token expires (None without a token)."""
        if self._token is None:
            return None
        return self._expires_at - self._clock()

    def current(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < self._renew_at:
            return token
        return None

    async def get(self) -> str:
        token = self._token
        if token is not None and self._clock() < self._renew_at:
            return token
        if self._closed:
            raise ClientClosedError("the FlinkeyClient is closed")
        renewal = self._renewal
        if renewal is None:
            renewal = self._renewal = asyncio.ensure_future(self._renew())
            # Its failure is read here even when every caller stopped waiting: no "Task
            # exception was never retrieved" later.
            renewal.add_done_callback(_retrieve)
        # A caller that is cancelled stops waiting; the renewal goes on for the others. Unlike
        # shield(), wait() does not turn the renewal's end by close() into a CancelledError of
        # callers that were not cancelled.
        await asyncio.wait((renewal,))
        if renewal.cancelled():
            raise ClientClosedError("the FlinkeyClient was closed while waiting for a token")
        return renewal.result()

    async def _renew(self) -> str:
        """The one token request of all callers that are waiting now."""
        try:
            # Count the lifetime from before the request: the token may be older than it looks.
            started = self._clock()
            try:
                fresh = await self._fetch()
            except Exception as exc:
                now = self._clock()
                if self._token is None or now >= self._expires_at:
                    raise
                self._renew_at = min(now + RENEWAL_RETRY_DELAY, self._expires_at)
                _log.warning(
                    "token renewal failed (%s); the current token stays in use for %.0f s more",
                    type(exc).__name__,
                    self._expires_at - now,
                )
                return self._token
            if not fresh.access_token:
                raise AuthenticationError(
                    401,
                    "the token endpoint answered without an access token",
                    method="POST",
                    path=_path_of(self._url),
                )
            lifetime = max(0.0, fresh.expires_in)
            margin = min(self._margin, lifetime / 2)
            self._token = fresh.access_token
            self._expires_at = started + lifetime
            self._renew_at = started + lifetime - margin
            _log.debug(
                "new token, valid for %.0f s, renewed %.0f s before expiry", lifetime, margin
            )
            return fresh.access_token
        finally:
            self._renewal = None

    def invalidate(self, token: str) -> bool:
        if self._token is not None and self._token == token:
            self._token = None
            _log.debug("cached token was rejected; it will be renewed")
            return True
        return False

    async def close(self) -> None:
        """Cancel a renewal in progress and wait until it has ended; forget the token."""
        self._closed = True
        self._token = None
        renewal = self._renewal
        if renewal is not None:
            renewal.cancel()
            await asyncio.wait((renewal,))


class StaticToken:
    """A token the caller obtained elsewhere. It is used as is and cannot be renewed."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValidationError("token", "must be a non-empty str")
        self._token = check_no_controls("token", token)

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    @property
    def renewable(self) -> bool:
        return False

    def current(self) -> str | None:
        return self._token

    async def get(self) -> str:
        return self._token

    def invalidate(self, token: str) -> bool:
        return False

    async def close(self) -> None:
        return None


def _retrieve(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()


def _path_of(url: str) -> str:
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    slash = url.find("/", scheme_end + 3)
    return url[slash:] if slash >= 0 else "/"
