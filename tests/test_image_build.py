"""`cbas image build` against the moto server: the builder's launch and user data, a builder
that never powers off (timed out, terminated, nothing recorded), and a build whose image is
recorded and then launched by the master's launch config.

moto runs no user data: where the script would power the builder off, the test stops it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cbas_async import __version__
from cbas_async.account import open_account_clients, set_up_account
from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap, misc_value
from cbas_async.errors import ConfigError
from cbas_async.fleet.image_script import image_script
from cbas_async.fleet.launch_config import (
    LaunchConfig,
    WorkerImage,
    image_record_key,
    resolve_launch_config,
)
from cbas_async.image_build import (
    BUILD_TAG,
    Builder,
    BuildOptions,
    ImageBuildFailed,
    build_image,
    build_params,
    builder,
)
from cbas_async.settings import Settings
from cbas_async.wheels import upload_wheel
from tests.fakes import FakeClock

POLL_S = 10.0


async def _deploy(clients: Clients, settings: Settings, tmp_path: Path) -> str:
    """Bootstrap, check a build refuses to start with no wheel of this version in the
    bucket, then upload one; returns the wheel's key."""
    resources = await bootstrap(clients, settings)
    async with open_account_clients(settings) as accounts:
        await set_up_account(clients, accounts, settings, resources)
    with pytest.raises(ConfigError, match="no wheel of cbas-async"):
        await build_image(clients, settings, BuildOptions(), clock=FakeClock())
    assert (await clients.ec2.describe_instances())["Reservations"] == []
    wheel = tmp_path / f"cbas_async-{__version__}-py3-none-any.whl"
    wheel.write_bytes(b"not really a wheel")
    return await upload_wheel(clients.s3, resources.bucket, wheel)


async def _builder_launched(clients: Clients, clock: FakeClock) -> str:
    """The builder's id, once the build polls it (a real-time deadline: moto answers)."""
    deadline = time.monotonic() + 30
    while clock.sleepers == 0:
        assert time.monotonic() < deadline, "the build never started waiting"
        await asyncio.sleep(0.01)
    found = await clients.ec2.describe_instances(
        Filters=[{"Name": "tag-key", "Values": [BUILD_TAG]}]
    )
    ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    return ids[-1]


async def _state(clients: Clients, instance_id: str) -> str:
    found = await clients.ec2.describe_instances(InstanceIds=[instance_id])
    return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


async def test_a_build_times_out_or_records_its_image_which_launches_from_then_on(
    clients: Clients, settings: Settings, tmp_path: Path
) -> None:
    wheel_key = await _deploy(clients, settings, tmp_path)
    clock = FakeClock()
    options = BuildOptions(poll_s=POLL_S, timeout_s=3 * POLL_S)

    # a builder that never powers off: timed out, terminated, nothing recorded
    build = asyncio.create_task(build_image(clients, settings, options, clock=clock))
    stuck = await _builder_launched(clients, clock)
    await clock.advance(4 * POLL_S)
    with pytest.raises(ImageBuildFailed, match=f"get-console-output --instance-id {stuck}"):
        await build
    assert await _state(clients, stuck) == "terminated"
    assert await misc_value(clients, settings, image_record_key("x86_64")) is None

    # a builder that powers off: imaged, recorded, terminated
    build = asyncio.create_task(build_image(clients, settings, options, clock=clock))
    launched = await _builder_launched(clients, clock)
    attribute = await clients.ec2.describe_instance_attribute(
        InstanceId=launched, Attribute="userData"
    )
    assert attribute["UserData"]["Value"]  # moto keeps it base64-encoded
    await clients.ec2.stop_instances(InstanceIds=[launched])  # what the script's poweroff does
    await clock.advance(POLL_S)
    image_id = await build
    assert await _state(clients, launched) == "terminated"
    assert await misc_value(clients, settings, image_record_key("x86_64")) == image_id
    image = (await clients.ec2.describe_images(ImageIds=[image_id]))["Images"][0]
    assert image["Name"].startswith(f"test-worker-{__version__}-")

    config = await resolve_launch_config(clients, settings)
    assert config.image_for("c5.large").image_id == image_id
    assert config.image_for("c6g.large").image_id != image_id  # arm64: still Amazon Linux
    assert wheel_key.startswith(f"wheels/{__version__}/")


def test_the_script_installs_only_then_powers_off_and_builds_dmtcp_when_asked(
    settings: Settings,
) -> None:
    plain = image_script(settings, "bkt", "wheels/k/h/w.whl", with_dmtcp=False)
    dmtcp = image_script(settings, "bkt", "wheels/k/h/w.whl", with_dmtcp=True)
    assert plain.startswith("#!/bin/sh\n")
    assert "CBAS_INSTALL_ONLY=1\n" in plain
    assert "CBAS_WHEEL_KEY=wheels/k/h/w.whl\n" in plain
    assert "CBAS_WITH_DMTCP=0\n" in plain
    assert "CBAS_WITH_DMTCP=1\n" in dmtcp
    assert plain.index("trap finish EXIT") < plain.index("install_cbas\n")  # power off last
    assert 'if [ "${CBAS_INSTALL_ONLY:-0}" = 1 ]' in plain  # boot.sh stops after installing
    assert "DMTCP_COMMIT=2bef5cf8c5f83268b6fc0638aaa8d0f83a190926" in plain
    assert len(dmtcp.encode()) < 16 * 1024  # EC2's user data limit


def test_the_builder_stops_on_power_off_with_the_workers_profile_and_group(
    settings: Settings,
) -> None:
    image = WorkerImage(image_id="ami-1", root_device_name="/dev/xvda")
    config = LaunchConfig(
        images={"x86_64": image, "arm64": image},
        instance_profile="test-us-east-1-worker",
        security_group_id="sg-1",
        subnet_id="subnet-1",
    )
    chosen = Builder(base="ami-base", instance_type="c5.large", arch="x86_64")
    params = build_params(settings, config, chosen, "#!/bin/sh\n")
    assert params["InstanceInitiatedShutdownBehavior"] == "stop"
    assert params["IamInstanceProfile"] == {"Name": "test-us-east-1-worker"}
    assert params["SecurityGroupIds"] == ["sg-1"]
    assert params["SubnetId"] == "subnet-1"
    assert params["ImageId"] == "ami-base"
    assert params["MetadataOptions"]["HttpTokens"] == "required"
    assert "InstanceMarketOptions" not in params  # on-demand: a spot builder could vanish
    tags = {t["Key"]: t["Value"] for t in params["TagSpecifications"][0]["Tags"]}
    assert tags["cbas:deployment"] == "test"
    assert tags[BUILD_TAG] == __version__


async def test_a_base_of_another_architecture_than_the_type_is_refused(
    clients: Clients, settings: Settings
) -> None:
    arm = await clients.ec2.describe_images(Filters=[{"Name": "architecture", "Values": ["arm64"]}])
    base = arm["Images"][0]["ImageId"]
    with pytest.raises(ConfigError, match="cannot boot arm64"):
        await builder(clients, settings, BuildOptions(base=base, instance_type="c5.large"))
    chosen = await builder(clients, settings, BuildOptions(base=base))
    assert (chosen.instance_type, chosen.arch) == ("c6g.large", "arm64")
