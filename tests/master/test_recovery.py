"""Placement, lost-worker detection with a fake clock, and re-queueing, against moto EC2."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.errors import TransientError
from cbas_async.events import WorkerPinged
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.tags import tag_value
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.placement import first_allowed_type
from cbas_async.handlers.scheduling import LAUNCH_TRIES, Scheduler
from cbas_async.handlers.sweeper import Sweeper
from cbas_async.jobs import parse_spec
from cbas_async.master.health import Health
from cbas_async.master.wiring import (
    make_event_handlers,
    make_job_steps,
    make_mover,
    make_supervisor,
)
from cbas_async.messages import Ping, UserData, decode
from cbas_async.records import JobPlacement
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock

SPEC = {
    "name": "t",
    "command": ["true"],
    "max_attempts": 2,
    "resources": {"instance_types": ["c5.large", "m5.large"]},
    "max_price_usd_per_hour": 0.05,
}


class Parts:
    def __init__(
        self, store: JobStore, launcher: Launcher, resources: Resources, settings: Settings
    ):
        self.clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
        self.speed = settings.speed
        self.launch_timeout_s = settings.launch_timeout_s
        self.tracker = HeartbeatTracker()
        self.store = store
        self.launcher = launcher
        self.resources = resources
        self.mover = make_mover(store, self.clock, settings.master_id)
        steps = make_job_steps(
            settings,
            mover=self.mover,
            launcher=launcher,
            placer=first_allowed_type("us-east-1"),
            tracker=self.tracker,
            resources=resources,
            clock=self.clock,
        )
        self.scheduler = steps.scheduler
        self.detector = steps.detector
        handlers = make_event_handlers(
            store=store,
            mover=self.mover,
            launcher=launcher,
            tracker=self.tracker,
            clock=self.clock,
            wake=asyncio.Event(),
        )
        self.heartbeats = handlers.heartbeats
        self.interruptions = handlers.interruptions

    async def pending_job(self, owner: str = "m-test") -> str:
        job = await self.store.create(parse_spec(SPEC), now=self.clock.now(), actor="t")
        await self.store.transition(
            job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=self.clock.now(), actor="t"
        )
        assert await self.store.set_owner(job.job_id, owner=owner, expected_owner=None)
        return job.job_id

    async def ping(self, job_id: str, attempt: int, seq: int = 0) -> None:
        ping = Ping(job_id=job_id, attempt=attempt, instance_id="i-x", seq=seq, sent_at="now")
        await self.heartbeats(WorkerPinged(ping=ping, received_at=self.clock.now()))


@pytest.fixture
def parts(
    store: JobStore, launcher: Launcher, resources: Resources, master_settings: Settings
) -> Parts:
    return Parts(store, launcher, resources, master_settings)


async def test_place_launches_a_tagged_spot_instance_with_user_data(parts: Parts) -> None:
    job_id = await parts.pending_job()
    await parts.scheduler.place(await parts.store.get(job_id))
    job = await parts.store.get(job_id)
    assert job.state is JobState.LAUNCHING
    assert job.placement is not None
    assert job.placement.instance_id is not None
    instance = await parts.launcher.describe(job.placement.instance_id)
    assert instance is not None
    assert instance["InstanceType"] == "c5.large"
    assert instance.get("InstanceLifecycle") == "spot"
    assert tag_value(instance, "cbas:job_id") == job_id
    assert tag_value(instance, "cbas:attempt") == "1"
    assert tag_value(instance, "cbas:deployment") == "test"


async def test_first_ping_moves_launching_to_running_once(parts: Parts) -> None:
    job_id = await parts.pending_job()
    await parts.scheduler.place(await parts.store.get(job_id))
    for seq in range(3):  # duplicates change nothing twice
        await parts.ping(job_id, attempt=1, seq=seq)
    job = await parts.store.get(job_id)
    assert job.state is JobState.RUNNING
    assert [e.to_state for e in await parts.store.events(job_id)].count(JobState.RUNNING) == 1


async def test_ping_of_an_old_attempt_changes_nothing(parts: Parts) -> None:
    job_id = await parts.pending_job()
    await parts.scheduler.place(await parts.store.get(job_id))
    await parts.ping(job_id, attempt=7)
    assert (await parts.store.get(job_id)).state is JobState.LAUNCHING


async def test_silent_worker_is_lost_after_the_timeout_only(parts: Parts) -> None:
    job_id = await parts.pending_job()
    await parts.scheduler.place(await parts.store.get(job_id))
    await parts.ping(job_id, attempt=1)
    await parts.clock.advance(29)
    assert not await parts.detector.check(await parts.store.get(job_id))
    await parts.ping(job_id, attempt=1, seq=1)  # a heartbeat resets the clock
    await parts.clock.advance(29)
    assert not await parts.detector.check(await parts.store.get(job_id))
    await parts.clock.advance(2)
    job = await parts.store.get(job_id)
    assert await parts.detector.check(job)
    job = await parts.store.get(job_id)
    assert job.state is JobState.INTERRUPTED
    assert job.placement is not None
    assert job.placement.instance_id is not None
    assert await parts.launcher.instance_state(job.placement.instance_id) in (
        "shutting-down",
        "terminated",
    )


async def test_booting_instance_gets_the_launch_timeout(parts: Parts) -> None:
    job_id = await parts.pending_job()
    await parts.scheduler.place(await parts.store.get(job_id))
    await parts.clock.advance(59)  # past the lost-worker timeout, not the launch timeout
    assert not await parts.detector.check(await parts.store.get(job_id))
    await parts.clock.advance(2)
    assert await parts.detector.check(await parts.store.get(job_id))
    assert (await parts.store.get(job_id)).state is JobState.INTERRUPTED


async def test_a_launch_its_master_never_made_goes_back_to_pending_with_its_attempt(
    parts: Parts,
) -> None:
    """A master that moved the job to LAUNCHING and stopped before RunInstances: EC2 never
    had an instance for the attempt, so it is not used up."""
    job_id = await parts.pending_job()
    job = await parts.store.get(job_id)
    placement = JobPlacement(region="us-east-1", instance_type="c5.large", checkpoint_interval_s=60)
    assert await parts.mover.to_launching(job, placement) is not None
    # the master that adopts it starts the clock at first sight
    assert not await parts.detector.check(await parts.store.get(job_id))
    await parts.clock.advance(parts.launch_timeout_s + 1)
    assert await parts.detector.check(await parts.store.get(job_id))
    job = await parts.store.get(job_id)
    assert (job.state, job.attempt) == (JobState.PENDING, 1)
    assert "no instance after the launch timeout" in (
        (await parts.store.events(job_id))[-1].detail or ""
    )


async def test_requeue_bumps_attempt_then_fails_at_max_attempts(parts: Parts) -> None:
    job_id = await parts.pending_job()
    for attempt in (1, 2):
        await parts.scheduler.place(await parts.store.get(job_id))
        await parts.ping(job_id, attempt=attempt)
        await parts.clock.advance(31)
        assert await parts.detector.check(await parts.store.get(job_id))
        await parts.scheduler.requeue(await parts.store.get(job_id))
        job = await parts.store.get(job_id)
        if attempt == 1:
            assert (job.state, job.attempt) == (JobState.PENDING, 2)
    job = await parts.store.get(job_id)
    assert job.state is JobState.FAILED
    assert job.reason is not None
    assert "max_attempts" in job.reason


async def test_another_masters_job_is_not_touched(parts: Parts) -> None:
    job_id = await parts.pending_job(owner="m-other")
    await parts.scheduler.place(await parts.store.get(job_id))
    job = await parts.store.get(job_id)
    assert job.state is JobState.PENDING
    assert await parts.launcher.live_instances() == []


def test_user_data_round_trips(parts: Parts) -> None:
    assert (
        UserData.model_validate_json(
            UserData(
                job_id="j",
                attempt=1,
                deployment="d",
                region="r",
                bucket="b",
                ping_queue_url="q",
                topic_arn="t",
                jobs_table="j",
                events_table="e",
                misc_table="m",
                heartbeat_interval_s=1,
                notice_poll_s=1,
                checkpoint_interval_s=1,
                master_id="m",
            ).encode()
        ).job_id
        == "j"
    )


@pytest.mark.parametrize(
    ("aligned", "interval_s", "every_hours"),
    [(True, 7200.0, 2), (True, 1800.0, 1), (False, 7200.0, None)],
)
async def test_user_data_carries_hour_aligned_checkpoints(
    parts: Parts, aligned: bool, interval_s: float, every_hours: int | None
) -> None:
    job = await parts.store.get(await parts.pending_job())
    placement = LaunchRequest(
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c5.large",
        max_price_usd_per_hour=None,
        checkpoint_interval_s=interval_s,
        checkpoint_at_hour_end=aligned,
    )
    data = decode(UserData, parts.scheduler.user_data(job, placement).encode())
    assert data.checkpoint_every_hours == every_hours
    assert data.billing_hour_s == pytest.approx(3600.0 / parts.speed)


async def test_detector_prunes_heartbeats_of_jobs_no_longer_live(parts: Parts) -> None:
    job_id = await parts.pending_job()
    await parts.scheduler.place(await parts.store.get(job_id))
    await parts.ping(job_id, attempt=1)
    assert parts.detector.prune({job_id}) == 0  # live: kept whatever its age
    assert parts.detector.prune(set()) == 0  # finished just now: kept for a while
    await parts.clock.advance(2 * parts.launch_timeout_s + 1)
    assert parts.detector.prune(set()) == 1
    assert parts.tracker.last_seen(job_id) is None


class _FlakyLauncher(Launcher):
    """The real launcher, after `failures` launches that fail as EC2 under stress does."""

    def __init__(self, real: Launcher, failures: int) -> None:
        self.__dict__.update(real.__dict__)
        self.failures = failures
        self.calls = 0

    async def launch(
        self, request: LaunchRequest, user_data: UserData, *, client_token: str | None = None
    ) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError("launch failed: RequestLimitExceeded")
        return await super().launch(request, user_data, client_token=client_token)


def _scheduler(parts: Parts, launcher: Launcher, settings: Settings) -> Scheduler:
    return make_job_steps(
        settings,
        mover=parts.mover,
        launcher=launcher,
        placer=first_allowed_type("us-east-1"),
        tracker=parts.tracker,
        resources=parts.resources,
        clock=parts.clock,
    ).scheduler


async def test_a_failed_launch_is_tried_again_at_the_next_tick_not_within_this_one(
    parts: Parts, master_settings: Settings
) -> None:
    flaky = _FlakyLauncher(parts.launcher, failures=1)
    scheduler = _scheduler(parts, flaky, master_settings)
    job_id = await parts.pending_job()
    await scheduler.place(await parts.store.get(job_id))
    job = await parts.store.get(job_id)
    assert job.state is JobState.LAUNCHING
    assert job.placement is not None
    assert "instance_id" not in job.placement  # placed, not launched yet
    assert parts.clock.sleepers == 0  # the tick did not wait
    assert await scheduler.relaunch(job)
    job = await parts.store.get(job_id)
    assert job.placement is not None
    assert job.placement is not None
    assert job.placement.instance_id is not None
    assert await parts.launcher.instance_state(job.placement.instance_id) == "running"
    assert not await scheduler.relaunch(job)  # launched: the detector's again
    assert flaky.calls == 2


async def test_launches_stop_after_the_tries_and_cancelled_jobs_are_forgotten(
    parts: Parts, master_settings: Settings
) -> None:
    flaky = _FlakyLauncher(parts.launcher, failures=LAUNCH_TRIES)
    scheduler = _scheduler(parts, flaky, master_settings)
    job_id = await parts.pending_job()
    await scheduler.place(await parts.store.get(job_id))
    job = await parts.store.get(job_id)
    while await scheduler.relaunch(job):
        pass
    assert flaky.calls == LAUNCH_TRIES
    job = await parts.store.get(job_id)  # EC2 shows no instance of it: back, same attempt
    assert (job.state, job.attempt) == (JobState.PENDING, 1)
    other = await parts.pending_job()
    await _scheduler(parts, _FlakyLauncher(parts.launcher, 1), master_settings).place(
        await parts.store.get(other)
    )
    scheduler.forget_launches(set())
    assert not await scheduler.relaunch(await parts.store.get(other))


async def test_the_supervisor_relaunches_at_its_next_pass(
    parts: Parts, master_settings: Settings, clients: Clients
) -> None:
    flaky = _FlakyLauncher(parts.launcher, failures=1)
    steps = make_job_steps(
        master_settings,
        mover=parts.mover,
        launcher=flaky,
        placer=first_allowed_type("us-east-1"),
        tracker=parts.tracker,
        resources=parts.resources,
        clock=parts.clock,
    )
    supervisor = make_supervisor(
        master_settings,
        steps,
        store=parts.store,
        sweeper=Sweeper(
            store=parts.store, launcher=flaky, sns=clients.sns, topic_arn="x", clock=parts.clock
        ),
        health=Health(clock=parts.clock),
        clock=parts.clock,
        wake=asyncio.Event(),
        sweep_every=1000,
    )
    job_id = await parts.pending_job()
    await supervisor.supervise_once()  # placed; the launch failed
    assert flaky.calls == 1
    await supervisor.supervise_once()  # launched again
    job = await parts.store.get(job_id)
    assert job.state is JobState.LAUNCHING
    assert job.placement is not None
    assert job.placement.instance_id is not None
    assert flaky.calls == 2


async def test_a_refused_launch_leaves_the_job_pending_with_the_fix(
    parts: Parts, master_settings: Settings
) -> None:
    async with get_session().create_client(
        "ec2", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="k"
    ) as ec2:
        refusing = Launcher(ec2=ec2, config=parts.launcher.config, deployment="test")
        scheduler = _scheduler(parts, refusing, master_settings)
        job_id = await parts.pending_job()
        with AioStubber(ec2) as stub:  # EC2's answer in an account without a default VPC
            stub.add_client_error(
                "run_instances",
                service_error_code="VPCIdNotSpecified",
                service_message="No default VPC for this user",
                http_status_code=400,
            )
            await scheduler.place(await parts.store.get(job_id))
            stub.assert_no_pending_responses()
    job = await parts.store.get(job_id)
    assert (job.state, job.attempt) == (JobState.PENDING, 1)
    [reason] = scheduler.capacity.refusals.reasons()
    assert reason.startswith("VPCIdNotSpecified")
    assert "CBAS_SUBNET_ID" in reason
    history = await parts.store.events(job_id)
    assert history[-1].detail is not None
    assert "CBAS_SUBNET_ID" in history[-1].detail
    await scheduler.place(job)  # within the back-off: EC2 is not asked again
    assert (await parts.store.get(job_id)).state is JobState.PENDING
