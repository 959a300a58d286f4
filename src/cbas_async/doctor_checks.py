"""The checks of `cbas doctor` on what `cbas bootstrap` made: tables, bucket (and its
lifecycle rule), queues, topics, roles and instance profiles, the workers' security group,
the subnet when one is set, the EventBridge rules with their targets, and the events
queue's subscription to the events topic. Each one reads,
never writes, and names what is missing and the command that makes it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiodynamo.errors import TableNotFound
from botocore.exceptions import ClientError

from cbas_async.account import AccountClients, find_security_group
from cbas_async.aws import Clients
from cbas_async.iamroles import error_code
from cbas_async.resource_policies import events_queue_statement, events_topic_statement
from cbas_async.scope import EVENT_RULES, ROLES, Scope
from cbas_async.settings import Settings

BOOTSTRAP = "run `cbas bootstrap` (idempotent: it makes only what is missing)"
_MISSING = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NoSuchEntity",
        "NotFound",
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchLifecycleConfiguration",
        "InvalidSubnetID.NotFound",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """The outcome of one check: its name, whether it passed, and what to do if not."""

    name: str
    ok: bool
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What every check may read: the open clients, the settings and the deployment's
    exact scope (account, partition and bucket as found)."""

    clients: Clients
    accounts: AccountClients
    settings: Settings
    scope: Scope
    instance_types: tuple[str, ...]


CheckFn = Callable[[Context], Awaitable[Check]]


def passed(name: str, message: str) -> Check:
    return Check(name=name, ok=True, message=message)


def failed(name: str, message: str) -> Check:
    return Check(name=name, ok=False, message=message)


