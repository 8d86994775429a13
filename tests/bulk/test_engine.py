"""The bounded runner and the rate limiter: limits hold, results stream, nothing outlives a run."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing

import pytest

from flinkey_async import ValidationError, _rate
from flinkey_async._engine import BoundedRunner, Outcome, RateLimiter, get_many

from .conftest import wait_until


class Gauge:
    """Counts calls in flight and remembers the peak."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.cancelled = 0
        self.finished = 0

    async def work(self, item: int, delay: float = 0.001) -> int:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(delay * (1 + item % 3))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.now -= 1
        self.finished += 1
        return item * 10


def other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_at_most_concurrency_calls_in_flight_and_every_item_done() -> None:
    gauge = Gauge()
    runner = BoundedRunner(5)
    async with aclosing(runner.run(gauge.work, range(60))) as outcomes:
        results = [o async for o in outcomes]
    assert gauge.peak == 5
    assert sorted(o.unwrap() for o in results) == [i * 10 for i in range(60)]
    assert runner.started == 60
    assert runner._slots._value == 5  # every slot given back


async def test_connector_limit_clips_concurrency() -> None:
    runner = BoundedRunner(500, connector_limit=100)
    assert runner.concurrency == 100
    assert runner.requested_concurrency == 500
    assert BoundedRunner(8, connector_limit=100).concurrency == 8
    assert BoundedRunner(8, connector_limit=0).concurrency == 8  # aiohttp: 0 = unlimited
    gauge = Gauge()
    small = BoundedRunner(50, connector_limit=3)
    async with aclosing(small.run(gauge.work, range(20))) as outcomes:
        async for _ in outcomes:
            pass
    assert gauge.peak == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_concurrency_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(ValidationError, match="concurrency") as caught:
        BoundedRunner(bad)  # type: ignore[arg-type]
    assert caught.value.field == "concurrency"


async def test_results_come_in_completion_order() -> None:
    async def slow_first(item: int) -> int:
        await asyncio.sleep(0.05 if item == 0 else 0.001)
        return item

    runner = BoundedRunner(4)
    async with aclosing(runner.run(slow_first, [0, 1, 2, 3])) as outcomes:
        order = [o.value async for o in outcomes]
    assert order[-1] == 0
    assert sorted(order) == [0, 1, 2, 3]  # type: ignore[type-var]


