"""The master's and the worker's IAM roles and instance profiles, idempotent: each role gets
its trust (resource_policies.py) and its process's inline policy from policies.py, rewritten
only when what IAM holds differs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import structlog
from botocore.exceptions import ClientError

from cbas_async.policies import policy
from cbas_async.resource_policies import role_trust
from cbas_async.scope import DEPLOYMENT_TAG, Process, Scope

if TYPE_CHECKING:
    from types_aiobotocore_iam import IAMClient

log = structlog.get_logger(__name__)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


async def ensure_role(iam: IAMClient, scope: Scope, process: Process) -> str:
    """The role with the trust and inline policy of policies.py, updated where they differ."""
    name = scope.role_name(process)
    trust = role_trust(scope, process)
    try:
        role = (await iam.get_role(RoleName=name))["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        role = (
            await iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=f"cbas {process} of deployment {scope.deployment}",
                Tags=[{"Key": DEPLOYMENT_TAG, "Value": scope.deployment}],
            )
        )["Role"]
        log.info("role_created", role=name)
    if _as_json(role.get("AssumeRolePolicyDocument")) != trust:
        await iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    await _ensure_inline_policy(iam, name, policy(process, scope))
    return role["Arn"]


async def _ensure_inline_policy(iam: IAMClient, role: str, wanted: dict[str, Any]) -> None:
    try:
        current = await iam.get_role_policy(RoleName=role, PolicyName=role)
        if _as_json(current["PolicyDocument"]) == wanted:
            return
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
    await iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(wanted))
    log.info("role_policy_written", role=role)


def _as_json(document: object) -> object:
    """IAM answers policy documents URL-encoded or parsed depending on the client."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document


async def ensure_instance_profile(iam: IAMClient, scope: Scope, process: Process) -> str:
    name = scope.role_name(process)
    try:
        profile = (await iam.get_instance_profile(InstanceProfileName=name))["InstanceProfile"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        profile = (
            await iam.create_instance_profile(
                InstanceProfileName=name, Tags=[{"Key": DEPLOYMENT_TAG, "Value": scope.deployment}]
            )
        )["InstanceProfile"]
        log.info("instance_profile_created", instance_profile=name)
    if name not in [role["RoleName"] for role in profile.get("Roles", [])]:
        await iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return profile["Arn"]
