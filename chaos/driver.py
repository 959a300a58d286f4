"""Drives the workload through the run: keeps a few jobs live at a time, cancels the
ones meant to be cancelled, and fires faults as the jobs progress."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import structlog

from cbas_async import commands
from cbas_async.clock import Clock
from cbas_async.deployment import Session
from chaos.faults import FaultInjector, FaultSchedule
from chaos.workload import JobPlan

log = structlog.get_logger(__name__)


class Driver:
    """Submits `plans` (at most `concurrency` live at once) until all are terminal."""

    def __init__(
        self,
        *,
        session: Session,
        plans: list[JobPlan],
        specs: dict[str, Path],
        schedule: FaultSchedule,
        injector: FaultInjector,
        clock: Clock,
        concurrency: int,
        master_gap_s: float,
        tick_s: float = 0.5,
    ) -> None:
        self._session = session
        self._queue = deque(plans)
        self._total = len(plans)
        self._specs = specs
        self._schedule = schedule
        self._injector = injector
        self._clock = clock
        self._concurrency = concurrency
        self._master_gap_s = master_gap_s
        self._tick_s = tick_s
        self._last_master_kill = -master_gap_s
        self.submitted: dict[str, JobPlan] = {}
        self._live: set[str] = set()
        self._cancel_at: dict[str, float] = {}

    async def run(self, timeout_s: float) -> bool:
        """True when every job finished within `timeout_s`."""
        deadline = self._clock.monotonic() + timeout_s
        while self._queue or self._live:
            if self._clock.monotonic() > deadline:
                log.warning("chaos_timeout", live=len(self._live), queued=len(self._queue))
                return False
            await self.step_once()
            await self._clock.sleep(self._tick_s)
        return True

    async def step_once(self) -> None:
        while self._queue and len(self._live) < self._concurrency:
            await self._submit(self._queue.popleft())
        await self._cancel_due()
        await self._refresh()
        if self._injector.regions is not None:
            self._injector.done["region_back"] += await self._injector.regions.restore_due()
        await self._inject_due()

    async def _submit(self, plan: JobPlan) -> None:
        job = await commands.submit(self._session, self._specs[plan.name], clock=self._clock)
        self.submitted[job.job_id] = plan
        self._live.add(job.job_id)
        if plan.cancel_after_s is not None:
            self._cancel_at[job.job_id] = self._clock.monotonic() + plan.cancel_after_s

    async def _cancel_due(self) -> None:
        now = self._clock.monotonic()
        for job_id in [j for j, at in self._cancel_at.items() if at <= now]:
            del self._cancel_at[job_id]
            await commands.cancel(self._session, job_id, clock=self._clock)

    async def _refresh(self) -> None:
        for job_id in sorted(self._live):
            job = await self._session.store.get(job_id)
            if job.state.terminal:
                self._live.discard(job_id)
                log.info(
                    "chaos_job_done",
                    job_id=job_id,
                    state=job.state.value,
                    attempt=job.attempt,
                    name=self.submitted[job_id].name,
                )

    async def _inject_due(self) -> None:
        finished = len(self.submitted) - len(self._live)
        for kind in self._schedule.due(finished / self._total):
            if kind == "master_kill" and not self._master_gap_passed():
                continue
            try:
                fired = await self._injector.inject(kind)
            except Exception as exc:  # a fault that could not be injected is not a verdict
                log.warning("chaos_fault_failed", kind=kind, error=repr(exc)[:200])
                fired = False
            self._schedule.fired[kind] += fired
            log.info("chaos_fault", kind=kind, fired=fired)
            if fired and kind == "master_kill":
                self._last_master_kill = self._clock.monotonic()
        for replay in (self._injector.echo_pings, self._injector.replay_warnings):
            try:
                await replay()
            except Exception as exc:  # moto may fail to deliver to a killed master
                log.warning("chaos_replay_failed", replay=replay.__name__, error=repr(exc)[:200])

    def _master_gap_passed(self) -> bool:
        return self._clock.monotonic() - self._last_master_kill >= self._master_gap_s
