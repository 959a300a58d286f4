"""The supervisor: on every tick, adopt orphaned jobs and move this master's jobs along.

Across regions (a `RegionChooser`), adoption follows `handlers.regions.adoption`: a waiting
job goes to its target region's masters, and is re-targeted first when its target has no
live master; and with a `MoveChecker` this master's running jobs are weighed for a move."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import JobNotFound
from cbas_async.fleet.lease import owner_alive
from cbas_async.handlers.costing import JobCosting
from cbas_async.handlers.moves import MoveChecker
from cbas_async.handlers.recovery import LostWorkerDetector
from cbas_async.handlers.regions import Adoption, RegionChooser, adoption
from cbas_async.handlers.scheduling import Scheduler
from cbas_async.handlers.sweeper import Sweeper
from cbas_async.loops import every
from cbas_async.master.health import Health
from cbas_async.records import JobRecord
from cbas_async.states import TERMINAL, JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

WATCHED = (JobState.PENDING, JobState.LAUNCHING, JobState.RUNNING, JobState.INTERRUPTED)


class Supervisor:
    """Timers for pending placements, lost workers and clean-up, one job per task."""

    name = "supervisor"

    def __init__(
        self,
        *,
        store: JobStore,
        scheduler: Scheduler,
        detector: LostWorkerDetector,
        sweeper: Sweeper,
        health: Health,
        clock: Clock,
        master_id: str,
        interval_s: float,
        wake: asyncio.Event,
        lease_held: Callable[[], bool] = lambda: True,
        concurrency: int = 16,
        sweep_every: int = 5,
        costing: JobCosting | None = None,
        regions: RegionChooser | None = None,
        moves: MoveChecker | None = None,
    ) -> None:
        self._store = store
        self._regions = regions  # None: one region, adoption as it always was
        self._moves = moves
        self._scheduler = scheduler
        self._detector = detector
        self._sweeper = sweeper
        self._health = health
        self._clock = clock
        self._me = master_id
        self._interval_s = interval_s
        self._wake = wake
        self._slots = asyncio.Semaphore(concurrency)
        self._sweep_every = sweep_every
        self._lease_held = lease_held
        self._ticks = 0
        self._costing = costing
        self._seen: set[str] | None = None  # my live jobs at the last pass

    async def run(self, stopping: asyncio.Event) -> None:
        await every(
            self._interval_s,
            lambda: self.supervise_once(stopping),
            stopping=stopping,
            clock=self._clock,
            log_event="supervise_failed",
            wake=self._wake,
        )

    async def supervise_once(self, stopping: asyncio.Event | None = None) -> None:
        """One pass over every live job; with `stopping` set, no new work is started."""
        if not self._lease_held():
            log.warning("lease_not_held_skipping")
            return
        jobs = await self._store.all_in_states(WATCHED)
        self._health.mark("dynamodb")
        live = {job.job_id for job in jobs}
        self._detector.prune(live)
        self._scheduler.forget_launches(live)
        if self._moves is not None:
            self._moves.keep_only(live)
        regions = await self._regions.live() if self._regions is not None else set()
        mine = await self._adopt(jobs, regions)
        async with asyncio.TaskGroup() as group:
            for job in mine:
                if stopping is not None and stopping.is_set():
                    break
                group.create_task(self._step(job, regions))
        await self._cost_finished(mine)
        self._ticks += 1
        if self._ticks % self._sweep_every == 0:
            await self._sweeper.sweep_once()

    async def _step(self, job: JobRecord, regions: set[str]) -> None:
        async with self._slots:
            try:
                if job.state is JobState.PENDING:
                    await self._scheduler.place(job)
                elif job.state is JobState.INTERRUPTED:
                    await self._scheduler.requeue(job)
                elif not await self._scheduler.relaunch(job):
                    lost = await self._detector.check(job)
                    if self._moves is not None and not lost:
                        await self._moves.check(job, regions)
            except Exception:
                log.exception("job_step_failed", job_id=job.job_id, state=job.state.value)

    async def _cost_finished(self, mine: list[JobRecord]) -> None:
        """Price my jobs that left the live states since the last pass; on the first pass,
        every terminal job not priced yet (it may have ended while no master ran)."""
        if self._costing is None:
            return
        current = {job.job_id for job in mine}
        if self._seen is None:
            done = await self._store.all_in_states(TERMINAL)
            finished = [job for job in done if job.attempt not in job.cost.attempts]
        else:
            finished = [job for i in self._seen - current if (job := await self._get(i))]
        self._seen = current
        for job in finished:
            try:
                await self._costing.record_final(job)
            except Exception:
                log.exception("job_costing_failed", job_id=job.job_id)

    async def _get(self, job_id: str) -> JobRecord | None:
        try:
            return await self._store.get(job_id)
        except JobNotFound:
            return None

    async def _adopt(self, jobs: list[JobRecord], regions: set[str]) -> list[JobRecord]:
        """This master's jobs, after claiming those without a live owner (across regions,
        those the rule gives this master; `regions`: the live ones)."""
        now_s = self._clock.now().timestamp()
        alive: dict[str, bool] = {self._me: True}
        mine = []
        for job in jobs:
            owner = job.owner
            if owner is not None and owner not in alive:
                alive[owner] = await owner_alive(self._store, owner, now_s)
            if owner is not None and alive[owner]:
                if owner == self._me:
                    mine.append(job)
                continue
            claimed = await self._claim(job, owner, regions)
            if claimed is not None:
                mine.append(claimed)
        return mine

    async def _claim(
        self, job: JobRecord, owner: str | None, regions: set[str]
    ) -> JobRecord | None:
        """Adopt a job without a live owner, or re-target it, as the rule says."""
        chooser = self._regions
        verdict = (
            Adoption.ADOPT if chooser is None else adoption(job, own=chooser.own, live=regions)
        )
        if verdict is Adoption.LEAVE:
            return None
        if chooser is not None and verdict is Adoption.RETARGET:
            return await self._retarget(job, owner, chooser, regions)
        if not await self._store.set_owner(job.job_id, owner=self._me, expected_owner=owner):
            return None
        log.info("job_adopted", job_id=job.job_id, previous_owner=owner)
        return await self._store.get(job.job_id)

    async def _retarget(
        self, job: JobRecord, owner: str | None, chooser: RegionChooser, regions: set[str]
    ) -> JobRecord | None:
        """Choose the job's region again; adopt it in the same write when it is this one."""
        target = chooser.target(job, regions)
        adopt = target == chooser.own
        if not await self._store.set_target(
            job.job_id,
            region=target,
            expected_version=job.version,
            expected_owner=owner,
            owner=self._me if adopt else None,
        ):
            return None
        log.info("job_retargeted", job_id=job.job_id, target_region=target, adopted=adopt)
        return await self._store.get(job.job_id) if adopt else None
