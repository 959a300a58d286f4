"""How commands reach a worker: by default a cancel is seen on the job record and nothing
listens; with a command endpoint (deployments with CBAS_PUBLIC_URL), through moto SNS end to
end, and POSTs made by hand."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from structlog.testing import capture_logs

from cbas_async.clock import SystemClock
from cbas_async.messages import Command
from cbas_async.sns import SnsVerifier
from cbas_async.sns_certs import CertificateCache
from cbas_async.states import JobState
from cbas_async.worker.http import CommandEndpoint
from tests.sns_signing import CertFetcher, SnsSigner, to_body
from tests.worker import primes
from tests.worker.helpers import LocalCloud, eventually

INSTANCE = "i-0123456789"


async def _publish(cloud: LocalCloud, command: Command) -> None:
    await cloud.clients.sns.publish(
        TopicArn=cloud.resources.topic_arn,
        Message=command.encode(),
        MessageAttributes={
            "instance_id": {"DataType": "String", "StringValue": command.instance_id}
        },
    )


async def test_without_an_endpoint_a_cancel_is_seen_on_the_job_record(cloud: LocalCloud) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    instance_id = cloud.boot(job_id, 1, checkpoint_interval_s=3600)
    poll_s = cloud.user_data(job_id, 1).heartbeat_interval_s  # the ownership check's interval
    topic = cloud.resources.topic_arn
    with capture_logs() as logs:
        async with asyncio.TaskGroup() as tg:
            worker = tg.create_task(cloud.run_worker(instance_id))

            async def progressed() -> bool:
                return "chunk" in await cloud.log_text(job_id, "stdout", 1)

            await eventually(progressed)
            listed = await cloud.clients.sns.list_subscriptions_by_topic(TopicArn=topic)
            assert listed["Subscriptions"] == []  # no endpoint to subscribe
            record = await cloud.store.get(job_id)
            await cloud.store.transition(  # what `cbas cancel` writes
                job_id,
                {record.state},
                JobState.CANCELLED,
                record.version,
                now=SystemClock().now(),
                actor="cli",
                attempt=1,
            )
            cancelled_s = time.monotonic()
            pid = next(e["pid"] for e in logs if e["event"] == "job_started")

            async def job_gone() -> bool:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return True
                return False

            await eventually(job_gone, every_s=0.01)
            stopped_s = time.monotonic() - cancelled_s
    assert worker.result() == 0
    # one ownership check at most, plus the kill (with room for a loaded machine)
    assert stopped_s < poll_s + 2.0, stopped_s
    assert not [e for e in logs if e["event"] == "command_endpoint_ready"]
    ended = [e["outcome"] for e in logs if e["event"] == "run_ended"]
    assert ended == ["Abandoned"]
    assert (await cloud.store.get(job_id)).state is JobState.CANCELLED


async def test_checkpoint_then_cancel_through_sns(cloud: LocalCloud) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    instance_id = cloud.boot(job_id, 1, checkpoint_interval_s=3600, command_endpoint=True)
    with capture_logs() as logs:
        async with asyncio.TaskGroup() as tg:
            worker = tg.create_task(cloud.run_worker(instance_id))

            async def running() -> bool:
                return (await cloud.store.get(job_id)).state is JobState.RUNNING

            await eventually(running)

            async def progressed() -> bool:
                return "chunk" in await cloud.log_text(job_id, "stdout", 1)

            await eventually(progressed)
            elsewhere = Command(kind="cancel", job_id=job_id, attempt=1, instance_id="i-other")
            await _publish(cloud, elsewhere)  # filtered out by SNS
            await _publish(
                cloud,
                elsewhere.model_copy(update={"kind": "checkpoint", "instance_id": instance_id}),
            )

            async def checkpointed() -> bool:
                return (await cloud.store.get(job_id)).checkpoint is not None

            await eventually(checkpointed)
            await _publish(cloud, elsewhere.model_copy(update={"instance_id": instance_id}))
    assert worker.result() == 0
    record = await cloud.store.get(job_id)
    assert record.state is JobState.RUNNING  # the master, not the worker, writes CANCELLED
    assert record.checkpoint is not None
    assert record.checkpoint.seq == 1
    assert not [e for e in logs if e["event"] == "command_not_ours"]
    received = [e["kind"] for e in logs if e["event"] == "command_received"]
    assert received == ["checkpoint", "cancel"]
    pid = next(e["pid"] for e in logs if e["event"] == "job_started")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    found = await cloud.clients.sns.list_subscriptions_by_topic(TopicArn=cloud.resources.topic_arn)
    assert found["Subscriptions"] == []
    assert "chunk" in await cloud.log_text(job_id, "stdout", 1)


@asynccontextmanager
async def _endpoint(
    cloud: LocalCloud, *, verify: bool, fetch: CertFetcher | None = None
) -> AsyncIterator[tuple[CommandEndpoint, asyncio.Queue[Command]]]:
    clock = SystemClock()
    certificates = CertificateCache(fetch=fetch or CertFetcher({}), clock=clock)
    verifier = SnsVerifier(
        certificates=certificates, region="us-east-1", enabled=verify, clock=clock
    )
    commands: asyncio.Queue[Command] = asyncio.Queue()
    endpoint = CommandEndpoint(
        sns=cloud.clients.sns,
        http=cloud.clients.http,
        verifier=verifier,
        strict=verify,
        topic_arn=cloud.resources.topic_arn,
        region="us-east-1",
        identity=(INSTANCE, "j-1", 2),
        commands=commands,
        max_body_bytes=4096,
    )
    async with endpoint:
        yield endpoint, commands


async def _post(url: str, body: bytes) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body) as response:
        return response.status


def _command(instance_id: str = INSTANCE, **changes: object) -> str:
    fields: dict[str, object] = {"kind": "shutdown", "job_id": "j-1", "attempt": 2}
    return json.dumps({**fields, "instance_id": instance_id, **changes})


async def test_garbage_and_oversized_bodies_are_refused(cloud: LocalCloud) -> None:
    async with _endpoint(cloud, verify=False) as (endpoint, commands):
        signer = SnsSigner.create()
        wrong_topic = signer.notification(topic_arn="arn:aws:sns:us-east-1:1:x", message="{}")
        bad_command = signer.notification(topic_arn=cloud.resources.topic_arn, message="{}")
        cases = {
            b"": 400,
            b"not json": 400,
            b"[1, 2]": 400,
            json.dumps({"Type": "Nope"}).encode(): 400,
            b"x" * 5000: 413,
            to_body(wrong_topic): 403,
            to_body(bad_command): 400,
        }
        for body, status in cases.items():
            assert await _post(endpoint.url, body) == status, body[:40]
        assert commands.empty()


async def test_a_signed_command_is_queued_once(cloud: LocalCloud) -> None:
    signer = SnsSigner.create()
    async with _endpoint(cloud, verify=True, fetch=CertFetcher.serving(signer)) as (
        endpoint,
        commands,
    ):
        topic = cloud.resources.topic_arn
        message = signer.notification(topic_arn=topic, message=_command())
        assert await _post(endpoint.url, to_body(message)) == 200
        assert await _post(endpoint.url, to_body(message)) == 200  # a redelivery
        other = signer.notification(topic_arn=topic, message=_command("i-other"))
        assert await _post(endpoint.url, to_body(other)) == 200  # not ours: ignored
        forged = {**signer.notification(topic_arn=topic, message=_command()), "Message": "{}"}
        assert await _post(endpoint.url, to_body(forged)) == 403
        assert commands.qsize() == 1
        assert commands.get_nowait() == Command.model_validate_json(_command())


async def test_subscribed_with_a_filter_policy_while_open(cloud: LocalCloud) -> None:
    sns = cloud.clients.sns
    async with _endpoint(cloud, verify=False) as (endpoint, _):
        found = await sns.list_subscriptions_by_topic(TopicArn=cloud.resources.topic_arn)
        [subscription] = found["Subscriptions"]
        assert subscription["Endpoint"] == endpoint.url
        attributes = await sns.get_subscription_attributes(
            SubscriptionArn=subscription["SubscriptionArn"]
        )
        policy = json.loads(attributes["Attributes"]["FilterPolicy"])
        assert policy == {"instance_id": [INSTANCE]}
    found = await sns.list_subscriptions_by_topic(TopicArn=cloud.resources.topic_arn)
    assert found["Subscriptions"] == []
