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
from cbas_async.errors import PermanentError, StaleWrite, TransientError
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.costing import JobCosting
from cbas_async.handlers.placement import Placer, job_placement
from cbas_async.messages import UserData
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

LAUNCH_TRIES = 3


class Scheduler:
    """Moves this master's jobs forward: PENDING -> LAUNCHING, INTERRUPTED -> PENDING/FAILED."""

    def __init__(
        self,
        *,
        store: JobStore,
        launcher: Launcher,
        placer: Placer,
        tracker: HeartbeatTracker,
        resources: Resources,
        settings: Settings,
        clock: Clock,
        costing: JobCosting | None = None,
    ) -> None:
        self._store = store
        self._launcher = launcher
        self._placer = placer
        self._tracker = tracker
        self._resources = resources
        self._settings = settings
        self._clock = clock
        self._costing = costing
        self._me = settings.master_id

    async def place(self, job: JobRecord) -> None:
        placement = self._placer(job)
        try:
            job = await self._store.transition(
                job.job_id,
                {JobState.PENDING},
                JobState.LAUNCHING,
                job.version,
                now=self._clock.now(),
                actor=self._me,
                attempt=job.attempt,
                owner=self._me,
                updates={"placement": job_placement(placement)},
            )
        except StaleWrite:
            return  # someone else moved it; the next pass sees the new state
        self._tracker.watch(job.job_id, job.attempt, self._clock.monotonic())
        await self._launch(job, placement)

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
            await self._store.update_fields(
                job.job_id,
                attempt=job.attempt,
                updates={
                    "instance_id": instance_id,
                    "placement": job_placement(placement, instance_id),
                },
            )
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
        if job.attempt >= job.spec.max_attempts:
            await self._fail(job, f"interrupted {job.attempt} times; max_attempts reached")
            return
        costs = await self._costing.cost_updates(job) if self._costing else None
        try:
            await self._store.transition(
                job.job_id,
                {JobState.INTERRUPTED},
                JobState.PENDING,
                job.version,
                now=self._clock.now(),
                actor=self._me,
                owner=self._me,
                attempt=job.attempt,
                new_attempt=job.attempt + 1,
                updates=costs,
                detail="re-queued from the last checkpoint",
            )
            log.info("job_requeued", job_id=job.job_id, attempt=job.attempt + 1)
        except StaleWrite:
            pass

    async def _fail(self, job: JobRecord, reason: str) -> None:
        try:
            await self._store.transition(
                job.job_id,
                {job.state},
                JobState.FAILED,
                job.version,
                now=self._clock.now(),
                actor=self._me,
                owner=self._me,
                attempt=job.attempt,
                updates={"reason": reason},
                detail=reason,
            )
            log.info("job_failed", job_id=job.job_id, reason=reason)
        except StaleWrite:
            pass
