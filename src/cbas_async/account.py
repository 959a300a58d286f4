"""The account set-up of `cbas bootstrap`, idempotent: the master's and the worker's roles and
instance profiles, the workers' security group (no inbound rule), the EventBridge rules that
send EC2's events to the deployment's events topic (with the topic policy that lets them),
the masters' events queue subscribed to that topic (`events_queue.py`), and the bucket's
rule aborting incomplete multipart uploads; all of it in one region (IAM names the roles
per region), and EC2's spot service-linked role once per account. Each step reads first
and writes only what differs, so a second run changes nothing. `cbas bootstrap` runs it in
every region of the deployment (`setup_regions.py`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.errors import ConfigError
from cbas_async.events_queue import ensure_events_delivery
from cbas_async.iamroles import ensure_instance_profile, ensure_role, error_code
from cbas_async.resource_policies import event_pattern, events_topic_statement
from cbas_async.scope import DEPLOYMENT_TAG, EVENT_RULES, ROLES, Scope
from cbas_async.settings import Settings
from cbas_async.spot_role import ensure_spot_role

if TYPE_CHECKING:
    from types_aiobotocore_ec2.type_defs import FilterTypeDef
    from types_aiobotocore_events import EventBridgeClient
    from types_aiobotocore_iam import IAMClient
    from types_aiobotocore_s3.type_defs import LifecycleRuleTypeDef
    from types_aiobotocore_sts import STSClient

log = structlog.get_logger(__name__)

ABORT_AFTER_DAYS = 1


@dataclass(frozen=True, slots=True)
class AccountClients:
    """The clients only the account set-up and teardown need."""

    iam: IAMClient
    events: EventBridgeClient
    sts: STSClient


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """What the set-up made or found."""

    account_id: str
    roles: dict[str, str]  # process -> role ARN
    instance_profiles: dict[str, str]  # process -> instance profile ARN
    security_group_id: str
    rules: list[str]  # EventBridge rule ARNs
    events_subscription_arn: str = ""  # the events queue's subscription to the events topic


@asynccontextmanager
async def open_account_clients(settings: Settings) -> AsyncIterator[AccountClients]:
    """IAM, EventBridge and STS with the same region, endpoint and credentials as `aws`."""
    kwargs: dict[str, Any] = {"region_name": settings.region}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    if settings.aws_access_key_id:
        kwargs["aws_access_key_id"] = settings.aws_access_key_id
        kwargs["aws_secret_access_key"] = settings.aws_secret_access_key
    session = get_session()
    async with AsyncExitStack() as stack:
        iam = await stack.enter_async_context(session.create_client("iam", **kwargs))
        events = await stack.enter_async_context(session.create_client("events", **kwargs))
        sts = await stack.enter_async_context(session.create_client("sts", **kwargs))
        yield AccountClients(iam=iam, events=events, sts=sts)


async def account_scope(
    accounts: AccountClients,
    settings: Settings,
    bucket: str | None,
    buckets: Mapping[str, str] | None = None,
) -> Scope:
    """The exact scope: the caller's account and partition (`aws`, `aws-cn`, ...); `bucket`
    is this region's, `buckets` every region's as far as known."""
    identity = await accounts.sts.get_caller_identity()
    scope = Scope.of(settings, account=identity["Account"], bucket=bucket, buckets=buckets)
    return dataclasses.replace(scope, partition=identity["Arn"].split(":")[1])


async def set_up_account(
    clients: Clients, accounts: AccountClients, settings: Settings, resources: Resources
) -> Account:
    """Create or correct every account resource of this region, and the spot role; safe to
    run again. The roles' policies name the buckets of `resources` (this region's and the
    home region's); `set_up_region` with a scope of every region's names them all."""
    buckets = {settings.home_region: resources.files_bucket}
    scope = await account_scope(accounts, settings, resources.bucket, buckets)
    await ensure_spot_role(accounts.iam)
    return await set_up_region(clients, accounts, scope, settings, resources)


async def set_up_region(
    clients: Clients,
    accounts: AccountClients,
    scope: Scope,
    settings: Settings,
    resources: Resources,
) -> Account:
    """The account resources of `scope`'s region (`clients` and `accounts` there)."""
    roles: dict[str, str] = {}
    profiles: dict[str, str] = {}
    for process in ROLES:
        roles[process] = await ensure_role(accounts.iam, scope, process)
        profiles[process] = await ensure_instance_profile(accounts.iam, scope, process)
    vpc = await workers_vpc(clients, scope, settings.subnet_id)
    group = await ensure_security_group(clients, scope, vpc)
    rules = [await ensure_rule(accounts.events, scope, suffix) for suffix in EVENT_RULES]
    await ensure_topic_policy(clients, scope)
    subscription = await ensure_events_delivery(clients, scope, resources.events_queue_url)
    await ensure_lifecycle(clients, scope)
    return Account(
        account_id=scope.account,
        roles=roles,
        instance_profiles=profiles,
        security_group_id=group,
        rules=rules,
        events_subscription_arn=subscription,
    )


