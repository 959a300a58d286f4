"""`cbas teardown`: deletes everything `cbas bootstrap` made, idempotently (what is already
gone is skipped), and refuses while a job is live unless forced. Forced, it also terminates
the deployment's instances. It goes through every region of the deployment (its account
parts, bucket, queues and topics), then deletes the tables of the home region; the `misc`
table goes last: it holds the buckets' names, so a teardown cut short can be run again."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

import structlog
from aiodynamo.errors import TableNotFound
from botocore.exceptions import ClientError

from cbas_async.account import (
    AccountClients,
    account_scope,
    find_security_group,
)
from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import region_buckets
from cbas_async.errors import PermanentError
from cbas_async.iamroles import error_code
from cbas_async.scope import DEPLOYMENT_TAG, EVENT_RULES, ROLES, Scope
from cbas_async.settings import Settings
from cbas_async.setup_regions import open_region_accounts
from cbas_async.states import LIVE
from cbas_async.store import JobStore

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import ObjectIdentifierTypeDef

log = structlog.get_logger(__name__)

_GONE = frozenset(
    {
        "NoSuchEntity",
        "ResourceNotFoundException",
        "NoSuchBucket",
        "NotFound",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "InvalidGroup.NotFound",
    }
)


class JobsLive(PermanentError):
    """Teardown refused: these jobs are not finished."""

    def __init__(self, job_ids: list[str]) -> None:
        self.job_ids = job_ids
        shown = ", ".join(job_ids[:5]) + (" ..." if len(job_ids) > 5 else "")
        super().__init__(f"{len(job_ids)} live job(s): {shown}; cancel them or use --force")


class StillInUse(PermanentError):
    """A resource could not be deleted yet (instances still shutting down)."""


async def live_jobs(clients: Clients, settings: Settings) -> list[str]:
    store = JobStore(
        dynamo=clients.dynamo,
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
    )
    try:
        return [job.job_id for job in await store.all_in_states(LIVE)]
    except TableNotFound:
        return []


async def teardown(
    clients: Clients, accounts: AccountClients, settings: Settings, *, force: bool = False
) -> list[str]:
    """`teardown_regions` of a deployment in one region (`settings.region`)."""
    region = settings.region
    return await teardown_regions({region: clients}, {region: accounts}, settings, force=force)


async def teardown_regions(
    clients: Mapping[str, Clients],
    accounts: Mapping[str, AccountClients],
    settings: Settings,
    *,
    force: bool = False,
) -> list[str]:
    """Delete every bootstrap resource that exists in every region of the deployment
    (`clients` and `accounts` by region); returns what was deleted, each name after its
    region when there are several.

    Raises `JobsLive` (before deleting anything) unless `force`, and `StillInUse` after the
    rest is gone when a security group is still attached to instances."""
    home = clients[settings.home_region]
    if not force and (live := await live_jobs(home, settings)):
        raise JobsLive(live)
    buckets = await _buckets(home, settings)
    deleted: list[str] = []
    in_use: list[StillInUse] = []
    for region in settings.all_regions:
        here = settings.in_region(region)
        scope = await account_scope(accounts[region], here, buckets.get(region), buckets)
        gone, busy = await _delete_region(clients[region], accounts[region], scope, force)
        in_use += [busy] if busy else []
        several = len(settings.all_regions) > 1
        deleted += [f"{region}: {name}" if several else name for name in gone]
    deleted += await _delete_tables(home, Scope.of(settings))
    if in_use:
        raise in_use[0]
    return deleted


async def _delete_region(
    clients: Clients, accounts: AccountClients, scope: Scope, force: bool
) -> tuple[list[str], StillInUse | None]:
    """One region's part: what was deleted, and why its security group was not if so."""
    deleted = await _terminate_instances(clients, scope) if force else []
    deleted += await _delete_account_parts(accounts, scope)
    try:
        deleted += await _gone(scope.security_group_name, _delete_group(clients, scope))
    except StillInUse as exc:
        in_use: StillInUse | None = exc  # delete the rest first: a second run finishes
    else:
        in_use = None
    return [*deleted, *await _delete_data(clients, scope)], in_use


async def _delete_account_parts(accounts: AccountClients, scope: Scope) -> list[str]:
    deleted: list[str] = []
    for suffix in EVENT_RULES:
        deleted += await _gone(scope.rule_name(suffix), _delete_rule(accounts, scope, suffix))
    for process in ROLES:
        name = scope.role_name(process)
        deleted += await _gone(f"instance-profile/{name}", _delete_profile(accounts, name))
        deleted += await _gone(f"role/{name}", _delete_role(accounts, name))
    return deleted


