"""Per-step duration logging: `StepTimer`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog

from cbas_async.clock import Clock

log = structlog.get_logger(__name__)


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
