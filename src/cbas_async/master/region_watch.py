"""Watching the regions whose masters are all gone: a master that adopted jobs running in
such a region polls that region's ping queue and events queue (publishing to its own bus)
until the region has a master again, and then hands those jobs to one of that region's
masters, so the owner of a job is in the job's region whenever that region has masters."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Collection, Sequence

import structlog

from cbas_async.clock import Clock
from cbas_async.components import Component
from cbas_async.fleet.lease import lease_key
from cbas_async.loops import every
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

# the states in which a job's worker pings and its instance's events matter
WATCHED = (JobState.LAUNCHING, JobState.RUNNING)

Pollers = Callable[[str], Sequence[Component]]  # the pollers that watch one region


async def live_masters(store: JobStore, now_s: float) -> dict[str, list[str]]:
    """The masters holding an unexpired lease, by the region their lease names (sorted)."""
    found: dict[str, list[str]] = {}
    for item in await store.misc_scan_prefix(lease_key("")):
        if item.get("region") and int(item["expires_at_ms"]) > now_s * 1000:
            found.setdefault(str(item["region"]), []).append(str(item["owner"]))
    return {region: sorted(masters) for region, masters in found.items()}


class RegionWatcher:
    """Every `interval_s`: the regions other than this master's own where it owns a
    LAUNCHING or RUNNING job are watched while they have no live master (their pollers
    run), and once they have one again the jobs are handed over and the pollers stop.
    Runs only in a deployment of several regions."""

    name = "region-watcher"

    def __init__(
        self,
        *,
        store: JobStore,
        master_id: str,
        regions: Collection[str],
        pollers: Pollers,
        clock: Clock,
        interval_s: float,
    ) -> None:
        self._store = store
        self._me = master_id
        self._regions = frozenset(regions)  # the other regions, not this master's own
        self._pollers = pollers
        self._clock = clock
        self._interval_s = interval_s
        self._group: asyncio.TaskGroup | None = None
        self._watching: dict[str, asyncio.Event] = {}  # region -> its pollers' `stopping`

    @property
    def watching(self) -> frozenset[str]:
        return frozenset(self._watching)

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch until `stopping`; the pollers started stop with it."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                await every(
                    self._interval_s,
                    self.watch_once,
                    stopping=stopping,
                    clock=self._clock,
                    log_event="region_watch_failed",
                )
            finally:
                self._group = None
                for region in list(self._watching):
                    self._stop(region)

    async def watch_once(self) -> frozenset[str]:
        """One pass; returns the regions watched after it. Only within `run`."""
        masters = await live_masters(self._store, self._clock.now().timestamp())
        jobs = await self._my_jobs_elsewhere()
        orphaned = {_region(job) for job in jobs} - set(masters)
        await self._hand_over([job for job in jobs if _region(job) in masters], masters)
        for region in set(self._watching) - orphaned:
            self._stop(region)
        for region in sorted(orphaned - set(self._watching)):
            self._start(region)
        return self.watching

    async def _my_jobs_elsewhere(self) -> list[JobRecord]:
        jobs = await self._store.all_in_states(WATCHED)
        return [j for j in jobs if j.owner == self._me and _region(j) in self._regions]

    async def _hand_over(self, jobs: list[JobRecord], masters: dict[str, list[str]]) -> None:
        """Each job to a live master of its region (spread by job id); a conditional owner
        write, so a job another master moved meanwhile is left alone."""
        for job in jobs:
            there = masters[_region(job)]
            to = there[zlib.crc32(job.job_id.encode()) % len(there)]
            if await self._store.set_owner(job.job_id, owner=to, expected_owner=self._me):
                log.info("job_handed_over", job_id=job.job_id, region=_region(job), owner=to)

    def _start(self, region: str) -> None:
        if self._group is None:
            raise RuntimeError("the region watcher starts pollers only while it runs")
        stopping = asyncio.Event()
        for poller in self._pollers(region):
            self._group.create_task(poller.run(stopping), name=f"{poller.name}:{region}")
        self._watching[region] = stopping
        log.warning("region_watched", region=region, reason="no live master there")

    def _stop(self, region: str) -> None:
        self._watching.pop(region).set()
        log.info("region_unwatched", region=region)


def _region(job: JobRecord) -> str:
    return job.placement.region if job.placement else ""
