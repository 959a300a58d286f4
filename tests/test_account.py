"""The account set-up of `cbas bootstrap` against the moto server: every resource exists with
what policies.py says, the workers' group has no inbound rule, and a second run changes
nothing (and writes nothing)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from structlog.testing import capture_logs

from cbas_async.account import Account, AccountClients, open_account_clients, set_up_account
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.errors import ConfigError
from cbas_async.policies import policy
from cbas_async.resource_policies import EVENTS_QUEUE_SID, EVENTS_SID, role_trust
from cbas_async.scope import EVENT_RULES, ROLES, Scope
from cbas_async.settings import Settings
from cbas_async.setup_regions import bootstrap_command

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import LifecycleRuleTypeDef

ACCOUNT = "123456789012"  # moto's


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


async def _set_up(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> tuple[Resources, Account, Scope]:
    resources = await bootstrap(clients, settings)
    account = await set_up_account(clients, accounts, settings, resources)
    return resources, account, Scope.of(settings, account=ACCOUNT, bucket=resources.bucket)


async def _roles(accounts: AccountClients, scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for process in ROLES:
        name = scope.role_name(process)
        role = (await accounts.iam.get_role(RoleName=name))["Role"]
        inline = await accounts.iam.get_role_policy(RoleName=name, PolicyName=name)
        profile = await accounts.iam.get_instance_profile(InstanceProfileName=name)
        out[process] = {
            "trust": role["AssumeRolePolicyDocument"],
            "policy": inline["PolicyDocument"],
            "profile_roles": [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]],
        }
    return out


async def _rules(accounts: AccountClients, scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for suffix in EVENT_RULES:
        rule = await accounts.events.describe_rule(Name=scope.rule_name(suffix))
        targets = await accounts.events.list_targets_by_rule(Rule=scope.rule_name(suffix))
        out[suffix] = {
            "pattern": json.loads(rule["EventPattern"]),
            "state": rule["State"],
            "targets": [(t["Id"], t["Arn"]) for t in targets["Targets"]],
        }
    return out


async def _snapshot(clients: Clients, accounts: AccountClients, scope: Scope) -> dict[str, Any]:
    topic = scope.topic_arn(scope.events_topic)
    attributes = (await clients.sns.get_topic_attributes(TopicArn=topic))["Attributes"]
    groups = await clients.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [scope.security_group_name]}]
    )
    lifecycle = await clients.s3.get_bucket_lifecycle_configuration(Bucket=scope.bucket or "")
    return {
        "roles": await _roles(accounts, scope),
        "rules": await _rules(accounts, scope),
        "topic_policy": json.loads(attributes["Policy"]),
        "groups": groups["SecurityGroups"],
        "lifecycle": lifecycle["Rules"],
        "events_queue": await _events_queue(clients, scope),
    }


async def _events_queue(clients: Clients, scope: Scope) -> dict[str, Any]:
    """The events queue's policy and its subscriptions (with their attributes)."""
    url = (await clients.sqs.get_queue_url(QueueName=scope.events_queue))["QueueUrl"]
    found = await clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    topic = scope.topic_arn(scope.events_topic)
    listed = (await clients.sns.list_subscriptions_by_topic(TopicArn=topic))["Subscriptions"]
    subscriptions = []
    for sub in listed:
        arn = sub["SubscriptionArn"]
        attributes = await clients.sns.get_subscription_attributes(SubscriptionArn=arn)
        raw = attributes["Attributes"].get("RawMessageDelivery")
        subscriptions.append((arn, sub["Protocol"], sub["Endpoint"], raw))
    return {"policy": json.loads(found["Attributes"]["Policy"]), "subscriptions": subscriptions}


