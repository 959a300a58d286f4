"""Heartbeats: remember when each attempt was last heard from; LAUNCHING -> RUNNING on the
first ping of an attempt."""

from __future__ import annotations

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import JobNotFound
from cbas_async.events import Event, WorkerPinged
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.mover import JobMover
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


class HeartbeatHandler:
    """Idempotent: duplicate, late and reordered pings change nothing twice."""

    kinds = (WorkerPinged,)  # the bus events it handles

    def __init__(
        self, *, store: JobStore, mover: JobMover, tracker: HeartbeatTracker, clock: Clock
    ) -> None:
        self._store = store
        self._mover = mover
        self._tracker = tracker
        self._clock = clock

    async def __call__(self, event: Event) -> None:
        if not isinstance(event, WorkerPinged):
            return
        ping = event.ping
        self._tracker.seen(ping.job_id, ping.attempt, self._clock.monotonic())
        if self._tracker.confirmed(ping.job_id, ping.attempt):
            return
        try:
            job = await self._store.get(ping.job_id)
        except JobNotFound:
            log.warning("ping_for_unknown_job", job_id=ping.job_id)
            return
        if job.attempt != ping.attempt or job.state is not JobState.LAUNCHING:
            if job.attempt == ping.attempt and job.state is JobState.RUNNING:
                self._tracker.confirm(ping.job_id, ping.attempt)
            return
        # None: the worker (or a duplicate ping) moved it first
        if await self._mover.to_running(job, f"first ping from {ping.instance_id}"):
            log.info("job_running", job_id=job.job_id, attempt=ping.attempt)
        self._tracker.confirm(ping.job_id, ping.attempt)
