"""The deployment's instances as the local cloud's parts see them: one region's
DescribeInstances, every page, filtered by the deployment's tag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client


async def deployment_instances(ec2: EC2Client, deployment: str) -> dict[str, dict[str, Any]]:
    """Instance id -> its description, in `ec2`'s region."""
    found: dict[str, dict[str, Any]] = {}
    paginator = ec2.get_paginator("describe_instances")
    filters = [{"Name": "tag:cbas:deployment", "Values": [deployment]}]
    async for page in paginator.paginate(Filters=filters):  # type: ignore[arg-type]
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                found[instance["InstanceId"]] = dict(instance)
    return found


def state_of(instance: dict[str, Any]) -> str:
    return str(instance.get("State", {}).get("Name", "unknown"))
