"""The master's job mover against the moto store: each intent's move, its fences, and the
lost race (None, nothing written)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cbas_async.handlers.mover import JobMover
from cbas_async.jobs import JobSpec
from cbas_async.records import JobPlacement, JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock

ME = "m-test"
PLACEMENT = JobPlacement(
    region="us-east-1", zone="us-east-1a", instance_type="c5.large", checkpoint_interval_s=300.0
)
ON_I1 = PLACEMENT.model_copy(update={"instance_id": "i-1"})
ON_I2 = PLACEMENT.model_copy(update={"instance_id": "i-2"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 27, tzinfo=UTC))


@pytest.fixture
def mover(store: JobStore, clock: FakeClock) -> JobMover:
    return JobMover(store=store, clock=clock, actor=ME)


async def _pending(store: JobStore, clock: FakeClock, owner: str = ME) -> JobRecord:
    job = await store.create(JobSpec(name="t", command=["true"]), now=clock.now(), actor="t")
    await store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=clock.now(), actor="t"
    )
    assert await store.set_owner(job.job_id, owner=owner, expected_owner=None)
    return await store.get(job.job_id)


async def _history(store: JobStore, job_id: str) -> list[tuple[JobState, int, str]]:
    return [(e.to_state, e.attempt, e.actor) for e in await store.events(job_id)]


async def test_to_launching_records_the_placement_and_who_moved_it(
    store: JobStore, clock: FakeClock, mover: JobMover
) -> None:
    job = await _pending(store, clock)
    moved = await mover.to_launching(job, PLACEMENT)
    assert moved is not None
    assert (moved.state, moved.version, moved.placement) == (JobState.LAUNCHING, 2, PLACEMENT)
    assert (await _history(store, job.job_id))[-1] == (JobState.LAUNCHING, 1, ME)
    assert (await store.events(job.job_id))[-1].placement == PLACEMENT


async def test_the_loser_of_a_race_gets_none_and_writes_nothing(
    store: JobStore, clock: FakeClock, mover: JobMover
) -> None:
    job = await _pending(store, clock)
    assert await mover.to_launching(job, PLACEMENT) is not None
    after_winner = await store.get(job.job_id)
    assert await mover.to_launching(job, PLACEMENT) is None  # `job` is the stale read
    assert await mover.fail(job, "too late") is None
    assert await store.get(job.job_id) == after_winner
    assert len(await store.events(job.job_id)) == 3  # SUBMITTED, PENDING, LAUNCHING


async def test_a_job_of_another_master_is_not_moved(store: JobStore, clock: FakeClock) -> None:
    job = await _pending(store, clock, owner="m-other")
    mover = JobMover(store=store, clock=clock, actor=ME)
    assert await mover.to_launching(job, PLACEMENT) is None
    assert (await store.get(job.job_id)).state is JobState.PENDING


async def test_any_master_moves_to_running_but_only_for_the_current_attempt(
    store: JobStore, clock: FakeClock, mover: JobMover
) -> None:
    launching = await mover.to_launching(await _pending(store, clock), PLACEMENT)
    assert launching is not None
    old_attempt = launching.model_copy(update={"attempt": 7})
    assert await mover.to_running(old_attempt, "first ping from i-old") is None
    other = JobMover(store=store, clock=clock, actor="m-other")  # pings reach any master
    running = await other.to_running(launching, "first ping from i-1")
    assert running is not None
    assert running.state is JobState.RUNNING
    assert (await store.events(launching.job_id))[-1].detail == "first ping from i-1"


async def test_lost_worker_then_requeue_bumps_the_attempt_with_its_costs(
    store: JobStore, clock: FakeClock, mover: JobMover
) -> None:
    launching = await mover.to_launching(await _pending(store, clock), PLACEMENT)
    assert launching is not None
    interrupted = await mover.to_interrupted(launching, "lost worker: silent 31.0s")
    assert interrupted is not None
    pending = await mover.requeue(interrupted, {"cost_usd": "0.01"})
    assert pending is not None
    assert (pending.state, pending.attempt, pending.cost.spot_usd) == (JobState.PENDING, 2, 0.01)
    assert await mover.requeue(interrupted) is None  # a second pass with the old read
    assert (await _history(store, pending.job_id))[-2:] == [
        (JobState.INTERRUPTED, 1, ME),
        (JobState.PENDING, 2, ME),
    ]


async def test_fail_says_why(store: JobStore, clock: FakeClock, mover: JobMover) -> None:
    failed = await mover.fail(await _pending(store, clock), "launch refused: Unsupported")
    assert failed is not None
    assert (failed.state, failed.reason) == (JobState.FAILED, "launch refused: Unsupported")


async def test_instance_is_recorded_only_on_the_current_attempt(
    store: JobStore, clock: FakeClock, mover: JobMover
) -> None:
    launching = await mover.to_launching(await _pending(store, clock), PLACEMENT)
    assert launching is not None
    assert await mover.record_instance(launching, "i-1", ON_I1)
    job = await store.get(launching.job_id)
    assert job.placement == ON_I1
    stale = launching.model_copy(update={"attempt": 2})
    assert not await mover.record_instance(stale, "i-2", ON_I2)
    assert (await store.get(launching.job_id)).placement == PLACEMENT.model_copy(
        update={"instance_id": "i-1"}
    )
