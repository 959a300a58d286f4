"""Placement across regions against moto: the target region's write, masters of two regions
adopting by the rule, a move asked of a running job, and the re-queue that follows it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.errors import StaleWrite
from cbas_async.fleet.launch_config import LaunchConfig
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.lease import MasterLease
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.capacity import CapacityControl
from cbas_async.handlers.placement import Placer
from cbas_async.handlers.scheduling import HAND_OVER_QUIET_S
from cbas_async.handlers.sweeper import Sweeper
from cbas_async.jobs import parse_spec
from cbas_async.master.health import Health
from cbas_async.master.region_placement import make_move_checker, make_region_chooser
from cbas_async.master.supervisor import Supervisor
from cbas_async.master.wiring import make_job_steps, make_mover, make_supervisor
from cbas_async.records import JobPlacement
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.master.test_regions import EAST, WEST, book

NOW = datetime(2021, 4, 1, 12, tzinfo=UTC)  # the books' prices end here
SPEC = {
    "name": "t",
    "command": ["true"],
    "expected_hours": 10,
    "resources": {"instance_types": ["c5.large"]},
}


@pytest.fixture
def launcher(clients: Clients, east: Settings) -> Launcher:
    """Never called: nothing is placed (no pool) and no worker is lost."""
    config = LaunchConfig(images={}, instance_profile="unused", security_group_id="unused")
    return Launcher(ec2=clients.ec2, config=config, deployment=east.deployment)


@pytest.fixture
def east(master_settings: Settings) -> Settings:
    """A master of the home region; no worker is ever declared lost in these tests."""
    return master_settings.replace(
        regions=(EAST, WEST), lost_worker_timeout_s=1e5, launch_timeout_s=1e5
    )


class Region:
    """One region's master: its lease and its supervisor, placing nothing itself (and, unless
    `hand_over`, keeping the jobs it cannot place)."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        launcher: Launcher,
        resources: Resources,
        clock: FakeClock,
        prices: tuple[float, float],
        *,
        hand_over: bool = False,
        placer: Placer | None = None,
        capacity: CapacityControl | None = None,
    ) -> None:
        self.lease = MasterLease(
            store=store, master_id=settings.master_id, ttl_s=30, clock=clock, region=settings.region
        )
        books = {EAST: book(EAST, prices[0]), WEST: book(WEST, prices[1])}
        regions = make_region_chooser(settings, books=books, store=store, clock=clock)
        mover = make_mover(store, clock, settings.master_id)
        steps = make_job_steps(
            settings,
            mover=mover,
            launcher=launcher,
            placer=placer or (lambda job: None),  # no pool: a PENDING job waits
            capacity=capacity,
            tracker=HeartbeatTracker(),
            resources=resources,
            clock=clock,
            regions=regions,
            hand_over=hand_over,
        )
        sweeper = Sweeper(store=store, launcher=launcher, sns=None, topic_arn="", clock=clock)  # type: ignore[arg-type]
        self.supervisor: Supervisor = make_supervisor(
            settings,
            steps,
            store=store,
            sweeper=sweeper,
            health=Health(clock=clock),
            clock=clock,
            wake=asyncio.Event(),
            sweep_every=10**6,
            regions=regions,
            moves=make_move_checker(settings, regions, mover=mover, clock=clock),
        )

    async def tick(self) -> None:
        assert await self.lease.renew_once()
        await self.supervisor.supervise_once()


async def pending(store: JobStore, clock: FakeClock) -> str:
    job = await store.create(parse_spec(SPEC), now=clock.now(), actor="t")
    await store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=clock.now(), actor="t"
    )
    return job.job_id


async def running(store: JobStore, clock: FakeClock, region: str, owner: str) -> str:
    job_id = await pending(store, clock)
    assert await store.set_owner(job_id, owner=owner, expected_owner=None)
    placement = JobPlacement(
        region=region, zone=f"{region}a", instance_type="c5.large", checkpoint_interval_s=600
    )
    now = clock.now()
    await store.transition(
        job_id,
        {JobState.PENDING},
        JobState.LAUNCHING,
        1,
        now=now,
        actor=owner,
        attempt=1,
        updates={"placement": placement},
    )
    await store.transition(
        job_id, {JobState.LAUNCHING}, JobState.RUNNING, 2, now=now, actor="w", attempt=1
    )
    return job_id


