"""The sweeper against moto: finished attempts' instances and dead subscriptions go."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.lease import MasterLease
from cbas_async.handlers.sweeper import Sweeper, subscription_key
from cbas_async.jobs import parse_spec
from cbas_async.messages import UserData
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _user_data(resources: Resources, job_id: str, attempt: int) -> UserData:
    return UserData(
        job_id=job_id,
        attempt=attempt,
        deployment="test",
        region="us-east-1",
        bucket=resources.bucket,
        ping_queue_url=resources.ping_queue_url,
        topic_arn=resources.topic_arn,
        jobs_table=resources.jobs_table,
        events_table=resources.events_table,
        misc_table=resources.misc_table,
        heartbeat_interval_s=5,
        notice_poll_s=5,
        checkpoint_interval_s=60,
        master_id="m",
    )


async def test_instances_of_finished_or_stale_attempts_are_terminated(
    clients: Clients, resources: Resources, store: JobStore, launcher: Launcher
) -> None:
    clock = FakeClock(NOW)
    placement = LaunchRequest(
        region="us-east-1",
        zone=None,
        instance_type="c5.large",
        max_price_usd_per_hour=None,
        checkpoint_interval_s=60,
    )
    done = await store.create(parse_spec({"name": "d", "command": ["true"]}), now=NOW, actor="t")
    await store.transition(
        done.job_id, {JobState.SUBMITTED}, JobState.CANCELLED, 0, now=NOW, actor="t"
    )
    live = await store.create(parse_spec({"name": "l", "command": ["true"]}), now=NOW, actor="t")
    finished_id = await launcher.launch(placement, _user_data(resources, done.job_id, 1))
    stale_id = await launcher.launch(placement, _user_data(resources, live.job_id, 7))
    current_id = await launcher.launch(placement, _user_data(resources, live.job_id, 1))
    sweeper = Sweeper(
        store=store, launcher=launcher, sns=clients.sns, topic_arn=resources.topic_arn, clock=clock
    )
    await sweeper.sweep_once()
    assert {i["InstanceId"] for i in await launcher.live_instances()} == {current_id}
    assert await launcher.instance_state(finished_id) in ("shutting-down", "terminated")
    assert await launcher.instance_state(stale_id) in ("shutting-down", "terminated")


async def test_dead_worker_and_dead_master_subscriptions_are_removed(
    clients: Clients, resources: Resources, store: JobStore, launcher: Launcher
) -> None:
    clock = FakeClock(NOW)
    worker_sub = await clients.sns.subscribe(
        TopicArn=resources.topic_arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:9/sns",
        Attributes={"FilterPolicy": json.dumps({"instance_id": ["i-gone"]})},
        ReturnSubscriptionArn=True,
    )
    master_sub = await clients.sns.subscribe(
        TopicArn=resources.events_topic_arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:9/sns",
        ReturnSubscriptionArn=True,
    )
    await store.misc_put(
        subscription_key("m-dead"), {"owner": "m-dead", "arn": master_sub["SubscriptionArn"]}
    )
    alive = MasterLease(store=store, master_id="m-alive", ttl_s=30, clock=clock)
    assert await alive.renew_once()
    alive_sub = await clients.sns.subscribe(
        TopicArn=resources.events_topic_arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:8/sns",
        ReturnSubscriptionArn=True,
    )
    await store.misc_put(
        subscription_key("m-alive"), {"owner": "m-alive", "arn": alive_sub["SubscriptionArn"]}
    )
    sweeper = Sweeper(
        store=store, launcher=launcher, sns=clients.sns, topic_arn=resources.topic_arn, clock=clock
    )
    await sweeper.sweep_once()
    left = await clients.sns.list_subscriptions()
    arns = {s["SubscriptionArn"] for s in left["Subscriptions"]}
    assert worker_sub["SubscriptionArn"] not in arns
    assert master_sub["SubscriptionArn"] not in arns
    assert alive_sub["SubscriptionArn"] in arns
    assert await store.misc_get(subscription_key("m-dead")) is None
    assert await store.misc_get(subscription_key("m-alive")) is not None
