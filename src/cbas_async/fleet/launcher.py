"""Launches a job's attempt on a spot (or on-demand) instance through EC2 RunInstances: the
`LaunchRequest` (where, how bought, at what cap), the request EC2 gets for it
(`run_instances_params`), the `Launcher` that sends it, and `Launchers`, a master's launcher
in each region of its deployment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from cbas_async.errors import TransientError
from cbas_async.fleet.launch_config import LaunchConfig
from cbas_async.fleet.launch_errors import LaunchContext, launch_error
from cbas_async.fleet.tags import tags
from cbas_async.fleet.userdata import BootTarget, document
from cbas_async.jobs import Resources
from cbas_async.messages import UserData
from cbas_async.records import JobRecord

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

DEFAULT_DISK_GIB: int = Resources.model_fields["disk_gib"].default  # the spec's default
# IMDSv2 only; one hop, so a container on the worker cannot reach the instance's credentials
METADATA_OPTIONS = {
    "HttpTokens": "required",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchRequest:
    """What to launch for an attempt: region, zone, instance type, purchase option (spot or
    on-demand), max price, checkpoint interval and root volume size. Not the broker's choice
    (`spot.broker.PlacementChoice`), which this is made from."""

    region: str
    zone: str | None
    instance_type: str
    max_price_usd_per_hour: float | None
    checkpoint_interval_s: float
    market: Literal["spot", "on-demand"] = "spot"
    checkpoint_at_hour_end: bool = False  # hourly billing: interval counts whole hours
    disk_gib: int = DEFAULT_DISK_GIB


class Launcher:
    """Runs one spot instance per attempt; idempotent per (job, attempt) via ClientToken.
    `region`: where its EC2 client is ("" when nobody said)."""

    def __init__(
        self,
        *,
        ec2: EC2Client,
        config: LaunchConfig,
        deployment: str,
        launch_ec2: EC2Client | None = None,
        region: str = "",
    ) -> None:
        """`launch_ec2`: the client RunInstances goes through (`Clients.ec2_launch`: no
        retry inside botocore), else `ec2`."""
        self._ec2 = ec2
        self._launch_ec2 = launch_ec2 or ec2
        self._config = config
        self._deployment = deployment
        self.region = region

    @property
    def config(self) -> LaunchConfig:
        return self._config

    async def launch(
        self, request: LaunchRequest, user_data: UserData, *, client_token: str | None = None
    ) -> str:
        """Start the instance; returns its id. Raises one of `launch_errors`' classes, a
        plain TransientError, or PermanentError. `client_token`: one per launch of the
        attempt (default: the job and attempt)."""
        params = run_instances_params(request, user_data, self._config, self._deployment)
        if client_token is not None:
            params["ClientToken"] = client_token
        try:
            response = await self._launch_ec2.run_instances(**params)
        except ClientError as exc:
            raise launch_error(exc, self._context(request)) from exc
        return response["Instances"][0]["InstanceId"]

    def _context(self, request: LaunchRequest) -> LaunchContext:
        config = self._config
        return LaunchContext(
            image_id=config.image_for(request.instance_type).image_id,
            instance_profile=config.instance_profile,
            security_group_id=config.security_group_id,
            subnet_id=config.subnet_id,
            disk_gib=request.disk_gib,
        )

    async def live_instances(self) -> list[dict[str, Any]]:
        """This deployment's instances that are pending or running, with their tags."""
        found: list[dict[str, Any]] = []
        paginator = self._ec2.get_paginator("describe_instances")
        pages = paginator.paginate(
            Filters=[
                {"Name": "tag:cbas:deployment", "Values": [self._deployment]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        async for page in pages:
            for reservation in page.get("Reservations", []):
                found += [dict(i) for i in reservation.get("Instances", [])]
        return found

    async def attempt_instance(self, job_id: str, attempt: int) -> str | None:
        """The id of an instance this deployment launched for the job's attempt (in any state
        but terminated), or None. Raises TransientError when EC2 does not answer."""
        filters = [
            {"Name": "tag:cbas:deployment", "Values": [self._deployment]},
            {"Name": "tag:cbas:job_id", "Values": [job_id]},
            {"Name": "tag:cbas:attempt", "Values": [str(attempt)]},
        ]
        try:
            response = await self._ec2.describe_instances(Filters=filters)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"describe instances: {exc}") from exc
        for reservation in response.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance.get("State", {}).get("Name") != "terminated":
                    return instance["InstanceId"]
        return None

    async def describe(self, instance_id: str) -> dict[str, Any] | None:
        """The instance as EC2 describes it, or None when EC2 no longer knows it."""
        try:
            response = await self._ec2.describe_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            if "NotFound" in exc.response.get("Error", {}).get("Code", ""):
                return None
            raise
        for reservation in response.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                return dict(instance)
        return None

    async def instance_state(self, instance_id: str) -> str | None:
        """EC2's state name for the instance, or None when EC2 no longer knows it."""
        instance = await self.describe(instance_id)
        return None if instance is None else instance.get("State", {}).get("Name")

    async def terminate(self, instance_ids: list[str]) -> None:
        if instance_ids:
            await self._ec2.terminate_instances(InstanceIds=instance_ids)


class Launchers:
    """A master's `Launcher` in each region of its deployment, its own region's first. A
    region it has none for (a record older than regions, a one-launcher test) gets its own
    region's: the one launcher every master had before regions."""

    def __init__(self, by_region: Mapping[str, Launcher], *, own: str) -> None:
        if own not in by_region:
            raise ValueError(f"no launcher for the master's own region {own!r}")
        self._by_region = {own: by_region[own], **by_region}
        self.own = by_region[own]

    @classmethod
    def of(cls, launcher: Launcher | Launchers) -> Launchers:
        """`launcher` as the launcher of every region, or the `Launchers` given."""
        if isinstance(launcher, Launchers):
            return launcher
        return cls({launcher.region: launcher}, own=launcher.region)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self._by_region)

    def in_region(self, region: str | None) -> Launcher:
        return self._by_region.get(region or "", self.own)

    def of_job(self, job: JobRecord) -> Launcher:
        """The launcher of the region the job's current attempt was placed in."""
        return self.in_region(job.placement.region if job.placement else None)

    async def find(self, instance_id: str) -> tuple[Launcher, dict[str, Any]] | None:
        """The instance as EC2 describes it, and the launcher of its region; asked in the
        master's own region first. None when no region knows it."""
        for launcher in self._by_region.values():
            instance = await launcher.describe(instance_id)
            if instance is not None:
                return launcher, instance
        return None


def run_instances_params(
    request: LaunchRequest, user_data: UserData, config: LaunchConfig, deployment: str
) -> dict[str, Any]:
    """The RunInstances request of one attempt (docs/AWS.md, "What a launch carries")."""
    image = config.image_for(request.instance_type)
    params: dict[str, Any] = {
        "ImageId": image.image_id,
        "InstanceType": request.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "UserData": document(user_data, BootTarget(wheel_key=config.wheel_key)),
        "ClientToken": f"{user_data.job_id}-{user_data.attempt}",
        "IamInstanceProfile": {"Name": config.instance_profile},
        "SecurityGroupIds": [config.security_group_id],
        # EC2 accepts `terminate` for one-time spot instances too (only `stop` is refused)
        "InstanceInitiatedShutdownBehavior": "terminate",
        "MetadataOptions": dict(METADATA_OPTIONS),
        "BlockDeviceMappings": [_root_volume(image.root_device_name, request.disk_gib)],
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": tags(deployment, user_data.job_id, user_data.attempt),
            }
        ],
    }
    if config.subnet_id:
        params["SubnetId"] = config.subnet_id
    if request.market == "spot":
        params["InstanceMarketOptions"] = _spot_options(request)
    if request.zone:
        params["Placement"] = {"AvailabilityZone": request.zone}
    return params


def _root_volume(device_name: str, size_gib: int) -> dict[str, Any]:
    return {
        "DeviceName": device_name,
        "Ebs": {"VolumeSize": size_gib, "VolumeType": "gp3", "DeleteOnTermination": True},
    }


def _spot_options(request: LaunchRequest) -> dict[str, Any]:
    spot: dict[str, Any] = {
        "SpotInstanceType": "one-time",
        "InstanceInterruptionBehavior": "terminate",
    }
    if request.max_price_usd_per_hour:
        spot["MaxPrice"] = f"{request.max_price_usd_per_hour:.6f}"
    return {"MarketType": "spot", "SpotOptions": spot}
