"""Wake-up on submit: a job submitted through this master's API starts a supervisor pass at
once, so it is placed without waiting for the next tick."""

from __future__ import annotations

import asyncio

from cbas_async.events import Event, JobSubmitted


class SubmitWaker:
    """Sets the supervisor's `wake` event for every `JobSubmitted`."""

    kinds = (JobSubmitted,)  # the bus events it handles

    def __init__(self, *, wake: asyncio.Event) -> None:
        self._wake = wake

    async def __call__(self, event: Event) -> None:
        if isinstance(event, JobSubmitted):
            self._wake.set()
