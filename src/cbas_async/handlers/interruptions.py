"""Spot interruption warnings (EventBridge via SNS): note the notice for the attempt the
warned instance runs and wake the supervisor, so the replacement is placed as soon as the
worker's final checkpoint lands, and, should the worker not write INTERRUPTED by the end
of the notice, the lost-worker check takes the attempt as lost then (`recovery.py`)."""

from __future__ import annotations

import asyncio

import structlog

from cbas_async.clock import Clock, utc_iso
from cbas_async.errors import JobNotFound
from cbas_async.events import Event, InterruptionWarned
from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.fleet.tags import tag_value
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.states import LIVE
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


class InterruptionHandler:
    """Tells the heartbeat tracker when the attempt's notice began; idempotent. The
    instance is looked up in every region of the deployment, this master's own first."""

    def __init__(
        self,
        *,
        store: JobStore,
        launcher: Launcher | Launchers,
        tracker: HeartbeatTracker,
        clock: Clock,
        wake: asyncio.Event,
    ) -> None:
        self._store = store
        self._launchers = Launchers.of(launcher)
        self._tracker = tracker
        self._clock = clock
        self._wake = wake

    kinds = (InterruptionWarned,)  # the bus events it handles

    async def __call__(self, event: Event) -> None:
        if not isinstance(event, InterruptionWarned):
            return
        found = await self._launchers.find(event.instance_id)
        instance = found[1] if found else None
        job_id = tag_value(instance, "cbas:job_id") if instance else None
        attempt = tag_value(instance, "cbas:attempt") if instance else None
        if job_id is None or attempt is None or not attempt.isdigit():
            log.info("interruption_for_unknown_instance", instance_id=event.instance_id)
            return
        try:
            job = await self._store.get(job_id)
        except JobNotFound:
            return
        if job.attempt != int(attempt) or job.state not in LIVE:
            return  # an older attempt, or the job ended: nothing to do
        # EC2's notice starts at `event.at`; it may have reached us a little later
        late_s = max(0.0, (self._clock.now() - event.at).total_seconds())
        self._tracker.noticed(job_id, job.attempt, self._clock.monotonic() - late_s)
        log.warning("interruption_warned", job_id=job_id, attempt=attempt, at=utc_iso(event.at))
        self._wake.set()
