"""Bus events per second: `Bus.publish` to a subscriber's handler, against a bare
`asyncio.Queue` carrying the same event objects in the same run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks.rates import Rate, best, table, timed
from cbas_async import logs
from cbas_async.bus import Bus
from cbas_async.events import Event, WorkerPinged
from cbas_async.messages import Ping


async def with_bus_running(bus: Bus, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` while the bus's consumers run; stop them after it."""
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stopping), name="bus")
        try:
            await work()
        finally:
            stopping.set()


@dataclass(frozen=True, slots=True, kw_only=True)
class BusResult:
    runs: int
    bus: Rate
    queue: Rate


async def bus_events(events: int = 200_000, repeats: int = 3) -> BusResult:
    """`Bus.publish` to one subscriber whose handler counts, against a bare asyncio.Queue
    (the bus's default size) with a consumer task, carrying the same event objects."""
    pings = [
        Ping(job_id=f"j-20260101T000000-{n:08x}", attempt=1, instance_id="i-0", seq=0, sent_at="")
        for n in range(1000)
    ]
    now = datetime.now(UTC)
    items: list[Event] = [
        WorkerPinged(ping=pings[n % 1000], received_at=now) for n in range(events)
    ]
    buses, queues = [], []
    for _ in range(repeats):
        buses.append(await timed(events, lambda: _through_bus(items)))
        queues.append(await timed(events, lambda: _through_queue(items)))
    return BusResult(runs=repeats, bus=best(buses), queue=best(queues))


async def _through_bus(items: list[Event]) -> None:
    bus, seen = Bus(), list[Event]()

    async def handler(event: Event) -> None:
        seen.append(event)

    bus.subscribe("count", handler)

    async def publish_all() -> None:
        for item in items:
            await bus.publish(item)
        await bus.drain()

    await with_bus_running(bus, publish_all)
    _check(seen, items)


async def _through_queue(items: list[Event]) -> None:
    queue: asyncio.Queue[Event | None] = asyncio.Queue(Bus().maxsize)
    seen: list[Event] = []

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            seen.append(item)

    async with asyncio.TaskGroup() as group:
        group.create_task(consume())
        for item in items:
            await queue.put(item)
        await queue.put(None)
    _check(seen, items)


def _check(seen: list[Event], items: list[Event]) -> None:
    if len(seen) != len(items):
        raise RuntimeError(f"{len(seen)} of {len(items)} events arrived")


def markdown(result: BusResult) -> str:
    rows = [
        ("`Bus.publish` → consumer → handler", result.bus),
        ("`asyncio.Queue` put → get (baseline)", result.queue),
    ]
    return (
        "One subscriber whose handler only keeps the event; queues of the bus's default size "
        f"(1000); best of {result.runs} runs.\n\n" + table(rows, result.queue, "event") + "\n"
    )


async def _main() -> None:
    logs.configure(level=40)
    print(markdown(await bus_events()))


if __name__ == "__main__":
    asyncio.run(_main())
