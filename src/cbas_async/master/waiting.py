"""Sleeping on the injected clock while staying responsive to shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from cbas_async.clock import Clock

T = TypeVar("T")


async def sleep_or_stop(stopping: asyncio.Event, clock: Clock, seconds: float) -> None:
    """Sleep `seconds` on `clock`, returning early when `stopping` is set."""
    if stopping.is_set():
        return
    async with asyncio.TaskGroup() as group:
        sleeper = group.create_task(clock.sleep(seconds))
        stopper = group.create_task(stopping.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        stopper.cancel()


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
