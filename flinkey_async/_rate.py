"""Pacing: at most ``rate`` events per second, evenly spaced, starting without a burst.

Used by the bulk runner (calls per second) and by the transport (HTTP requests per second, every
attempt counted). It depends on nothing but asyncio (and the package's errors).
"""

from __future__ import annotations

import asyncio
import time

from ._exceptions import ValidationError

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``rate`` acquisitions per second, evenly spaced, starting without a burst.

    Each :meth:`acquire` reserves the next free slot on a grid of ``1 / rate`` seconds and sleeps
    until it. The first caller goes at once, the second ``1 / rate`` later, and so on; a limiter
    left idle does not save up credit for a later burst.
    """

    __slots__ = ("_interval", "_next", "rate")

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValidationError(
                "rate", f"must be a positive number of calls per second, got {rate!r}"
            )
        self.rate = float(rate)
        self._interval = 1.0 / self.rate
        self._next = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate:g})"

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        delay = slot - now
        if delay > 0:
            await asyncio.sleep(delay)
