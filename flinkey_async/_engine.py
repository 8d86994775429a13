"""Bounded concurrency for bulk work: a runner that keeps at most N calls alive, and a rate limiter.

Every bulk helper (``get_many``, the fleet snapshot, the sync job) goes through one
:class:`BoundedRunner`, so that "how hard do we hit the API" is decided in one place:

- ``concurrency`` caps the calls in flight. It is clipped to the HTTP connection pool's size
  (``connector_limit``, aiohttp's default is 100): more concurrent calls than pooled connections
  would only queue inside aiohttp, hidden from the runner's accounting, so the runner's limit is
  made the one that binds.
- ``rate`` caps calls per second. The limiter spaces calls evenly from the first one on (no burst
  at start-up, unlike a token bucket that starts full). A call may send several HTTP requests
  (the client's retries, token requests): the client's own ``rate_limit`` paces those.

Results come back as they complete, as :class:`Outcome` values (a value or the exception), so
one failing item never sinks the others. Items are drawn lazily from the input (sync or async
iterable): a run over 100,000 ids keeps at most ``concurrency`` tasks and outcomes alive. A call
holds its slot only while it runs; a run's finished outcomes wait for the consumer in a buffer of
their own (at most ``concurrency`` per run), so the consumer may use the same runner between two
outcomes (``runner.call``, a nested ``get_many``) without waiting on itself.

Leaving a run early (``break``, an exception, cancellation) cancels every call still in flight
and waits for it to finish, so no task and no connection outlives the run. Use
``contextlib.aclosing`` around ``runner.run(...)`` when breaking out of the loop, so the clean-up
happens at once rather than when the generator is collected.

This module depends on nothing but asyncio: resources and the client may use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
)
from typing import Any, Generic, TypeVar

import attrs

from ._rate import RateLimiter
from ._validation import check_count

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BoundedRunner",
    "Outcome",
    "RateLimiter",
    "get_many",
]

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 16
"""A polite default: enough to hide latency, far below aiohttp's pool of 100."""


