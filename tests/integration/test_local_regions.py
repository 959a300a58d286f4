"""The local cloud with two regions, replaying the shared priced traces: an instance launched
in the second region boots on the one hypervisor, IMDS names its region, the market's
capacity and prices are that region's, EC2's events reach that region's events queue, and
an interruption terminates it there."""

from __future__ import annotations

import asyncio
import email.mime.multipart
import email.mime.text
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from cbas_async.clock import SystemClock
from cbas_async.local.cloud import LocalCloud, open_local_cloud
from cbas_async.local.imds_server import TOKEN_HEADER, TTL_HEADER
from cbas_async.local.trace_feeds import region_traces
from cbas_async.spot.prices import Ec2PriceSource
from tests.integration.conftest import e2e_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

WEST = "us-west-2"
TYPE = "p3.2xlarge"


def user_data() -> str:
    """A boot script that keeps the instance up until it is taken away."""
    document = email.mime.multipart.MIMEMultipart("mixed")
    document.attach(email.mime.text.MIMEText("#!/bin/sh\nexec sleep 60\n", "x-shellscript"))
    return document.as_string()


async def launch_where_there_is_capacity(cloud: LocalCloud) -> tuple[str, str]:
    """(instance id, zone): the trace refuses the zones without spot capacity now."""
    ec2 = cloud.regions[WEST].clients.ec2
    refused = []
    for zone in ("us-west-2a", "us-west-2b", "us-west-2c"):
        try:
            answer = await ec2.run_instances(
                ImageId="ami-12345678",
                InstanceType=TYPE,
                MinCount=1,
                MaxCount=1,
                UserData=user_data(),
                Placement={"AvailabilityZone": zone},
                InstanceMarketOptions={"MarketType": "spot"},
                TagSpecifications=[_tags()],
            )
        except ClientError as exc:
            refused.append(exc.response["Error"]["Code"])
            continue
        return answer["Instances"][0]["InstanceId"], zone
    pytest.skip(f"no us-west-2 zone has capacity at the replay's start: {refused}")


def _tags() -> Any:
    tags = [{"Key": "cbas:deployment", "Value": "e2e"}, {"Key": "cbas:job_id", "Value": "j-west"}]
    return {"ResourceType": "instance", "Tags": tags}


async def identity(cloud: LocalCloud, instance_id: str) -> dict[str, Any]:
    assert cloud.imds is not None
    base = cloud.imds.endpoint(instance_id) + "/latest/"
    async with aiohttp.ClientSession() as http:
        async with http.put(base + "api/token", headers={TTL_HEADER: "60"}) as response:
            token = await response.text()
        path = "dynamic/instance-identity/document"
        async with http.get(base + path, headers={TOKEN_HEADER: token}) as response:
            return dict(json.loads(await response.text()))


async def until(check: Any, timeout_s: float = 15.0) -> Any:
    clock = SystemClock()
    deadline = clock.monotonic() + timeout_s
    while not (found := await check()):
        assert clock.monotonic() < deadline, "condition not met in time"
        await clock.sleep(0.1)
    return found


async def test_an_instance_in_the_second_region(tmp_path: Path, data_dir: Path) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        os.environ.pop(name)
    settings = e2e_settings(tmp_path).replace(regions=("us-east-1", WEST), speed=120.0)
    traces = region_traces(settings.regions, data_dir / "regions" / "aws-02-15-2023")
    stopping = asyncio.Event()
    async with open_local_cloud(settings, trace=traces) as cloud:
        assert cloud.market is not None
        tasks = [asyncio.create_task(p.run(stopping)) for p in cloud.parts]
        try:
            await _second_region(cloud)
        finally:
            stopping.set()
            await asyncio.gather(*tasks)


async def _second_region(cloud: LocalCloud) -> None:
    west = cloud.regions[WEST]
    prices = await Ec2PriceSource(west.clients.ec2, WEST, [TYPE]).fetch(since=None)
    assert {p.region for p in prices} == {WEST}
    assert all(0.9 <= p.price_usd_per_hour <= 1.1 for p in prices)  # the trace's, not moto's
    instance_id, zone = await launch_where_there_is_capacity(cloud)

    async def booted() -> bool:
        return cloud.hypervisor.find("j-west") is not None

    await until(booted)
    found = await identity(cloud, instance_id)
    assert (found["region"], found["availabilityZone"]) == (WEST, zone)
    assert await cloud.interrupter.interrupt("j-west") == instance_id

    async def terminated() -> bool:
        answer = await west.clients.ec2.describe_instances(InstanceIds=[instance_id])
        return bool(answer["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated")

    await until(terminated)
    kinds = await _event_kinds(cloud)
    assert "EC2 Spot Instance Interruption Warning" in kinds
    assert "EC2 Instance State-change Notification" in kinds


async def _event_kinds(cloud: LocalCloud) -> set[str]:
    """What reached the second region's events queue (SNS envelopes of EventBridge events)."""
    west = cloud.regions[WEST]
    kinds: set[str] = set()
    for _ in range(3):
        answer = await west.clients.sqs.receive_message(
            QueueUrl=west.resources.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        for message in answer.get("Messages", []):
            event = json.loads(json.loads(message["Body"])["Message"])
            kinds.add(event["detail-type"])
    return kinds
