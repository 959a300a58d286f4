"""Throughput measurements: wall and CPU time of a counted piece of work, and their table."""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    """`count` items done in `wall_s` seconds, using `cpu_s` of this process's CPU."""

    count: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.count / self.wall_s

    @property
    def cpu_us_per_item(self) -> float:
        return self.cpu_s / self.count * 1e6


async def timed(count: int, work: Callable[[], Awaitable[None]]) -> Rate:
    """Time one run of `work`, which does `count` items."""

    async def counted() -> int:
        await work()
        return count

    return await timed_counted(counted)


async def timed_counted(work: Callable[[], Awaitable[int]]) -> Rate:
    """Time one run of `work`, which returns how many items it did. A collection first, so
    garbage left by the previous run is not charged to this one."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = await work()
    return Rate(count=count, wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu)


def best(rates: list[Rate]) -> Rate:
    """The fastest run: on a shared machine, other load only ever slows a run down."""
    return max(rates, key=lambda r: r.per_s)


def table(rows: list[tuple[str, Rate]], baseline: Rate, unit: str) -> str:
    """One row per measure: rate, CPU per item, and the rate as a ratio to the baseline's."""
    lines = [
        f"| measure | {unit}/s | CPU µs per {unit} | ratio to baseline |",
        "| --- | --- | --- | --- |",
    ]
    for name, rate in rows:
        lines.append(
            f"| {name} | {rate.per_s:,.0f} | {rate.cpu_us_per_item:.1f} "
            f"| {rate.per_s / baseline.per_s:.3f} |"
        )
    return "\n".join(lines)
