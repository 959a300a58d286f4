"""The events queue against the moto server: a spot warning published to the events topic
reaches the master through the queue and is acted on; what fails verification is dropped
and deleted; what failed for a passing reason stays in the queue for SQS to deliver again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.bus import Bus
from cbas_async.clock import SystemClock, utc_iso
from cbas_async.errors import TransientError
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.local.interrupter import spot_warning
from cbas_async.master.events_poller import EventsPoller
from cbas_async.master.http import dispatch
from cbas_async.master.wiring import (
    make_event_handlers,
    make_mover,
    subscribe_handlers,
)
from cbas_async.settings import Settings
from cbas_async.sns import SnsVerifier
from cbas_async.sns_certs import CertificateCache, Fetch
from cbas_async.sns_envelope import SnsEnvelope
from cbas_async.sns_intake import SnsIntake
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.fakes import FakeClock
from tests.master.conftest import launched_job, steps_for
from tests.sns_signing import CertFetcher, SnsSigner, to_body

NOTICE_S = 120.0


# moto's server picks the service from a SigV4 credential scope (it checks no signature)
_AS_SNS = {"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/sns/aws4_request"}


def moto_certificates(moto_url: str, http: aiohttp.ClientSession) -> Fetch:
    """Fetch SNS's signing certificates from the moto server that signed the messages."""

    async def fetch(url: str) -> bytes:
        async with http.get(moto_url + urlsplit(url).path, headers=_AS_SNS) as answer:
            assert answer.status == 200, url
            return await answer.read()

    return fetch


def intake_for(resources: Resources, fetch: Fetch) -> SnsIntake:
    clock = SystemClock()
    verifier = SnsVerifier(
        certificates=CertificateCache(fetch=fetch, clock=clock),
        region="us-east-1",
        enabled=True,
        clock=clock,
    )
    return SnsIntake(verifier=verifier, topics=[resources.events_topic_arn], max_bytes=65536)


async def _poll_until(poller: EventsPoller, received: int) -> None:
    """Long polls of 1 s until the queue handed out `received` messages (bounded)."""
    got = 0
    for _ in range(20):
        got += await poller.poll_once()
        if got >= received:
            return
    pytest.fail(f"the queue handed out {got} of {received} messages")


async def _queued(clients: Clients, resources: Resources) -> tuple[str, str]:
    found = await clients.sqs.get_queue_attributes(
        QueueUrl=resources.events_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    counts = found["Attributes"]
    return counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]


async def test_a_spot_warning_published_to_the_topic_is_acted_on_through_the_queue(
    clients: Clients,
    resources: Resources,
    store: JobStore,
    launcher: Launcher,
    master_settings: Settings,
    moto_url: str,
) -> None:
    settings = master_settings.replace(launch_timeout_s=300.0)
    clock = FakeClock(datetime.now(UTC))
    tracker, wake = HeartbeatTracker(), asyncio.Event()
    mover = make_mover(store, clock, settings.master_id)
    steps = steps_for(
        settings, mover=mover, launcher=launcher, resources=resources, clock=clock, tracker=tracker
    )
    bus = Bus()
    subscribe_handlers(
        bus,
        make_event_handlers(
            store=store, mover=mover, launcher=launcher, tracker=tracker, clock=clock, wake=wake
        ),
    )
    job_id, instance_id = await launched_job(store, steps.scheduler, clock, settings.master_id)

    warning = spot_warning(instance_id, "us-east-1", utc_iso(clock.now()))
    await clients.sns.publish(TopicArn=resources.events_topic_arn, Message=json.dumps(warning))
    # verification on: the envelope moto signed, with moto's certificate
    poller = EventsPoller(
        sqs=clients.sqs,
        queue_url=resources.events_queue_url,
        intake=intake_for(resources, moto_certificates(moto_url, clients.http)),
        dispatch=lambda envelope: dispatch(bus, envelope),
        clock=clock,
        wait_s=1,
    )
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stopping))
        await _poll_until(poller, 1)
        await bus.drain()
        stopping.set()
    assert (poller.handled, poller.dropped) == (1, 0)
    assert wake.is_set()  # the supervisor is woken
    assert await _queued(clients, resources) == ("0", "0")  # deleted once handled
    # the notice is the master's: once it is over without the worker's INTERRUPTED, lost
    await clock.advance(NOTICE_S + settings.heartbeat_interval_s)
    assert await steps.detector.check(await store.get(job_id))
    assert (await store.get(job_id)).state is JobState.INTERRUPTED


def _recording() -> tuple[list[SnsEnvelope], Callable[[SnsEnvelope], Awaitable[None]]]:
    seen: list[SnsEnvelope] = []

    async def record(envelope: SnsEnvelope) -> None:
        seen.append(envelope)

    return seen, record


async def test_what_fails_verification_is_dropped_and_deleted(
    clients: Clients, resources: Resources
) -> None:
    signer = SnsSigner.create()
    topic = resources.events_topic_arn
    genuine = signer.notification(topic_arn=topic, message='{"detail-type": "x"}')
    bodies = [
        {**signer.notification(topic_arn=topic, message="{}"), "Message": '{"forged": 1}'},
        signer.notification(topic_arn="arn:aws:sns:us-east-1:123456789012:other", message="{}"),
        {"Type": "Notification", "TopicArn": topic, "Message": "{}"},  # unsigned
        genuine,
        genuine,  # a redelivery
    ]
    for body in bodies:
        await clients.sqs.send_message(
            QueueUrl=resources.events_queue_url, MessageBody=to_body(body).decode()
        )
    await clients.sqs.send_message(QueueUrl=resources.events_queue_url, MessageBody="not json")
    seen, record = _recording()
    poller = EventsPoller(
        sqs=clients.sqs,
        queue_url=resources.events_queue_url,
        intake=intake_for(resources, CertFetcher.serving(signer)),
        dispatch=record,
        clock=FakeClock(),
        wait_s=1,
    )
    await _poll_until(poller, 6)
    assert [envelope.message_id for envelope in seen] == [genuine["MessageId"]]
    assert (poller.handled, poller.dropped) == (1, 4)
    assert await _queued(clients, resources) == ("0", "0")


async def test_a_passing_failure_leaves_the_message_for_redelivery(
    clients: Clients, resources: Resources
) -> None:
    queue = resources.events_queue_url
    # a message not deleted is visible again at once, instead of after 30 s
    await clients.sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "0"})
    signer = SnsSigner.create()
    message = signer.notification(topic_arn=resources.events_topic_arn, message="{}")
    await clients.sqs.send_message(QueueUrl=queue, MessageBody=to_body(message).decode())

    async def unreachable(url: str) -> bytes:
        raise TransientError(f"{url}: connection reset")

    async def failing(envelope: SnsEnvelope) -> None:
        raise RuntimeError("handler broke")

    seen, record = _recording()
    served = CertFetcher.serving(signer)
    for fetch, handle, handled in [
        (unreachable, record, 0),
        (served, failing, 0),
        (served, record, 1),
    ]:
        poller = EventsPoller(
            sqs=clients.sqs,
            queue_url=queue,
            intake=intake_for(resources, fetch),
            dispatch=handle,
            clock=FakeClock(),
            wait_s=1,
        )
        await _poll_until(poller, 1)
        assert (poller.handled, poller.dropped) == (handled, 0)
        assert await _queued(clients, resources) == ("0" if handled else "1", "0")
    assert [envelope.message_id for envelope in seen] == [message["MessageId"]]