@attrs.frozen(slots=True)
class Outcome(Generic[K, R]):
    """The result of one item of a bulk run: its ``value``, or the ``error`` it raised."""

    item: K
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """True when the call returned (``value`` may still be ``None`` if it returned None)."""
        return self.error is None

    def unwrap(self) -> R:
        """The value, or raise the error the call raised."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class _Done:
    """The feeder's end-of-input marker (carries the input's error, if it failed)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class BoundedRunner:
    """Runs coroutine calls with at most ``concurrency`` alive at once and an optional rate limit.

    ``concurrency`` is clipped to ``connector_limit`` (pass the client's ``connector_limit``):
    a larger number would not make more requests in flight, only wait for a pooled connection.
    One runner may serve several runs and single :meth:`call`\\ s at the same time; they share
    its limits, which is how a fleet walk keeps "at most N requests in flight" for all its
    parts together.
    """

    def __init__(
        self,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: float | None = None,
        *,
        connector_limit: int | None = None,
    ) -> None:
        check_count("concurrency", concurrency)
        self.requested_concurrency = concurrency
        if connector_limit is not None and connector_limit > 0:
            # aiohttp uses 0 for "no limit"; anything else is the pool size the runner must obey.
            concurrency = min(concurrency, connector_limit)
        self.concurrency = concurrency
        self.connector_limit = connector_limit
        self.limiter = RateLimiter(rate) if rate is not None else None
        self._slots = asyncio.Semaphore(concurrency)
        self.started = 0
        """Calls started so far (all runs and single calls of this runner)."""
        self.failed = 0
        """Calls that raised an exception."""

    def __repr__(self) -> str:
        rate = f", rate={self.limiter.rate:g}" if self.limiter else ""
        return f"BoundedRunner(concurrency={self.concurrency}{rate})"

    @property
    def rate(self) -> float | None:
        return self.limiter.rate if self.limiter is not None else None

    async def _admit(self) -> None:
        """Take a slot, then the rate limiter's turn (a slot is released if the wait is cut)."""
        await self._slots.acquire()
        if self.limiter is not None:
            try:
                await self.limiter.acquire()
            except BaseException:
                self._slots.release()
                raise
        self.started += 1

    async def call(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """One call under the runner's limits; its exception propagates."""
        await self._admit()
        try:
            return await fn(*args, **kwargs)
        except Exception:
            self.failed += 1
            raise
        finally:
            self._slots.release()

    async def run(
        self,
        fn: Callable[[K], Awaitable[R]],
        items: Iterable[K] | AsyncIterable[K],
    ) -> AsyncGenerator[Outcome[K, R], None]:
        """``fn(item)`` for every item, yielded as :class:`Outcome`\\ s in completion order.

        Two limits apply. A call holds one of the runner's ``concurrency`` slots only while it
        runs, so a consumer that makes its own :meth:`call` (or a nested run) between two
        outcomes always gets a slot. And each run keeps at most ``concurrency`` of its calls
        running or finished-but-not-yet-taken: a slow consumer slows its run down instead of
        piling results up in memory. An exception raised by ``fn`` becomes the outcome's
        ``error``; an exception raised by ``items`` itself ends the run and propagates after the
        calls in flight were cancelled.
        """
        results: asyncio.Queue[Outcome[K, R] | _Done] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()
        # Outcomes this run may have in flight or waiting for the consumer: a place is taken
        # before a call starts and given back when its outcome is handed out.
        room = asyncio.Semaphore(self.concurrency)

        async def one(item: K) -> None:
            try:
                value = await fn(item)
            except Exception as exc:  # the item's failure is data; cancellation propagates
                self.failed += 1
                results.put_nowait(Outcome(item, error=exc))
            else:
                results.put_nowait(Outcome(item, value=value))

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            # Also runs for a task cancelled before it started, whose own code never ran.
            self._slots.release()
            if not task.cancelled() and task.exception() is not None:
                # A BaseException from fn (not Exception): stop the run with it.
                results.put_nowait(_Done(task.exception()))

        async def spawn(item: K) -> None:
            # The item is taken before the places, so that an input which itself waits for a
            # slot (a page fetched through this runner) cannot deadlock against its own run.
            await room.acquire()
            try:
                await self._admit()
            except BaseException:
                room.release()
                raise
            task = asyncio.create_task(one(item))
            tasks.add(task)
            task.add_done_callback(finished)

        async def feed() -> None:
            error: BaseException | None = None
            try:
                if isinstance(items, AsyncIterable):
                    async for item in items:
                        await spawn(item)
                else:
                    for item in items:
                        await spawn(item)
                # Wait for the calls, so that the end marker comes after their outcomes.
                while tasks:
                    await asyncio.wait(set(tasks))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # the input failed: report it to the consumer
                error = exc
            results.put_nowait(_Done(error))

        feeder = asyncio.create_task(feed())
        try:
            while True:
                got = await results.get()
                if isinstance(got, _Done):
                    if got.error is not None:
                        raise got.error
                    return
                room.release()
                yield got
        finally:
            feeder.cancel()
            for task in list(tasks):
                task.cancel()
            pending = [feeder, *tasks]
            # Wait for every task to finish its clean-up (closing responses) before leaving;
            # each gives its slot back as it ends.
            while pending:
                _, still = await asyncio.wait(pending)
                pending = list(still)


async def get_many(
    fetch: Callable[[K], Awaitable[R]],
    ids: Iterable[K] | AsyncIterable[K],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    connector_limit: int | None = None,
    runner: BoundedRunner | None = None,
) -> AsyncGenerator[Outcome[K, R], None]:
    """Fetch many entities concurrently, yielding an :class:`Outcome` per id as each completes.

    ``fetch`` is a single-entity getter such as ``client.cars.get``. A failed id (not found, or
    still failing after the client's retries) is an outcome with ``error`` set; the others
    continue. Pass ``runner`` to share limits with other work, else one is made from
    ``concurrency``, ``rate`` and ``connector_limit``.
    """
    if runner is None:
        runner = BoundedRunner(concurrency, rate, connector_limit=connector_limit)
    run = runner.run(fetch, ids)
    try:
        async for outcome in run:
            yield outcome
    finally:
        await run.aclose()
