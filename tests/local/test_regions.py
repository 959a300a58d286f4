"""The local cloud's regions: each bootstrapped on the one moto server, the tables and the
bucket in the home region (against the session's moto server)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from cbas_async.local.regions import set_up_regions
from cbas_async.settings import Settings


async def test_every_region_is_bootstrapped_with_the_home_region_first(
    settings: Settings,
) -> None:
    regional = settings.replace(regions=("us-west-2", "us-east-1"), region="us-west-2")
    async with AsyncExitStack() as stack:
        set_up = await set_up_regions(stack, regional)
        assert list(set_up.regions) == ["us-west-2", "us-east-1"]
        assert set_up.home.name == "us-west-2"
        for name, region in set_up.regions.items():
            assert region.resources.region == name
            assert f":{name}:" in region.resources.events_topic_arn
            groups = await region.clients.ec2.describe_security_groups(
                Filters=[{"Name": "tag:cbas:deployment", "Values": ["test"]}]
            )
            assert groups["SecurityGroups"], f"no workers' security group in {name}"
        buckets = {r.resources.bucket for r in set_up.regions.values()}
        assert len(buckets) == 1  # until bootstrap makes one per region
        assert set_up.account.roles["worker"].startswith("arn:aws:iam::")
