"""Last heartbeat per (job, attempt) and spot notices received, in memory: a restarted master
starts with a grace period."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass
class HeartbeatTracker:
    """When each job's current attempt was last heard from (monotonic seconds), which
    attempts have pinged, and which were confirmed RUNNING. Everything is keyed by job, so
    forgetting a finished job is O(1); `prune` does it for jobs no longer live."""

    _last: dict[str, tuple[int, float]] = field(default_factory=dict)
    _pinged: dict[str, set[int]] = field(default_factory=dict)
    _confirmed: dict[str, int] = field(default_factory=dict)
    _notices: dict[str, tuple[int, float]] = field(default_factory=dict)

    def seen(self, job_id: str, attempt: int, at: float) -> None:
        """A ping (also the key `prune` ages by: pings and confirms come after one)."""
        known = self._last.get(job_id)
        if known is None or (attempt, at) > known:
            self._last[job_id] = (attempt, at)
        self._pinged.setdefault(job_id, set()).add(attempt)

    def pinged(self, job_id: str, attempt: int) -> bool:
        """Whether this attempt has pinged at least once (it booted)."""
        return attempt in self._pinged.get(job_id, ())

    def confirm(self, job_id: str, attempt: int) -> None:
        """This attempt is known to be RUNNING: its pings need no store read."""
        self._confirmed[job_id] = attempt

    def confirmed(self, job_id: str, attempt: int) -> bool:
        return self._confirmed.get(job_id) == attempt

    def noticed(self, job_id: str, attempt: int, at: float) -> None:
        """The attempt's instance was warned at `at` (monotonic) that it will be interrupted;
        the first warning counts (EventBridge may deliver one twice)."""
        known = self._notices.get(job_id)
        if known is None or known[0] < attempt:
            self._notices[job_id] = (attempt, at)

    def notice_at(self, job_id: str, attempt: int) -> float | None:
        known = self._notices.get(job_id)
        return known[1] if known is not None and known[0] == attempt else None

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
        self._pinged.pop(job_id, None)
        self._confirmed.pop(job_id, None)
        self._notices.pop(job_id, None)

    def prune(self, live: Collection[str], *, before: float) -> int:
        """Forget the jobs not in `live` last heard of (or watched) before `before`; the
        age guard keeps a job whose state change the live list has not caught up with."""
        timed = (*self._last.items(), *self._notices.items())
        gone = {j for j, (_, at) in timed if at < before and j not in live}
        for job_id in gone:
            self.forget(job_id)
        return len(gone)

    def __len__(self) -> int:
        return len(self._last)