async def workers_vpc(clients: Clients, scope: Scope, subnet_id: str | None) -> str:
    """The VPC of the workers' subnet (`CBAS_SUBNET_ID`), else the region's default VPC."""
    if subnet_id is None:
        return await default_vpc(clients, scope)
    try:
        found = await clients.ec2.describe_subnets(SubnetIds=[subnet_id])
    except ClientError as exc:
        if error_code(exc) != "InvalidSubnetID.NotFound":
            raise
        raise ConfigError("CBAS_SUBNET_ID", f"no subnet {subnet_id} in {scope.region}") from exc
    return found["Subnets"][0]["VpcId"]


async def default_vpc(clients: Clients, scope: Scope) -> str:
    found = await clients.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
    if not found["Vpcs"]:
        raise ConfigError(
            "CBAS_SUBNET_ID",
            f"{scope.region} has no default VPC: set CBAS_SUBNET_ID to the workers' subnet",
        )
    return found["Vpcs"][0]["VpcId"]


async def find_security_group(
    clients: Clients, scope: Scope, vpc_id: str | None = None
) -> str | None:
    filters: list[FilterTypeDef] = [
        {"Name": "group-name", "Values": [scope.security_group_name]},
        {"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [scope.deployment]},
    ]
    if vpc_id is not None:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    found = await clients.ec2.describe_security_groups(Filters=filters)
    groups = found["SecurityGroups"]
    return groups[0]["GroupId"] if groups else None


async def ensure_security_group(clients: Clients, scope: Scope, vpc_id: str) -> str:
    """The workers' group in `vpc_id`: outbound only. Any inbound rule found on it is removed."""
    group_id = await find_security_group(clients, scope, vpc_id)
    if group_id is None:
        made = await clients.ec2.create_security_group(
            GroupName=scope.security_group_name,
            Description="cbas workers: no inbound traffic",
            VpcId=vpc_id,
            TagSpecifications=[
                {
                    "ResourceType": "security-group",
                    "Tags": [{"Key": DEPLOYMENT_TAG, "Value": scope.deployment}],
                }
            ],
        )
        group_id = made["GroupId"]
        log.info("security_group_created", group_id=group_id)
    described = await clients.ec2.describe_security_groups(GroupIds=[group_id])
    inbound = described["SecurityGroups"][0].get("IpPermissions", [])
    if inbound:
        await clients.ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=inbound)
        log.warning("security_group_inbound_removed", group_id=group_id)
    return group_id


async def ensure_rule(events: EventBridgeClient, scope: Scope, suffix: str) -> str:
    """One rule forwarding one EC2 event type to the events topic."""
    name, pattern = scope.rule_name(suffix), event_pattern(EVENT_RULES[suffix])
    try:
        rule = await events.describe_rule(Name=name)
        current: tuple[Any, ...] = (json.loads(rule.get("EventPattern", "{}")), rule.get("State"))
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        current = ()
    if current != (json.loads(pattern), "ENABLED"):
        await events.put_rule(Name=name, EventPattern=pattern, State="ENABLED")
        log.info("event_rule_written", rule=name)
    topic = scope.topic_arn(scope.events_topic)
    targets = (await events.list_targets_by_rule(Rule=name))["Targets"]
    if [(t["Id"], t["Arn"]) for t in targets] != [("topic", topic)]:
        stale = [t["Id"] for t in targets if t["Id"] != "topic"]
        if stale:
            await events.remove_targets(Rule=name, Ids=stale)
        await events.put_targets(Rule=name, Targets=[{"Id": "topic", "Arn": topic}])
    return scope.rule_arn(suffix)


async def ensure_topic_policy(clients: Clients, scope: Scope) -> None:
    """Our statement in the events topic's policy; other statements are kept."""
    topic = scope.topic_arn(scope.events_topic)
    attributes = (await clients.sns.get_topic_attributes(TopicArn=topic))["Attributes"]
    current = json.loads(attributes.get("Policy") or '{"Version": "2012-10-17", "Statement": []}')
    wanted = events_topic_statement(scope)
    statements = current.get("Statement", [])
    if wanted in statements:
        return
    others = [s for s in statements if s.get("Sid") != wanted["Sid"]]
    current["Statement"] = [*others, wanted]
    await clients.sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(current)
    )
    log.info("topic_policy_written", topic=topic)


async def ensure_lifecycle(clients: Clients, scope: Scope) -> None:
    """Abort multipart uploads left incomplete (an interrupted checkpoint) after a day."""
    bucket = scope.bucket or ""
    try:
        found = await clients.s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        rules: list[Any] = list(found.get("Rules", []))
    except ClientError as exc:
        if error_code(exc) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    wanted: LifecycleRuleTypeDef = {
        "ID": scope.lifecycle_rule_id,
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_AFTER_DAYS},
    }
    if wanted in rules:
        return
    others = [r for r in rules if r.get("ID") != wanted["ID"]]
    await clients.s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]}
    )
    log.info("lifecycle_rule_written", bucket=bucket)
