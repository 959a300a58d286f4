"""Last heartbeat per (job, attempt), in memory: a restarted master starts with a grace period."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HeartbeatTracker:
    """When each job's current attempt was last heard from (monotonic seconds)."""

    _last: dict[str, tuple[int, float]] = field(default_factory=dict)
    _pinged: set[tuple[str, int]] = field(default_factory=set)

    def seen(self, job_id: str, attempt: int, at: float) -> None:
        known = self._last.get(job_id)
        if known is None or (attempt, at) > known:
            self._last[job_id] = (attempt, at)
        self._pinged.add((job_id, attempt))

    def pinged(self, job_id: str, attempt: int) -> bool:
        """Whether this attempt has pinged at least once (it booted)."""
        return (job_id, attempt) in self._pinged

    def watch(self, job_id: str, attempt: int, at: float) -> None:
        """Start the clock for an attempt not heard from yet (launch, adoption)."""
        known = self._last.get(job_id)
        if known is None or known[0] < attempt:
            self._last[job_id] = (attempt, at)

    def silent_for(self, job_id: str, attempt: int, now: float) -> float:
        known = self._last.get(job_id)
        if known is None or known[0] != attempt:
            return 0.0
        return now - known[1]

    def last_seen(self, job_id: str) -> tuple[int, float] | None:
        """(attempt, monotonic time) of the latest ping or watch start, if any."""
        return self._last.get(job_id)

    def forget(self, job_id: str) -> None:
        self._last.pop(job_id, None)
        self._pinged = {key for key in self._pinged if key[0] != job_id}

    def __len__(self) -> int:
        return len(self._last)
