"""Scheduling: place PENDING jobs on spot instances, re-queue INTERRUPTED ones.

Order of writes when placing: first the conditional PENDING -> LAUNCHING (so two masters
cannot both launch), then RunInstances with a ClientToken per launch of the attempt (so a
retry does not launch twice), then the instance id. A launch that fails transiently is
tried again at the next tick, not by sleeping inside this one. A master that dies in
between leaves a LAUNCHING job with no pings, which the lost-worker check recovers.

A launch EC2 declines (capacity, quota, price, configuration: `handlers/capacity.py`)
started no instance: the job goes back to PENDING with the same attempt. So does one whose
transient failures outlast `LAUNCH_TRIES` when EC2 shows no instance of the attempt.

Before the first write, a checkpoint that another region's bucket holds is copied to the
launch region's (`fleet/checkpoint_copy.py`); a failed copy leaves the job PENDING.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import structlog

from cbas_async.bootstrap import Resources
from cbas_async.clock import Clock
from cbas_async.errors import PermanentError, TransientError
from cbas_async.fleet.checkpoint_copy import CheckpointCopier
from cbas_async.fleet.launch_errors import LaunchDeclined, LaunchRefused
from cbas_async.fleet.launcher import Launcher, Launchers, LaunchRequest
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.capacity import CapacityControl
from cbas_async.handlers.costing import JobCosting
from cbas_async.handlers.mover import JobMover
from cbas_async.handlers.placement import Placer, job_placement
from cbas_async.handlers.regions import RegionChooser
from cbas_async.job_keys import KeyKeeper
from cbas_async.messages import UserData
from cbas_async.records import JobRecord
from cbas_async.settings import Settings

log = structlog.get_logger(__name__)

LAUNCH_TRIES = 3  # RunInstances calls per attempt, one per supervisor tick
HAND_OVER_QUIET_S = 60.0  # the shortest capacity back-off (fleet/pools.py)


@dataclass(frozen=True, slots=True)
class _Unlaunched:
    """An attempt whose launch failed transiently: launched again at the next tick."""

    attempt: int
    placement: LaunchRequest
    tries: int


class Scheduler:
    """Moves this master's jobs forward: PENDING -> LAUNCHING, INTERRUPTED -> PENDING/FAILED."""

    def __init__(
        self,
        *,
        mover: JobMover,
        launcher: Launcher | Launchers,
        placer: Placer,
        tracker: HeartbeatTracker,
        resources: Resources,
        settings: Settings,
        clock: Clock,
        costing: JobCosting | None = None,
        capacity: CapacityControl | None = None,
        keys: KeyKeeper | None = None,
        regions: RegionChooser | None = None,
        copier: CheckpointCopier | None = None,
        hand_over: bool = True,
        region_resources: Mapping[str, Resources] | None = None,
    ) -> None:
        self._mover = mover
        self._regions = regions  # None: one region, no target is chosen
        self._copier = copier  # None: one region, the checkpoints never move
        self._keys = keys  # None: workers run on their instance profile
        self._launchers = Launchers.of(launcher)  # a launch goes out in its request's region
        # each region's bucket, ping queue and topic, for the user data of launches there
        self._region_resources = dict(region_resources or {})
        self._placer = placer
        self._tracker = tracker
        self._resources = resources
        self._settings = settings
        self._clock = clock
        self._costing = costing
        self.capacity = capacity or CapacityControl(clock=clock)
        self._unlaunched: dict[str, _Unlaunched] = {}  # by job id
        self._handed: dict[str, float] = {}  # job id -> monotonic time it may go again
        self._hands_over = hand_over and regions is not None

    async def place(self, job: JobRecord) -> None:
        """Launch the PENDING job where the placer says, unless no pool may be tried now,
        the vCPU ceiling or a quota hold makes it wait, or its configuration was refused
        less than a back-off ago. A job that waits stays PENDING."""
        if not self.capacity.ready(job):
            return
        await self.capacity.refresh_scores(job)
        placement = self._placer(job)
        if placement is None:
            log.debug("no_pool_available", job_id=job.job_id)
            await self._hand_over(job)
            return
        launcher = self._launchers.in_region(placement.region)
        if not await self.capacity.claim(job, placement, launcher):
            if self.capacity.gate.held(placement.market, self._clock.monotonic()):
                await self._hand_over(job)  # a quota is its region's: another may have room
            return
        brought, transfer_usd = await self._bring_checkpoint(job, placement.region)
        if not brought:
            return
        placed = job_placement(placement).model_copy(update={"transfer_usd": transfer_usd})
        launching = await self._mover.to_launching(job, placed)
        if launching is None:
            self.capacity.gate.withdraw(job.job_id)
            return  # someone else moved it; the next pass sees the new state
        self._tracker.watch(launching.job_id, launching.attempt, self._clock.monotonic())
        await self._launch(launching, placement)

    async def _hand_over(self, job: JobRecord) -> None:
        """No pool of this region may be tried now, or its market is held by a quota refusal:
        give the job to the best other region with a master, at most once per
        `HAND_OVER_QUIET_S` per job, so two regions that both lack capacity pass it back
        and forth only that often."""
        now = self._clock.monotonic()
        if not self._hands_over or now < self._handed.get(job.job_id, -math.inf):
            return
        assert self._regions is not None
        region = await self._regions.elsewhere(job)
        if region is not None and await self._mover.hand_over(job, region):
            self._handed[job.job_id] = now + HAND_OVER_QUIET_S
            log.info("job_handed_over", job_id=job.job_id, target_region=region)

    async def _bring_checkpoint(self, job: JobRecord, region: str) -> tuple[bool, float | None]:
        """The checkpoint copied into `region`'s bucket if another region holds it: (True,
        its USD or None when nothing was copied), or (False, None) when the copy failed and
        the job stays PENDING for the next pass."""
        if self._copier is None:
            return True, None
        try:
            return True, await self._copier.follow(job, region)
        except TransientError as exc:
            self.capacity.gate.withdraw(job.job_id)
            log.warning("checkpoint_copy_failed", job_id=job.job_id, error=str(exc))
            return False, None

    async def relaunch(self, job: JobRecord) -> bool:
        """Launch again for a LAUNCHING attempt whose launch failed at an earlier tick; False
        when the job is not waiting for one (then it is the lost-worker check's). Counts
        the vCPUs of a live attempt this master did not launch."""
        await self.capacity.observe(job)
        waiting = self._unlaunched.get(job.job_id)
        if waiting is None or waiting.attempt != job.attempt:
            return False
        await self._launch(job, waiting.placement, tries=waiting.tries)
        return True

    def forget_launches(self, live: Collection[str]) -> None:
        """Drop the relaunches and vCPU claims of jobs no longer live (finished, cancelled)."""
        for job_id in [j for j in self._unlaunched if j not in live]:
            del self._unlaunched[job_id]
        for job_id in [j for j in self._handed if j not in live]:
            del self._handed[job_id]
        self.capacity.keep_only(set(live))
        if self._keys is not None:
            self._keys.keep_only(live)

    async def _launch(self, job: JobRecord, placement: LaunchRequest, tries: int = 0) -> None:
        """One RunInstances (EC2's client retries it as `retries.py` says). A transient
        failure is tried again at the next tick, up to `LAUNCH_TRIES` launches in all;
        the ClientToken makes a launch that did land count once."""
        self._unlaunched.pop(job.job_id, None)
        user_data = self.user_data(job, placement)
        try:
            instance_id = await self._launchers.in_region(placement.region).launch(
                placement, user_data, client_token=f"{job.job_id}-{job.attempt}-{job.version}"
            )
        except (LaunchDeclined, LaunchRefused) as exc:
            await self._unlaunch(job, self.capacity.declined(job, placement, exc))
            return
        except TransientError as exc:
            await self._launch_failed(job, placement, tries + 1, exc)
            return
        except PermanentError as exc:
            self.capacity.gate.withdraw(job.job_id)
            await self._fail(job, f"launch refused: {exc}")
            return
        self.capacity.landed(job, placement)
        await self._record(job, placement, instance_id)

    async def _launch_failed(
        self, job: JobRecord, placement: LaunchRequest, tries: int, exc: TransientError
    ) -> None:
        log.warning("launch_failed", job_id=job.job_id, error=str(exc), tries=tries)
        if tries < LAUNCH_TRIES:
            self._unlaunched[job.job_id] = _Unlaunched(job.attempt, placement, tries)
            return
        try:
            launcher = self._launchers.in_region(placement.region)
            found = await launcher.attempt_instance(job.job_id, job.attempt)
        except TransientError:  # asked again at the next tick
            self._unlaunched[job.job_id] = _Unlaunched(job.attempt, placement, tries - 1)
            return
        if found is not None:  # it landed after all: the ClientToken kept it single
            await self._record(job, placement, found)
            return
        self.capacity.gate.withdraw(job.job_id)
        await self._unlaunch(job, f"launch failed {tries} times: {exc}")

    async def _unlaunch(self, job: JobRecord, reason: str) -> None:
        if await self._mover.unlaunch(job, reason):
            log.info("job_not_launched", job_id=job.job_id, attempt=job.attempt, reason=reason)

    async def _record(self, job: JobRecord, placement: LaunchRequest, instance_id: str) -> None:
        placed = job_placement(placement, instance_id)
        if job.placement is not None:  # the checkpoint copy made for this launch stays
            placed = placed.model_copy(update={"transfer_usd": job.placement.transfer_usd})
        if await self._mover.record_instance(job, instance_id, placed):
            log.info(
                "job_launched", job_id=job.job_id, attempt=job.attempt, instance_id=instance_id
            )
            if self._keys is not None:
                await self._keys.issue(job.job_id, job.attempt, instance_id)

    def user_data(self, job: JobRecord, placement: LaunchRequest) -> UserData:
        """The launch region's bucket, ping queue and topic (this master's own for a region
        it has no resources of); the tables are the home region's wherever it runs."""
        s = self._settings
        r = self._region_resources.get(placement.region, self._resources)
        return UserData(
            job_id=job.job_id,
            attempt=job.attempt,
            deployment=s.deployment,
            region=placement.region if placement.region in self._region_resources else s.region,
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
            command_endpoint=s.public_url is not None,
            credentials_table=r.credentials_table if self._keys is not None else "",
            home_region=s.home_region,
            home_bucket=r.files_bucket,
        )

    async def requeue(self, job: JobRecord) -> None:
        """INTERRUPTED -> PENDING with attempt + 1, or FAILED once attempts are used up.
        The interrupted attempt's cost is written with the re-queue, in the same write."""
        self.capacity.ended(job)
        if self._keys is not None:
            self._keys.ended(job.job_id)
        if job.attempt >= job.spec.max_attempts:
            await self._fail(job, f"interrupted {job.attempt} times; max_attempts reached")
            return
        costs = await self._costing.cost_updates(job) if self._costing else None
        target = await self._regions.requeue_target(job) if self._regions else None
        # another region's target: its masters adopt the job, so this one lets go
        release = target is not None and target != self._settings.region
        if await self._mover.requeue(job, costs, target_region=target, release=release):
            log.info(
                "job_requeued", job_id=job.job_id, attempt=job.attempt + 1, target_region=target
            )

    async def _fail(self, job: JobRecord, reason: str) -> None:
        if await self._mover.fail(job, reason):
            log.info("job_failed", job_id=job.job_id, reason=reason)
