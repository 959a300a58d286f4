"""Launches a job's attempt on a spot (or on-demand) instance through EC2 RunInstances: the
`LaunchRequest` (where, how bought, at what cap) and the `Launcher` that carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from cbas_async.errors import PermanentError, TransientError
from cbas_async.fleet.tags import tags
from cbas_async.messages import UserData

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

# errors that no retry will fix: the request itself is wrong for this account
_PERMANENT = {"InvalidParameterValue", "InvalidAMIID.NotFound", "Unsupported", "InvalidParameter"}


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchRequest:
    """What to launch for an attempt: region, zone, instance type, purchase option (spot or
    on-demand), max price and checkpoint interval. Not the broker's choice
    (`spot.broker.PlacementChoice`), which this is made from."""

    region: str
    zone: str | None
    instance_type: str
    max_price_usd_per_hour: float | None
    checkpoint_interval_s: float
    market: Literal["spot", "on-demand"] = "spot"
    checkpoint_at_hour_end: bool = False  # hourly billing: interval counts whole hours


class Launcher:
    """Runs one spot instance per attempt; idempotent per (job, attempt) via ClientToken."""

    def __init__(self, *, ec2: EC2Client, image_id: str, deployment: str) -> None:
        self._ec2 = ec2
        self._image_id = image_id
        self._deployment = deployment

    async def launch(self, request: LaunchRequest, user_data: UserData) -> str:
        """Start the instance; returns its id. Raises TransientError or PermanentError."""
        params: dict[str, Any] = {
            "ImageId": self._image_id,
            "InstanceType": request.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "UserData": user_data.encode(),
            "ClientToken": f"{user_data.job_id}-{user_data.attempt}",
            "TagSpecifications": [
                {
                    "ResourceType": "instance",
                    "Tags": tags(self._deployment, user_data.job_id, user_data.attempt),
                }
            ],
        }
        if request.market == "spot":
            params["InstanceMarketOptions"] = _spot_options(request)
        if request.zone:
            params["Placement"] = {"AvailabilityZone": request.zone}
        try:
            response = await self._ec2.run_instances(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _PERMANENT:
                raise PermanentError(f"launch refused: {code}") from exc
            raise TransientError(f"launch failed: {code}") from exc
        return response["Instances"][0]["InstanceId"]

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


def _spot_options(request: LaunchRequest) -> dict[str, Any]:
    spot: dict[str, Any] = {
        "SpotInstanceType": "one-time",
        "InstanceInterruptionBehavior": "terminate",
    }
    if request.max_price_usd_per_hour:
        spot["MaxPrice"] = f"{request.max_price_usd_per_hour:.6f}"
    return {"MarketType": "spot", "SpotOptions": spot}
