"""Scheduling: place PENDING jobs on spot instances, re-queue INTERRUPTED ones.

Order of writes when placing: first the conditional PENDING -> LAUNCHING (so two masters
cannot both launch), then RunInstances with a ClientToken per attempt (so a retry does not
launch twice), then the instance id. A master that dies in between leaves a LAUNCHING job
with no pings, which the lost-worker check recovers.
"""

from __future__ import annotations

import structlog

from cbas_async.bootstrap import Resources
from cbas_async.clock import Clock
from cbas_async.errors import PermanentError, TransientError
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.costing import JobCosting
from cbas_async.handlers.mover import JobMover
from cbas_async.handlers.placement import Placer
from cbas_async.messages import UserData
from cbas_async.records import JobRecord
from cbas_async.settings import Settings

log = structlog.get_logger(__name__)

LAUNCH_TRIES = 3


class Scheduler:
    """Moves this master's jobs forward: PENDING -> LAUNCHING, INTERRUPTED -> PENDING/FAILED."""

    def __init__(
        self,
        *,
        mover: JobMover,
        launcher: Launcher,
        placer: Placer,
        tracker: HeartbeatTracker,
        resources: Resources,
        settings: Settings,
        clock: Clock,
        costing: JobCosting | None = None,
    ) -> None:
        self._mover = mover
        self._launcher = launcher
        self._placer = placer
        self._tracker = tracker
        self._resources = resources
        self._settings = settings
        self._clock = clock
        self._costing = costing

    async def place(self, job: JobRecord) -> None:
        placement = self._placer(job)
        launching = await self._mover.to_launching(job, placement.to_item())
        if launching is None:
            return  # someone else moved it; the next pass sees the new state
        self._tracker.watch(launching.job_id, launching.attempt, self._clock.monotonic())
        await self._launch(launching, placement)

    async def _launch(self, job: JobRecord, placement: LaunchRequest) -> None:
        user_data = self.user_data(job, placement)
        for attempt in range(1, LAUNCH_TRIES + 1):
            try:
                instance_id = await self._launcher.launch(placement, user_data)
            except TransientError as exc:
                log.warning("launch_retry", job_id=job.job_id, error=str(exc), attempt=attempt)
                await self._clock.sleep(2.0**attempt)
                continue
            except PermanentError as exc:
                await self._fail(job, f"launch refused: {exc}")
                return
            if not await self._mover.record_instance(job, instance_id, placement.to_item()):
                return
            log.info(
                "job_launched", job_id=job.job_id, attempt=job.attempt, instance_id=instance_id
            )
            return
        log.error("launch_gave_up", job_id=job.job_id)  # lost-worker check will re-queue it

    def user_data(self, job: JobRecord, placement: LaunchRequest) -> UserData:
        s, r = self._settings, self._resources
        return UserData(
            job_id=job.job_id,
            attempt=job.attempt,
            deployment=s.deployment,
            region=s.region,
            endpoint_url=s.endpoint_url,
            bucket=r.bucket,
            ping_queue_url=r.ping_queue_url,
            topic_arn=r.topic_arn,
            jobs_table=r.jobs_table,
            events_table=r.events_table,
            misc_table=r.misc_table,
            heartbeat_interval_s=s.heartbeat_interval_s,
            notice_poll_s=s.notice_poll_s / s.speed,
            checkpoint_interval_s=placement.checkpoint_interval_s,
            checkpoint_every_hours=(
                max(1, round(placement.checkpoint_interval_s / 3600.0))
                if placement.checkpoint_at_hour_end
                else None
            ),
            billing_hour_s=3600.0 / s.speed,
            sns_verify=s.sns_verify,
            master_id=s.master_id,
        )

    async def requeue(self, job: JobRecord) -> None:
        """INTERRUPTED -> PENDING with attempt + 1, or FAILED once attempts are used up.
        The interrupted attempt's cost is written with the re-queue, in the same write."""
        if job.attempt >= job.max_attempts:
            await self._fail(job, f"interrupted {job.attempt} times; max_attempts reached")
            return
        costs = await self._costing.cost_updates(job) if self._costing else None
        if await self._mover.requeue(job, costs):
            log.info("job_requeued", job_id=job.job_id, attempt=job.attempt + 1)

    async def _fail(self, job: JobRecord, reason: str) -> None:
        if await self._mover.fail(job, reason):
            log.info("job_failed", job_id=job.job_id, reason=reason)
