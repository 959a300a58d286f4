"""`cbas image build`: bakes a worker image. It launches an instance of the base image (the
current Amazon Linux 2023 by default) with user data that runs the workers' own install
script in "install only" mode (and optionally builds DMTCP), waits for the instance to power
itself off, calls CreateImage, waits for the image, records it in `misc` under
`worker_image:<architecture>` (where the master finds it: `fleet/launch_config.py`) and
terminates the instance, whatever happened."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import structlog
from botocore.exceptions import ClientError

from cbas_async import __version__
from cbas_async.aws import Clients, open_ssm
from cbas_async.bootstrap import BUCKET_KEY, misc_value
from cbas_async.clock import Clock
from cbas_async.errors import ConfigError, PermanentError
from cbas_async.fleet.image_script import image_user_data
from cbas_async.fleet.launch_config import (
    Architecture,
    LaunchConfig,
    architecture,
    image_parameter,
    image_record_key,
    resolve_launch_config,
)
from cbas_async.fleet.launcher import METADATA_OPTIONS
from cbas_async.scope import DEPLOYMENT_TAG
from cbas_async.settings import Settings

log = structlog.get_logger(__name__)

BUILD_TYPES: dict[Architecture, str] = {"x86_64": "c5.large", "arm64": "c6g.large"}
BUILD_TAG = "cbas:image-build"


class ImageBuildFailed(PermanentError):
    """The build instance or the image did not get where it should; nothing was recorded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    """What `cbas image build` was asked: base image, DMTCP, the builder's type, patience."""

    base: str | None = None  # None: the current Amazon Linux 2023 image
    with_dmtcp: bool = False
    instance_type: str | None = None  # None: a small type of the base image's architecture
    timeout_s: float = 3600.0  # install (and a DMTCP build) until power-off, then the image
    poll_s: float = 15.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Builder:
    """The instance to launch: from which image, of which type and architecture."""

    base: str
    instance_type: str
    arch: Architecture


async def builder(clients: Clients, settings: Settings, options: BuildOptions) -> Builder:
    """The base image and the builder's type, checked to share an architecture."""
    arch: Architecture = architecture(options.instance_type or BUILD_TYPES["x86_64"])
    if options.base is None:
        async with open_ssm(settings) as ssm:
            found = await ssm.get_parameters(Names=[image_parameter(arch)])
        if not found["Parameters"]:
            raise ConfigError("--base", f"{settings.region} publishes no Amazon Linux 2023 image")
        base = found["Parameters"][0]["Value"]
    else:
        base, arch = options.base, await _image_architecture(clients, options.base)
    instance_type = options.instance_type or BUILD_TYPES[arch]
    if architecture(instance_type) != arch:
        raise ConfigError("--instance-type", f"{instance_type} cannot boot {arch} image {base}")
    return Builder(base=base, instance_type=instance_type, arch=arch)


async def _image_architecture(clients: Clients, image_id: str) -> Architecture:
    try:
        images = (await clients.ec2.describe_images(ImageIds=[image_id]))["Images"]
    except ClientError as exc:
        raise ConfigError("--base", f"{image_id}: no such image ({exc})") from exc
    if not images or images[0].get("Architecture") not in BUILD_TYPES:
        raise ConfigError("--base", f"{image_id}: no such x86_64 or arm64 image")
    return "arm64" if images[0]["Architecture"] == "arm64" else "x86_64"


def build_params(
    settings: Settings, config: LaunchConfig, build: Builder, user_data: str
) -> dict[str, Any]:
    """The builder's RunInstances: the workers' profile, group, subnet and IMDSv2, on-demand,
    and *stopping* on power-off so the disk outlives the install for CreateImage."""
    params: dict[str, Any] = {
        "ImageId": build.base,
        "InstanceType": build.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "UserData": user_data,
        "IamInstanceProfile": {"Name": config.instance_profile},
        "SecurityGroupIds": [config.security_group_id],
        "InstanceInitiatedShutdownBehavior": "stop",
        "MetadataOptions": dict(METADATA_OPTIONS),
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": DEPLOYMENT_TAG, "Value": settings.deployment},
                    {"Key": BUILD_TAG, "Value": __version__},
                    {"Key": "Name", "Value": f"{settings.deployment}-image-build"},
                ],
            }
        ],
    }
    if config.subnet_id:
        params["SubnetId"] = config.subnet_id
    return params


