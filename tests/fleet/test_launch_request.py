"""The exact RunInstances request the launcher sends, captured with botocore's Stubber on a
real aiobotocore EC2 client (nothing reaches AWS), for a spot and an on-demand attempt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiobotocore.stub import AioStubber

from cbas_async.fleet.launch_config import ARCHITECTURES, LaunchConfig, WorkerImage
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.userdata import BootTarget, document
from tests.master.test_launcher import _placement, _user_data

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

X86 = WorkerImage(image_id="ami-0123456789abcdef0", root_device_name="/dev/xvda")
ARM = WorkerImage(image_id="ami-0fedcba9876543210", root_device_name="/dev/sda1")
CONFIG = LaunchConfig(
    images={"x86_64": X86, "arm64": ARM},
    instance_profile="test-us-east-1-worker",
    security_group_id="sg-0a1b2c3d4e5f60718",
)
RESPONSE = {"Instances": [{"InstanceId": "i-0123456789abcdef0"}]}


def _tags(job_id: str) -> list[dict[str, Any]]:
    return [
        {
            "ResourceType": "instance",
            "Tags": [
                {"Key": "cbas:deployment", "Value": "test"},
                {"Key": "cbas:job_id", "Value": job_id},
                {"Key": "cbas:attempt", "Value": "1"},
                {"Key": "Name", "Value": f"cbas-{job_id}-1"},
            ],
        }
    ]


def _common(job_id: str, image: WorkerImage, disk_gib: int) -> dict[str, Any]:
    return {
        "ImageId": image.image_id,
        "MinCount": 1,
        "MaxCount": 1,
        "UserData": document(_user_data(job_id), BootTarget()),  # the cloud-init document
        "ClientToken": f"{job_id}-1",
        "IamInstanceProfile": {"Name": "test-us-east-1-worker"},
        "SecurityGroupIds": ["sg-0a1b2c3d4e5f60718"],
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 1,
            "HttpEndpoint": "enabled",
        },
        "BlockDeviceMappings": [
            {
                "DeviceName": image.root_device_name,
                "Ebs": {"VolumeSize": disk_gib, "VolumeType": "gp3", "DeleteOnTermination": True},
            }
        ],
        "TagSpecifications": _tags(job_id),
    }


async def test_a_spot_attempt_sends_the_complete_request(ec2: EC2Client) -> None:
    expected = {
        **_common("j-spot", X86, 30),
        "InstanceType": "c5.large",
        "InstanceMarketOptions": {
            "MarketType": "spot",
            "SpotOptions": {
                "SpotInstanceType": "one-time",
                "InstanceInterruptionBehavior": "terminate",
                "MaxPrice": "0.050000",
            },
        },
        "Placement": {"AvailabilityZone": "us-east-1b"},
    }
    with AioStubber(ec2) as stub:
        stub.add_response("run_instances", RESPONSE, expected)
        launcher = Launcher(ec2=ec2, config=CONFIG, deployment="test")
        assert await launcher.launch(_placement(), _user_data("j-spot")) == "i-0123456789abcdef0"
        stub.assert_no_pending_responses()


async def test_an_on_demand_graviton_attempt_in_a_set_subnet(ec2: EC2Client) -> None:
    config = LaunchConfig(
        images=CONFIG.images,
        instance_profile=CONFIG.instance_profile,
        security_group_id=CONFIG.security_group_id,
        subnet_id="subnet-0abc",
    )
    expected = {
        **_common("j-od", ARM, 120),
        "InstanceType": "c7g.large",
        "SubnetId": "subnet-0abc",
    }
    placement = _placement(
        market="on-demand",
        zone=None,
        max_price_usd_per_hour=None,
        instance_type="c7g.large",
        disk_gib=120,
    )
    with AioStubber(ec2) as stub:
        stub.add_response("run_instances", RESPONSE, expected)
        launcher = Launcher(ec2=ec2, config=config, deployment="test")
        assert await launcher.launch(placement, _user_data("j-od")) == "i-0123456789abcdef0"
        stub.assert_no_pending_responses()


def test_one_image_set_for_every_architecture() -> None:
    config = LaunchConfig(
        images=dict.fromkeys(ARCHITECTURES, X86), instance_profile="p", security_group_id="sg"
    )
    assert config.image_for("m7g.xlarge") == config.image_for("c5.large") == X86