async def _delete_data(clients: Clients, scope: Scope) -> list[str]:
    deleted: list[str] = []
    if scope.bucket is not None:
        deleted += await _gone(scope.bucket, _delete_bucket(clients, scope.bucket))
    for queue in (scope.ping_queue, scope.events_queue):
        deleted += await _gone(queue, _delete_queue(clients, queue))
    for topic in scope.topic_arns:
        deleted += await _gone(topic, _delete_topic(clients, topic))
    return deleted


async def _delete_tables(clients: Clients, scope: Scope) -> list[str]:
    deleted: list[str] = []
    for table in scope.tables:  # misc last: it names the buckets
        deleted += await _gone(table, _delete_table(clients, table))
    return deleted


async def _gone(name: str, deletion: Awaitable[object]) -> list[str]:
    """[name] when deleted now, [] when it was already gone."""
    try:
        done = await deletion
    except ClientError as exc:
        if error_code(exc) in _GONE:
            return []
        raise
    if done is False:
        return []
    log.info("deleted", resource=name)
    return [name]


async def _buckets(clients: Clients, settings: Settings) -> dict[str, str]:
    try:
        return await region_buckets(clients, settings)
    except TableNotFound:
        return {}


async def _terminate_instances(clients: Clients, scope: Scope) -> list[str]:
    states = ["pending", "running", "stopping", "stopped"]
    found = await clients.ec2.describe_instances(
        Filters=[
            {"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [scope.deployment]},
            {"Name": "instance-state-name", "Values": states},
        ]
    )
    ids = [i["InstanceId"] for r in found["Reservations"] for i in r.get("Instances", [])]
    if ids:
        await clients.ec2.terminate_instances(InstanceIds=ids)
    return ids


async def _delete_rule(accounts: AccountClients, scope: Scope, suffix: str) -> None:
    name = scope.rule_name(suffix)
    targets = (await accounts.events.list_targets_by_rule(Rule=name))["Targets"]
    if targets:
        await accounts.events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
    await accounts.events.delete_rule(Name=name)


async def _delete_profile(accounts: AccountClients, name: str) -> None:
    iam = accounts.iam
    profile = (await iam.get_instance_profile(InstanceProfileName=name))["InstanceProfile"]
    for role in profile.get("Roles", []):
        await iam.remove_role_from_instance_profile(
            InstanceProfileName=name, RoleName=role["RoleName"]
        )
    await iam.delete_instance_profile(InstanceProfileName=name)


async def _delete_role(accounts: AccountClients, name: str) -> None:
    for policy_name in (await accounts.iam.list_role_policies(RoleName=name))["PolicyNames"]:
        await accounts.iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    await accounts.iam.delete_role(RoleName=name)


async def _delete_group(clients: Clients, scope: Scope) -> bool:
    group_id = await find_security_group(clients, scope)
    if group_id is None:
        return False
    try:
        await clients.ec2.delete_security_group(GroupId=group_id)
    except ClientError as exc:
        if error_code(exc) == "DependencyViolation":
            raise StillInUse(
                f"security group {group_id} is still attached to instances that are shutting"
                " down; run `cbas teardown` again in a minute"
            ) from exc
        raise
    return True


async def _delete_bucket(clients: Clients, bucket: str) -> None:
    s3 = clients.s3
    uploads = await s3.list_multipart_uploads(Bucket=bucket)
    for upload in uploads.get("Uploads", []):
        await s3.abort_multipart_upload(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": obj["Key"]} for obj in page.get("Contents", [])
        ]
        if keys:  # a page holds at most 1000 keys, DeleteObjects' limit
            await s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    await s3.delete_bucket(Bucket=bucket)


async def _delete_queue(clients: Clients, name: str) -> None:
    url = (await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"]
    await clients.sqs.delete_queue(QueueUrl=url)


async def _delete_topic(clients: Clients, arn: str) -> None:
    # DeleteTopic succeeds for a topic that is gone: ask first, to report only real deletions
    await clients.sns.get_topic_attributes(TopicArn=arn)
    await clients.sns.delete_topic(TopicArn=arn)  # its subscriptions go with it


async def _delete_table(clients: Clients, name: str) -> bool:
    try:
        await clients.dynamo.delete_table(name)
    except TableNotFound:
        return False
    return True


async def teardown_command(settings: Settings, *, force: bool = False) -> int:
    """`cbas teardown [--force]`: 0 when everything is gone, 1 when refused or unfinished."""
    async with open_region_clients(settings) as clients, open_region_accounts(settings) as accounts:
        try:
            deleted = await teardown_regions(clients, accounts, settings, force=force)
        except (JobsLive, StillInUse) as exc:
            print(f"cbas: teardown: {exc}", file=sys.stderr)
            return 1
    for name in deleted:
        print(f"deleted {name}")
    print(f"deployment {settings.deployment!r} in {', '.join(settings.all_regions)} is gone")
    return 0
