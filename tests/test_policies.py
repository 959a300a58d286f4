"""The generated IAM policies, evaluated: each process's recorded calls (action + resource ARN)
are allowed, and calls it must never make are not. The calls are listed from the code here;
test_policies_recorded.py records the operator's live from bootstrap and teardown.
"""

from __future__ import annotations

import json

import pytest

from cbas_async.policies import all_policies, policy, printed
from cbas_async.scope import Process, Scope
from cbas_async.settings import Settings
from tests.iam_eval import Call, allows

ACCOUNT = "123456789012"
SETTINGS = Settings.from_env({"CBAS_DEPLOYMENT": "cbas", "CBAS_REGION": "us-east-1"})
EXACT = Scope.of(SETTINGS, account=ACCOUNT, bucket="cbas-0123456789ab")
PRINTED = Scope.of(SETTINGS)  # account `*`, any bucket the deployment could own
OURS = {"aws:ResourceTag/cbas:deployment": "cbas"}


# --- the evaluator itself -------------------------------------------------------------------

_DOC = {
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": ["arn:aws:s3:::b-??/*"]},
        {
            "Effect": "Allow",
            "Action": "ec2:TerminateInstances",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/t": "x"}},
        },
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": "*",
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": "${aws:userid}"},
                "Null": {"ec2:SourceInstanceARN": "false"},
            },
        },
    ]
}
_MINE = {"aws:userid": "R:i-1", "ec2:SourceInstanceARN": "i-1"}


@pytest.mark.parametrize(
    ("call", "allowed"),
    [
        (Call("s3:GetObject", "arn:aws:s3:::b-12/k"), True),
        (Call("S3:getobject", "arn:aws:s3:::b-12/k"), True),  # actions ignore case
        (Call("s3:GetObject", "arn:aws:s3:::b-123/k"), False),  # ? is one character
        (Call("s3:PutObject", "arn:aws:s3:::b-12/k"), False),
        (Call("s3:GetObject", "arn:aws:s3:::B-12/k"), False),  # resources do not
        (Call("ec2:TerminateInstances", "i-1", {"aws:ResourceTag/t": "x"}), True),
        (Call("ec2:TerminateInstances", "i-1", {"aws:ResourceTag/t": "y"}), False),
        (Call("ec2:TerminateInstances", "i-1"), False),  # a missing key fails
        (Call("dynamodb:GetItem", "t", {**_MINE, "dynamodb:LeadingKeys": ("R:i-1",)}), True),
        (Call("dynamodb:GetItem", "t", {**_MINE, "dynamodb:LeadingKeys": ("R:i-2",)}), False),
        (Call("dynamodb:GetItem", "t", {"aws:userid": "R:i-1"}), False),  # Null: must be there
        (
            Call(
                "dynamodb:GetItem",
                "t",
                {"ec2:SourceInstanceARN": "i-1", "dynamodb:LeadingKeys": ("${aws:userid}",)},
            ),
            False,
        ),  # no aws:userid
    ],
)
def test_the_evaluator(call: Call, allowed: bool) -> None:
    assert allows(_DOC, call) is allowed


# --- recorded calls, from the code ----------------------------------------------------------


def _table(name: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/cbas-{name}"


BUCKET = "arn:aws:s3:::cbas-0123456789ab"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:cbas-ping"
EVENTS_QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:cbas-master-events"
COMMANDS = f"arn:aws:sns:us-east-1:{ACCOUNT}:cbas-commands"
SPOT_EVENTS = f"arn:aws:sns:us-east-1:{ACCOUNT}:cbas-spot-events"
WORKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cbas-us-east-1-worker"
INSTANCE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123"
# a call made with the worker's instance profile credentials (EC2 delivered them)
USERID = "AROAWORKERROLEID:i-0123"
BY_INSTANCE = {"ec2:SourceInstanceARN": INSTANCE, "aws:userid": USERID}


def _own_keys(userid: str = USERID) -> Call:
    """worker/keys.py: the attempt's session keys, read with the instance's credentials."""
    return Call(
        "dynamodb:GetItem",
        _table("credentials"),
        {**BY_INSTANCE, "dynamodb:LeadingKeys": (userid,)},
    )


def _resolve() -> list[Call]:
    """session.open_session -> bootstrap.resolve (finds, never creates)."""
    return [
        Call("dynamodb:GetItem", _table("misc")),
        Call("sqs:GetQueueUrl", QUEUE),
        Call("sqs:GetQueueUrl", EVENTS_QUEUE),
        Call("sqs:GetQueueAttributes", QUEUE),  # its ARN gives the topics' ARNs
    ]


def _job_moves(*, create: bool) -> list[Call]:
    """store.create / store.transition: a transaction of an Update (or Put) and a Put."""
    calls = [
        Call("dynamodb:UpdateItem", _table("jobs")),
        Call("dynamodb:PutItem", _table("job-events")),
        Call("dynamodb:GetItem", _table("jobs")),
    ]
    return [*calls, Call("dynamodb:PutItem", _table("jobs"))] if create else calls


def _tokens() -> list[Call]:
    """web/tokens.py: create, list, verify, last used, revoke, move from misc."""
    actions = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan")
    return [Call(f"dynamodb:{action}", _table("tokens")) for action in actions]


CALLS: dict[Process, list[Call]] = {
    "worker": [
        *_job_moves(create=False),  # LAUNCHING -> RUNNING -> SUCCEEDED, checkpoint pointer
        Call("s3:GetObject", f"{BUCKET}/jobs/j/input/a.txt"),
        Call("s3:ListBucket", BUCKET),  # checkpoint storage lists its prefix
        Call("s3:PutObject", f"{BUCKET}/jobs/j/checkpoints/3/image.zst"),  # multipart too
        Call("s3:AbortMultipartUpload", f"{BUCKET}/jobs/j/checkpoints/4/image.zst"),
        Call("s3:DeleteObject", f"{BUCKET}/jobs/j/checkpoints/1/image.zst"),
        Call("s3:PutObject", f"{BUCKET}/jobs/j/logs/1/stdout/0"),
        Call("sqs:SendMessage", QUEUE),
        Call("sns:Subscribe", COMMANDS),
        Call("sns:Unsubscribe", COMMANDS),
        # before it has session keys, on the instance profile's
        Call("sts:GetCallerIdentity", "*", BY_INSTANCE),
        _own_keys(),
        Call("s3:GetObject", f"{BUCKET}/wheels/cbas_async-1-py3-none-any.whl", BY_INSTANCE),
    ],
    "master": [
        *_resolve(),
        Call("s3:ListBucket", BUCKET),  # the API's outputs listing
        Call("dynamodb:PutItem", _table("misc")),  # lease, subscription record
        Call("dynamodb:DeleteItem", _table("misc")),
        Call("dynamodb:Scan", _table("misc")),
        *_tokens(),  # the API's tokens: verify, last used, move from misc
        Call("dynamodb:Query", f"{_table('jobs')}/index/by-state"),
        Call("dynamodb:Query", _table("job-events")),
        *_job_moves(create=True),
        Call("s3:PutObject", f"{BUCKET}/jobs/j/input/a.txt"),  # submit through the API
        Call("s3:GetObject", f"{BUCKET}/jobs/j/output/out.txt"),
        Call("sqs:ReceiveMessage", QUEUE),
        Call("sqs:DeleteMessage", QUEUE),  # DeleteMessageBatch
        Call("sqs:ReceiveMessage", EVENTS_QUEUE),  # EC2's events, through the events topic
        Call("sqs:DeleteMessage", EVENTS_QUEUE),
        Call("sns:Subscribe", SPOT_EVENTS),  # only with CBAS_PUBLIC_URL
        Call("sns:Unsubscribe", SPOT_EVENTS),
        Call("sns:Publish", COMMANDS),
        Call("sns:ListSubscriptionsByTopic", COMMANDS),
        Call("sns:GetSubscriptionAttributes", COMMANDS),
        Call("ec2:RunInstances", "*"),
        Call("ec2:CreateTags", INSTANCE, {"ec2:CreateAction": "RunInstances"}),
        Call("ec2:DescribeInstances", "*"),
        Call("ec2:DescribeSpotPriceHistory", "*"),
        Call("ec2:DescribeInstanceTypes", "*"),  # the vCPU ceiling
        Call("ec2:GetSpotPlacementScores", "*"),
        Call("ec2:DescribeAvailabilityZones", "*"),
        Call("servicequotas:GetServiceQuota", "*"),
        Call("ec2:TerminateInstances", INSTANCE, OURS),
        Call("iam:PassRole", WORKER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
        # job_keys.py: each attempt's session keys
        Call("iam:GetRole", WORKER_ROLE),
        Call("sts:AssumeRole", WORKER_ROLE),
        Call("dynamodb:PutItem", _table("credentials")),
        Call("dynamodb:DeleteItem", _table("credentials")),
        Call("dynamodb:Scan", _table("credentials")),
    ],
    "user": [
        *_resolve(),
        *_job_moves(create=True),  # submit, cancel
        Call("dynamodb:Query", f"{_table('jobs')}/index/by-state"),  # list
        Call("dynamodb:Query", _table("job-events")),
        Call("s3:PutObject", f"{BUCKET}/jobs/j/input/a.txt"),
        Call("s3:AbortMultipartUpload", f"{BUCKET}/jobs/j/input/big.bin"),
        Call("s3:ListBucket", BUCKET),  # logs, outputs
        Call("s3:GetObject", f"{BUCKET}/jobs/j/logs/1/stdout/0"),
    ],
    "operator": [  # `cbas token`; bootstrap and teardown are recorded live
        *[c for c in _tokens() if c.action != "dynamodb:UpdateItem"],
        Call("dynamodb:Scan", _table("misc")),  # tokens older versions kept there
        Call("dynamodb:DeleteItem", _table("misc")),
    ],
}

FORBIDDEN: dict[Process, list[Call]] = {
    "worker": [
        *_tokens(),  # a job must not read a hash or mint itself a token
        Call("dynamodb:Query", _table("tokens")),
        Call("dynamodb:PutItem", _table("misc")),
        Call("dynamodb:UpdateItem", _table("misc")),
        Call("dynamodb:DeleteItem", _table("misc")),
        Call("dynamodb:GetItem", _table("misc")),  # API token hashes live there
        Call("dynamodb:DeleteTable", _table("jobs")),
        Call("dynamodb:Scan", _table("jobs")),
        Call("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/prod-jobs"),
        Call("iam:CreateRole", WORKER_ROLE),
        Call("iam:PassRole", WORKER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
        Call("iam:AttachRolePolicy", WORKER_ROLE),
        Call("s3:DeleteBucket", BUCKET),
        Call("s3:PutLifecycleConfiguration", BUCKET),
        Call("s3:GetObject", "arn:aws:s3:::someone-elses-bucket/secret"),
        Call("s3:GetObject", "arn:aws:s3:::cbas-x-0123456789ab/jobs/j"),  # deployment cbas-x
        Call("ec2:RunInstances", "*"),
        Call("ec2:TerminateInstances", INSTANCE, OURS),
        Call("sqs:ReceiveMessage", QUEUE),
        Call("sns:Publish", COMMANDS),
        Call("sns:Subscribe", SPOT_EVENTS),
        Call("sqs:ReceiveMessage", EVENTS_QUEUE),
        _own_keys("AROAWORKERROLEID:i-0456"),  # another instance's keys
        Call("dynamodb:GetItem", _table("credentials"), {"dynamodb:LeadingKeys": (USERID,)}),
        Call("dynamodb:Scan", _table("credentials"), BY_INSTANCE),
        Call(
            "dynamodb:PutItem",
            _table("credentials"),
            {**BY_INSTANCE, "dynamodb:LeadingKeys": (USERID,)},
        ),
        Call("sts:AssumeRole", WORKER_ROLE),
    ],
    "master": [
        Call("iam:CreateRole", WORKER_ROLE),
        Call("iam:PutRolePolicy", WORKER_ROLE),
        Call("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/cbas-us-east-1-master"),
        Call("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
        Call("iam:PassRole", WORKER_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
        Call("dynamodb:DeleteTable", _table("jobs")),
        Call("s3:DeleteBucket", BUCKET),
        Call("s3:DeleteObject", f"{BUCKET}/jobs/j/output/out.txt"),
        Call("sqs:DeleteQueue", QUEUE),
        Call("sns:DeleteTopic", COMMANDS),
        # it finds the deployment and creates nothing (`cbas bootstrap` does)
        Call("dynamodb:CreateTable", _table("misc")),
        Call("dynamodb:DescribeTable", _table("jobs")),
        Call("s3:CreateBucket", BUCKET),
        Call("sqs:CreateQueue", QUEUE),
        Call("sqs:CreateQueue", EVENTS_QUEUE),
        Call("sqs:SetQueueAttributes", EVENTS_QUEUE),
        Call("sns:CreateTopic", COMMANDS),
        Call("events:PutRule", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/cbas-rebalance"),
        Call("ec2:TerminateInstances", INSTANCE),  # untagged: not ours
        Call("ec2:TerminateInstances", INSTANCE, {"aws:ResourceTag/cbas:deployment": "prod"}),
        Call("ec2:CreateTags", INSTANCE, {"ec2:CreateAction": "CreateTags"}),  # retagging
        Call("ec2:DeleteSecurityGroup", "*"),
    ],
    "user": [
        *_tokens(),
        Call("dynamodb:PutItem", _table("misc")),  # tokens are the operator's
        Call("dynamodb:DeleteItem", _table("misc")),
        Call("dynamodb:Scan", _table("misc")),
        Call("dynamodb:DeleteItem", _table("jobs")),
        Call("ec2:RunInstances", "*"),
        Call("ec2:TerminateInstances", INSTANCE, OURS),
        Call("sqs:ReceiveMessage", QUEUE),
        Call("sqs:SendMessage", QUEUE),
        Call("sqs:ReceiveMessage", EVENTS_QUEUE),
        Call("sqs:SendMessage", EVENTS_QUEUE),
        Call("dynamodb:GetItem", _table("credentials")),
        Call("sts:AssumeRole", WORKER_ROLE),
        Call("sns:CreateTopic", COMMANDS),
        Call("sns:Publish", COMMANDS),
        Call("s3:DeleteObject", f"{BUCKET}/jobs/j/output/out.txt"),
        Call("s3:DeleteBucket", BUCKET),
        Call("iam:PassRole", WORKER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
    ],
    "operator": [
        Call("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
        Call("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
        Call("iam:AttachRolePolicy", WORKER_ROLE),  # only the inline policy we write
        Call("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
        Call("dynamodb:DeleteTable", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/prod-jobs"),
        Call("s3:DeleteBucket", "arn:aws:s3:::prod-data"),
        Call("s3:DeleteObject", "arn:aws:s3:::prod-data/x"),
        Call("ec2:TerminateInstances", INSTANCE),
        Call("ec2:DeleteSecurityGroup", f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1"),
        Call("events:DeleteRule", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/prod-rule"),
        Call("sns:DeleteTopic", f"arn:aws:sns:us-east-1:{ACCOUNT}:prod-alerts"),
        Call("sqs:DeleteQueue", f"arn:aws:sqs:us-east-1:{ACCOUNT}:prod-queue"),
    ],
}


def _ids(calls: dict[Process, list[Call]]) -> list[tuple[Process, Call]]:
    return [(process, call) for process, listed in calls.items() for call in listed]


@pytest.mark.parametrize("scope", [EXACT, PRINTED], ids=["bootstrapped", "printed"])
@pytest.mark.parametrize(("process", "call"), _ids(CALLS))
def test_each_process_may_make_its_calls(process: Process, call: Call, scope: Scope) -> None:
    assert allows(policy(process, scope), call), f"{process} needs {call}"


@pytest.mark.parametrize("scope", [EXACT, PRINTED], ids=["bootstrapped", "printed"])
@pytest.mark.parametrize(("process", "call"), _ids(FORBIDDEN))
def test_no_process_may_make_calls_beyond_its_job(
    process: Process, call: Call, scope: Scope
) -> None:
    assert not allows(policy(process, scope), call), f"{process} must not {call}"


_JOB_CALLS = [c for c in CALLS["worker"] if c.context.get("ec2:SourceInstanceARN") is None]


@pytest.mark.parametrize("call", _JOB_CALLS)
def test_an_instance_profile_credential_alone_touches_nothing_of_any_job(call: Call) -> None:
    """The worker role's job calls are for the master's sessions: made with the instance's
    own keys (what a job that reached IMDS would hold), each is denied."""
    by_instance = Call(call.action, call.resource, {**call.context, **BY_INSTANCE})
    assert not allows(policy("worker", EXACT), by_instance)


def test_without_session_keys_the_instance_profile_runs_the_job() -> None:
    """`CBAS_JOB_CREDENTIALS=false`: the master issues none, so the role's policy is the
    table-wide one of before, with no credentials item, and the master may not AssumeRole."""
    off = Scope.of(SETTINGS.replace(job_credentials=False), account=ACCOUNT, bucket=EXACT.bucket)
    worker = policy("worker", off)
    assert all(
        allows(worker, Call(c.action, c.resource, {**c.context, **BY_INSTANCE})) for c in _JOB_CALLS
    )
    assert not allows(worker, _own_keys())
    assert not allows(policy("master", off), Call("sts:AssumeRole", WORKER_ROLE))


def test_printing_gives_every_process_one_document() -> None:
    shown = json.loads(printed(PRINTED))
    assert shown == all_policies(PRINTED)
    assert sorted(shown) == ["master", "operator", "user", "worker"]
    for document in shown.values():
        assert document["Version"] == "2012-10-17"
        sids = [s["Sid"] for s in document["Statement"]]
        assert len(sids) == len(set(sids))  # IAM refuses duplicate Sids


def test_no_policy_grants_a_bare_wildcard_action() -> None:
    for document in all_policies(EXACT).values():
        for statement in document["Statement"]:
            assert all(a != "*" and not a.endswith(":*") for a in statement["Action"])
