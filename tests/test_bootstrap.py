"""Bootstrap against the moto server: creates everything once, and twice changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap, resolve
from cbas_async.settings import Settings


async def _snapshot(clients: Clients) -> dict[str, Any]:
    tables = (await clients.dynamo.send_request(action="ListTables", payload={}))["TableNames"]
    described = {}
    for name in tables:
        raw = await clients.dynamo.send_request(action="DescribeTable", payload={"TableName": name})
        described[name] = raw["Table"]
    buckets = sorted(b["Name"] for b in (await clients.s3.list_buckets())["Buckets"])
    queues = (await clients.sqs.list_queues()).get("QueueUrls", [])
    topics = sorted(t["TopicArn"] for t in (await clients.sns.list_topics())["Topics"])
    misc = [i async for i in clients.dynamo.scan("test-misc")]
    return {
        "tables": described,
        "buckets": buckets,
        "queues": queues,
        "topics": topics,
        "misc": misc,
    }


async def test_bootstrap_twice_gives_identical_resources(
    clients: Clients, settings: Settings
) -> None:
    first = await bootstrap(clients, settings)
    before = await _snapshot(clients)
    second = await bootstrap(clients, settings)
    after = await _snapshot(clients)
    assert first == second
    assert before == after
    assert sorted(before["tables"]) == [
        "test-credentials",
        "test-job-events",
        "test-jobs",
        "test-misc",
        "test-tokens",
    ]
    assert before["buckets"] == [first.bucket]
    assert first.bucket.startswith("test-")
    assert sorted(before["queues"]) == sorted([first.events_queue_url, first.ping_queue_url])
    assert first.events_queue_url.endswith("/test-master-events")
    assert before["topics"] == sorted([first.topic_arn, first.events_topic_arn])


async def test_resolve_finds_what_bootstrap_made(clients: Clients, settings: Settings) -> None:
    made = await bootstrap(clients, settings)
    assert await resolve(clients, settings) == made


async def test_resolve_creates_nothing_and_names_what_is_missing(
    clients: Clients, settings: Settings
) -> None:
    with pytest.raises(LookupError, match="no table test-misc"):
        await resolve(clients, settings)
    made = await bootstrap(clients, settings)
    await clients.sqs.delete_queue(QueueUrl=made.events_queue_url)
    before = await _snapshot(clients)
    with pytest.raises(LookupError, match="no queue test-master-events"):
        await resolve(clients, settings)
    assert await _snapshot(clients) == before
