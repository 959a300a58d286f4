"""EC2 instance state changes (EventBridge via SNS): the moment the instance of a live job's
current attempt is shutting down, terminated or stopped, the job is moved to INTERRUPTED and
re-queued, instead of waiting for its heartbeats to stop. Heartbeats stay the fallback for
workers that hang on a running instance (`recovery.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from cbas_async.errors import JobNotFound
from cbas_async.events import Event, InstanceStateChanged
from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.fleet.tags import tag_value
from cbas_async.handlers.mover import JobMover
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

# EC2's states in which the instance no longer runs its worker (the brief's "gone")
GONE = frozenset({"shutting-down", "terminated", "stopped"})
_RUNS = (JobState.LAUNCHING, JobState.RUNNING)


class StateChangeHandler:
    """Re-queues the attempt whose instance went away. Idempotent: a duplicate, late or
    out-of-order event names an instance that is no longer the job's current attempt (or a
    state that is not "gone"), and every move is fenced by version, attempt and owner. The
    instance is looked up in every region of the deployment (this master's own first): an
    event may come from a region whose jobs this master watches."""

    kinds = (InstanceStateChanged,)  # the bus events it handles

    def __init__(
        self,
        *,
        store: JobStore,
        mover: JobMover,
        launcher: Launcher | Launchers,
        requeue: Callable[[JobRecord], Awaitable[None]],
        deployment: str,
        wake: asyncio.Event,
    ) -> None:
        self._store = store
        self._mover = mover
        self._launchers = Launchers.of(launcher)
        self._requeue = requeue
        self._deployment = deployment
        self._wake = wake

    async def __call__(self, event: Event) -> None:
        if not isinstance(event, InstanceStateChanged) or event.state not in GONE:
            return
        found = await self._launchers.find(event.instance_id)
        job = await self._current_attempt(event.instance_id, found)
        if job is None or found is None:
            return
        if job.state in _RUNS:
            detail = f"instance {event.instance_id} {event.state} (EC2 state-change event)"
            moved = await self._mover.to_interrupted(job, detail)
            if moved is None:
                return  # the worker, another master or a cancel moved it first
            log.warning("instance_gone", job_id=job.job_id, attempt=job.attempt, detail=detail)
            job = moved
        if event.state == "stopped":  # a stopped instance is kept (and billed) by EC2
            await found[0].terminate([event.instance_id])
        await self._requeue(job)
        self._wake.set()  # place the new attempt now, not at the next tick

    async def _current_attempt(
        self, instance_id: str, found: tuple[Launcher, dict[str, Any]] | None
    ) -> JobRecord | None:
        """The job whose current attempt runs on `instance_id` (`found`: where and how EC2
        describes it), while it is live (or INTERRUPTED, not yet re-queued); None for
        anything else."""
        instance = found[1] if found else None
        if instance is None or tag_value(instance, "cbas:deployment") != self._deployment:
            log.debug("state_change_not_ours", instance_id=instance_id)
            return None
        job_id = tag_value(instance, "cbas:job_id")
        attempt = tag_value(instance, "cbas:attempt")
        if job_id is None or attempt is None or not attempt.isdigit():
            return None
        try:
            job = await self._store.get(job_id)
        except JobNotFound:
            return None
        placed = job.placement.instance_id if job.placement else None
        if job.attempt != int(attempt) or placed not in (None, instance_id):
            return None  # an older attempt's instance: already replaced
        if job.state not in (*_RUNS, JobState.INTERRUPTED):
            return None
        return job
