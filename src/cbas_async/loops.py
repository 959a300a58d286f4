"""Waiting on the injected clock while staying responsive to shutdown: the one
`sleep_or_stop`, `unless_stopped` for waits that are safe to abandon, and `every`, the loop
of each periodic component ("until stopping: try once, log a failure, wait")."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog

from cbas_async.clock import Clock

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def sleep_or_stop(
    clock: Clock, seconds: float, stopping: asyncio.Event, *, wake: asyncio.Event | None = None
) -> bool:
    """Sleep `seconds` on `clock`, returning early when `stopping` (or `wake`) is set;
    returns whether `stopping` is set."""
    events = [stopping] if wake is None else [stopping, wake]
    if any(event.is_set() for event in events):
        return stopping.is_set()
    async with asyncio.TaskGroup() as group:
        waiters: list[asyncio.Task[Any]] = [group.create_task(clock.sleep(seconds))]
        waiters += [group.create_task(event.wait()) for event in events]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
    return stopping.is_set()


async def unless_stopped(work: Coroutine[Any, Any, T], stopping: asyncio.Event) -> T | None:
    """Run `work`, cancelling it if `stopping` is set first (then return None).

    For waits that are safe to abandon, such as an SQS long poll: a message received but
    not deleted comes back after its visibility timeout.
    """
    async with asyncio.TaskGroup() as group:
        task = group.create_task(work)
        stopper = group.create_task(stopping.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            return None
    return task.result()


async def every(
    interval_s: float,
    once: Callable[[], Awaitable[object]],
    *,
    stopping: asyncio.Event,
    clock: Clock,
    log_event: str | None,
    wake: asyncio.Event | None = None,
    wait_first: bool = False,
    **context: Any,
) -> None:
    """Await `once()` every `interval_s` on `clock` until `stopping` is set.

    An exception of `once` is logged as `log_event` (with its traceback and `context`) and
    the loop goes on; with `log_event=None` it propagates, for a `once` that handles its own
    failures. `wake` (cleared before each call) cuts a wait short; `wait_first` waits one
    interval before the first call.
    """
    if wait_first and await sleep_or_stop(clock, interval_s, stopping, wake=wake):
        return
    while not stopping.is_set():
        if wake is not None:  # before the call: a wake-up during it is not lost
            wake.clear()
        await _attempt(once, log_event, context)
        if await sleep_or_stop(clock, interval_s, stopping, wake=wake):
            return


async def _attempt(
    once: Callable[[], Awaitable[object]], log_event: str | None, context: dict[str, Any]
) -> None:
    if log_event is None:
        await once()
        return
    try:
        await once()
    except Exception:
        log.exception(log_event, **context)