async def test_the_target_is_written_fenced_on_version_and_owner(store: JobStore) -> None:
    clock = FakeClock(NOW)
    job_id = await pending(store, clock)
    assert not await store.set_target(job_id, region=WEST, expected_version=0, expected_owner=None)
    assert not await store.set_target(
        job_id, region=WEST, expected_version=1, expected_owner="m-gone"
    )
    assert await store.set_target(job_id, region=WEST, expected_version=1, expected_owner=None)
    job = await store.get(job_id)
    assert (job.target_region, job.owner, job.version) == (WEST, None, 1)  # not a transition
    assert await store.set_target(
        job_id, region=EAST, expected_version=1, expected_owner=None, owner="m-a"
    )
    assert not await store.set_target(
        job_id, region=WEST, expected_version=1, expected_owner=None, owner="m-b"
    )
    job = await store.get(job_id)
    assert (job.target_region, job.owner) == (EAST, "m-a")


async def test_masters_of_two_regions_adopt_by_the_target(
    east: Settings, store: JobStore, launcher: Launcher, resources: Resources
) -> None:
    """West is cheaper: east's master targets the new job there and leaves it to west's,
    which adopts it; when west's masters are gone, east's re-targets it and adopts it."""
    clock = FakeClock(NOW)
    west = east.replace(region=WEST, master_id="m-west")
    here = Region(east, store, launcher, resources, clock, (0.040, 0.030))
    there = Region(west, store, launcher, resources, clock, (0.040, 0.030))
    assert await there.lease.renew_once()
    job_id = await pending(store, clock)
    await here.tick()
    job = await store.get(job_id)
    assert (job.target_region, job.owner) == (WEST, None)
    await there.tick()
    assert (await store.get(job_id)).owner == "m-west"
    await here.tick()  # west's job, west has a master: nothing changes
    assert (await store.get(job_id)).owner == "m-west"
    await clock.advance(31)  # west's lease expires
    await here.tick()
    job = await store.get(job_id)
    assert (job.target_region, job.owner, job.state) == (EAST, "m-test", JobState.PENDING)


async def test_a_running_job_stays_with_its_regions_masters_while_they_live(
    east: Settings, store: JobStore, launcher: Launcher, resources: Resources
) -> None:
    clock = FakeClock(NOW)
    here = Region(east, store, launcher, resources, clock, (0.040, 0.030))
    there = MasterLease(store=store, master_id="m-west", ttl_s=30, clock=clock, region=WEST)
    assert await there.renew_once()
    job_id = await running(store, clock, WEST, owner="m-gone")
    await here.tick()
    assert (await store.get(job_id)).owner == "m-gone"
    await clock.advance(31)
    await here.tick()
    assert (await store.get(job_id)).owner == "m-test"


async def test_a_move_is_asked_when_it_pays_and_the_requeue_targets_it(
    east: Settings, store: JobStore, launcher: Launcher, resources: Resources
) -> None:
    """East 0.10 against west 0.02: after one move check interval, east's master asks the
    job to move; once the worker ended the attempt, the re-queue targets west and lets go."""
    clock = FakeClock(NOW)
    here = Region(east, store, launcher, resources, clock, (0.100, 0.020))
    there = MasterLease(store=store, master_id="m-west", ttl_s=1e6, clock=clock, region=WEST)
    assert await there.renew_once()
    job_id = await running(store, clock, EAST, owner="m-test")
    await here.tick()  # first sight: just placed, not weighed yet
    assert (await store.get(job_id)).move_to is None
    await clock.advance(east.move_check_s)
    await here.tick()
    assert (await store.get(job_id)).move_to == WEST
    await store.transition(
        job_id,
        {JobState.RUNNING},
        JobState.INTERRUPTED,
        3,
        now=clock.now(),
        actor="w",
        attempt=1,
        detail=f"moved to {WEST}",
    )
    await here.tick()
    job = await store.get(job_id)
    assert (job.state, job.attempt, job.target_region) == (JobState.PENDING, 2, WEST)
    assert (job.owner, job.move_to) == (None, None)


async def test_a_move_is_asked_of_a_running_attempt_only(store: JobStore, east: Settings) -> None:
    clock = FakeClock(NOW)
    mover = make_mover(store, clock, east.master_id)
    job_id = await running(store, clock, EAST, owner="m-test")
    job = await store.get(job_id)
    assert await mover.request_move(job, WEST)
    await store.transition(
        job_id,
        {JobState.RUNNING},
        JobState.INTERRUPTED,
        3,
        now=clock.now(),
        actor="w",
        attempt=1,
    )
    assert not await mover.request_move(job, EAST)
    with pytest.raises(StaleWrite):
        await store.update_fields(job_id, attempt=2, updates={"move_to": EAST})
    assert (await store.get(job_id)).move_to == WEST


