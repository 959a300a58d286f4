"""Launches EC2 declines, through the scheduler against moto: the attempt is kept, the pool
backs off and the job lands elsewhere or later; the vCPU ceiling holds jobs PENDING; a
refused configuration leaves jobs PENDING and says why in /healthz, logged once."""

from __future__ import annotations

from typing import Any

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber
from botocore.exceptions import ClientError
from structlog.testing import capture_logs

from cbas_async.bootstrap import Resources
from cbas_async.errors import TransientError
from cbas_async.fleet.ceiling import Claim, LaunchGate
from cbas_async.fleet.launch_errors import launch_error
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.quotas import VcpuCatalog
from cbas_async.handlers.capacity import CapacityControl
from cbas_async.handlers.placement import first_allowed_type
from cbas_async.handlers.scheduling import Scheduler
from cbas_async.jobs import parse_spec
from cbas_async.master.health import Health
from cbas_async.master.wiring import make_job_steps
from cbas_async.messages import UserData
from cbas_async.records import JobPlacement, JobRecord
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.master.test_recovery import Parts

# EC2's documented messages (API reference, "Error codes")
MESSAGES = {
    "InsufficientInstanceCapacity": "We currently do not have sufficient capacity in the "
    "Availability Zone you requested.",
    "MaxSpotInstanceCountExceeded": "Max spot instance count exceeded",
}
PROFILE_REFUSED = (
    "Value (test-us-east-1-worker) for parameter iamInstanceProfile.name is invalid. "
    "Invalid IAM Instance Profile name"
)


@pytest.fixture
def parts(
    store: JobStore, launcher: Launcher, resources: Resources, master_settings: Settings
) -> Parts:
    return Parts(store, launcher, resources, master_settings)


class _Cloud(Launcher):
    """The moto launcher, except that the types in `refused` get EC2's error for them."""

    def __init__(self, real: Launcher, refused: dict[str, str]) -> None:
        self.__dict__.update(real.__dict__)
        self.refused = refused
        self.calls: list[str] = []

    async def launch(
        self, request: LaunchRequest, user_data: UserData, *, client_token: str | None = None
    ) -> str:
        self.calls.append(request.instance_type)
        code = self.refused.get(request.instance_type)
        if code is not None:
            error = ClientError(
                {"Error": {"Code": code, "Message": MESSAGES[code]}}, "RunInstances"
            )
            raise launch_error(error, self._context(request)) from error
        return await super().launch(request, user_data, client_token=client_token)


def _scheduler(
    parts: Parts, launcher: Launcher, settings: Settings, capacity: CapacityControl | None = None
) -> Scheduler:
    capacity = capacity or CapacityControl(clock=parts.clock)
    return make_job_steps(
        settings,
        mover=parts.mover,
        launcher=launcher,
        placer=first_allowed_type("us-east-1", pools=capacity.pools, clock=parts.clock),
        tracker=parts.tracker,
        resources=parts.resources,
        clock=parts.clock,
        capacity=capacity,
    ).scheduler


def _under_ceiling(
    parts: Parts, settings: Settings, *, vcpus: int
) -> tuple[CapacityControl, Scheduler]:
    """A scheduler on the moto launcher whose live workers may hold `vcpus` vCPUs."""
    capacity = CapacityControl(
        clock=parts.clock,
        gate=LaunchGate(limit_vcpus=vcpus),
        vcpus=VcpuCatalog(ec2=parts.launcher._ec2),
    )
    return capacity, _scheduler(parts, parts.launcher, settings, capacity)


async def _pending(parts: Parts, *types: str) -> str:
    spec = parse_spec({"name": "c", "command": ["true"], "resources": {"instance_types": types}})
    job = await parts.store.create(spec, now=parts.clock.now(), actor="t")
    await parts.store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=parts.clock.now(), actor="t"
    )
    assert await parts.store.set_owner(job.job_id, owner="m-test", expected_owner=None)
    await parts.clock.advance(1)  # the next job is submitted later
    return job.job_id


async def _place(parts: Parts, scheduler: Scheduler, job_id: str) -> tuple[JobState, int]:
    await scheduler.place(await parts.store.get(job_id))
    job = await parts.store.get(job_id)
    return job.state, job.attempt


async def test_a_job_whose_only_pool_has_no_capacity_keeps_attempt_1_until_it_returns(
    parts: Parts, master_settings: Settings
) -> None:
    cloud = _Cloud(parts.launcher, {"c5.large": "InsufficientInstanceCapacity"})
    scheduler = _scheduler(parts, cloud, master_settings)
    job_id = await _pending(parts, "c5.large")
    assert await _place(parts, scheduler, job_id) == (JobState.PENDING, 1)
    assert await _place(parts, scheduler, job_id) == (JobState.PENDING, 1)  # backing off
    assert cloud.calls == ["c5.large"]
    await parts.clock.advance(61)
    assert await _place(parts, scheduler, job_id) == (JobState.PENDING, 1)  # still none
    await parts.clock.advance(61)  # the back-off doubled
    assert await _place(parts, scheduler, job_id) == (JobState.PENDING, 1)
    assert len(cloud.calls) == 2
    cloud.refused.clear()  # capacity is back
    await parts.clock.advance(60)
    assert await _place(parts, scheduler, job_id) == (JobState.LAUNCHING, 1)
    await parts.ping(job_id, attempt=1)
    job = await parts.store.get(job_id)
    assert (job.state, job.attempt) == (JobState.RUNNING, 1)
    history = await parts.store.events(job_id)
    moves = [(e.from_state, e.to_state) for e in history]
    assert moves.count((JobState.LAUNCHING, JobState.PENDING)) == 2
    assert {e.attempt for e in history[2:]} == {1}  # from the first placement on
    assert "InsufficientInstanceCapacity" in (history[3].detail or "")


