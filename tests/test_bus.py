"""The event bus: per-subscriber order, isolation of a failing handler, back-pressure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from cbas_async.bus import Bus
from cbas_async.events import Event, InterruptionWarned, PricesUpdated

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(n: int) -> PricesUpdated:
    return PricesUpdated(points=n, at=T0)


async def _running(bus: Bus) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stopping = asyncio.Event()
    return stopping, asyncio.create_task(bus.run(stopping))


async def test_each_subscriber_sees_events_in_order() -> None:
    bus = Bus()
    seen: dict[str, list[int]] = {"a": [], "b": []}

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def handle(event: Event) -> None:
            assert isinstance(event, PricesUpdated)
            seen[name].append(event.points)

        return handle

    bus.subscribe("a", recorder("a"))
    bus.subscribe("b", recorder("b"))
    stopping, task = await _running(bus)
    for i in range(50):
        await bus.publish(ev(i))
    stopping.set()
    await task
    assert seen == {"a": list(range(50)), "b": list(range(50))}


async def test_failing_handler_is_logged_and_isolated() -> None:
    bus = Bus()
    good: list[int] = []

    async def bad(event: Event) -> None:
        raise RuntimeError("boom")

    async def fine(event: Event) -> None:
        assert isinstance(event, PricesUpdated)
        good.append(event.points)

    bus.subscribe("bad", bad)
    bus.subscribe("fine", fine)
    stopping, task = await _running(bus)
    with capture_logs() as logs:
        for i in range(3):
            await bus.publish(ev(i))
        await bus.drain()
    stopping.set()
    await task
    assert good == [0, 1, 2]
    assert bus.counts() == {"bad": (0, 3), "fine": (3, 0)}
    failures = [entry for entry in logs if entry["event"] == "handler_failed"]
    assert len(failures) == 3
    assert failures[0]["subscriber"] == "bad"
    assert "points=0" in failures[0]["event_repr"]


async def test_full_queue_makes_publish_wait() -> None:
    bus = Bus()
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(event: Event) -> None:
        entered.set()
        await release.wait()

    bus.subscribe("slow", slow, maxsize=2)
    stopping, task = await _running(bus)
    await bus.publish(ev(0))  # taken by the consumer, which blocks in the handler
    await asyncio.wait_for(entered.wait(), timeout=5)
    await bus.publish(ev(1))
    await bus.publish(ev(2))  # queue now full
    blocked = asyncio.create_task(bus.publish(ev(3)))
    await asyncio.sleep(0)  # one turn of the loop: the put cannot complete while full
    assert not blocked.done()
    assert bus.depths() == {"slow": 2}
    release.set()
    await asyncio.wait_for(blocked, timeout=5)
    stopping.set()
    await task
    assert bus.counts() == {"slow": (4, 0)}


async def test_stop_drains_what_was_published() -> None:
    bus = Bus()
    seen: list[int] = []

    async def handle(event: Event) -> None:
        assert isinstance(event, PricesUpdated)
        seen.append(event.points)

    bus.subscribe("h", handle)
    stopping, task = await _running(bus)
    for i in range(5):
        await bus.publish(ev(i))
    stopping.set()
    await asyncio.wait_for(task, timeout=5)
    assert seen == [0, 1, 2, 3, 4]
    with pytest.raises(asyncio.QueueEmpty):
        bus._subscribers[0].queue.get_nowait()


async def test_a_subscriber_gets_only_the_kinds_it_asked_for() -> None:

    bus = Bus(maxsize=1)  # a queue of one: an unwanted event would block the publisher
    wanted: list[Event] = []
    everything: list[Event] = []

    async def keep(event: Event) -> None:
        wanted.append(event)

    async def keep_all(event: Event) -> None:
        everything.append(event)

    bus.subscribe("warnings", keep, kinds=(InterruptionWarned,))
    bus.subscribe("all", keep_all)
    stopping, task = await _running(bus)
    warning = InterruptionWarned(instance_id="i-1", action="terminate", at=T0)
    for event in [ev(1), warning, ev(2)]:
        await bus.publish(event)
    await bus.drain()
    stopping.set()
    await task
    assert wanted == [warning]
    assert everything == [ev(1), warning, ev(2)]
    assert bus.counts() == {"warnings": (1, 0), "all": (3, 0)}
