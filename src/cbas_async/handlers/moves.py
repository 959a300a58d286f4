"""Proactive moves across regions, the master's side: every `CBAS_MOVE_CHECK_S` of a running
attempt, its master weighs the live regions (`RegionChooser.worth_moving`); when a move pays
`MOVE_MARGIN` times over, it writes `move_to` on the job (conditional on RUNNING and the
attempt). The worker then checkpoints and ends the attempt as INTERRUPTED, and the re-queue
targets that region.
"""

from __future__ import annotations

from collections.abc import Collection

import structlog

from cbas_async.clock import Clock
from cbas_async.handlers.mover import JobMover
from cbas_async.handlers.regions import RegionChooser
from cbas_async.records import JobRecord
from cbas_async.spot.region_scoring import RegionOption
from cbas_async.states import JobState

log = structlog.get_logger(__name__)


class MoveChecker:
    """Weighs each of this master's running attempts for a move, once per `interval_s` of
    the attempt (the first time `interval_s` after it is first seen: it was just placed)."""

    def __init__(
        self, *, chooser: RegionChooser, mover: JobMover, clock: Clock, interval_s: float
    ) -> None:
        self._chooser = chooser
        self._mover = mover
        self._clock = clock
        self._interval_s = interval_s
        self._due: dict[str, tuple[int, float]] = {}  # job -> (attempt, monotonic due)

    async def check(self, job: JobRecord, live: Collection[str]) -> RegionOption | None:
        """Ask the job's move when one is due and pays; the region asked for, else None."""
        if job.state is not JobState.RUNNING or not self._due_now(job):
            return None
        target = self._chooser.worth_moving(job, live)
        if target is None or not await self._mover.request_move(job, target.region):
            return None
        log.info(
            "job_move_requested",
            job_id=job.job_id,
            attempt=job.attempt,
            from_region=job.placement.region if job.placement else None,
            to_region=target.region,
            finish_usd=round(target.finish_usd, 4),
            move_usd=round(target.move_usd, 4),
        )
        return target

    def keep_only(self, live_jobs: Collection[str]) -> None:
        """Forget the jobs no longer live."""
        for job_id in [j for j in self._due if j not in live_jobs]:
            del self._due[job_id]

    def _due_now(self, job: JobRecord) -> bool:
        now_s = self._clock.monotonic()
        attempt, due_s = self._due.get(job.job_id, (None, 0.0))
        if attempt != job.attempt:  # first seen: just placed, weighed one interval on
            self._due[job.job_id] = (job.attempt, now_s + self._interval_s)
            return False
        if now_s < due_s:
            return False
        self._due[job.job_id] = (job.attempt, now_s + self._interval_s)
        return True
