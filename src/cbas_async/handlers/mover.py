"""The master's moves of a job: one method per intent, each one conditional write.

Like the worker's `JobWriter`, the `JobMover` is the one object through which the master
changes a job's state. Every move is fenced by the version and attempt the caller read and,
for the jobs a master owns, by `owner`; a move that loses the race (another master, the
worker or `cbas cancel` moved the job first) returns None, and the caller does nothing:
the next supervisor pass sees the new state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import StaleWrite
from cbas_async.records import JobPlacement, JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


class JobMover:
    """Moves jobs on behalf of one master (`actor`), which is also the owner it fences on."""

    def __init__(self, *, store: JobStore, clock: Clock, actor: str) -> None:
        self._store = store
        self._clock = clock
        self._me = actor

    async def to_launching(self, job: JobRecord, placement: JobPlacement) -> JobRecord | None:
        """PENDING -> LAUNCHING with the chosen placement, before RunInstances."""
        return await self._move(
            job,
            JobState.LAUNCHING,
            source=JobState.PENDING,
            updates={"placement": placement},
            owned=True,
        )

    async def record_instance(
        self, job: JobRecord, instance_id: str, placement: JobPlacement
    ) -> bool:
        """Note the launched instance, and the placement that now names it, on the attempt;
        False when the attempt is no longer the job's (the sweeper then stops the instance)."""
        try:
            await self._store.update_fields(
                job.job_id,
                attempt=job.attempt,
                updates={"instance_id": instance_id, "placement": placement},
            )
        except StaleWrite:
            log.info("instance_record_lost", job_id=job.job_id, attempt=job.attempt)
            return False
        return True

    async def unlaunch(self, job: JobRecord, reason: str) -> JobRecord | None:
        """LAUNCHING -> PENDING keeping the attempt: EC2 started no instance for it (capacity,
        quota, price, configuration). Fenced by attempt and owner, and on no instance id
        recorded, so an attempt whose instance did start is never put back."""
        return await self._move(
            job,
            JobState.PENDING,
            source=JobState.LAUNCHING,
            detail=f"not launched: {reason}",
            owned=True,
            absent=("placement.instance_id",),
        )

    async def to_running(self, job: JobRecord, detail: str) -> JobRecord | None:
        """LAUNCHING -> RUNNING on the attempt's first ping. Any master may make this move
        (pings reach whichever master polls), so it is fenced by attempt, not owner."""
        return await self._move(
            job, JobState.RUNNING, source=JobState.LAUNCHING, detail=detail, owned=False
        )

    async def to_interrupted(self, job: JobRecord, detail: str) -> JobRecord | None:
        """LAUNCHING/RUNNING -> INTERRUPTED: the attempt's worker is lost."""
        return await self._move(job, JobState.INTERRUPTED, detail=detail, owned=True)

    async def requeue(
        self,
        job: JobRecord,
        costs: Mapping[str, Any] | None = None,
        *,
        target_region: str | None = None,
        release: bool = False,
    ) -> JobRecord | None:
        """INTERRUPTED -> PENDING with attempt + 1; `costs` (the interrupted attempt's
        price) is written in the same transaction, and so are the region the next launch
        goes to (`target_region`), the end of a move asked of the attempt (`move_to`) and,
        with `release`, the end of this master's ownership (that region's masters adopt it)."""
        updates = dict(costs or {})
        if target_region is not None:
            updates["target_region"] = target_region
        removes = (("owner",) if release else ()) + (("move_to",) if job.move_to else ())
        detail = "re-queued from the last checkpoint"
        return await self._move(
            job,
            JobState.PENDING,
            source=JobState.INTERRUPTED,
            updates=updates or None,
            detail=detail if target_region is None else f"{detail}, for {target_region}",
            new_attempt=job.attempt + 1,
            owned=True,
            removes=removes,
        )

    async def request_move(self, job: JobRecord, region: str) -> bool:
        """Ask the RUNNING attempt's worker to checkpoint and end the attempt so the job
        moves to `region`; False when the attempt is no longer RUNNING."""
        try:
            await self._store.update_fields(
                job.job_id,
                attempt=job.attempt,
                updates={"move_to": region},
                states=(JobState.RUNNING,),
            )
        except StaleWrite:
            return False
        return True

    async def hand_over(self, job: JobRecord, region: str) -> bool:
        """Give this master's PENDING job to `region`'s masters: its target, owner cleared,
        in one write fenced on the version read; False when the job changed meanwhile."""
        return await self._store.set_target(
            job.job_id,
            region=region,
            expected_version=job.version,
            expected_owner=self._me,
            release=True,
        )

    async def fail(self, job: JobRecord, reason: str) -> JobRecord | None:
        """Any live state -> FAILED, saying why (attempts used up, a launch refused)."""
        return await self._move(
            job, JobState.FAILED, updates={"reason": reason}, detail=reason, owned=True
        )

    async def _move(
        self,
        job: JobRecord,
        target: JobState,
        *,
        owned: bool,
        source: JobState | None = None,
        updates: Mapping[str, Any] | None = None,
        detail: str | None = None,
        new_attempt: int | None = None,
        absent: tuple[str, ...] = (),
        removes: tuple[str, ...] = (),
    ) -> JobRecord | None:
        try:
            return await self._store.transition(
                job.job_id,
                {source or job.state},
                target,
                job.version,
                now=self._clock.now(),
                actor=self._me,
                attempt=job.attempt,
                owner=self._me if owned else None,
                new_attempt=new_attempt,
                updates=updates,
                detail=detail,
                absent=absent,
                removes=removes,
            )
        except StaleWrite:
            log.debug("move_lost_race", job_id=job.job_id, to_state=target.value)
            return None
