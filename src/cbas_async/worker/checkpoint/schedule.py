"""When the next periodic checkpoint starts.

Two kinds: every `interval_s` of run time, or (hourly billing, the broker's
`checkpoint_at_hour_end`) so that the checkpoint completes just before the end of every
`every_hours`-th instance-hour: work done in a paid hour is then saved before the next
hour, in which an interruption would lose it, starts (Yi, Kondo and Andrzejak's hour-boundary
policy). Hours count from the worker's start; the instance was already billed for its boot,
so the finish target keeps `margin_s` before the boundary (by default 2 minutes, shrunk
with the local cloud's speed like the hour itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointSchedule:
    interval_s: float
    every_hours: int | None = None  # None: every interval_s; N: at the end of every N-th hour
    hour_s: float = 3600.0
    margin_s: float = 120.0

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and self.hour_s > 0 and self.margin_s >= 0):
            raise ValueError("a checkpoint schedule needs interval_s > 0, hour_s > 0, margin >= 0")
        if self.every_hours is not None and self.every_hours < 1:
            raise ValueError("every_hours must be at least 1")

    def next_delay(self, *, elapsed_s: float, expected_duration_s: float) -> float:
        """Seconds from now (`elapsed_s` since the worker started, the previous checkpoint
        just finished) until the next checkpoint should start."""
        if self.every_hours is None:
            return self.interval_s
        period = self.every_hours * self.hour_s
        lead = max(0.0, expected_duration_s) + self.margin_s
        # the first boundary whose checkpoint can still start in the future
        k = max(1, math.floor((elapsed_s + lead) / period) + 1)
        return max(0.0, k * period - lead - elapsed_s)
