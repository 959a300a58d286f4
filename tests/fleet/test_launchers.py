"""A master's launcher in each region (`Launchers`): which one acts for a region or a job, and
finding an instance in whichever region has it (EC2 answers through botocore's Stubber on
real aiobotocore clients: nothing leaves the process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiobotocore.session import get_session
from aiobotocore.stub import AioStubber
from botocore.exceptions import ClientError

from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.jobs import parse_spec
from cbas_async.records import JobPlacement, JobRecord
from cbas_async.states import JobState
from tests.fleet.test_launch_request import CONFIG

EAST, WEST = "us-east-1", "us-west-2"
NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.fixture
async def by_region() -> AsyncIterator[dict[str, Launcher]]:
    session, key = get_session(), "k"
    async with (
        session.create_client(
            "ec2", region_name=EAST, aws_access_key_id=key, aws_secret_access_key=key
        ) as east,
        session.create_client(
            "ec2", region_name=WEST, aws_access_key_id=key, aws_secret_access_key=key
        ) as west,
    ):
        yield {
            region: Launcher(ec2=client, config=CONFIG, deployment="test", region=region)
            for region, client in [(EAST, east), (WEST, west)]
        }


def _job(region: str | None) -> JobRecord:
    placement = (
        None
        if region is None
        else JobPlacement(region=region, instance_type="c5.large", checkpoint_interval_s=60)
    )
    spec = parse_spec({"name": "t", "command": ["true"]})
    return JobRecord(
        job_id="j-1",
        state=JobState.RUNNING,
        version=3,
        attempt=1,
        spec=spec,
        created_at=NOW,
        updated_at=NOW,
        placement=placement,
    )


def test_each_region_has_its_launcher_and_any_other_the_masters_own(
    by_region: dict[str, Launcher],
) -> None:
    launchers = Launchers(by_region, own=WEST)
    assert launchers.regions == (WEST, EAST)  # the master's own region first
    assert launchers.in_region(EAST) is by_region[EAST]
    assert launchers.of_job(_job(WEST)) is by_region[WEST]
    for unknown in ("eu-west-1", None, ""):
        assert launchers.in_region(unknown) is launchers.own is by_region[WEST]
    assert launchers.of_job(_job(None)) is by_region[WEST]
    with pytest.raises(ValueError, match="eu-west-1"):
        Launchers(by_region, own="eu-west-1")


def test_one_launcher_acts_in_every_region(by_region: dict[str, Launcher]) -> None:
    single = Launchers.of(by_region[EAST])
    assert single.regions == (EAST,)
    assert single.in_region(WEST) is single.of_job(_job(WEST)) is by_region[EAST]
    assert Launchers.of(single) is single


async def test_an_instance_is_found_in_the_region_that_has_it(
    by_region: dict[str, Launcher],
) -> None:
    launchers = Launchers(by_region, own=EAST)
    west_instance = {"InstanceId": "i-0west", "State": {"Name": "running"}}
    with AioStubber(by_region[EAST]._ec2) as east, AioStubber(by_region[WEST]._ec2) as west:
        for _ in range(2):  # asked in the master's own region first, where it is unknown
            east.add_client_error("describe_instances", "InvalidInstanceID.NotFound")
        west.add_response("describe_instances", {"Reservations": [{"Instances": [west_instance]}]})
        west.add_client_error("describe_instances", "InvalidInstanceID.NotFound")
        found = await launchers.find("i-0west")
        assert found is not None
        assert (found[0], found[1]["InstanceId"]) == (by_region[WEST], "i-0west")
        assert await launchers.find("i-0nowhere") is None
        east.add_client_error("describe_instances", "RequestLimitExceeded")
        with pytest.raises(ClientError):  # not an answer: the caller's boundary retries
            await launchers.find("i-0west")
        east.assert_no_pending_responses()
        west.assert_no_pending_responses()
