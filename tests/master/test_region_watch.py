"""Which regions a master watches, against the moto server's tables: a region with no live
master where the master owns a LAUNCHING or RUNNING job is watched until a master of the
region is back, which then gets the job; other jobs and regions start nothing. The pollers
are recorders here (`test_region_launchers.py` runs the real ones on a second region's queues)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from cbas_async.bus import Bus
from cbas_async.fleet.lease import MasterLease
from cbas_async.jobs import parse_spec
from cbas_async.master.health import Health
from cbas_async.master.region_watch import RegionWatcher, live_masters
from cbas_async.master.regions import region_watcher
from cbas_async.master.wiring import make_mover
from cbas_async.records import JobPlacement
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.worker.helpers import eventually

EAST, WEST, SOUTH = "us-east-1", "us-west-2", "sa-east-1"
ME = "m-east"
INTERVAL_S = 2.0


class Recorder:
    """Stands for one of a region's pollers: notes when it runs and when it stops."""

    name = "recorder"

    def __init__(self, region: str, seen: list[tuple[str, str]]) -> None:
        self._region = region
        self._seen = seen

    async def run(self, stopping: asyncio.Event) -> None:
        self._seen.append(("started", self._region))
        await stopping.wait()
        self._seen.append(("stopped", self._region))


async def job_in(
    store: JobStore, clock: FakeClock, *, region: str, owner: str, state: JobState
) -> str:
    """A job of `owner` placed in `region`, moved to `state` (LAUNCHING or later)."""
    spec = parse_spec({"name": "t", "command": ["true"]})
    job = await store.create(spec, now=clock.now(), actor="t")
    await store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=clock.now(), actor="t"
    )
    assert await store.set_owner(job.job_id, owner=owner, expected_owner=None)
    mover = make_mover(store, clock, owner)
    placement = JobPlacement(region=region, instance_type="c5.large", checkpoint_interval_s=60)
    moved = await mover.to_launching(await store.get(job.job_id), placement)
    assert moved is not None
    if state is JobState.RUNNING:
        assert await mover.to_running(moved, "first ping")
    return job.job_id


async def lease(store: JobStore, clock: FakeClock, master_id: str, region: str) -> MasterLease:
    held = MasterLease(store=store, master_id=master_id, ttl_s=30.0, clock=clock, region=region)
    assert await held.renew_once()
    return held


@asynccontextmanager
async def running(watcher: RegionWatcher) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(watcher.run(stopping))
        yield
        stopping.set()


def watcher_of(store: JobStore, clock: FakeClock, seen: list[tuple[str, str]]) -> RegionWatcher:
    return RegionWatcher(
        store=store,
        master_id=ME,
        regions=(WEST, SOUTH),
        pollers=lambda region: [Recorder(region, seen), Recorder(region, seen)],
        clock=clock,
        interval_s=INTERVAL_S,
    )


async def test_a_region_without_a_master_is_watched_until_one_is_back_and_gets_the_job(
    store: JobStore,
) -> None:
    clock = FakeClock(datetime(2026, 12, 7, tzinfo=UTC))
    await lease(store, clock, ME, EAST)
    job_id = await job_in(store, clock, region=WEST, owner=ME, state=JobState.RUNNING)
    seen: list[tuple[str, str]] = []
    watcher = watcher_of(store, clock, seen)
    async with running(watcher):
        await eventually(lambda: _is(watcher.watching, {WEST}))
        await eventually(lambda: _is(seen, [("started", WEST)] * 2))
        await lease(store, clock, "m-west", WEST)  # a master of the region is back
        await clock.advance(INTERVAL_S)
        await eventually(lambda: _is(watcher.watching, set()))
        await eventually(lambda: _is(seen[2:], [("stopped", WEST)] * 2))
    assert (await store.get(job_id)).owner == "m-west"  # handed over: its region's master


async def test_nothing_is_watched_for_jobs_of_others_or_in_its_own_region(
    store: JobStore,
) -> None:
    clock = FakeClock(datetime(2026, 12, 7, tzinfo=UTC))
    await lease(store, clock, ME, EAST)
    running_at = {WEST: "m-gone", EAST: ME}  # someone else's job in WEST, mine at home
    ids = [
        await job_in(store, clock, region=region, owner=owner, state=JobState.RUNNING)
        for region, owner in running_at.items()
    ]
    launching = await job_in(store, clock, region=SOUTH, owner=ME, state=JobState.LAUNCHING)
    seen: list[tuple[str, str]] = []
    watcher = watcher_of(store, clock, seen)
    async with running(watcher):
        # only my LAUNCHING job in SOUTH, which has no master, is watched
        await eventually(lambda: _is(seen, [("started", SOUTH)] * 2))
        assert watcher.watching == {SOUTH}
    assert [(await store.get(i)).owner for i in [*ids, launching]] == ["m-gone", ME, ME]
    assert seen[2:] == [("stopped", SOUTH)] * 2  # stopped with the watcher


async def test_live_masters_by_region_ignore_expired_leases(store: JobStore) -> None:
    clock = FakeClock(datetime(2026, 12, 7, tzinfo=UTC))
    await lease(store, clock, "m-old", WEST)
    await clock.advance(31.0)  # m-old's lease expires
    for master_id, region in [("m-2", WEST), ("m-1", WEST), (ME, EAST)]:
        await lease(store, clock, master_id, region)
    now_s = clock.now().timestamp()
    assert await live_masters(store, now_s) == {WEST: ["m-1", "m-2"], EAST: [ME]}


def test_one_region_has_no_watcher(settings: Settings, store: JobStore) -> None:
    watcher = region_watcher(
        settings,
        store,
        others={},
        bus=Bus(),
        clock=FakeClock(),
        health=Health(clock=FakeClock()),
    )
    assert watcher is None


async def _is(found: object, expected: object) -> bool:
    return found == expected
