"""The IAM policy each process needs: the one source that `cbas bootstrap` puts into the
roles and `--print-policies` prints (the resource policies are in resource_policies.py).
Pure: no AWS calls.

IAM authorizes TransactWriteItems per item (PutItem/UpdateItem on each table),
DeleteMessageBatch as DeleteMessage, and the parts of a multipart upload as PutObject.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cbas_async.policy_checks import check_rows
from cbas_async.scope import DEPLOYMENT_TAG, EVENT_RULES, PROCESSES, ROLES, Process, Scope

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-*"
# the master's capacity reads: vCPUs per type, Spot Placement Scores (by zone id), vCPU quota
_CAPACITY = "DescribeInstanceTypes GetSpotPlacementScores DescribeAvailabilityZones"
CAPACITY_READS = (*(f"ec2:{a}" for a in _CAPACITY.split()), "servicequotas:GetServiceQuota")
Condition = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Grant:
    """One Allow statement."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Condition | None = None

    def statement(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            out["Condition"] = {op: dict(keys) for op, keys in self.condition.items()}
        return out


def document(grants: list[Grant]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [g.statement() for g in grants]}


def _connect(scope: Scope) -> list[Grant]:
    """What every process that opens a session (`resolve`) calls: the bucket's name in
    `misc`, the queues' URLs, the ping queue's ARN (the topics' ARNs are made from it)."""
    return [
        Grant("FindBucket", ("dynamodb:GetItem",), (scope.misc_arn,)),
        Grant("FindQueues", _FIND_QUEUES, scope.queue_arns),
    ]


_FIND_QUEUES = ("sqs:GetQueueUrl", "sqs:GetQueueAttributes")


def _actions(service: str, names: str) -> tuple[str, ...]:
    """`_actions("sns", "Publish Subscribe")` is `("sns:Publish", "sns:Subscribe")`."""
    return tuple(f"{service}:{name}" for name in names.split())


def _job_files(scope: Scope, *write: str) -> list[Grant]:
    return [
        Grant("ListJobFiles", ("s3:ListBucket",), (scope.bucket_arn,)),
        Grant("JobFiles", ("s3:GetObject", *write), (scope.objects_arn,)),
    ]


def _submit_and_watch(scope: Scope) -> list[Grant]:
    """Submit, read, list, cancel jobs (each move is a transaction on jobs and history)."""
    return [
        Grant(
            "Jobs",
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"),
            (scope.jobs_arn, f"{scope.jobs_arn}/index/*"),
        ),
        Grant("JobHistory", ("dynamodb:PutItem", "dynamodb:Query"), (scope.events_arn,)),
    ]


def user_grants(scope: Scope) -> list[Grant]:
    """`cbas submit/status/list/wait/cancel/logs/outputs` straight to AWS."""
    uploads = ("s3:PutObject", "s3:AbortMultipartUpload")
    return [*_connect(scope), *_submit_and_watch(scope), *_job_files(scope, *uploads)]


# only credentials EC2 did not deliver to an instance: the master's per-attempt sessions
_NOT_INSTANCE = {"Null": {"ec2:SourceInstanceARN": "true"}}


def _worker_boot(scope: Scope) -> list[Grant]:
    """What the instance profile's own keys need: the boot script's wheel, and where the
    master issues session keys, the identity and the one item that holds them."""
    wheel = Grant("BootWheel", ("s3:GetObject",), (f"{scope.bucket_arn}/wheels/*",))
    if not scope.job_credentials:
        return [wheel]
    own_item = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": "${aws:userid}"}}
    return [
        wheel,
        Grant("WhoAmI", ("sts:GetCallerIdentity",), ("*",)),
        Grant("OwnSessionKeys", ("dynamodb:GetItem",), (scope.credentials_arn,), own_item),
    ]


def worker_grants(scope: Scope) -> list[Grant]:
    """One job's attempt: its record and history, files and checkpoints, pings, commands;
    no `misc`, no administration, no EC2, no IAM. The role has two kinds of principal: its
    instances and, where the master issues them, per-attempt sessions (`job_keys.py`); then
    the job's calls need credentials that are not an instance's (`ec2:SourceInstanceARN`
    absent), narrowed to one job by each session's policy (`session_policy.py`)."""
    files = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject")
    job = [
        Grant("JobRecord", ("dynamodb:GetItem", "dynamodb:UpdateItem"), (scope.jobs_arn,)),
        Grant("JobHistory", ("dynamodb:PutItem",), (scope.events_arn,)),
        *_job_files(scope, *files),
        Grant("Ping", ("sqs:SendMessage",), (scope.queue_arn,)),
        Grant("Commands", ("sns:Subscribe", "sns:Unsubscribe"), (scope.topic_arn(scope.topic),)),
    ]
    if scope.job_credentials:
        job = [Grant(g.sid, g.actions, g.resources, _NOT_INSTANCE) for g in job]  # none has one
    return [*job, *_worker_boot(scope)]


def _master_state(scope: Scope) -> list[Grant]:
    rows = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
    reads = ("dynamodb:Query", "dynamodb:Scan")
    # the master finds the deployment at start (`resolve`) and creates nothing
    return [
        Grant("State", rows + reads, scope.table_arns(indexes=True)),
        Grant("Bucket", ("s3:ListBucket",), (scope.bucket_arn,)),
        Grant(
            "JobFiles",
            ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"),
            (scope.objects_arn,),
        ),
    ]


def _master_messages(scope: Scope) -> list[Grant]:
    polls = (*_FIND_QUEUES, "sqs:ReceiveMessage", "sqs:DeleteMessage")  # pings, EC2's events
    topics = (
        "sns:Publish",
        "sns:Subscribe",
        "sns:Unsubscribe",
        "sns:ListSubscriptionsByTopic",
        "sns:GetSubscriptionAttributes",
    )
    return [Grant("Queues", polls, scope.queue_arns), Grant("Topics", topics, scope.topic_arns)]


def _master_fleet(scope: Scope) -> list[Grant]:
    ours = {"StringEquals": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": scope.deployment}}
    ssm = f"arn:{scope.partition}:ssm:{scope.region}"  # public parameters: no account
    return [
        Grant("Launch", ("ec2:RunInstances",), ("*",)),
        Grant(
            "TagAtLaunch",
            ("ec2:CreateTags",),
            (scope.ec2_arn("*/*"),),
            {"StringEquals": {"ec2:CreateAction": "RunInstances"}},
        ),
        Grant("Look", ("ec2:DescribeInstances", "ec2:DescribeSpotPriceHistory"), ("*",)),
        # at start: the workers' group by name, the image's root device, AL2023's image ids
        Grant("LaunchConfig", ("ec2:DescribeSecurityGroups", "ec2:DescribeImages"), ("*",)),
        Grant("WorkerImage", ("ssm:GetParameters",), (f"{ssm}::parameter{AL2023}",)),
        Grant("Capacity", CAPACITY_READS, ("*",)),
        Grant("Terminate", ("ec2:TerminateInstances",), (scope.ec2_arn("instance/*"),), ours),
        Grant(
            "PassWorkerRole",
            ("iam:PassRole",),
            (scope.role_arn("worker"),),
            {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        ),
    ]


def _master_keys(scope: Scope) -> list[Grant]:
    """Per-attempt session keys (`job_keys.py`): the worker role's id, then AssumeRole."""
    if not scope.job_credentials:
        return []
    worker = (scope.role_arn("worker"),)
    return [Grant("IssueJobKeys", ("iam:GetRole", "sts:AssumeRole"), worker)]


def master_grants(scope: Scope) -> list[Grant]:
    """The master, its REST API and web UI included."""
    fleet = _master_fleet(scope)
    return [*_master_state(scope), *_master_messages(scope), *fleet, *_master_keys(scope)]


def _operator_data(scope: Scope) -> list[Grant]:
    tables = ("dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable")
    items = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan")
    bucket = (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    )
    topics = _actions("sns", "CreateTopic DeleteTopic GetTopicAttributes SetTopicAttributes")
    # the events queue's subscription
    topics += _actions("sns", "ListSubscriptionsByTopic Subscribe")
    topics += _actions("sns", "GetSubscriptionAttributes SetSubscriptionAttributes")
    queues = (*_FIND_QUEUES, "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes")
    return [
        Grant("Tables", tables + items, scope.table_arns(indexes=True)),
        # `cbas token revoke`, and moving tokens older versions kept in `misc`
        Grant("Tokens", ("dynamodb:DeleteItem",), (scope.tokens_arn, scope.misc_arn)),
        Grant("Bucket", bucket, (scope.bucket_arn,)),
        Grant("EmptyBucket", ("s3:DeleteObject", "s3:AbortMultipartUpload"), (scope.objects_arn,)),
        Grant("UploadWheel", ("s3:GetObject", "s3:PutObject"), (f"{scope.bucket_arn}/wheels/*",)),
        Grant("Queues", queues, scope.queue_arns),
        Grant("Topics", topics, scope.topic_arns),
    ]


def _operator_iam(scope: Scope) -> list[Grant]:
    roles = _actions("iam", "GetRole CreateRole DeleteRole TagRole UpdateAssumeRolePolicy")
    roles += _actions("iam", "GetRolePolicy PutRolePolicy DeleteRolePolicy ListRolePolicies")
    roles += ("iam:PassRole",)  # AddRoleToInstanceProfile passes the role
    profiles = _actions("iam", "GetInstanceProfile CreateInstanceProfile DeleteInstanceProfile")
    profiles += _actions("iam", "TagInstanceProfile")
    profiles += _actions("iam", "AddRoleToInstanceProfile RemoveRoleFromInstanceProfile")
    return [
        Grant("Roles", roles, tuple(scope.role_arn(p) for p in ROLES)),
        Grant("InstanceProfiles", profiles, tuple(scope.profile_arn(p) for p in ROLES)),
    ]


def _operator_edges(scope: Scope) -> list[Grant]:
    ours = {"StringEquals": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": scope.deployment}}
    rules = (
        "events:DescribeRule",
        "events:PutRule",
        "events:DeleteRule",
        "events:ListTargetsByRule",
        "events:PutTargets",
        "events:RemoveTargets",
    )
    return [
        Grant(
            "Look",
            _actions(
                "ec2", "DescribeVpcs DescribeSubnets DescribeSecurityGroups DescribeInstances"
            ),
            ("*",),
        ),
        # `cbas teardown --force` stops the deployment's instances
        Grant("Terminate", ("ec2:TerminateInstances",), (scope.ec2_arn("instance/*"),), ours),
        Grant("MakeGroup", ("ec2:CreateSecurityGroup",), ("*",)),
        Grant(
            "TagGroup",
            ("ec2:CreateTags",),
            (scope.ec2_arn("security-group/*"),),
            {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
        ),
        Grant(
            "OwnGroup",
            ("ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress"),
            (scope.ec2_arn("security-group/*"),),
            ours,
        ),
        Grant("Rules", rules, tuple(scope.rule_arn(s) for s in EVENT_RULES)),
    ]


def operator_grants(scope: Scope) -> list[Grant]:
    """`cbas bootstrap` and `cbas teardown`, and `cbas token create | list | revoke`."""
    checks = [Grant(*row) for row in check_rows(scope)]  # `cbas doctor`, `cbas image build`
    return [*_operator_data(scope), *_operator_iam(scope), *_operator_edges(scope), *checks]


GRANTS: Mapping[Process, Callable[[Scope], list[Grant]]] = {
    "operator": operator_grants,
    "master": master_grants,
    "worker": worker_grants,
    "user": user_grants,
}


def policy(process: Process, scope: Scope) -> dict[str, Any]:
    """The identity policy `process` needs in `scope`."""
    return document(GRANTS[process](scope))


def all_policies(scope: Scope) -> dict[str, dict[str, Any]]:
    return {process: policy(process, scope) for process in PROCESSES}


def printed(scope: Scope) -> str:
    """What `cbas bootstrap --print-policies` prints: every process's policy, as JSON."""
    return json.dumps(all_policies(scope), indent=2)
