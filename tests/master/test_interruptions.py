"""Spot interruption notices, against moto EC2 with a fake clock: the lost-worker check takes
an attempt whose notice ran out without INTERRUPTED as lost, and ignores stale notices."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from cbas_async.bootstrap import Resources
from cbas_async.events import InterruptionWarned, WorkerPinged
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.master.wiring import (
    EventHandlers,
    JobSteps,
    make_event_handlers,
    make_mover,
)
from cbas_async.messages import Ping
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.master.conftest import launched_job, steps_for

NOTICE_S, GRACE_S = 120.0, 5.0  # speed 1: EC2's two minutes; one heartbeat interval


@dataclass
class Master:
    store: JobStore
    clock: FakeClock
    wake: asyncio.Event
    steps: JobSteps
    handlers: EventHandlers

    async def launched(self) -> tuple[str, str]:
        """A job placed and launched at attempt 1: (job id, instance id)."""
        return await launched_job(self.store, self.steps.scheduler, self.clock, "m-test")

    async def warn(self, instance_id: str, *, late_s: float = 0.0) -> None:
        at = self.clock.now() - timedelta(seconds=late_s)
        await self.handlers.interruptions(
            InterruptionWarned(instance_id=instance_id, action="terminate", at=at)
        )

    async def ping(self, job_id: str, seq: int) -> None:
        ping = Ping(job_id=job_id, attempt=1, instance_id="i", seq=seq, sent_at="now")
        await self.handlers.heartbeats(WorkerPinged(ping=ping, received_at=self.clock.now()))

    async def check(self, job_id: str) -> bool:
        return await self.steps.detector.check(await self.store.get(job_id))


@pytest.fixture
def master(
    store: JobStore, launcher: Launcher, resources: Resources, master_settings: Settings
) -> Master:
    settings = master_settings.replace(launch_timeout_s=300.0, heartbeat_interval_s=GRACE_S)
    assert settings.scaled_notice_s == NOTICE_S
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    tracker, wake, mover = (
        HeartbeatTracker(),
        asyncio.Event(),
        make_mover(store, clock, settings.master_id),
    )
    steps = steps_for(
        settings, mover=mover, launcher=launcher, resources=resources, clock=clock, tracker=tracker
    )
    handlers = make_event_handlers(
        store=store,
        mover=mover,
        launcher=launcher,
        tracker=tracker,
        clock=clock,
        wake=wake,
    )
    return Master(store, clock, wake, steps, handlers)


async def test_a_booting_instance_warned_is_lost_when_its_notice_ends(master: Master) -> None:
    job_id, instance_id = await master.launched()
    await master.warn(instance_id)
    assert master.wake.is_set()
    await master.clock.advance(NOTICE_S + GRACE_S - 1)
    assert not await master.check(job_id)
    await master.clock.advance(1)  # long before the 300 s launch timeout
    assert await master.check(job_id)
    job = await master.store.get(job_id)
    assert job.state is JobState.INTERRUPTED
    detail = (await master.store.events(job_id))[-1].detail
    assert detail is not None
    assert detail.startswith("lost worker: spot notice over")


async def test_pings_past_the_end_of_the_notice_do_not_keep_the_attempt(master: Master) -> None:
    job_id, instance_id = await master.launched()
    await master.ping(job_id, seq=0)
    await master.warn(instance_id, late_s=100)  # the warning reached the master late
    await master.clock.advance(20)
    await master.ping(job_id, seq=1)
    assert not await master.check(job_id)
    await master.clock.advance(6)
    await master.ping(job_id, seq=2)
    assert await master.check(job_id)
    assert (await master.store.get(job_id)).state is JobState.INTERRUPTED


async def test_a_worker_that_wrote_interrupted_in_time_is_left_to_the_scheduler(
    master: Master,
) -> None:
    job_id, instance_id = await master.launched()
    await master.warn(instance_id)
    job = await master.store.get(job_id)
    await master.store.transition(
        job_id,
        {job.state},
        JobState.INTERRUPTED,
        job.version,
        now=master.clock.now(),
        actor="worker",
        attempt=1,
    )
    await master.clock.advance(NOTICE_S + GRACE_S)
    assert not await master.check(job_id)  # not live: nothing for the detector
    assert [e.actor for e in await master.store.events(job_id)][-1] == "worker"


async def test_stale_and_unknown_warnings_change_nothing(master: Master) -> None:
    job_id, instance_id = await master.launched()
    job = await master.store.get(job_id)
    await master.store.transition(
        job_id,
        {job.state},
        JobState.CANCELLED,
        job.version,
        now=master.clock.now(),
        actor="cli",
        attempt=1,
    )
    await master.warn(instance_id)  # the job ended
    await master.warn("i-0000000000000dead")  # not an instance of ours
    assert not master.wake.is_set()
    other_id, _ = await master.launched()
    await master.clock.advance(NOTICE_S + GRACE_S)
    await master.ping(other_id, seq=0)
    assert not await master.check(other_id)  # never warned: heartbeats alone decide
