"""Spot interruption warnings (EventBridge via SNS): mark the job and wake the supervisor,
so the replacement is placed as soon as the worker's final checkpoint lands."""

from __future__ import annotations

import asyncio

import structlog

from cbas_async.clock import Clock, utc_iso
from cbas_async.errors import JobNotFound, StaleWrite
from cbas_async.events import Event, InterruptionWarned
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.tags import tag_value
from cbas_async.states import LIVE
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


class InterruptionHandler:
    """Records `notice_at` on the attempt the warned instance runs; idempotent."""

    def __init__(self, *, store: JobStore, launcher: Launcher, clock: Clock, wake: asyncio.Event):
        self._store = store
        self._launcher = launcher
        self._clock = clock
        self._wake = wake

    kinds = (InterruptionWarned,)  # the bus events it handles

    async def __call__(self, event: Event) -> None:
        if not isinstance(event, InterruptionWarned):
            return
        instance = await self._launcher.describe(event.instance_id)
        job_id = tag_value(instance, "cbas:job_id") if instance else None
        attempt = tag_value(instance, "cbas:attempt") if instance else None
        if job_id is None or attempt is None or not attempt.isdigit():
            log.info("interruption_for_unknown_instance", instance_id=event.instance_id)
            return
        try:
            await self._store.update_fields(
                job_id,
                attempt=int(attempt),
                updates={"notice_at": utc_iso(event.at)},
                states=LIVE,
            )
        except (StaleWrite, JobNotFound):
            return  # an older attempt, or the job ended: nothing to do
        log.warning("interruption_warned", job_id=job_id, attempt=attempt, at=utc_iso(event.at))
        self._wake.set()
