"""Lost workers: an attempt silent for the lost-worker timeout, or whose spot notice ran
out without the worker writing INTERRUPTED, is checked against EC2, its instance terminated
if still there, and the job moved to INTERRUPTED. A LAUNCHING attempt for which EC2 never
had an instance (its master stopped between the two writes) goes back to PENDING with the
same attempt instead: it used no attempt up."""

from __future__ import annotations

from collections.abc import Collection

import structlog

from cbas_async.clock import Clock
from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.mover import JobMover
from cbas_async.records import JobRecord
from cbas_async.states import JobState

log = structlog.get_logger(__name__)


class LostWorkerDetector:
    """Decides from heartbeats and spot notices; EC2 is asked only to confirm and clean up.

    A notice is over `notice_s` after it began (EC2 interrupts the instance then), plus
    `notice_grace_s` for a final write still on its way; a booting instance that got one
    need not wait out the launch timeout, a running one not the lost-worker timeout. EC2
    is asked in the region the attempt was placed in."""

    def __init__(
        self,
        *,
        mover: JobMover,
        launcher: Launcher | Launchers,
        tracker: HeartbeatTracker,
        clock: Clock,
        timeout_s: float,
        launch_timeout_s: float,
        notice_s: float,
        notice_grace_s: float,
    ) -> None:
        self._mover = mover
        self._launchers = Launchers.of(launcher)
        self._tracker = tracker
        self._clock = clock
        self._timeout_s = timeout_s
        self._launch_timeout_s = launch_timeout_s
        self._notice_s = notice_s
        self._notice_grace_s = notice_grace_s

    def is_lost(self, job: JobRecord) -> bool:
        """Silent too long (the lost-worker timeout once it pinged, the longer launch
        timeout while the instance is still booting), or its spot notice is over."""
        now = self._clock.monotonic()
        self._tracker.watch(job.job_id, job.attempt, now)  # first sight starts the clock
        booted = job.state is JobState.RUNNING or self._tracker.pinged(job.job_id, job.attempt)
        limit = self._timeout_s if booted else self._launch_timeout_s
        silent = self._tracker.silent_for(job.job_id, job.attempt, now) >= limit
        return silent or self._notice_over(job, now) is not None

    def _notice_over(self, job: JobRecord, now: float) -> float | None:
        """Seconds since the attempt's notice began, once the notice (and grace) is over."""
        began = self._tracker.notice_at(job.job_id, job.attempt)
        if began is None or now - began < self._notice_s + self._notice_grace_s:
            return None
        return now - began

    def prune(self, live: Collection[str]) -> int:
        """Forget heartbeats of jobs no longer live (finished, or another deployment's),
        once they have been quiet for twice the longer timeout."""
        horizon = 2 * max(self._timeout_s, self._launch_timeout_s)
        return self._tracker.prune(live, before=self._clock.monotonic() - horizon)

    async def _unlaunched(self, job: JobRecord) -> bool:
        """Back to PENDING with the same attempt: no instance ever ran for it, so it used
        no attempt up (a launch that failed, or a master gone between the two writes)."""
        if await self._mover.unlaunch(job, "no instance after the launch timeout") is None:
            return False
        log.warning("launch_lost", job_id=job.job_id, attempt=job.attempt)
        return True

    async def check(self, job: JobRecord) -> bool:
        """Move a lost attempt to INTERRUPTED; True when it did."""
        if job.state not in (JobState.LAUNCHING, JobState.RUNNING) or not self.is_lost(job):
            return False
        launcher = self._launchers.of_job(job)
        instance_id = job.placement.instance_id if job.placement else None
        if instance_id is None and job.state is JobState.LAUNCHING:
            instance_id = await launcher.attempt_instance(job.job_id, job.attempt)
            if instance_id is None:  # its master stopped before EC2 started anything
                return await self._unlaunched(job)
        ec2_state = await launcher.instance_state(instance_id) if instance_id else None
        if instance_id and ec2_state in ("pending", "running"):
            await launcher.terminate([instance_id])  # hung: stop paying for it
        now = self._clock.monotonic()
        silent = self._tracker.silent_for(job.job_id, job.attempt, now)
        noticed = self._notice_over(job, now)
        why = f"spot notice over {noticed:.1f}s ago, " if noticed is not None else ""
        detail = f"lost worker: {why}silent {silent:.1f}s, EC2 state {ec2_state or 'gone'}"
        if await self._mover.to_interrupted(job, detail) is None:
            return False
        log.warning("worker_lost", job_id=job.job_id, attempt=job.attempt, detail=detail)
        return True
