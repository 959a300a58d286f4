"""The ping poller against moto SQS: pings become events, garbage is dropped, all deleted."""

from __future__ import annotations

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.bus import Bus
from cbas_async.events import Event, WorkerPinged
from cbas_async.master.health import Health
from cbas_async.master.ping_poller import PingPoller
from cbas_async.messages import Ping
from tests.fakes import FakeClock


async def test_pings_are_published_and_malformed_ones_dropped(
    clients: Clients, resources: Resources
) -> None:
    queue = resources.ping_queue_url
    for seq in range(3):
        ping = Ping(job_id="j-1", attempt=1, instance_id="i-1", seq=seq, sent_at="t")
        await clients.sqs.send_message(QueueUrl=queue, MessageBody=ping.encode())
    for garbage in ("not json", '{"job_id": "j"}', '{"job_id": "j", "attempt": -1}'):
        await clients.sqs.send_message(QueueUrl=queue, MessageBody=garbage)
    bus = Bus()
    got: list[Event] = []

    async def record(event: Event) -> None:
        got.append(event)

    bus.publish = record  # type: ignore[method-assign]
    clock = FakeClock()
    health = Health(clock=clock)
    poller = PingPoller(
        sqs=clients.sqs, queue_url=queue, bus=bus, clock=clock, health=health, wait_s=0
    )
    handled = 0
    for _ in range(10):  # bounded: moto may hand out fewer than 10 per receive
        handled += await poller.poll_once()
        if handled >= 6:
            break
    assert handled == 6
    assert poller.malformed == 3
    assert sorted(e.ping.seq for e in got if isinstance(e, WorkerPinged)) == [0, 1, 2]
    assert health.age_s("sqs") == 0.0
    attributes = await clients.sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    counts = attributes["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"