async def build_image(
    clients: Clients, settings: Settings, options: BuildOptions, *, clock: Clock
) -> str:
    """Bake, record and return the image id; raises `ImageBuildFailed` (the builder is
    terminated in every case) or `ConfigError` before anything is launched."""
    config = await resolve_launch_config(clients, settings)
    build = await builder(clients, settings, options)
    bucket = await misc_value(clients, settings, BUCKET_KEY)
    if bucket is None:
        raise ConfigError("CBAS_DEPLOYMENT", f"{settings.deployment!r}: run `cbas bootstrap`")
    user_data = await image_user_data(clients, settings, bucket, with_dmtcp=options.with_dmtcp)
    launched = await clients.ec2.run_instances(**build_params(settings, config, build, user_data))
    instance_id = launched["Instances"][0]["InstanceId"]
    log.info("image_builder_launched", instance_id=instance_id, base=build.base)
    deadline = clock.monotonic() + options.timeout_s
    try:
        await _wait_stopped(clients, instance_id, clock, deadline, options.poll_s)
        image_id = await _create_image(clients, settings, instance_id, options.with_dmtcp)
        await _wait_available(clients, image_id, clock, deadline, options.poll_s)
    finally:
        with contextlib.suppress(ClientError):
            await clients.ec2.terminate_instances(InstanceIds=[instance_id])
    await record_image(clients, settings, build.arch, image_id)
    return image_id


async def _instance_state(clients: Clients, instance_id: str) -> str:
    found = await clients.ec2.describe_instances(InstanceIds=[instance_id])
    return str(found["Reservations"][0]["Instances"][0]["State"]["Name"])


async def _wait_stopped(
    clients: Clients, instance_id: str, clock: Clock, deadline: float, poll_s: float
) -> None:
    while (state := await _instance_state(clients, instance_id)) != "stopped":
        if state in ("terminated", "shutting-down"):
            raise ImageBuildFailed(f"builder {instance_id} was terminated before it finished")
        if clock.monotonic() >= deadline:
            raise ImageBuildFailed(
                f"builder {instance_id} did not power off in time (still {state}): the install "
                f"failed or is slow; see `aws ec2 get-console-output --instance-id {instance_id}`"
                " before it is gone (it is being terminated)"
            )
        await clock.sleep(poll_s)


async def _create_image(
    clients: Clients, settings: Settings, instance_id: str, with_dmtcp: bool
) -> str:
    stamp = instance_id.removeprefix("i-")
    made = await clients.ec2.create_image(
        InstanceId=instance_id,
        Name=f"{settings.deployment}-worker-{__version__}-{stamp}",
        Description=f"cbas-async {__version__} worker{' with DMTCP' if with_dmtcp else ''}",
    )
    log.info("image_created", image_id=made["ImageId"], instance_id=instance_id)
    return made["ImageId"]


async def _wait_available(
    clients: Clients, image_id: str, clock: Clock, deadline: float, poll_s: float
) -> None:
    while True:
        images = (await clients.ec2.describe_images(ImageIds=[image_id]))["Images"]
        state = images[0].get("State", "pending") if images else "pending"
        if state == "available":
            return
        if state in ("failed", "error", "invalid", "deregistered"):
            raise ImageBuildFailed(f"image {image_id} is {state}")
        if clock.monotonic() >= deadline:
            raise ImageBuildFailed(f"image {image_id} is still {state}: run the build again")
        await clock.sleep(poll_s)


async def record_image(
    clients: Clients, settings: Settings, arch: Architecture, image_id: str
) -> None:
    """From now on the master launches this image for `arch` (unless an id is set)."""
    await clients.dynamo.put_item(
        settings.misc_table,
        {"key": image_record_key(arch), "value": image_id, "version": __version__},
    )
    log.info("worker_image_recorded", image_id=image_id, architecture=arch)