async def test_a_job_allowing_two_types_lands_on_the_second_when_the_first_has_none(
    parts: Parts, master_settings: Settings
) -> None:
    cloud = _Cloud(parts.launcher, {"c5.large": "InsufficientInstanceCapacity"})
    scheduler = _scheduler(parts, cloud, master_settings)
    job_id = await _pending(parts, "c5.large", "m5.large")
    assert await _place(parts, scheduler, job_id) == (JobState.PENDING, 1)
    assert await _place(parts, scheduler, job_id) == (JobState.LAUNCHING, 1)  # same tick
    assert cloud.calls == ["c5.large", "m5.large"]
    job = await parts.store.get(job_id)
    assert job.placement is not None
    assert job.placement.instance_type == "m5.large"
    assert job.placement.instance_id is not None


async def test_a_quota_holds_launches_of_the_market_until_an_instance_frees_up(
    parts: Parts, master_settings: Settings
) -> None:
    cloud = _Cloud(parts.launcher, {"c5.large": "MaxSpotInstanceCountExceeded"})
    scheduler = _scheduler(parts, cloud, master_settings)
    first, second = await _pending(parts, "c5.large"), await _pending(parts, "c5.large")
    assert await _place(parts, scheduler, first) == (JobState.PENDING, 1)
    assert await _place(parts, scheduler, second) == (JobState.PENDING, 1)
    assert cloud.calls == ["c5.large"]  # the second was held, not sent
    cloud.refused.clear()
    await parts.clock.advance(61)
    assert await _place(parts, scheduler, second) == (JobState.LAUNCHING, 1)


async def test_the_vcpu_ceiling_holds_jobs_pending_in_order_until_others_finish(
    parts: Parts, master_settings: Settings
) -> None:
    capacity, scheduler = _under_ceiling(parts, master_settings, vcpus=4)
    jobs = [await _pending(parts, "c5.large") for _ in range(4)]  # 2 vCPUs each
    states = [(await _place(parts, scheduler, j))[0] for j in reversed(jobs)]
    assert capacity.gate.live_vcpus <= 4
    assert len(await parts.launcher.live_instances()) == 2
    # the store's order is not submission order; the first pass admits the first seen
    assert states.count(JobState.LAUNCHING) == 2
    live = {j: (await parts.store.get(j)).state for j in jobs}
    done = next(j for j in jobs if live[j] is JobState.LAUNCHING)
    await parts.store.transition(
        done, {JobState.LAUNCHING}, JobState.CANCELLED, 2, now=parts.clock.now(), actor="t"
    )
    waiting = [j for j in jobs if live[j] is JobState.PENDING]
    scheduler.forget_launches(set(jobs) - {done})
    assert await _place(parts, scheduler, waiting[1]) == (JobState.PENDING, 1)  # older first
    assert await _place(parts, scheduler, waiting[0]) == (JobState.LAUNCHING, 1)
    assert capacity.gate.live_vcpus == 4


async def test_thirty_jobs_under_a_four_vcpu_ceiling_never_exceed_it_and_all_finish(
    parts: Parts, master_settings: Settings
) -> None:
    capacity, scheduler = _under_ceiling(parts, master_settings, vcpus=4)
    jobs = [await _pending(parts, "c5.large") for _ in range(30)]  # 2 vCPUs each
    launched: list[str] = []
    finished: set[str] = set()
    for _ in range(30):  # supervisor passes; two jobs fit at a time
        for job_id in [j for j in jobs if j not in finished]:
            pending = (await parts.store.get(job_id)).state is JobState.PENDING
            if pending and await _place(parts, scheduler, job_id) == (JobState.LAUNCHING, 1):
                launched.append(job_id)
            assert capacity.gate.live_vcpus <= 4  # at every launch
        assert len(await parts.launcher.live_instances()) <= 2  # what EC2 has running
        for job_id in set(launched) - finished:  # they run and succeed; EC2 ends them
            job = await parts.store.get(job_id)
            now = parts.clock.now()
            await parts.store.transition(
                job_id, {JobState.LAUNCHING}, JobState.RUNNING, job.version, now=now, actor="t"
            )
            await parts.store.transition(
                job_id, {JobState.RUNNING}, JobState.SUCCEEDED, job.version + 1, now=now, actor="t"
            )
            assert job.placement is not None
            assert job.placement.instance_id is not None
            await parts.launcher.terminate([job.placement.instance_id])
            finished.add(job_id)
        scheduler.forget_launches(set(jobs) - finished)
        if finished == set(jobs):
            break
    assert launched == jobs  # every one, in submission order
    states = {(await parts.store.get(j)).state for j in jobs}
    assert states == {JobState.SUCCEEDED}
    assert {(await parts.store.get(j)).attempt for j in jobs} == {1}


