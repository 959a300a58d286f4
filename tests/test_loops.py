"""`sleep_or_stop` and `every`, the periodic loop of the components, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from cbas_async.loops import every, sleep_or_stop
from tests.fakes import FakeClock


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (in real time, with a deadline) until `check` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


async def until_asleep(clock: FakeClock) -> None:
    await until(lambda: clock.sleepers > 0)


class Counter:
    """A `once` that counts its calls and fails on the ones listed."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.calls = 0
        self._failing = failing

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls in self._failing:
            raise RuntimeError(f"call {self.calls} failed")


async def test_sleep_or_stop_returns_early_when_stopped() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        sleeping = tg.create_task(sleep_or_stop(clock, 100, stop))
        await until_asleep(clock)
        stop.set()
    assert sleeping.result() is True
    async with asyncio.TaskGroup() as tg:
        sleeping = tg.create_task(sleep_or_stop(clock, 1, asyncio.Event()))
        await until_asleep(clock)
        await clock.advance(1)
    assert sleeping.result() is False


async def test_a_wake_up_ends_the_sleep_without_stopping() -> None:
    clock, wake = FakeClock(), asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        sleeping = tg.create_task(sleep_or_stop(clock, 100, asyncio.Event(), wake=wake))
        await until_asleep(clock)
        wake.set()
    assert sleeping.result() is False
    assert clock.monotonic() == 0.0


async def test_every_logs_a_failure_and_goes_on_at_its_interval() -> None:
    clock, stopping, once = FakeClock(), asyncio.Event(), Counter(failing=frozenset({1}))
    with capture_logs() as logs:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(
                every(10, once, stopping=stopping, clock=clock, log_event="thing_failed", part="x")
            )
            await until_asleep(clock)
            assert once.calls == 1
            await clock.advance(9)
            assert once.calls == 1
            await clock.advance(1)
            assert once.calls == 2
            stopping.set()
    failed = [entry for entry in logs if entry["event"] == "thing_failed"]
    assert len(failed) == 1
    assert failed[0]["part"] == "x"
    assert failed[0]["log_level"] == "error"
    assert failed[0]["exc_info"] is True


async def test_without_a_log_event_a_failure_propagates() -> None:
    clock = FakeClock()
    with pytest.raises(RuntimeError, match="call 1 failed"):
        await every(
            10,
            Counter(failing=frozenset({1})),
            stopping=asyncio.Event(),
            clock=clock,
            log_event=None,
        )


async def test_wait_first_waits_one_interval_before_the_first_call() -> None:
    clock, stopping, once = FakeClock(), asyncio.Event(), Counter()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(
            every(5, once, stopping=stopping, clock=clock, log_event=None, wait_first=True)
        )
        await until_asleep(clock)
        assert once.calls == 0
        await clock.advance(5)
        assert once.calls == 1
        stopping.set()
    assert once.calls == 1


async def test_a_wake_up_runs_the_next_call_early_and_is_cleared() -> None:
    clock, stopping, wake, once = FakeClock(), asyncio.Event(), asyncio.Event(), Counter()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(every(60, once, stopping=stopping, clock=clock, log_event="x", wake=wake))
        await until_asleep(clock)
        wake.set()
        await until(lambda: once.calls == 2)
        await until_asleep(clock)
        assert not wake.is_set()
        stopping.set()
    assert once.calls == 2
    assert clock.monotonic() == 0.0


async def test_a_stopped_loop_calls_nothing() -> None:
    stopping, once = asyncio.Event(), Counter()
    stopping.set()
    await every(1, once, stopping=stopping, clock=FakeClock(), log_event="x")
    assert once.calls == 0
