"""A spot price trace replayed on the wall clock: trace time mapped onto now, compressed by
the local market's speed. The master (prices) and the local market (interruptions) both
derive the same mapping from the trace file and the shared epoch, so they agree on the
price in force."""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from cbas_async.clock import Clock
from cbas_async.spot.history import PricePoint, epoch_s, from_epoch_s
from cbas_async.spot.prices import TracePriceSource

# trace time shown as history before the replay starts: the broker's lookback
WARMUP = timedelta(days=7)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayTimeline:
    """Trace time `origin_s` happens at wall time `epoch_s`; trace time runs `speed` x faster."""

    origin_s: float
    epoch_s: float
    speed: float = 1.0

    def trace_s(self, wall: datetime) -> float:
        return self.origin_s + (epoch_s(wall) - self.epoch_s) * self.speed

    def wall_s(self, trace_s: float) -> float:
        return self.epoch_s + (trace_s - self.origin_s) / self.speed

    @property
    def origin(self) -> datetime:
        return from_epoch_s(self.origin_s)


def replay_origin_s(first_s: float, last_s: float, warmup: timedelta = WARMUP) -> float:
    """Where a replay starts in trace time: `warmup` after the first record (so there is
    history to decide on), but never after the last one."""
    return min(first_s + warmup.total_seconds(), last_s)


class ReplayPriceSource:
    """A `PriceSource` over a CSV trace: a point is published once its wall time has come."""

    def __init__(self, points: list[PricePoint], timeline: ReplayTimeline, clock: Clock) -> None:
        self._points = sorted(points, key=lambda p: p.timestamp)
        self._stamps = [p.timestamp for p in self._points]
        self.timeline = timeline
        self._clock = clock

    @classmethod
    async def load(
        cls, path: Path, *, epoch: datetime, speed: float, clock: Clock
    ) -> ReplayPriceSource:
        """Read the whole trace (in a thread) and shift it onto the wall clock."""
        points = await TracePriceSource(path).fetch(since=None)
        if not points:
            raise ValueError(f"{path}: no price records")
        stamps = [epoch_s(p.timestamp) for p in points]
        origin_s = replay_origin_s(min(stamps), max(stamps))
        timeline = ReplayTimeline(origin_s=origin_s, epoch_s=epoch_s(epoch), speed=speed)
        shifted = await asyncio.to_thread(_shift, points, timeline)
        return cls(shifted, timeline, clock)

    async def fetch(self, *, since: datetime | None) -> list[PricePoint]:
        """Points published from `since` (all when None) up to now."""
        start = 0 if since is None else bisect.bisect_left(self._stamps, since)
        end = bisect.bisect_right(self._stamps, self._clock.now())
        return self._points[start:end]


def _shift(points: list[PricePoint], timeline: ReplayTimeline) -> list[PricePoint]:
    return [
        replace(p, timestamp=from_epoch_s(timeline.wall_s(epoch_s(p.timestamp)))) for p in points
    ]