async def test_a_failing_item_is_an_outcome_and_the_others_go_on() -> None:
    async def fail_on_three(item: int) -> int:
        await asyncio.sleep(0)
        if item == 3:
            raise LookupError("no three")
        return item

    runner = BoundedRunner(2)
    async with aclosing(runner.run(fail_on_three, range(6))) as outcomes:
        results = {o.item: o async for o in outcomes}
    assert not results[3].ok
    assert isinstance(results[3].error, LookupError)
    with pytest.raises(LookupError):
        results[3].unwrap()
    assert [results[i].value for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
    assert runner.failed == 1


async def test_items_are_drawn_lazily() -> None:
    drawn = 0

    def endless() -> Iterator[int]:
        nonlocal drawn
        while True:
            drawn += 1
            yield drawn

    gauge = Gauge()
    runner = BoundedRunner(4)
    got = 0
    async with aclosing(runner.run(gauge.work, endless())) as outcomes:
        async for _ in outcomes:
            got += 1
            if got == 10:
                break
    # No task per item up front: only what the limit lets through was taken from the input.
    assert drawn <= 10 + 4 + 1
    assert gauge.now == 0
    assert not other_tasks()


async def test_async_iterable_input() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(7):
            await asyncio.sleep(0)
            yield i

    runner = BoundedRunner(3)
    async with aclosing(runner.run(Gauge().work, numbers())) as outcomes:
        values = sorted([o.unwrap() async for o in outcomes])
    assert values == [i * 10 for i in range(7)]


async def test_leaving_early_cancels_the_calls_in_flight() -> None:
    gauge = Gauge()
    runner = BoundedRunner(6)
    async with aclosing(runner.run(lambda i: gauge.work(i, 0.2), range(100))) as outcomes:
        async for _ in outcomes:
            break
    # Whatever had not finished when the loop was left was cancelled, and waited for.
    assert gauge.cancelled >= 1
    assert gauge.cancelled + gauge.finished == runner.started
    assert gauge.now == 0
    assert not other_tasks()
    assert runner._slots._value == 6


async def test_cancelling_the_consumer_cancels_everything() -> None:
    gauge = Gauge()
    runner = BoundedRunner(8)
    started = asyncio.Event()

    async def consume() -> None:
        async with aclosing(runner.run(lambda i: gauge.work(i, 10), range(1000))) as outcomes:
            started.set()
            async for _ in outcomes:
                pass

    task = asyncio.create_task(consume())
    await started.wait()
    for _ in range(1000):  # let the runner start its calls
        if gauge.now == 8:
            break
        await asyncio.sleep(0)
    assert gauge.now == 8
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gauge.cancelled == 8
    assert gauge.now == 0
    assert not other_tasks()


async def test_the_callers_cancellation_propagates_and_is_never_an_outcome() -> None:
    gauge = Gauge()
    runner = BoundedRunner(4)
    seen: list[Outcome[int, int]] = []

    async def consume() -> None:
        async with aclosing(runner.run(lambda i: gauge.work(i, 10), range(100))) as outcomes:
            async for outcome in outcomes:
                seen.append(outcome)

    task = asyncio.create_task(consume())
    await wait_until(lambda: gauge.now == 4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gauge.cancelled == 4
    # A cancelled call is not a failed item: nothing counted, nothing handed out.
    assert runner.failed == 0
    assert seen == []
    assert runner._slots._value == 4
    assert not other_tasks()

    # A single call: the caller's cancellation reaches it and comes back out as itself.
    single = asyncio.create_task(runner.call(gauge.work, 1, 10))
    await wait_until(lambda: gauge.now == 1)
    single.cancel()
    with pytest.raises(asyncio.CancelledError):
        await single
    assert runner.failed == 0
    assert runner._slots._value == 4


async def test_an_input_that_fails_ends_the_run_with_its_error() -> None:
    def broken() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("input broke")

    gauge = Gauge()
    runner = BoundedRunner(2)

    async def consume() -> None:
        async with aclosing(runner.run(lambda i: gauge.work(i, 0.05), broken())) as outcomes:
            async for _ in outcomes:
                pass

    with pytest.raises(RuntimeError, match="input broke"):
        await consume()
    assert gauge.now == 0
    assert not other_tasks()


async def test_an_input_that_waits_for_the_same_runner_does_not_deadlock() -> None:
    # The sync's listing pages go through the runner that also runs the per-item requests.
    runner = BoundedRunner(1)

    async def page(n: int) -> list[int]:
        await asyncio.sleep(0)
        return [n * 10 + i for i in range(3)]

    async def items() -> AsyncIterator[int]:
        for n in range(3):
            for item in await runner.call(page, n):
                yield item

    async with asyncio.timeout(5), aclosing(runner.run(Gauge().work, items())) as outcomes:
        results = [o async for o in outcomes]
    assert len(results) == 9


async def test_call_shares_the_runner_limits() -> None:
    gauge = Gauge()
    runner = BoundedRunner(3)
    await asyncio.gather(*(runner.call(gauge.work, i) for i in range(12)))
    assert gauge.peak == 3
    with pytest.raises(ZeroDivisionError):
        await runner.call(lambda: asyncio.sleep(0, 1 / 0))
    assert runner._slots._value == 3


async def test_get_many_yields_an_outcome_per_id() -> None:
    async def fetch(car_id: int) -> str:
        await asyncio.sleep(0)
        if car_id == 13:
            raise KeyError(car_id)
        return f"car {car_id}"

    async with aclosing(get_many(fetch, range(10, 16), concurrency=2)) as outcomes:
        results = {o.item: o async for o in outcomes}
    assert set(results) == set(range(10, 16))
    assert results[12] == Outcome(12, value="car 12")
    assert isinstance(results[13].error, KeyError)


async def test_rate_limiter_spaces_calls_from_the_first_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fake clock: the limiter's schedule is checked exactly, without timing the machine.
    clock = [100.0]
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(round(delay, 9))

    monkeypatch.setattr(_rate.time, "monotonic", lambda: clock[0])  # type: ignore[attr-defined]
    monkeypatch.setattr(_rate.asyncio, "sleep", fake_sleep)  # type: ignore[attr-defined]
    limiter = RateLimiter(4)
    for _ in range(5):
        await limiter.acquire()
    # Nothing saved up at the start: the first goes at once, then one every 1/4 s.
    assert slept == [0.25, 0.5, 0.75, 1.0]
    # An idle limiter does not bank credit for a burst later either.
    clock[0] += 60
    slept.clear()
    for _ in range(3):
        await limiter.acquire()
    assert slept == [0.25, 0.5]


@pytest.mark.parametrize("bad", [0, -2.0, float("nan")])
def test_rate_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(bad)


async def test_runner_with_rate_admits_through_the_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[int] = []
    original = RateLimiter.acquire

    async def counting(self: RateLimiter) -> None:
        waits.append(1)
        await original(self)

    monkeypatch.setattr(RateLimiter, "acquire", counting)
    runner = BoundedRunner(4, rate=10_000)
    assert runner.rate == 10_000
    async with aclosing(runner.run(Gauge().work, range(9))) as outcomes:
        assert len([o async for o in outcomes]) == 9
    assert len(waits) == 9


async def test_a_call_inside_the_loop_of_a_run_on_the_same_runner_completes() -> None:
    # A run's slots are held by running calls only, so the consumer's own call gets one.
    gauge = Gauge()
    runner = BoundedRunner(2)
    got = []
    async with asyncio.timeout(10), aclosing(runner.run(gauge.work, range(10))) as outcomes:
        async for outcome in outcomes:
            got.append(await runner.call(gauge.work, outcome.unwrap()))
    assert sorted(got) == sorted(i * 100 for i in range(10))
    assert gauge.peak <= 2  # the run and the calls share the limit
    assert runner.started == 20
    assert runner._slots._value == 2


async def test_a_nested_get_many_on_the_same_runner_completes() -> None:
    gauge = Gauge()
    runner = BoundedRunner(3)
    pairs = []
    async with asyncio.timeout(10), aclosing(runner.run(gauge.work, range(6))) as outer:
        async for group in outer:
            inner = get_many(gauge.work, range(4), runner=runner)
            async with aclosing(inner) as members:
                pairs += [(group.unwrap(), member.unwrap()) async for member in members]
    assert len(pairs) == 6 * 4
    assert gauge.peak <= 3
    assert runner._slots._value == 3
    assert not other_tasks()


async def test_a_slow_consumer_bounds_the_finished_outcomes_of_its_run() -> None:
    calls = 0

    async def quick(item: int) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return item

    runner = BoundedRunner(3)
    async with aclosing(runner.run(quick, itertools.count())) as outcomes:
        await anext(outcomes)
        for _ in range(200):  # the consumer dawdles: let the run go as far as it can
            await asyncio.sleep(0)
        # One outcome taken, at most `concurrency` finished ones waiting: no pile-up.
        assert calls <= 1 + 3
    assert runner._slots._value == 3


async def test_finished_outcomes_waiting_for_the_consumer_hold_no_slot() -> None:
    gauge = Gauge()
    runner = BoundedRunner(2)
    async with aclosing(runner.run(gauge.work, range(2))) as outcomes:
        first = await anext(outcomes)
        await wait_until(lambda: gauge.finished == 2)  # the second outcome waits to be taken
        await wait_until(lambda: runner._slots._value == 2)
        second = await anext(outcomes)
    assert sorted([first.unwrap(), second.unwrap()]) == [0, 10]
