"""Long-running components: the `Component` protocol and `run_components`, which runs a
process's components in one TaskGroup and stops them gracefully."""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class Component(Protocol):
    name: str

    async def run(self, stopping: asyncio.Event) -> None: ...


async def run_components(
    components: list[Component], stopping: asyncio.Event, grace_s: float
) -> None:
    """Run every component until `stopping`; cancel those still busy after the grace period."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(c.run(stopping), name=c.name) for c in components]
        await stopping.wait()
        _, late = await asyncio.wait(tasks, timeout=grace_s)
        for task in late:
            log.warning("component_cancelled", component=task.get_name())
            task.cancel()
