"""The IAM policy each process needs: the one source that `cbas bootstrap` puts into the
roles and `--print-policies` prints (the resource policies are in resource_policies.py).
Pure: no AWS calls.

In a deployment of several regions each region has its roles: a worker's may use the home
region's tables and bucket (job files, logs) and its own region's bucket (checkpoints, the
wheel), queue and topic; a master's may use every region's (it adopts the jobs of a region
whose masters are gone, and copies checkpoints between the regions' buckets).

IAM authorizes TransactWriteItems per item (PutItem/UpdateItem on each table),
DeleteMessageBatch as DeleteMessage, and the parts of a multipart upload as PutObject.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cbas_async.grants import FIND_QUEUES, Grant, document, everywhere, instance_arns, unique
from cbas_async.policy_operator import operator_grants
from cbas_async.scope import DEPLOYMENT_TAG, PROCESSES, Process, Scope

__all__ = ["Grant", "all_policies", "document", "policy", "printed"]

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-*"
# the master's capacity reads: vCPUs per type, Spot Placement Scores (by zone id), vCPU quota
_CAPACITY = "DescribeInstanceTypes GetSpotPlacementScores DescribeAvailabilityZones"
CAPACITY_READS = (*(f"ec2:{a}" for a in _CAPACITY.split()), "servicequotas:GetServiceQuota")


def _connect(scope: Scope) -> list[Grant]:
    """What every process that opens a session (`resolve`) calls: the bucket's name in
    `misc`, the queues' URLs, the ping queue's ARN (the topics' ARNs are made from it)."""
    return [
        Grant("FindBucket", ("dynamodb:GetItem",), (scope.misc_arn,)),
        Grant("FindQueues", FIND_QUEUES, scope.queue_arns),
    ]


def _buckets(scopes: Iterable[Scope]) -> tuple[str, ...]:
    return unique(s.bucket_arn for s in scopes)


def _job_files(scopes: Iterable[Scope], *write: str) -> list[Grant]:
    """The buckets' objects: the home bucket's job files, and a region's checkpoints."""
    buckets = _buckets(scopes)
    return [
        Grant("ListJobFiles", ("s3:ListBucket",), buckets),
        Grant("JobFiles", ("s3:GetObject", *write), tuple(f"{b}/*" for b in buckets)),
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
    return [*_connect(scope), *_submit_and_watch(scope), *_job_files([scope.home], *uploads)]


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
        *_job_files([scope.home, scope], *files),
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
        Grant("Bucket", ("s3:ListBucket",), everywhere(scope, lambda s: [s.bucket_arn])),
        Grant(
            "JobFiles",  # and checkpoints, copied between the regions' buckets
            ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"),
            everywhere(scope, lambda s: [s.objects_arn]),
        ),
    ]


def _master_messages(scope: Scope) -> list[Grant]:
    polls = (*FIND_QUEUES, "sqs:ReceiveMessage", "sqs:DeleteMessage")  # pings, EC2's events
    topics = (
        "sns:Publish",
        "sns:Subscribe",
        "sns:Unsubscribe",
        "sns:ListSubscriptionsByTopic",
        "sns:GetSubscriptionAttributes",
    )
    return [
        Grant("Queues", polls, everywhere(scope, lambda s: s.queue_arns)),
        Grant("Topics", topics, everywhere(scope, lambda s: s.topic_arns)),
    ]


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
        Grant("Terminate", ("ec2:TerminateInstances",), instance_arns(scope), ours),
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
