"""Small timing helpers: interruptible sleeps and per-step duration logging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog

from cbas_async.clock import Clock

log = structlog.get_logger(__name__)


async def sleep_or_stop(clock: Clock, seconds: float, stopping: asyncio.Event) -> bool:
    """Sleep on `clock` unless `stopping` is set first; returns whether it is set."""
    if stopping.is_set():
        return True
    async with asyncio.TaskGroup() as tg:
        sleeper = tg.create_task(clock.sleep(seconds))
        waiter = tg.create_task(stopping.wait())
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        sleeper.cancel()
        waiter.cancel()
    return stopping.is_set()


class StepTimer:
    """Times the named steps of one procedure, logging one line per step with `duration_s`."""

    def __init__(self, clock: Clock, event: str, **context: Any) -> None:
        self._clock = clock
        self._event = event
        self._context = context
        self._started = clock.monotonic()
        self.durations: dict[str, float] = {}

    @property
    def elapsed_s(self) -> float:
        return self._clock.monotonic() - self._started

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        started = self._clock.monotonic()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        finally:
            duration_s = self._clock.monotonic() - started
            self.durations[name] = duration_s
            log.info(
                self._event,
                step=name,
                duration_s=round(duration_s, 3),
                outcome=outcome,
                **self._context,
            )
