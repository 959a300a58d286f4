"""EC2 capacity and quota outages: which launches they refuse and with what (pure), and a
real aiobotocore RunInstances through the moto server getting EC2's error."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cbas_async.aws import Clients, open_clients
from cbas_async.local.ec2_faults import (
    ALL_ZONES,
    CapacityOutage,
    Ec2Faults,
    LaunchAsk,
    QuotaOutage,
    capacity_refusal,
    error_xml,
    parse_launch,
    quota_refusal,
)
from cbas_async.local.moto_server import MotoServer
from cbas_async.settings import Settings

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
C5 = LaunchAsk(instance_type="c5.large", market="on-demand", count=1, zone="us-east-1a")
SPOT = LaunchAsk(instance_type="c5.large", market="spot", count=1, zone="us-east-1a")


def _outage(zone: str = "us-east-1a", market: str | None = None) -> CapacityOutage:
    return CapacityOutage(zone, "c5.large", market, until=10.0)


def _form(**fields: str) -> bytes:
    return urllib.parse.urlencode(
        {"Action": "RunInstances", "Version": "2016-11-15", **fields}
    ).encode()


def test_parse_launch_reads_type_zone_market_and_count() -> None:
    body = _form(
        InstanceType="m5.xlarge",
        MinCount="2",
        MaxCount="3",
        **{"Placement.AvailabilityZone": "us-east-1b", "InstanceMarketOptions.MarketType": "spot"},
    )
    assert parse_launch(body) == LaunchAsk(
        instance_type="m5.xlarge", market="spot", count=2, zone="us-east-1b"
    )
    assert parse_launch(_form(InstanceType="t3.micro", SubnetId="subnet-1")) == LaunchAsk(
        instance_type="t3.micro", market="on-demand", count=1, subnet_id="subnet-1"
    )
    assert parse_launch(b"Action=DescribeInstances&Version=2016-11-15") is None


def test_capacity_outage_refuses_only_its_pool() -> None:
    other_type = LaunchAsk(instance_type="m5.large", market="on-demand", count=1, zone="us-east-1a")
    assert capacity_refusal(C5, "us-east-1b", [_outage()], ZONES) is None  # other zone
    assert capacity_refusal(other_type, "us-east-1a", [_outage()], ZONES) is None
    assert capacity_refusal(C5, None, [_outage()], ZONES) is None  # EC2 picks another zone
    assert capacity_refusal(SPOT, "us-east-1a", [_outage(market="on-demand")], ZONES) is None
    assert capacity_refusal(C5, "us-east-1a", [_outage(market="spot")], ZONES) is None
    for outage in (_outage(), _outage(ALL_ZONES), _outage(market="on-demand")):
        refusal = capacity_refusal(C5, "us-east-1a", [outage], ZONES)
        assert refusal is not None
        assert (refusal.status, refusal.code) == (
            "500 Internal Server Error",
            "InsufficientInstanceCapacity",
        )
    assert capacity_refusal(C5, None, [_outage(ALL_ZONES)], ZONES) is not None


def test_capacity_messages_are_ec2s() -> None:
    one_zone = capacity_refusal(C5, "us-east-1a", [_outage()], ZONES)
    assert one_zone is not None
    assert one_zone.message == (
        "We currently do not have sufficient c5.large capacity in the Availability Zone you "
        "requested (us-east-1a). Our system will be working on provisioning additional "
        "capacity. You can currently get c5.large capacity by not specifying an Availability "
        "Zone in your request or choosing us-east-1b, us-east-1c."
    )
    everywhere = capacity_refusal(C5, "us-east-1a", [_outage(ALL_ZONES)], ZONES)
    assert everywhere is not None
    assert everywhere.message.endswith("provisioning additional capacity.")
    spot = capacity_refusal(SPOT, "us-east-1a", [_outage()], ZONES)
    assert spot is not None
    assert spot.message == "There is no Spot capacity available that matches your request."
    unplaced = capacity_refusal(C5, None, [_outage(ALL_ZONES)], ZONES)
    assert unplaced is not None
    assert unplaced.message == "Insufficient capacity."


def test_quota_counts_live_vcpus_per_market() -> None:
    quota = [QuotaOutage(vcpus=4, until=10.0)]
    assert quota_refusal(SPOT, vcpus_each=2, live_vcpus=2, quotas=quota) is None  # 4 <= 4
    spot = quota_refusal(SPOT, vcpus_each=2, live_vcpus=4, quotas=quota)
    assert spot is not None
    assert (spot.status, spot.code, spot.message) == (
        "400 Bad Request",
        "MaxSpotInstanceCountExceeded",
        "Max spot instance count exceeded",
    )
    on_demand = quota_refusal(C5, vcpus_each=2, live_vcpus=3, quotas=quota)
    assert on_demand is not None
    assert on_demand.code == "VcpuLimitExceeded"
    assert on_demand.message.startswith(
        "You have requested more vCPU capacity than your current vCPU limit of 4 allows"
    )
    two = LaunchAsk(instance_type="c5.large", market="spot", count=2)
    assert quota_refusal(two, vcpus_each=2, live_vcpus=2, quotas=quota) is not None
    assert quota_refusal(SPOT, vcpus_each=2, live_vcpus=100, quotas=[]) is None


def test_error_xml_is_ec2s_error_document() -> None:
    refusal = quota_refusal(
        C5, vcpus_each=2, live_vcpus=0, quotas=[QuotaOutage(vcpus=0, until=1.0)]
    )
    assert refusal is not None
    body = error_xml(refusal, "req-1").decode()
    assert "<Response><Errors><Error><Code>VcpuLimitExceeded</Code><Message>You have" in body
    assert body.endswith("</Error></Errors><RequestID>req-1</RequestID></Response>")


class _View:
    def __init__(self) -> None:
        self.live = 0

    def zones(self, region: str) -> list[str]:
        return ZONES

    def vcpus(self, instance_type: str) -> int | None:
        return {"c5.large": 2}.get(instance_type)

    def live_vcpus(self, region: str, market: str) -> int:
        return self.live

    def subnet_zone(self, region: str, subnet_id: str) -> str | None:
        return "us-east-1b" if subnet_id == "subnet-b" else None


def test_outages_end_and_bad_ones_are_refused() -> None:
    now = [0.0]
    view = _View()
    faults = Ec2Faults(view=view, monotonic=lambda: now[0])
    faults.capacity(region="r", zone="us-east-1b", instance_type="c5.large", market=None, seconds=5)
    in_subnet = LaunchAsk(instance_type="c5.large", market="spot", count=1, subnet_id="subnet-b")
    assert faults.refusal(in_subnet, "r") is not None  # the subnet's zone is out
    assert faults.refusal(in_subnet, "other") is None  # an outage is its region's only
    faults.quota(vcpus=2, seconds=10)
    view.live = 2
    refused = faults.refusal(C5, "r")
    assert refused is not None
    assert refused.code == "VcpuLimitExceeded"
    now[0] = 10.0
    assert faults.refusal(C5, "r") is None
    assert faults.active() == ([], [])
    assert faults.failed == {"InsufficientInstanceCapacity": 1, "VcpuLimitExceeded": 1}
    bad: list[dict[str, Any]] = [
        {"zone": "mars-1a", "instance_type": "c5.large", "market": None, "seconds": 1},
        {"zone": "all", "instance_type": "c5.huge", "market": None, "seconds": 1},
        {"zone": "all", "instance_type": "c5.large", "market": "reserved", "seconds": 1},
        {"zone": "all", "instance_type": "c5.large", "market": None, "seconds": 0},
    ]
    for kwargs in bad:
        with pytest.raises(ValueError, match=r"zone|type|market|seconds"):
            faults.capacity(region="r", **kwargs)
    with pytest.raises(ValueError, match="vcpus"):
        faults.quota(vcpus=-1, seconds=1)


@pytest.fixture
async def ec2(moto: MotoServer, settings: Settings) -> AsyncIterator[Clients]:
    """Clients that give up on a 500 quickly: botocore retries it, as on AWS."""
    async with open_clients(settings.replace(aws_retry_s=0.5)) as clients:
        yield clients
    moto.faults.clear()


async def _launch(clients: Clients, market: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ImageId": "ami-12345678",
        "InstanceType": "c5.large",
        "MinCount": 1,
        "MaxCount": 1,
        "Placement": {"AvailabilityZone": "us-east-1a"},
    }
    if market == "spot":
        params["InstanceMarketOptions"] = {"MarketType": "spot"}
    return dict(await clients.ec2.run_instances(**params))


async def test_run_instances_through_moto_gets_ec2s_errors(moto: MotoServer, ec2: Clients) -> None:
    await asyncio.to_thread(moto.reset)  # no instance an earlier test left counts to a quota
    ec2_faults = moto.faults.ec2
    assert ec2_faults is not None
    ec2_faults.capacity(
        region="us-east-1", zone="us-east-1a", instance_type="c5.large", market="spot", seconds=60
    )
    with pytest.raises(ClientError) as capacity:
        await _launch(ec2, "spot")
    error = capacity.value.response["Error"]
    assert error["Code"] == "InsufficientInstanceCapacity"
    assert error["Message"] == "There is no Spot capacity available that matches your request."
    assert capacity.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    await _launch(ec2)  # on-demand is another pool: 2 live on-demand vCPUs now
    ec2_faults.clear()
    ec2_faults.quota(vcpus=2, seconds=60)
    await _launch(ec2, "spot")  # spot counts its own vCPUs: 2 of 2
    with pytest.raises(ClientError) as spot_quota:
        await _launch(ec2, "spot")
    with pytest.raises(ClientError) as vcpu_quota:
        await _launch(ec2)
    assert spot_quota.value.response["Error"] == {
        "Code": "MaxSpotInstanceCountExceeded",
        "Message": "Max spot instance count exceeded",
    }
    assert vcpu_quota.value.response["Error"]["Code"] == "VcpuLimitExceeded"
    assert (await ec2.ec2.describe_regions())["Regions"]  # other calls pass meanwhile
