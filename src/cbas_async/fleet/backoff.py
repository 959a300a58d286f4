"""An exponential back-off on the injected clock's monotonic seconds: the pool back-off and
the quota hold both double from a first delay up to a cap."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Backoff:
    until_s: float = 0.0
    delay_s: float = 0.0

    def extend(self, now_s: float, first_s: float, max_s: float) -> float:
        """Double the delay (at least `first_s`, at most `max_s`) from `now_s`; returns it."""
        self.delay_s = min(max(self.delay_s * 2, first_s), max_s)
        self.until_s = now_s + self.delay_s
        return self.delay_s
