"""What every launch of a deployment carries besides the job's own choices (`LaunchConfig`):
the worker image per CPU architecture, the worker instance profile, the security group and
the subnet; and its look-up, once at master start.

Without `CBAS_WORKER_IMAGE_ID` the image is the one `cbas image build` recorded in `misc` for
the architecture, else the current Amazon Linux 2023 one, read from its public SSM parameter
in the region: never a hard-coded id. The profile and the group
are the ones `cbas bootstrap` made (their names come from `scope.py`).

A master launches in every region of its deployment. The image id and subnet it is set
(`CBAS_WORKER_IMAGE_ID`, `CBAS_SUBNET_ID`) and the images `cbas image build` recorded are
one region's, its own: in another region it launches that region's current Amazon Linux 2023
image in the region's default VPC (`other_region_settings`, `recorded=False`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog
from aiodynamo.errors import TableNotFound
from botocore.exceptions import ClientError

from cbas_async.account import find_security_group
from cbas_async.aws import Clients, open_ssm
from cbas_async.bootstrap import misc_value
from cbas_async.errors import ConfigError
from cbas_async.scope import Scope
from cbas_async.settings import Settings, variable
from cbas_async.wheels import latest_wheel_key

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client
    from types_aiobotocore_ssm import SSMClient

log = structlog.get_logger(__name__)

Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")
_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
# Graviton families put a `g` right after the generation: t4g, c7g, m6gd, c6gn, is4gen
_GRAVITON = re.compile(r"^[a-z]+[0-9]+g")


def architecture(instance_type: str) -> Architecture:
    """The CPU architecture of an instance type, from its family's name."""
    return "arm64" if _GRAVITON.match(instance_type.split(".")[0]) else "x86_64"


def image_record_key(arch: Architecture) -> str:
    """The `misc` key of the image `cbas image build` baked for `arch`."""
    return f"worker_image:{arch}"


def image_parameter(arch: Architecture) -> str:
    """The public SSM parameter holding the current Amazon Linux 2023 image id."""
    return _PARAMETER.format(arch=arch)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerImage:
    """An image the workers boot, and the device name of its root volume."""

    image_id: str
    root_device_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchConfig:
    """The deployment's part of every RunInstances request."""

    images: Mapping[Architecture, WorkerImage]
    instance_profile: str  # by name
    security_group_id: str
    subnet_id: str | None = None  # None: EC2 picks a subnet of the default VPC
    wheel_key: str | None = None  # this version's wheel in the bucket, for the boot script

    def image_for(self, instance_type: str) -> WorkerImage:
        return self.images[architecture(instance_type)]


def other_region_settings(settings: Settings, region: str) -> Settings:
    """The settings a launch config of `region`, not the master's own, is resolved with."""
    return settings.in_region(region).replace(worker_image_id=None, subnet_id=None)


async def resolve_launch_config(
    clients: Clients, settings: Settings, *, bucket: str | None = None, recorded: bool = True
) -> LaunchConfig:
    """Look the deployment's launch parameters up; raises `ConfigError` naming what to fix.
    With `bucket`, also the newest wheel of this version that bootstrap uploaded there;
    `recorded=False` ignores the images `cbas image build` recorded."""
    scope = Scope.of(settings)
    group = await find_security_group(clients, scope)
    if group is None:
        raise ConfigError(
            variable("deployment"),
            f"no security group {scope.security_group_name!r} for deployment "
            f"{settings.deployment!r} in {settings.region}: run `cbas bootstrap`",
        )
    return LaunchConfig(
        images=await resolve_images(
            clients.ec2, settings, await recorded_images(clients, settings) if recorded else {}
        ),
        instance_profile=scope.role_name("worker"),
        security_group_id=group,
        subnet_id=settings.subnet_id,
        wheel_key=await _wheel_key(clients, bucket),
    )


async def _wheel_key(clients: Clients, bucket: str | None) -> str | None:
    key = await latest_wheel_key(clients.s3, bucket) if bucket else None
    if bucket and key is None:  # only an image that has this version can boot a worker
        log.warning("no_wheel_uploaded", bucket=bucket, hint="run cbas bootstrap")
    return key


async def recorded_images(clients: Clients, settings: Settings) -> dict[Architecture, str]:
    """The images `cbas image build` recorded, by architecture (none before bootstrap)."""
    found: dict[Architecture, str] = {}
    for arch in ARCHITECTURES:
        with contextlib.suppress(TableNotFound):
            if image_id := await misc_value(clients, settings, image_record_key(arch)):
                found[arch] = image_id
    return found


async def resolve_images(
    ec2: EC2Client, settings: Settings, recorded: Mapping[Architecture, str] | None = None
) -> dict[Architecture, WorkerImage]:
    """The set image for every architecture; else the recorded image of each, or the
    current Amazon Linux 2023 image of the architectures with none recorded."""
    if settings.worker_image_id is not None:
        image = (await _describe(ec2, [settings.worker_image_id], settings))[0]
        return dict.fromkeys(ARCHITECTURES, image)
    ids = dict(recorded or {})
    if len(ids) < len(ARCHITECTURES):
        async with open_ssm(settings) as ssm:
            ids = {**await _latest_image_ids(ssm, settings), **ids}
    found = {image.image_id: image for image in await _describe(ec2, list(ids.values()), settings)}
    return {arch: found[image_id] for arch, image_id in ids.items()}


async def _latest_image_ids(ssm: SSMClient, settings: Settings) -> dict[Architecture, str]:
    names = {image_parameter(arch): arch for arch in ARCHITECTURES}
    answer = await ssm.get_parameters(Names=list(names))
    ids = {names[p["Name"]]: p["Value"] for p in answer["Parameters"]}
    if set(ids) != set(ARCHITECTURES):
        raise ConfigError(
            variable("worker_image_id"),
            f"{settings.region} publishes no Amazon Linux 2023 image "
            f"({', '.join(answer.get('InvalidParameters', []))}): set an image id",
        )
    return ids


async def _describe(ec2: EC2Client, image_ids: list[str], settings: Settings) -> list[WorkerImage]:
    """The images in the order asked; a missing one is a `ConfigError`."""
    try:
        described = (await ec2.describe_images(ImageIds=image_ids))["Images"]
    except ClientError as exc:
        if not exc.response.get("Error", {}).get("Code", "").startswith("InvalidAMIID"):
            raise
        described = []
    by_id = {i["ImageId"]: i for i in described}
    missing = [image_id for image_id in image_ids if image_id not in by_id]
    if missing:
        raise ConfigError(
            variable("worker_image_id"),
            f"{', '.join(missing)}: no such image in {settings.region} (or not shared with "
            "this account); set an image of this region, or unset it for Amazon Linux 2023",
        )
    return [
        WorkerImage(image_id=i, root_device_name=by_id[i].get("RootDeviceName", "/dev/xvda"))
        for i in image_ids
    ]
