"""The in-process event bus: one bounded queue and one consumer task per subscriber.

A slow handler only fills its own queue; publishing into a full queue waits, so
back-pressure reaches the producer (the SQS poller), not memory. A handler that raises is
logged with the event, and its consumer carries on with the next event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from cbas_async.events import Event

log = structlog.get_logger(__name__)

Handler = Callable[[Event], Awaitable[None]]


@dataclass
class _Subscriber:
    name: str
    handler: Handler
    queue: asyncio.Queue[Event | None]
    kinds: tuple[type[Event], ...] | None = None  # None: every event
    handled: int = 0
    failed: int = 0


@dataclass
class Bus:
    """Fan-out of events to named subscribers, each with its own queue and consumer."""

    maxsize: int = 1000
    _subscribers: list[_Subscriber] = field(default_factory=list)
    name: str = "bus"

    def subscribe(
        self,
        name: str,
        handler: Handler,
        *,
        maxsize: int | None = None,
        kinds: tuple[type[Event], ...] | None = None,
    ) -> None:
        """`kinds`: the event types the handler wants (default: all); others never reach
        its queue, so a flood of pings costs nothing to subscribers that ignore them."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize or self.maxsize)
        self._subscribers.append(_Subscriber(name, handler, queue, kinds))

    async def publish(self, event: Event) -> None:
        """Hand the event to every subscriber that wants it, waiting while a queue is full."""
        for subscriber in self._subscribers:
            if subscriber.kinds is None or isinstance(event, subscriber.kinds):
                await subscriber.queue.put(event)

    def depths(self) -> dict[str, int]:
        return {s.name: s.queue.qsize() for s in self._subscribers}

    def counts(self) -> dict[str, tuple[int, int]]:
        """(handled, failed) per subscriber."""
        return {s.name: (s.handled, s.failed) for s in self._subscribers}

    async def drain(self) -> None:
        """Wait until every event published so far has been handled."""
        for subscriber in self._subscribers:
            await subscriber.queue.join()

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume until `stopping` is set, then drain what was already published."""
        async with asyncio.TaskGroup() as group:
            for subscriber in self._subscribers:
                group.create_task(self._consume(subscriber), name=subscriber.name)
            await stopping.wait()
            for subscriber in self._subscribers:
                await subscriber.queue.put(None)  # the consumer stops when it reaches this

    async def _consume(self, subscriber: _Subscriber) -> None:
        while (event := await subscriber.queue.get()) is not None:
            try:
                await subscriber.handler(event)
                subscriber.handled += 1
            except Exception:
                subscriber.failed += 1
                log.exception("handler_failed", subscriber=subscriber.name, event_repr=repr(event))
            finally:
                subscriber.queue.task_done()
        subscriber.queue.task_done()
