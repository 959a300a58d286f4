"""What /healthz reports: loop lag, freshness of SQS and DynamoDB, lease, and the reasons
the master is degraded (launches EC2 refuses for a configuration or permission reason).

Degraded is not down: the status stays 200 (restarting the master fixes no configuration),
`status` says "degraded" and `degraded` lists the reasons."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cbas_async.clock import Clock
from cbas_async.loops import sleep_or_stop


@dataclass
class Health:
    """Shared freshness marks, written by components and read by the HTTP app."""

    clock: Clock
    lease_held: Callable[[], bool] = lambda: True
    problems: Callable[[], list[str]] = list  # reasons to report the master degraded
    max_age_s: float = 90.0
    max_lag_s: float = 1.0
    loop_lag_s: float = 0.0
    _marks: dict[str, float] = field(default_factory=dict)

    def mark(self, what: str) -> None:
        """Record a success of `what` ("sqs", "dynamodb") now."""
        self._marks[what] = self.clock.monotonic()

    def age_s(self, what: str) -> float | None:
        at = self._marks.get(what)
        return None if at is None else self.clock.monotonic() - at

    def report(self) -> tuple[bool, dict[str, Any]]:
        ages = {f"{what}_age_s": self.age_s(what) for what in ("sqs", "dynamodb")}
        fresh = all(age is not None and age <= self.max_age_s for age in ages.values())
        held = self.lease_held()
        ok = fresh and held and self.loop_lag_s <= self.max_lag_s
        degraded = self.problems()
        status = "degraded" if ok and degraded else "ok" if ok else "failing"
        return ok, {
            "ok": ok,
            "status": status,
            "degraded": degraded,
            "loop_lag_s": round(self.loop_lag_s, 4),
            "lease_held": held,
            **ages,
        }


class LoopLagMonitor:
    """Measures how late the event loop wakes a sleeper: a blocked loop shows up here."""

    name = "loop-lag"

    def __init__(self, *, health: Health, interval_s: float = 0.5) -> None:
        self._health = health
        self._interval_s = interval_s

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            before = loop.time()
            await sleep_or_stop(self._health.clock, self._interval_s, stopping)
            late = loop.time() - before - self._interval_s
            self._health.loop_lag_s = max(late, 0.0)
