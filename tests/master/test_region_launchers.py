"""A master's other regions against the moto server, two regions bootstrapped: launches go out
in their region with that region's queue, topic and bucket; a job running in a region whose
master died is watched from another region (its pings keep it alive there, its instance's
end re-queues it); the sweeper stops finished instances in every region."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber
from structlog.testing import capture_logs

from cbas_async.account import open_account_clients, set_up_account
from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import Resources, bootstrap, bucket_key, misc_value
from cbas_async.bus import Bus
from cbas_async.deployment import make_store
from cbas_async.errors import ConfigError
from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.placement import first_allowed_type
from cbas_async.handlers.sweeper import Sweeper, SweptRegion, subscription_key
from cbas_async.master.health import Health
from cbas_async.master.regions import (
    RegionParts,
    launchers,
    open_other_regions,
    region_resources,
    region_watcher,
    swept,
)
from cbas_async.master.wiring import (
    JobSteps,
    make_event_handlers,
    make_job_steps,
    make_launcher,
    make_mover,
    make_state_change_handler,
    subscribe_handlers,
    subscribe_wake_ups,
)
from cbas_async.messages import Ping
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.master.conftest import launched_job
from tests.master.test_region_watch import lease
from tests.worker.helpers import eventually

EAST, WEST = "us-east-1", "us-west-2"


@pytest.fixture
def two(settings: Settings) -> Settings:
    """A master of us-east-1 (the home region) in a deployment of two regions."""
    return settings.replace(
        regions=(EAST, WEST), master_id="m-east", lost_worker_timeout_s=30.0, launch_timeout_s=60.0
    )


async def bootstrapped(clients: Clients, settings: Settings) -> Resources:
    """`cbas bootstrap` with its account set-up, in `settings.region`."""
    resources = await bootstrap(clients, settings)
    async with open_account_clients(settings) as accounts:
        await set_up_account(clients, accounts, settings, resources)
    return resources


@dataclass
class Deployment:
    """Both regions bootstrapped, and the parts the east master has in them."""

    clients: dict[str, Clients]
    home: Resources
    west: RegionParts
    launchers: Launchers
    store: JobStore
    clock: FakeClock

    def steps(self, settings: Settings, master_id: str, tracker: HeartbeatTracker) -> JobSteps:
        """A master's job steps, placing in the master's region."""
        return make_job_steps(
            settings.replace(master_id=master_id),
            mover=make_mover(self.store, self.clock, master_id),
            launcher=self.launchers,
            placer=first_allowed_type(settings.region),
            tracker=tracker,
            resources=self.home,
            clock=self.clock,
            region_resources=region_resources(self.home, {WEST: self.west}),
        )


@pytest.fixture
async def deployment(two: Settings) -> AsyncIterator[Deployment]:
    async with open_region_clients(two) as clients:
        home = await bootstrapped(clients[EAST], two)
        await bootstrapped(clients[WEST], two.in_region(WEST))
        store = make_store(clients[EAST], home)
        others = await open_other_regions(clients, two)
        own = await make_launcher(clients[EAST], two, bucket=home.bucket)
        clock = FakeClock(datetime.now(UTC))
        yield Deployment(clients, home, others[WEST], launchers(own, others), store, clock)


async def test_a_job_of_a_region_without_master_is_watched_from_another_and_swept(
    deployment: Deployment, two: Settings
) -> None:
    d, tracker = deployment, HeartbeatTracker()
    west_bucket = await misc_value(d.clients[EAST], two, bucket_key(two, WEST))
    assert d.west.resources.bucket == west_bucket != d.home.bucket
    assert d.west.resources.files_bucket == d.home.bucket  # inputs, outputs, logs stay home
    # the west master launched the job in its region, then died (it holds no lease)
    west = d.steps(two.in_region(WEST), "m-west", HeartbeatTracker()).scheduler
    job_id, instance_id = await launched_job(d.store, west, d.clock, "m-west")
    job = await d.store.get(job_id)
    assert job.placement is not None
    assert job.placement.region == WEST
    request = first_allowed_type(WEST)(job)
    assert request is not None
    data = west.user_data(job, request)
    assert (data.region, data.bucket) == (WEST, west_bucket)
    wests = d.west.resources
    assert (data.ping_queue_url, data.topic_arn) == (wests.ping_queue_url, wests.topic_arn)
    await d.clients[WEST].ec2.describe_instances(InstanceIds=[instance_id])  # it is there
    # the east master adopted it
    await lease(d.store, d.clock, "m-east", EAST)
    assert await d.store.set_owner(job_id, owner="m-east", expected_owner="m-west")
    steps = d.steps(two, "m-east", tracker)
    bus, wake = Bus(), asyncio.Event()
    mover = make_mover(d.store, d.clock, "m-east")
    handlers = make_event_handlers(
        store=d.store, mover=mover, launcher=d.launchers, tracker=tracker, clock=d.clock, wake=wake
    )
    subscribe_handlers(bus, handlers)
    state_changes = make_state_change_handler(
        two, steps, store=d.store, mover=mover, launcher=d.launchers, wake=wake
    )
    subscribe_wake_ups(bus, state_changes, wake)
    watcher = region_watcher(
        two, d.store, {WEST: d.west}, bus=bus, clock=d.clock, health=Health(clock=d.clock)
    )
    assert watcher is not None
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stopping))
        group.create_task(watcher.run(stopping))
        await eventually(lambda: _is(watcher.watching, {WEST}))
        # pings on the west queue reach the east master: the job runs, and stays alive
        await _ping(d, job_id, instance_id, seq=1)
        await eventually(lambda: _state(d.store, job_id, JobState.RUNNING))
        for seq in (2, 3):
            await d.clock.advance(20.0)
            await _ping(d, job_id, instance_id, seq=seq)
            await eventually(lambda: _is(tracker.silent_for(job_id, 1, d.clock.monotonic()), 0.0))
        assert not await steps.detector.check(await d.store.get(job_id))  # 40 s, never silent
        # EC2 of the west region ends the instance: the west events queue tells the east master
        await d.clients[WEST].ec2.terminate_instances(InstanceIds=[instance_id])
        await _state_changed(d, instance_id, "terminated")
        requeued = await eventually(lambda: _state(d.store, job_id, JobState.PENDING))
        stopping.set()
    assert (requeued.attempt, requeued.owner) == (2, "m-east")
    history = [e.to_state.value for e in await d.store.events(job_id)]
    assert history[-2:] == ["INTERRUPTED", "PENDING"]
    # one moto deployment of two regions costs seconds to make: the sweeper's check on it too
    await sweeper_stops_finished_instances_in_every_region(d, two)


async def sweeper_stops_finished_instances_in_every_region(d: Deployment, two: Settings) -> None:
    """A job the west master launched and that was cancelled: an east master's sweep
    terminates its instance in the west, and removes the west subscriptions of a worker
    and of a master that are gone."""
    west = d.steps(two.in_region(WEST), "m-west", HeartbeatTracker()).scheduler
    job_id, instance_id = await launched_job(d.store, west, d.clock, "m-west")
    job = await d.store.get(job_id)
    await d.store.transition(
        job_id, {JobState.LAUNCHING}, JobState.CANCELLED, job.version, now=d.clock.now(), actor="t"
    )
    west_sns, wests = d.clients[WEST].sns, d.west.resources
    filtered = {"FilterPolicy": json.dumps({"instance_id": ["i-gone"]})}
    subscribed = [
        await west_sns.subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint="http://127.0.0.1:9/sns",
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        for topic, attributes in [(wests.topic_arn, filtered), (wests.events_topic_arn, {})]
    ]
    dead_master = subscribed[1]["SubscriptionArn"]
    await d.store.misc_put(subscription_key("m-west"), {"owner": "m-west", "arn": dead_master})
    east = d.clients[EAST]
    async with get_session().create_client(
        "ec2", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="k"
    ) as failing_ec2:
        failing = SweptRegion(
            launcher=Launcher(ec2=failing_ec2, config=d.west.launcher.config, deployment="test"),
            sns=east.sns,
            topic_arn=d.home.topic_arn,
        )
        sweeper = Sweeper(
            store=d.store,
            launcher=d.launchers.own,
            sns=east.sns,
            topic_arn=d.home.topic_arn,
            clock=d.clock,
            others=[failing, *swept({WEST: d.west})],
        )
        with AioStubber(failing_ec2) as stub, capture_logs() as logs:
            stub.add_client_error("describe_instances", "UnauthorizedOperation")
            await sweeper.sweep_once()  # a region that fails does not keep the next unswept
    assert await d.west.launcher.instance_state(instance_id) == "terminated"
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["sweep_region_failed"]
    left = {s["SubscriptionArn"] for s in (await west_sns.list_subscriptions())["Subscriptions"]}
    assert not left & {sub["SubscriptionArn"] for sub in subscribed}
    assert await d.store.misc_get(subscription_key("m-west")) is None


async def test_a_region_not_bootstrapped_is_named(two: Settings) -> None:
    async with open_region_clients(two) as clients:
        await bootstrap(clients[EAST], two)
        with pytest.raises(ConfigError) as raised:
            await open_other_regions(clients, two)
    assert raised.value.variable == "CBAS_REGIONS"
    assert str(raised.value).count(WEST) >= 1
    assert "run `cbas bootstrap`" in str(raised.value)


async def _ping(d: Deployment, job_id: str, instance_id: str, *, seq: int) -> None:
    ping = Ping(job_id=job_id, attempt=1, instance_id=instance_id, seq=seq, sent_at="now")
    queue = d.west.resources.ping_queue_url
    await d.clients[WEST].sqs.send_message(QueueUrl=queue, MessageBody=ping.encode())


async def _state_changed(d: Deployment, instance_id: str, state: str) -> None:
    """EventBridge's notification, as the west events topic delivers it."""
    event = {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-12-07T02:00:00Z",
        "region": WEST,
        "resources": [f"arn:aws:ec2:{WEST}:123456789012:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": state},
    }
    topic = d.west.resources.events_topic_arn
    await d.clients[WEST].sns.publish(TopicArn=topic, Message=json.dumps(event))


async def _state(store: JobStore, job_id: str, state: JobState) -> JobRecord | None:
    job = await store.get(job_id)
    return job if job.state is state else None


async def _is(found: object, expected: object) -> bool:
    return found == expected
