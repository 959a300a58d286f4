"""How the events topic reaches a running master (`open_master` against the moto server): by
default through its events queue only, with nothing subscribed over HTTP; with
`CBAS_PUBLIC_URL` also by SNS POSTs to /sns, and a message that comes both ways is handled
once."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.clock import SystemClock, utc_iso
from cbas_async.errors import ConfigError
from cbas_async.events import Event, InterruptionWarned
from cbas_async.fleet.launcher import Launcher
from cbas_async.local.interrupter import spot_warning
from cbas_async.master.app import open_master
from cbas_async.master.events_poller import EventsPoller
from cbas_async.settings import Settings
from tests.worker.helpers import eventually


async def _protocols(clients: Clients, resources: Resources) -> list[str]:
    found = await clients.sns.list_subscriptions_by_topic(TopicArn=resources.events_topic_arn)
    return sorted(sub["Protocol"] for sub in found["Subscriptions"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_queue_by_default_and_http_too_with_a_public_url(
    clients: Clients, resources: Resources, launcher: Launcher, master_settings: Settings
) -> None:
    async with open_master(master_settings.replace(http_port=0)) as master:
        assert master.server.url.startswith("http://127.0.0.1:")  # CBAS_HTTP_HOST's default
        assert await _protocols(clients, resources) == ["sqs"]  # bootstrap's, nothing else
        assert any(isinstance(c, EventsPoller) for c in master.components)

    port = _free_port()
    public = master_settings.replace(http_port=port, public_url=f"http://127.0.0.1:{port}")
    async with open_master(public) as master:
        assert await _protocols(clients, resources) == ["http", "sqs"]
        got: list[Event] = []

        async def probe(event: Event) -> None:
            got.append(event)

        master.bus.subscribe("probe", probe, kinds=(InterruptionWarned,))
        stopping = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(master.bus.run(stopping))
            warning = spot_warning("i-0http", "us-east-1", utc_iso(SystemClock().now()))
            await clients.sns.publish(
                TopicArn=resources.events_topic_arn, Message=json.dumps(warning)
            )

            async def posted() -> bool:  # moto POSTs to /sns while it publishes
                return len(got) == 1

            await eventually(posted, timeout_s=5)
            [poller] = [c for c in master.components if isinstance(c, EventsPoller)]
            assert await poller.poll_once() == 1  # the same message, through the queue
            await master.bus.drain()
            stopping.set()
        assert [e.instance_id for e in got if isinstance(e, InterruptionWarned)] == ["i-0http"]
        assert (poller.handled, poller.dropped) == (0, 0)  # a duplicate: deleted, not handled
    assert await _protocols(clients, resources) == ["sqs"]  # unsubscribed on exit


async def test_a_master_creates_nothing_and_says_run_bootstrap(
    clients: Clients, master_settings: Settings
) -> None:
    with pytest.raises(ConfigError) as raised:
        async with open_master(master_settings.replace(http_port=0)):
            pass
    assert raised.value.variable == "CBAS_DEPLOYMENT"
    assert "run `cbas bootstrap` first" in str(raised.value)
    assert (await clients.sqs.list_queues()).get("QueueUrls", []) == []
    assert (await clients.sns.list_topics())["Topics"] == []
