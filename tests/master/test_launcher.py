"""The launcher's market options, against moto EC2."""

from __future__ import annotations

from cbas_async.aws import Clients
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.messages import UserData


def _user_data(job_id: str) -> UserData:
    return UserData(
        job_id=job_id,
        attempt=1,
        deployment="test",
        region="us-east-1",
        endpoint_url=None,
        bucket="b",
        ping_queue_url="q",
        topic_arn="t",
        jobs_table="j",
        events_table="e",
        misc_table="m",
        heartbeat_interval_s=5.0,
        notice_poll_s=5.0,
        checkpoint_interval_s=60.0,
        sns_verify=False,
        master_id="m-test",
    )


def _placement(**changes: object) -> LaunchRequest:
    values: dict[str, object] = {
        "region": "us-east-1",
        "zone": "us-east-1b",
        "instance_type": "c5.large",
        "max_price_usd_per_hour": 0.05,
        "checkpoint_interval_s": 60.0,
    }
    values.update(changes)
    return LaunchRequest(**values)  # type: ignore[arg-type]


async def test_spot_placement_launches_a_spot_instance_in_its_zone(launcher: Launcher) -> None:
    instance_id = await launcher.launch(_placement(), _user_data("j-spot"))
    instance = await launcher.describe(instance_id)
    assert instance is not None
    assert instance.get("InstanceLifecycle") == "spot"
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1b"


async def test_on_demand_placement_launches_without_spot_options(launcher: Launcher) -> None:
    placement = _placement(market="on-demand", max_price_usd_per_hour=None, zone=None)
    instance_id = await launcher.launch(placement, _user_data("j-od"))
    instance = await launcher.describe(instance_id)
    assert instance is not None
    assert instance.get("InstanceLifecycle") is None
    assert instance["InstanceType"] == "c5.large"


async def test_the_instance_gets_the_worker_profile_group_and_root_volume(
    launcher: Launcher, clients: Clients
) -> None:
    instance_id = await launcher.launch(_placement(disk_gib=50), _user_data("j-full"))
    instance = await launcher.describe(instance_id)
    assert instance is not None
    assert instance["IamInstanceProfile"]["Arn"].endswith("/test-us-east-1-worker")
    groups = await clients.ec2.describe_security_groups(
        GroupIds=[g["GroupId"] for g in instance["SecurityGroups"]]
    )
    assert [g["GroupName"] for g in groups["SecurityGroups"]] == ["test-worker"]
    root = instance["BlockDeviceMappings"][0]
    volumes = await clients.ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])
    assert (root["DeviceName"], volumes["Volumes"][0]["Size"]) == ("/dev/xvda", 50)
