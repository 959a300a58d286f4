"""EC2's service-linked role for spot requests, `AWSServiceRoleForEC2Spot`. EC2 makes it
when someone first asks for spot capacity in the console; through the API the account
must have it already, so `cbas bootstrap` makes it where it is missing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_iam import IAMClient

log = structlog.get_logger(__name__)

SPOT_ROLE = "AWSServiceRoleForEC2Spot"
SPOT_SERVICE = "spot.amazonaws.com"
SPOT_ROLE_PATH = f"/aws-service-role/{SPOT_SERVICE}/"
SPOT_ROLE_FIX = f"aws iam create-service-linked-role --aws-service-name {SPOT_SERVICE}"


async def spot_role_exists(iam: IAMClient) -> bool:
    try:
        await iam.get_role(RoleName=SPOT_ROLE)
    except ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise
        return False
    return True


async def ensure_spot_role(iam: IAMClient) -> None:
    """Make the role unless the account has it (one per account, never deleted by us)."""
    if await spot_role_exists(iam):
        return
    try:
        await iam.create_service_linked_role(AWSServiceName=SPOT_SERVICE)
    except ClientError as exc:  # made meanwhile: IAM says "has been taken" (moto: exists)
        if _code(exc) not in ("InvalidInput", "EntityAlreadyExists"):
            raise
        return
    log.info("spot_role_created", role=SPOT_ROLE)


async def make_spot_role_as_aws_names_it(iam: IAMClient) -> None:
    """For the local cloud: moto's CreateServiceLinkedRole names the role
    `AWSServiceRoleForspot`, so the local account gets it under AWS's name and path."""
    if await spot_role_exists(iam):
        return
    await iam.create_role(
        RoleName=SPOT_ROLE,
        Path=SPOT_ROLE_PATH,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
