"""EC2 state-change events re-queue the attempt whose instance went away, against moto EC2,
with the events as AWS documents them: duplicates, out-of-order and late events, other
deployments' instances and older attempts change nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.events import InstanceStateChanged
from cbas_async.fleet.launcher import Launcher
from cbas_async.handlers.statechanges import StateChangeHandler
from cbas_async.master.wiring import (
    JobSteps,
    make_mover,
    make_state_change_handler,
)
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.state_events import parse_state_change
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.master.conftest import launched_job, steps_for


def aws_event(instance_id: str, state: str) -> InstanceStateChanged:
    """The notification as EventBridge delivers it, read as the master reads it."""
    event = parse_state_change(
        {
            "version": "0",
            "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "account": "123456789012",
            "time": "2026-12-06T21:29:54Z",
            "region": "us-east-1",
            "resources": [f"arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}"],
            "detail": {"instance-id": instance_id, "state": state},
        }
    )
    assert event is not None
    return event


@dataclass
class Master:
    store: JobStore
    clients: Clients
    clock: FakeClock
    wake: asyncio.Event
    steps: JobSteps
    handler: StateChangeHandler
    launcher: Launcher

    async def launched(self) -> tuple[str, str]:
        """A job placed and launched at attempt 1: (job id, instance id)."""
        return await launched_job(self.store, self.steps.scheduler, self.clock, "m-test")

    async def instance_of(self, job_id: str) -> str:
        placement = (await self.store.get(job_id)).placement
        assert placement is not None
        assert placement.instance_id is not None
        return placement.instance_id

    async def ec2(self, instance_id: str, state: str) -> None:
        """EC2 moves the instance (as far as moto can), then the event arrives."""
        if state in ("shutting-down", "terminated"):
            await self.clients.ec2.terminate_instances(InstanceIds=[instance_id])
        elif state == "stopped":
            await self.clients.ec2.stop_instances(InstanceIds=[instance_id])
        await self.handler(aws_event(instance_id, state))

    async def job(self, job_id: str) -> JobRecord:
        return await self.store.get(job_id)

    async def history(self, job_id: str) -> list[str]:
        return [e.to_state.value for e in await self.store.events(job_id)]


@pytest.fixture
def master(
    store: JobStore,
    clients: Clients,
    launcher: Launcher,
    resources: Resources,
    master_settings: Settings,
) -> Master:
    clock = FakeClock(datetime(2026, 12, 6, tzinfo=UTC))
    wake, mover = asyncio.Event(), make_mover(store, clock, master_settings.master_id)
    steps = steps_for(
        master_settings, mover=mover, launcher=launcher, resources=resources, clock=clock
    )
    handler = make_state_change_handler(
        master_settings, steps, store=store, mover=mover, launcher=launcher, wake=wake
    )
    return Master(store, clients, clock, wake, steps, handler, launcher)


@pytest.mark.parametrize("state", ["shutting-down", "terminated", "stopped"])
async def test_a_gone_instance_re_queues_its_attempt_at_once(master: Master, state: str) -> None:
    job_id, instance_id = await master.launched()
    await master.ec2(instance_id, state)
    job = await master.job(job_id)
    assert (job.state, job.attempt) == (JobState.PENDING, 2)
    assert (await master.history(job_id))[-2:] == ["INTERRUPTED", "PENDING"]
    detail = (await master.store.events(job_id))[-2].detail
    assert detail == f"instance {instance_id} {state} (EC2 state-change event)"
    assert master.wake.is_set()
    ec2_state = await master.launcher.instance_state(instance_id)
    assert ec2_state == "terminated"  # a stopped instance is not left behind


async def test_duplicates_and_out_of_order_events_move_the_job_once(master: Master) -> None:
    job_id, instance_id = await master.launched()
    await master.ec2(instance_id, "terminated")
    version = (await master.job(job_id)).version
    for state in ("terminated", "shutting-down", "running", "pending", "terminated"):
        await master.handler(aws_event(instance_id, state))
    assert (await master.job(job_id)).version == version


async def test_running_and_pending_events_change_nothing(master: Master) -> None:
    job_id, instance_id = await master.launched()
    for state in ("pending", "running"):
        await master.handler(aws_event(instance_id, state))
    job = await master.job(job_id)
    assert (job.state, job.attempt) == (JobState.LAUNCHING, 1)
    assert not master.wake.is_set()


async def test_an_older_attempt_s_instance_changes_nothing(master: Master) -> None:
    job_id, first = await master.launched()
    await master.ec2(first, "terminated")
    await master.steps.scheduler.place(await master.job(job_id))  # attempt 2 launched
    second = await master.instance_of(job_id)
    await master.handler(aws_event(first, "terminated"))  # late, from attempt 1
    job = await master.job(job_id)
    assert (job.state, job.attempt) == (JobState.LAUNCHING, 2)
    assert await master.launcher.instance_state(second) == "running"


async def test_instances_not_ours_change_nothing(
    master: Master, launcher: Launcher, clients: Clients
) -> None:
    job_id, _ = await master.launched()
    image = launcher.config.image_for("c5.large").image_id
    other = await clients.ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "cbas:deployment", "Value": "another"},
                    {"Key": "cbas:job_id", "Value": job_id},
                    {"Key": "cbas:attempt", "Value": "1"},
                ],
            }
        ],
    )
    await master.ec2(other["Instances"][0]["InstanceId"], "terminated")
    await master.handler(aws_event("i-0000000000000dead", "terminated"))  # unknown to EC2
    job = await master.job(job_id)
    assert (job.state, job.attempt) == (JobState.LAUNCHING, 1)
    assert not master.wake.is_set()


async def test_a_job_the_worker_already_interrupted_is_re_queued(master: Master) -> None:
    job_id, instance_id = await master.launched()
    job = await master.job(job_id)
    await master.store.transition(
        job_id,
        {job.state},
        JobState.INTERRUPTED,
        job.version,
        now=master.clock.now(),
        actor="worker",
        attempt=1,
    )
    await master.ec2(instance_id, "terminated")
    assert (await master.history(job_id))[-2:] == ["INTERRUPTED", "PENDING"]
    assert [e.actor for e in await master.store.events(job_id)][-2] == "worker"
