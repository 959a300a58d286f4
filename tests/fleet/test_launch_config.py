"""The deployment's launch parameters looked up against the moto server: the current Amazon
Linux 2023 images from their public SSM parameters, a set image, the bootstrap's group and
profile; and the errors that name what to fix."""

from __future__ import annotations

import pytest

from cbas_async.account import open_account_clients, set_up_account
from cbas_async.aws import Clients, open_ssm
from cbas_async.bootstrap import bootstrap
from cbas_async.errors import ConfigError
from cbas_async.fleet.launch_config import (
    Architecture,
    architecture,
    image_parameter,
    resolve_images,
    resolve_launch_config,
)
from cbas_async.policies import policy
from cbas_async.scope import Scope
from cbas_async.settings import Settings
from tests.iam_eval import Call, allows


async def _set_up(clients: Clients, settings: Settings) -> str:
    """Bootstrap the deployment; returns the workers' security group id."""
    resources = await bootstrap(clients, settings)
    async with open_account_clients(settings) as accounts:
        return (await set_up_account(clients, accounts, settings, resources)).security_group_id


async def _published(settings: Settings, arch: Architecture) -> str:
    async with open_ssm(settings) as ssm:
        answer = await ssm.get_parameter(Name=image_parameter(arch))
    return answer["Parameter"]["Value"]


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("c5.large", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("t4g.micro", "arm64"),
        ("c7g.large", "arm64"),
        ("m6gd.large", "arm64"),
        ("c6gn.medium", "arm64"),
        ("g5g.xlarge", "arm64"),
    ],
)
def test_graviton_families_are_arm64(instance_type: str, expected: str) -> None:
    assert architecture(instance_type) == expected


async def test_without_an_image_set_the_current_amazon_linux_2023_images_are_used(
    clients: Clients, settings: Settings
) -> None:
    group = await _set_up(clients, settings)
    config = await resolve_launch_config(clients, settings)
    x86, arm = await _published(settings, "x86_64"), await _published(settings, "arm64")
    assert x86 != arm
    assert config.image_for("c5.large").image_id == x86
    assert config.image_for("c7g.large").image_id == arm
    assert config.image_for("c5.large").root_device_name == "/dev/xvda"
    assert config.instance_profile == "test-us-east-1-worker"
    assert config.security_group_id == group
    assert config.subnet_id is None


async def test_a_set_image_and_subnet_are_used_for_every_type(
    clients: Clients, settings: Settings
) -> None:
    image_id = await _published(settings, "x86_64")
    vpc = (await clients.ec2.create_vpc(CidrBlock="10.9.0.0/16"))["Vpc"]["VpcId"]
    subnet = await clients.ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")
    subnet_id = subnet["Subnet"]["SubnetId"]
    chosen = settings.replace(worker_image_id=image_id, subnet_id=subnet_id)
    group = await _set_up(clients, chosen)
    config = await resolve_launch_config(clients, chosen)
    assert {image.image_id for image in config.images.values()} == {image_id}
    assert config.subnet_id == subnet_id
    described = await clients.ec2.describe_security_groups(GroupIds=[group])
    assert described["SecurityGroups"][0]["VpcId"] == vpc  # the subnet's, not the default


async def test_an_unknown_set_image_names_the_variable(
    clients: Clients, settings: Settings
) -> None:
    wrong = settings.replace(worker_image_id="ami-00000000000000000")
    with pytest.raises(ConfigError) as raised:
        await resolve_images(clients.ec2, wrong)
    assert raised.value.variable == "CBAS_WORKER_IMAGE_ID"
    assert "ami-00000000000000000" in str(raised.value)


async def test_before_bootstrap_the_missing_group_says_run_bootstrap(
    clients: Clients, settings: Settings
) -> None:
    with pytest.raises(ConfigError) as raised:
        await resolve_launch_config(clients, settings)
    assert raised.value.variable == "CBAS_DEPLOYMENT"
    assert "test-worker" in str(raised.value)
    assert "cbas bootstrap" in str(raised.value)


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_the_masters_policy_allows_the_look_ups(settings: Settings, arch: Architecture) -> None:
    master = policy("master", Scope.of(settings, account="123456789012"))
    parameter = f"arn:aws:ssm:us-east-1::parameter{image_parameter(arch)}"
    assert allows(master, Call("ssm:GetParameters", parameter))
    assert allows(master, Call("ec2:DescribeImages", "*"))
    assert allows(master, Call("ec2:DescribeSecurityGroups", "*"))
    other = "arn:aws:ssm:us-east-1::parameter/aws/service/other"
    assert not allows(master, Call("ssm:GetParameters", other))
