"""Lost workers: an attempt silent for the lost-worker timeout is checked against EC2,
its instance terminated if still there, and the job moved to INTERRUPTED."""

from __future__ import annotations

from collections.abc import Collection

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import StaleWrite
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


class LostWorkerDetector:
    """Decides from heartbeats alone; EC2 is asked only to confirm and clean up."""

    def __init__(
        self,
        *,
        store: JobStore,
        launcher: Launcher,
        tracker: HeartbeatTracker,
        clock: Clock,
        timeout_s: float,
        launch_timeout_s: float,
        actor: str,
    ) -> None:
        self._store = store
        self._launcher = launcher
        self._tracker = tracker
        self._clock = clock
        self._timeout_s = timeout_s
        self._launch_timeout_s = launch_timeout_s
        self._me = actor

    def is_lost(self, job: JobRecord) -> bool:
        """Silent too long: the lost-worker timeout once it pinged, the (longer) launch
        timeout while the instance is still booting."""
        now = self._clock.monotonic()
        self._tracker.watch(job.job_id, job.attempt, now)  # first sight starts the clock
        booted = job.state is JobState.RUNNING or self._tracker.pinged(job.job_id, job.attempt)
        limit = self._timeout_s if booted else self._launch_timeout_s
        return self._tracker.silent_for(job.job_id, job.attempt, now) >= limit

    def prune(self, live: Collection[str]) -> int:
        """Forget heartbeats of jobs no longer live (finished, or another deployment's),
        once they have been quiet for twice the longer timeout."""
        horizon = 2 * max(self._timeout_s, self._launch_timeout_s)
        return self._tracker.prune(live, before=self._clock.monotonic() - horizon)

    async def check(self, job: JobRecord) -> bool:
        """Move a lost attempt to INTERRUPTED; True when it did."""
        if job.state not in (JobState.LAUNCHING, JobState.RUNNING) or not self.is_lost(job):
            return False
        instance_id = job.placement.instance_id if job.placement else None
        ec2_state = await self._launcher.instance_state(instance_id) if instance_id else None
        if instance_id and ec2_state in ("pending", "running"):
            await self._launcher.terminate([instance_id])  # hung: stop paying for it
        silent = self._tracker.silent_for(job.job_id, job.attempt, self._clock.monotonic())
        detail = f"lost worker: silent {silent:.1f}s, EC2 state {ec2_state or 'gone'}"
        try:
            await self._store.transition(
                job.job_id,
                {job.state},
                JobState.INTERRUPTED,
                job.version,
                now=self._clock.now(),
                actor=self._me,
                owner=self._me,
                attempt=job.attempt,
                detail=detail,
            )
        except StaleWrite:
            return False
        log.warning("worker_lost", job_id=job.job_id, attempt=job.attempt, detail=detail)
        return True