async def test_a_requeue_for_this_region_keeps_the_owner(store: JobStore, east: Settings) -> None:
    clock = FakeClock(NOW)
    mover = make_mover(store, clock, east.master_id)
    job_id = await running(store, clock, EAST, owner="m-test")
    assert await mover.request_move(await store.get(job_id), EAST)
    interrupted = await store.transition(
        job_id, {JobState.RUNNING}, JobState.INTERRUPTED, 3, now=clock.now(), actor="w", attempt=1
    )
    requeued = await mover.requeue(interrupted, target_region=EAST)
    assert requeued is not None
    assert (requeued.owner, requeued.target_region, requeued.move_to) == ("m-test", EAST, None)
    history = await store.events(job_id)
    assert history[-1].detail == f"re-queued from the last checkpoint, for {EAST}"


async def test_a_job_no_pool_here_can_take_goes_to_another_region_once_a_quiet_time(
    east: Settings, store: JobStore, launcher: Launcher, resources: Resources
) -> None:
    """East is cheaper but every pool there is in back-off (the placer finds none): its master
    gives the job to west's, which cannot place it either and gives it back; east keeps it
    until its quiet time is over, then hands it over again."""
    clock = FakeClock(NOW)
    west = east.replace(region=WEST, master_id="m-west")
    here = Region(east, store, launcher, resources, clock, (0.030, 0.040), hand_over=True)
    there = Region(west, store, launcher, resources, clock, (0.030, 0.040), hand_over=True)
    assert await there.lease.renew_once()
    job_id = await pending(store, clock)
    await here.tick()  # targeted east and adopted, then handed over: no pool in east
    job = await store.get(job_id)
    assert (job.target_region, job.owner, job.state) == (WEST, None, JobState.PENDING)
    await there.tick()  # west adopts it, finds no pool either, and hands it back
    job = await store.get(job_id)
    assert (job.target_region, job.owner) == (EAST, None)
    await here.tick()  # east adopts it again, but hands it over only after its quiet time
    assert (await store.get(job_id)).owner == "m-test"
    await clock.advance(HAND_OVER_QUIET_S - 1)
    await there.lease.renew_once()
    await here.tick()
    assert (await store.get(job_id)).owner == "m-test"
    await clock.advance(2)
    await there.lease.renew_once()
    await here.tick()
    job = await store.get(job_id)
    assert (job.target_region, job.owner) == (WEST, None)


async def test_with_no_other_live_region_a_job_stays_where_it_waits(
    east: Settings, store: JobStore, launcher: Launcher, resources: Resources
) -> None:
    clock = FakeClock(NOW)
    here = Region(east, store, launcher, resources, clock, (0.030, 0.040), hand_over=True)
    job_id = await pending(store, clock)
    await here.tick()
    job = await store.get(job_id)
    assert (job.target_region, job.owner, job.state) == (EAST, "m-test", JobState.PENDING)


async def test_a_job_held_by_its_regions_spot_quota_goes_to_another_region(
    east: Settings, store: JobStore, launcher: Launcher, resources: Resources
) -> None:
    """EC2's vCPU quotas are per region: a master whose spot launches are held after a
    quota refusal gives its waiting job to another region's masters."""
    clock = FakeClock(NOW)
    request = LaunchRequest(
        region=EAST,
        zone=None,
        instance_type="c5.large",
        max_price_usd_per_hour=None,
        checkpoint_interval_s=600.0,
    )
    capacity = CapacityControl(clock=clock)
    capacity.gate.quota_reached("spot", clock.monotonic())
    here = Region(
        east,
        store,
        launcher,
        resources,
        clock,
        (0.030, 0.040),
        hand_over=True,
        placer=lambda job: request,
        capacity=capacity,
    )
    there = Region(
        east.replace(region=WEST, master_id="m-west"),
        store,
        launcher,
        resources,
        clock,
        (0.030, 0.040),
    )
    assert await there.lease.renew_once()
    job_id = await pending(store, clock)
    await here.tick()
    job = await store.get(job_id)
    assert (job.target_region, job.owner, job.state) == (WEST, None, JobState.PENDING)
