"""Bootstrap of a deployment in two regions against the moto server: the tables once in the
home region, a bucket, queues and topics in each; twice changes nothing; each region's
resources are found again from that region."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.session import get_session

from cbas_async.aws import Clients, client_kwargs, open_region_clients
from cbas_async.bootstrap import (
    bootstrap,
    bootstrap_regions,
    region_buckets,
    resolve,
    resolve_region,
    resolve_regions,
)
from cbas_async.settings import Settings

HOME, WEST = "us-east-1", "us-west-2"


@pytest.fixture
def two(settings: Settings) -> Settings:
    return settings.replace(regions=(HOME, WEST))


@pytest.fixture
async def everywhere(two: Settings) -> AsyncIterator[dict[str, Clients]]:
    async with open_region_clients(two) as opened:
        yield opened


async def _tables_in(settings: Settings, region: str) -> list[str]:
    kwargs: Any = client_kwargs(settings.in_region(region))
    async with get_session().create_client("dynamodb", **kwargs) as dynamo:
        return sorted((await dynamo.list_tables())["TableNames"])


async def _snapshot(settings: Settings, clients: dict[str, Clients]) -> dict[str, Any]:
    out: dict[str, Any] = {"misc": [i async for i in clients[HOME].dynamo.scan("test-misc")]}
    for region, regional in clients.items():
        out[region] = {
            "tables": await _tables_in(settings, region),
            "queues": sorted((await regional.sqs.list_queues()).get("QueueUrls", [])),
            "topics": sorted(t["TopicArn"] for t in (await regional.sns.list_topics())["Topics"]),
        }
    return out


async def test_two_regions_bootstrap_twice_gives_identical_resources(
    two: Settings, everywhere: dict[str, Clients]
) -> None:
    first = await bootstrap_regions(everywhere, two)
    before = await _snapshot(two, everywhere)
    assert await bootstrap_regions(everywhere, two) == first
    assert await _snapshot(two, everywhere) == before
    home, west = first[HOME], first[WEST]
    assert before[HOME]["tables"] == sorted(
        f"test-{t}" for t in ("credentials", "job-events", "jobs", "misc", "tokens")
    )
    assert before[WEST]["tables"] == []  # the tables exist only in the home region
    assert {i["key"]: i["value"] for i in before["misc"]} == {
        "bucket": home.bucket,
        f"bucket:{WEST}": west.bucket,
    }
    assert await region_buckets(everywhere[WEST], two) == {HOME: home.bucket, WEST: west.bucket}
    for region, made in first.items():
        assert made.region == region
        assert made.home_bucket == made.files_bucket == home.bucket
        assert before[region]["queues"] == sorted([made.ping_queue_url, made.events_queue_url])
        assert before[region]["topics"] == sorted([made.topic_arn, made.events_topic_arn])
        assert f":sns:{region}:" in made.events_topic_arn
        located = await everywhere[region].s3.get_bucket_location(Bucket=made.bucket)
        assert (located.get("LocationConstraint") or HOME) == region
    assert home.bucket != west.bucket


async def test_resolve_finds_each_regions_resources(
    two: Settings, everywhere: dict[str, Clients]
) -> None:
    made = await bootstrap_regions(everywhere, two)
    assert await resolve_regions(everywhere, two) == made
    assert await resolve_region(everywhere, two, WEST) == made[WEST]
    # a process of us-west-2 finds its own region's, with the home bucket for job files
    assert await resolve(everywhere[WEST], two.in_region(WEST)) == made[WEST]


async def test_another_region_needs_the_home_region_first(
    two: Settings, everywhere: dict[str, Clients]
) -> None:
    west = two.in_region(WEST)
    with pytest.raises(LookupError, match="bootstrap its home region first"):
        await bootstrap(everywhere[WEST], west)
    await bootstrap(everywhere[HOME], two.in_region(HOME))
    with pytest.raises(LookupError, match=f"not bootstrapped in {WEST}"):
        await resolve(everywhere[WEST], west)
    assert await region_buckets(everywhere[HOME], two) == {
        HOME: (await resolve(everywhere[HOME], two)).bucket
    }
