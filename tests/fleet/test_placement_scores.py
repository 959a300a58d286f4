"""Spot Placement Scores into the pools: EC2's answer (Stubber, with zone ids turned into
zone names), and the moto server, which does not answer: the pools go without scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber
from structlog.testing import capture_logs

from cbas_async.fleet.placement_scores import REFRESH_S, PlacementScores
from cbas_async.fleet.pools import PoolBook
from cbas_async.settings import Settings
from tests.fakes import FakeClock

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

ZONES = {
    "AvailabilityZones": [
        {"ZoneName": "us-east-1a", "ZoneId": "use1-az6", "RegionName": "us-east-1"},
        {"ZoneName": "us-east-1b", "ZoneId": "use1-az1", "RegionName": "us-east-1"},
    ]
}


def _scores(itype: str) -> dict[str, object]:
    del itype
    return {
        "SpotPlacementScores": [
            {"Region": "us-east-1", "AvailabilityZoneId": "use1-az6", "Score": 9},
            {"Region": "us-east-1", "AvailabilityZoneId": "use1-az1", "Score": 2},
        ]
    }


async def test_scores_reach_the_pools_by_zone_name_once_per_refresh(ec2: EC2Client) -> None:
    clock, pools = FakeClock(), PoolBook()
    scores = PlacementScores(ec2=ec2, region="us-east-1", clock=clock, pools=pools)
    asked = {
        "InstanceTypes": ["c5.large"],
        "TargetCapacity": 1,
        "TargetCapacityUnitType": "units",
        "SingleAvailabilityZone": True,
        "RegionNames": ["us-east-1"],
    }
    with AioStubber(ec2) as stub:
        stub.add_response("get_spot_placement_scores", _scores("c5.large"), asked)
        stub.add_response("describe_availability_zones", ZONES)
        await scores.refresh(["c5.large"])
        await scores.refresh(["c5.large"])  # not due again: nothing asked
        stub.assert_no_pending_responses()
    risk = pools.risk("us-east-1", 0.0)
    assert risk[("us-east-1b", "c5.large")] > risk[("us-east-1a", "c5.large")] > 0


async def test_an_endpoint_without_scores_is_logged_once_and_placing_goes_on(
    settings: Settings,
) -> None:
    clock, pools = FakeClock(), PoolBook()
    async with get_session().create_client(  # moto answers 500: no retries
        "ec2",
        region_name="us-east-1",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id="k",
        aws_secret_access_key="k",
        config=AioConfig(retries={"max_attempts": 1}),
    ) as ec2:
        scores = PlacementScores(ec2=ec2, region="us-east-1", clock=clock, pools=pools)
        with capture_logs() as logs:
            await scores.refresh(["c5.large", "m5.large"])
            await clock.advance(REFRESH_S + 1)
            await scores.refresh(["c5.large"])
    assert pools.risk("us-east-1", 0.0) == {}
    assert [e["event"] for e in logs].count("placement_scores_unavailable") == 1