async def test_bootstrap_sets_up_the_account(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    _, account, scope = await _set_up(clients, accounts, settings)
    seen = await _snapshot(clients, accounts, scope)
    for process in ROLES:
        role = seen["roles"][process]
        assert role["trust"] == role_trust(scope, process)
        assert role["policy"] == policy(process, scope)
        assert role["profile_roles"] == [f"test-us-east-1-{process}"]
    assert account.roles["worker"] == f"arn:aws:iam::{ACCOUNT}:role/test-us-east-1-worker"
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:test-spot-events"
    assert {s: r["pattern"]["detail-type"] for s, r in seen["rules"].items()} == {
        s: [t] for s, t in EVENT_RULES.items()
    }
    assert all(r["targets"] == [("topic", topic)] for r in seen["rules"].values())
    assert all(r["state"] == "ENABLED" for r in seen["rules"].values())
    # AWS's default statement (the owner's rights) stays beside ours
    [delivery] = [s for s in seen["topic_policy"]["Statement"] if s.get("Sid") == EVENTS_SID]
    assert delivery["Principal"] == {"Service": "events.amazonaws.com"}
    assert delivery["Condition"]["ArnEquals"]["aws:SourceArn"] == account.rules
    assert seen["lifecycle"] == [
        {
            "ID": "test-abort-incomplete-uploads",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
    # the masters' events queue: only the events topic may send to it, and it is subscribed
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:test-master-events"
    [sends] = seen["events_queue"]["policy"]["Statement"]
    assert sends["Sid"] == EVENTS_QUEUE_SID
    assert (sends["Principal"], sends["Action"], sends["Resource"]) == (
        {"Service": "sns.amazonaws.com"},
        "sqs:SendMessage",
        queue,
    )
    assert sends["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}
    [(arn, protocol, endpoint, raw)] = seen["events_queue"]["subscriptions"]
    assert (arn, protocol, endpoint) == (account.events_subscription_arn, "sqs", queue)
    assert raw in (None, "false")  # the signed envelope reaches the master


async def test_the_workers_group_has_no_inbound_rule(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    _, account, scope = await _set_up(clients, accounts, settings)
    [group] = (await _snapshot(clients, accounts, scope))["groups"]
    assert group["GroupId"] == account.security_group_id
    assert group["IpPermissions"] == []
    assert group["IpPermissionsEgress"]  # workers reach AWS's APIs and S3
    assert {"Key": "cbas:deployment", "Value": "test"} in group["Tags"]


async def test_a_second_run_changes_and_writes_nothing(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    _, first, scope = await _set_up(clients, accounts, settings)
    before = await _snapshot(clients, accounts, scope)
    with capture_logs() as logs:
        _, second, _ = await _set_up(clients, accounts, settings)
    assert second == first
    assert await _snapshot(clients, accounts, scope) == before
    assert [entry["event"] for entry in logs] == []


async def test_a_second_run_repairs_drift_and_keeps_what_others_added(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    resources, account, scope = await _set_up(clients, accounts, settings)
    await clients.ec2.authorize_security_group_ingress(
        GroupId=account.security_group_id,
        IpProtocol="tcp",
        FromPort=22,
        ToPort=22,
        CidrIp="0.0.0.0/0",
    )
    name = scope.role_name("worker")
    widened = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    await accounts.iam.put_role_policy(
        RoleName=name, PolicyName=name, PolicyDocument=json.dumps(widened)
    )
    other_rule: LifecycleRuleTypeDef = {
        "ID": "theirs",
        "Filter": {"Prefix": "x/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    }
    await clients.s3.put_bucket_lifecycle_configuration(
        Bucket=resources.bucket, LifecycleConfiguration={"Rules": [other_rule]}
    )
    await accounts.events.remove_targets(Rule=scope.rule_name("rebalance"), Ids=["topic"])
    await clients.sns.set_subscription_attributes(
        SubscriptionArn=account.events_subscription_arn,
        AttributeName="RawMessageDelivery",
        AttributeValue="true",
    )

    await _set_up(clients, accounts, settings)

    seen = await _snapshot(clients, accounts, scope)
    assert seen["groups"][0]["IpPermissions"] == []
    assert seen["roles"]["worker"]["policy"] == policy("worker", scope)
    assert [rule["ID"] for rule in seen["lifecycle"]] == ["theirs", scope.lifecycle_rule_id]
    assert seen["rules"]["rebalance"]["targets"] == [("topic", resources.events_topic_arn)]
    [(arn, _, _, raw)] = seen["events_queue"]["subscriptions"]
    assert (arn, raw) == (account.events_subscription_arn, "false")


async def test_the_topic_policy_keeps_other_statements(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    resources = await bootstrap(clients, settings)
    theirs = {
        "Sid": "Theirs",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sns:Subscribe",
        "Resource": resources.events_topic_arn,
    }
    await clients.sns.set_topic_attributes(
        TopicArn=resources.events_topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [theirs]}),
    )
    await set_up_account(clients, accounts, settings, resources)
    attributes = await clients.sns.get_topic_attributes(TopicArn=resources.events_topic_arn)
    statements = json.loads(attributes["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["Theirs", EVENTS_SID]


async def test_a_region_without_a_default_vpc_is_named(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    resources = await bootstrap(clients, settings)
    vpcs = await clients.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])
    for vpc in vpcs["Vpcs"]:
        await _delete_vpc(clients, vpc["VpcId"])
    with pytest.raises(ConfigError, match="no default VPC") as raised:
        await set_up_account(clients, accounts, settings, resources)
    assert raised.value.variable == "CBAS_SUBNET_ID"
    unknown = settings.replace(subnet_id="subnet-00000000000000000")
    with pytest.raises(ConfigError, match="no subnet subnet-0") as raised:
        await set_up_account(clients, accounts, unknown, resources)
    assert raised.value.variable == "CBAS_SUBNET_ID"


async def _delete_vpc(clients: Clients, vpc_id: str) -> None:
    subnets = await clients.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    for subnet in subnets["Subnets"]:
        await clients.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    await clients.ec2.delete_vpc(VpcId=vpc_id)


async def test_the_command_prints_the_resources(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with capture_logs():  # only the resources on stdout
        assert await bootstrap_command(settings) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["account_id"] == ACCOUNT
    assert printed["security_group_id"].startswith("sg-")
    assert printed["jobs_table"] == "test-jobs"


async def test_print_policies_needs_no_aws(capsys: pytest.CaptureFixture[str]) -> None:
    offline = Settings.from_env({"CBAS_DEPLOYMENT": "nowhere"})
    assert await bootstrap_command(offline, print_policies=True) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(printed) == ["master", "operator", "user", "worker", "worker-session"]
    assert printed["worker"] == policy("worker", Scope.of(offline))