def error_text(exc: BaseException) -> str:
    """An AWS error as `Code: message`, anything else as its text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc) or type(exc).__name__


async def exists(call: Awaitable[object]) -> bool:
    """False when AWS answers that the thing is not there; other errors propagate."""
    try:
        await call
    except ClientError as exc:
        if error_code(exc) in _MISSING:
            return False
        raise
    except TableNotFound:
        return False
    return True


def verdict(name: str, missing: list[str], present: str, fix: str = BOOTSTRAP) -> Check:
    if missing:
        return failed(name, f"missing: {', '.join(missing)}: {fix}")
    return passed(name, present)


async def tables(context: Context) -> Check:
    dynamo = context.clients.dynamo
    missing = [t for t in context.scope.tables if not await exists(dynamo.describe_table(t))]
    return verdict("tables", missing, ", ".join(context.scope.tables))


async def bucket(context: Context) -> Check:
    name, s3 = context.scope.bucket, context.clients.s3
    if name is None:
        return failed("bucket", f"no bucket recorded in {context.settings.misc_table}: {BOOTSTRAP}")
    if not await exists(s3.head_bucket(Bucket=name)):
        return failed("bucket", f"bucket {name} (recorded in misc) does not exist: {BOOTSTRAP}")
    try:
        found = await s3.get_bucket_lifecycle_configuration(Bucket=name)
        rules = [r.get("ID") for r in found.get("Rules", [])]
    except ClientError as exc:
        if error_code(exc) not in _MISSING:
            raise
        rules = []
    if context.scope.lifecycle_rule_id not in rules:
        return failed(
            "bucket",
            f"bucket {name} has no rule {context.scope.lifecycle_rule_id} (interrupted "
            f"checkpoint uploads would be billed forever): {BOOTSTRAP}",
        )
    return passed("bucket", f"{name}, aborting incomplete uploads after a day")


async def queues(context: Context) -> Check:
    sqs = context.clients.sqs
    names = [context.scope.ping_queue, context.scope.events_queue]
    missing = [q for q in names if not await exists(sqs.get_queue_url(QueueName=q))]
    return verdict("queues", missing, ", ".join(names))


async def topics(context: Context) -> Check:
    sns, scope = context.clients.sns, context.scope
    missing = [
        t for t in scope.topic_arns if not await exists(sns.get_topic_attributes(TopicArn=t))
    ]
    if missing:
        return verdict("topics", missing, "")
    events_topic = scope.topic_arn(scope.events_topic)
    found = (await sns.get_topic_attributes(TopicArn=events_topic))["Attributes"]
    statements = json.loads(found.get("Policy") or "{}").get("Statement", [])
    if events_topic_statement(scope) not in statements:
        return failed(
            "topics",
            f"the policy of {events_topic} does not let EventBridge publish EC2's events: "
            f"{BOOTSTRAP}",
        )
    return passed("topics", ", ".join(scope.topic_arns))


async def roles(context: Context) -> Check:
    iam, scope = context.accounts.iam, context.scope
    missing: list[str] = []
    for process in ROLES:
        name = scope.role_name(process)
        if not await exists(iam.get_role(RoleName=name)):
            missing.append(f"role {name}")
        if not await exists(iam.get_role_policy(RoleName=name, PolicyName=name)):
            missing.append(f"the inline policy of role {name}")
        try:
            profile = (await iam.get_instance_profile(InstanceProfileName=name))["InstanceProfile"]
        except ClientError as exc:
            if error_code(exc) not in _MISSING:
                raise
            missing.append(f"instance profile {name}")
            continue
        if name not in [r["RoleName"] for r in profile.get("Roles", [])]:
            missing.append(f"role {name} in instance profile {name}")
    return verdict("roles", missing, ", ".join(scope.role_name(p) for p in ROLES))


async def security_group(context: Context) -> Check:
    scope = context.scope
    group = await find_security_group(context.clients, scope)
    if group is None:
        return failed(
            "security_group",
            f"no security group {scope.security_group_name} tagged for deployment "
            f"{scope.deployment}: {BOOTSTRAP}",
        )
    found = await context.clients.ec2.describe_security_groups(GroupIds=[group])
    if found["SecurityGroups"][0].get("IpPermissions"):
        return failed(
            "security_group",
            f"{group} has inbound rules; the workers need none: {BOOTSTRAP} (it removes them)",
        )
    return passed("security_group", f"{group} ({scope.security_group_name}), no inbound rule")


async def subnet(context: Context) -> Check:
    subnet_id = context.settings.subnet_id
    if subnet_id is None:
        found = await context.clients.ec2.describe_vpcs(
            Filters=[{"Name": "is-default", "Values": ["true"]}]
        )
        if not found["Vpcs"]:
            return failed(
                "subnet",
                f"CBAS_SUBNET_ID is unset and {context.settings.region} has no default VPC: "
                "set CBAS_SUBNET_ID to the workers' subnet",
            )
        return passed("subnet", f"unset: EC2 picks one of default VPC {found['Vpcs'][0]['VpcId']}")
    if not await exists(context.clients.ec2.describe_subnets(SubnetIds=[subnet_id])):
        return failed(
            "subnet",
            f"CBAS_SUBNET_ID={subnet_id}: no such subnet in {context.settings.region}; "
            "correct or unset it",
        )
    return passed("subnet", subnet_id)


async def event_rules(context: Context) -> Check:
    events, scope = context.accounts.events, context.scope
    topic = scope.topic_arn(scope.events_topic)
    problems: list[str] = []
    for suffix in EVENT_RULES:
        name = scope.rule_name(suffix)
        try:
            rule = await events.describe_rule(Name=name)
        except ClientError as exc:
            if error_code(exc) not in _MISSING:
                raise
            problems.append(f"rule {name}")
            continue
        if rule.get("State") != "ENABLED":
            problems.append(f"rule {name} is {rule.get('State')}, not ENABLED")
        targets = (await events.list_targets_by_rule(Rule=name))["Targets"]
        if topic not in [t["Arn"] for t in targets]:
            problems.append(f"the target {topic} of rule {name}")
    names = ", ".join(scope.rule_name(s) for s in EVENT_RULES)
    return verdict("event_rules", problems, f"{names}, each delivering to {topic}")


async def _subscribed(context: Context, topic: str, queue_arn: str) -> bool:
    paginator = context.clients.sns.get_paginator("list_subscriptions_by_topic")
    async for page in paginator.paginate(TopicArn=topic):
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue_arn:
                return True
    return False


async def events_delivery(context: Context) -> Check:
    """The events topic delivers to the masters' events queue, which lets it."""
    sqs, scope = context.clients.sqs, context.scope
    topic, queue = scope.topic_arn(scope.events_topic), scope.events_queue
    try:
        url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) not in _MISSING:
            raise
        return failed("events_delivery", f"missing: queue {queue}: {BOOTSTRAP}")
    problems: list[str] = []
    if not await _subscribed(context, topic, scope.events_queue_arn):
        problems.append(f"the subscription of queue {queue} to {topic}")
    found = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    policy = json.loads(found.get("Attributes", {}).get("Policy") or "{}")
    if events_queue_statement(scope) not in policy.get("Statement", []):
        problems.append(f"the statement of queue {queue}'s policy letting {topic} send")
    return verdict("events_delivery", problems, f"{topic} delivers to queue {queue}")


RESOURCE_CHECKS: Mapping[str, CheckFn] = {
    "tables": tables,
    "bucket": bucket,
    "queues": queues,
    "topics": topics,
    "roles": roles,
    "security_group": security_group,
    "subnet": subnet,
    "event_rules": event_rules,
    "events_delivery": events_delivery,
}