async def test_a_missing_instance_profile_leaves_jobs_pending_and_healthz_says_why(
    parts: Parts, master_settings: Settings
) -> None:
    capacity = CapacityControl(clock=parts.clock)
    health = Health(clock=parts.clock, problems=capacity.refusals.reasons)
    health.mark("sqs")
    health.mark("dynamodb")
    async with get_session().create_client(
        "ec2", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="k"
    ) as ec2:
        refusing = Launcher(ec2=ec2, config=parts.launcher.config, deployment="test")
        scheduler = _scheduler(parts, refusing, master_settings, capacity)
        jobs = [await _pending(parts, "c5.large") for _ in range(3)]
        with AioStubber(ec2) as stub, capture_logs() as logs:
            for _ in jobs:
                stub.add_client_error("run_instances", "InvalidParameterValue", PROFILE_REFUSED)
            states = [await _place(parts, scheduler, j) for j in jobs]
            stub.assert_no_pending_responses()
        assert states == [(JobState.PENDING, 1)] * 3
        assert [e["event"] for e in logs].count("launch_refused") == 1  # once per cause
        ok, body = health.report()
        assert ok
        assert body["status"] == "degraded"
        [reason] = body["degraded"]
        assert "instance profile test-us-east-1-worker" in reason
        assert "cbas bootstrap" in reason
        await parts.clock.advance(61)  # the jobs' back-off is over; the profile exists now
        with AioStubber(ec2) as stub:
            stub.add_response("run_instances", _one_instance())
            assert await _place(parts, scheduler, jobs[0]) == (JobState.LAUNCHING, 1)
    assert health.report()[1]["status"] == "ok"


def _one_instance() -> dict[str, Any]:
    return {"Instances": [{"InstanceId": "i-0123456789abcdef0"}]}


async def test_an_attempt_whose_instance_started_is_never_put_back_to_pending(
    parts: Parts, master_settings: Settings
) -> None:
    job_id = await _pending(parts, "c5.large")
    scheduler = _scheduler(parts, parts.launcher, master_settings)
    assert await _place(parts, scheduler, job_id) == (JobState.LAUNCHING, 1)
    job = await parts.store.get(job_id)
    assert job.placement is not None
    assert job.placement.instance_id is not None
    assert await parts.mover.unlaunch(job, "late refusal") is None
    assert (await parts.store.get(job_id)).state is JobState.LAUNCHING


def test_an_interrupted_attempt_counts_against_its_pool_and_frees_its_vcpus() -> None:
    clock = FakeClock()
    capacity = CapacityControl(clock=clock, gate=LaunchGate(limit_vcpus=4))
    capacity.gate.observe("j-1", Claim(2, "spot"))
    placement = JobPlacement(
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c5.large",
        checkpoint_interval_s=60.0,
        instance_id="i-1",
    )
    spec = parse_spec({"name": "i", "command": ["true"]})
    job = JobRecord(
        job_id="j-1",
        state=JobState.INTERRUPTED,
        version=4,
        attempt=1,
        spec=spec,
        created_at=clock.now(),
        updated_at=clock.now(),
        placement=placement,
    )
    capacity.ended(job)
    assert capacity.gate.live_vcpus == 0
    assert capacity.pools.risk("us-east-1", 0.0) == {("us-east-1a", "c5.large"): 0.5}


class _LandsUnseen(Launcher):
    """The moto launcher, whose answers are lost: the instance starts, the caller times out."""

    def __init__(self, real: Launcher) -> None:
        self.__dict__.update(real.__dict__)

    async def launch(
        self, request: LaunchRequest, user_data: UserData, *, client_token: str | None = None
    ) -> str:
        await super().launch(request, user_data, client_token=client_token)
        raise TransientError("launch failed: read timeout")


async def test_a_launch_that_landed_unseen_is_found_not_put_back(
    parts: Parts, master_settings: Settings
) -> None:
    scheduler = _scheduler(parts, _LandsUnseen(parts.launcher), master_settings)
    job_id = await _pending(parts, "c5.large")
    await scheduler.place(await parts.store.get(job_id))
    while await scheduler.relaunch(await parts.store.get(job_id)):
        pass
    job = await parts.store.get(job_id)
    assert (job.state, job.attempt) == (JobState.LAUNCHING, 1)
    assert job.placement is not None
    assert job.placement.instance_id is not None
    # EC2 would answer the retries with the same instance (one ClientToken); moto starts
    # one per call, so only "recorded one of this attempt's instances" is checked here
    found = await parts.launcher.attempt_instance(job_id, 1)
    assert found is not None
