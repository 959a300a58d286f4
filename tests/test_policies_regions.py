"""The IAM policies of a deployment in two regions (us-east-1 the home, us-west-2), evaluated
for the processes of us-west-2: the worker uses the home tables and bucket and its own
region's bucket, queue and topic; the master every region's; the operator makes all."""

from __future__ import annotations

import pytest

from cbas_async.policies import policy
from cbas_async.scope import Process, Scope
from cbas_async.settings import Settings
from tests.iam_eval import Call, allows

ACCOUNT = "123456789012"
HOME, WEST = "us-east-1", "us-west-2"
SETTINGS = Settings.from_env(
    {"CBAS_DEPLOYMENT": "cbas", "CBAS_REGION": WEST, "CBAS_REGIONS": f"{HOME},{WEST}"}
)
BUCKETS = {HOME: "cbas-0123456789ab", WEST: "cbas-ba9876543210"}
EXACT = Scope.of(SETTINGS, account=ACCOUNT, buckets=BUCKETS)
PRINTED = Scope.of(SETTINGS)  # any bucket the deployment could own, in each region
OURS = {"aws:ResourceTag/cbas:deployment": "cbas"}
BY_INSTANCE = {"ec2:SourceInstanceARN": f"arn:aws:ec2:{WEST}:{ACCOUNT}:instance/i-1"}


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _table(name: str, region: str = HOME) -> str:
    return _arn("dynamodb", region, f"table/cbas-{name}")


def _bucket(region: str) -> str:
    return f"arn:aws:s3:::{BUCKETS[region]}"


def _queue(region: str, name: str = "ping") -> str:
    return _arn("sqs", region, f"cbas-{name}")


def _topic(region: str, name: str = "commands") -> str:
    return _arn("sns", region, f"cbas-{name}")


def _role(region: str, process: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/cbas-{region}-{process}"


ALLOWED: dict[Process, list[Call]] = {
    "worker": [
        Call("dynamodb:UpdateItem", _table("jobs")),  # the tables are in the home region
        Call("dynamodb:PutItem", _table("job-events")),
        Call("s3:GetObject", f"{_bucket(HOME)}/jobs/j/input/a.txt"),
        Call("s3:PutObject", f"{_bucket(HOME)}/jobs/j/logs/1/stdout/0"),
        Call("s3:PutObject", f"{_bucket(WEST)}/jobs/j/checkpoints/3/image.zst"),
        Call("s3:ListBucket", _bucket(WEST)),
        Call("s3:GetObject", f"{_bucket(WEST)}/wheels/w.whl", BY_INSTANCE),
        Call("sqs:SendMessage", _queue(WEST)),
        Call("sns:Subscribe", _topic(WEST)),
    ],
    "master": [
        Call("dynamodb:UpdateItem", _table("jobs")),
        Call("dynamodb:GetItem", _table("misc")),
        Call("sqs:ReceiveMessage", _queue(WEST)),
        Call("sqs:ReceiveMessage", _queue(HOME)),  # a region it adopted
        Call("sqs:DeleteMessage", _queue(HOME, "master-events")),
        Call("sqs:GetQueueUrl", _queue(HOME, "master-events")),
        Call("sns:Publish", _topic(HOME)),
        Call("ec2:TerminateInstances", _arn("ec2", HOME, "instance/i-2"), OURS),
        Call("ec2:DescribeInstances", "*"),
        # a checkpoint copied from one region's bucket to the other's
        Call("s3:GetObject", f"{_bucket(HOME)}/jobs/j/checkpoints/3/image.zst"),
        Call("s3:ListBucket", _bucket(HOME)),
        Call("s3:PutObject", f"{_bucket(WEST)}/jobs/j/checkpoints/3/image.zst"),
        Call("iam:PassRole", _role(WEST, "worker"), {"iam:PassedToService": "ec2.amazonaws.com"}),
    ],
    "operator": [
        Call("dynamodb:CreateTable", _table("jobs")),
        Call("s3:CreateBucket", _bucket(HOME)),
        Call("s3:CreateBucket", _bucket(WEST)),
        Call("s3:PutObject", f"{_bucket(HOME)}/wheels/w.whl"),
        Call("s3:PutObject", f"{_bucket(WEST)}/wheels/w.whl"),
        Call("sqs:CreateQueue", _queue(HOME)),
        Call("sqs:CreateQueue", _queue(WEST, "master-events")),
        Call("sns:CreateTopic", _topic(HOME, "spot-events")),
        Call("sns:CreateTopic", _topic(WEST)),
        Call("events:PutRule", _arn("events", HOME, "rule/cbas-rebalance")),
        Call("events:PutRule", _arn("events", WEST, "rule/cbas-rebalance")),
        Call("iam:CreateRole", _role(HOME, "master")),
        Call("iam:CreateRole", _role(WEST, "worker")),
        Call("ec2:DeleteSecurityGroup", _arn("ec2", HOME, "security-group/sg-1"), OURS),
        Call("ec2:DeleteSecurityGroup", _arn("ec2", WEST, "security-group/sg-2"), OURS),
        Call("ec2:TerminateInstances", _arn("ec2", HOME, "instance/i-2"), OURS),
    ],
    "user": [
        Call("dynamodb:GetItem", _table("misc")),
        Call("sqs:GetQueueUrl", _queue(WEST)),
        Call("s3:PutObject", f"{_bucket(HOME)}/jobs/j/input/a.txt"),
        Call("s3:GetObject", f"{_bucket(HOME)}/jobs/j/output/out.txt"),
    ],
}

FORBIDDEN: dict[Process, list[Call]] = {
    "worker": [
        Call("dynamodb:UpdateItem", _table("jobs", WEST)),  # no tables there
        Call("sqs:SendMessage", _queue(HOME)),  # another region's pings
        Call("sns:Subscribe", _topic(HOME)),
        Call("ec2:TerminateInstances", _arn("ec2", WEST, "instance/i-1"), OURS),
    ],
    "master": [
        Call("dynamodb:UpdateItem", _table("jobs", WEST)),
        Call("sqs:DeleteQueue", _queue(HOME)),
        Call("s3:DeleteBucket", _bucket(HOME)),
        Call("iam:PassRole", _role(HOME, "worker"), {"iam:PassedToService": "ec2.amazonaws.com"}),
        Call("ec2:TerminateInstances", _arn("ec2", HOME, "instance/i-2")),  # untagged
        Call("sqs:ReceiveMessage", _arn("sqs", "eu-west-1", "cbas-ping")),  # not a region of it
    ],
    "operator": [
        Call("sqs:CreateQueue", _arn("sqs", "eu-west-1", "cbas-ping")),
        Call("iam:CreateRole", _role("eu-west-1", "worker")),
        Call("s3:DeleteBucket", "arn:aws:s3:::prod-data"),
    ],
    "user": [
        Call("sqs:ReceiveMessage", _queue(WEST)),
        Call("sqs:SendMessage", _queue(HOME)),
    ],
}


def _ids(calls: dict[Process, list[Call]]) -> list[tuple[Process, Call]]:
    return [(process, call) for process, listed in calls.items() for call in listed]


@pytest.mark.parametrize("scope", [EXACT, PRINTED], ids=["bootstrapped", "printed"])
@pytest.mark.parametrize(("process", "call"), _ids(ALLOWED))
def test_each_process_of_a_region_may_make_its_calls(
    process: Process, call: Call, scope: Scope
) -> None:
    assert allows(policy(process, scope), call), f"{process} needs {call}"


@pytest.mark.parametrize("scope", [EXACT, PRINTED], ids=["bootstrapped", "printed"])
@pytest.mark.parametrize(("process", "call"), _ids(FORBIDDEN))
def test_no_process_of_a_region_goes_beyond_its_job(
    process: Process, call: Call, scope: Scope
) -> None:
    assert not allows(policy(process, scope), call), f"{process} must not {call}"


# printed, every bucket's ARN is the same pattern: these need the buckets' names
KNOWN_BUCKETS_ONLY: list[tuple[Process, Call]] = [
    ("worker", Call("s3:GetObject", f"{_bucket(HOME)}/wheels/w.whl", BY_INSTANCE)),
    ("worker", Call("s3:PutObject", "arn:aws:s3:::cbas-ffffffffffff/jobs/j/checkpoints/1/x")),
    ("user", Call("s3:GetObject", f"{_bucket(WEST)}/jobs/j/checkpoints/3/image.zst")),
    ("master", Call("s3:GetObject", "arn:aws:s3:::cbas-ffffffffffff/jobs/j/checkpoints/1/x")),
]


@pytest.mark.parametrize(("process", "call"), KNOWN_BUCKETS_ONLY)
def test_bootstrapped_each_process_uses_only_the_buckets_it_needs(
    process: Process, call: Call
) -> None:
    assert not allows(policy(process, EXACT), call), f"{process} must not {call}"
    assert allows(policy(process, PRINTED), call)  # the pattern: any bucket of `cbas`


def test_a_scope_knows_each_region_and_the_home() -> None:
    assert EXACT.bucket == BUCKETS[WEST]
    assert EXACT.home.region == HOME
    assert EXACT.home.bucket == BUCKETS[HOME]
    assert EXACT.jobs_arn == _table("jobs")
    assert [s.region for s in EXACT.everywhere()] == [HOME, WEST]
    assert EXACT.home.in_region(WEST) == EXACT
    assert EXACT.in_region(HOME).queue_arn == _queue(HOME)
    assert PRINTED.home.bucket is None  # unknown: the ARN is a pattern
    assert PRINTED.home.bucket_arn == "arn:aws:s3:::cbas-????????????"


def test_one_region_is_the_same_scope_as_before() -> None:
    alone = Scope.of(SETTINGS.replace(regions=(), region=HOME), bucket=BUCKETS[HOME])
    assert alone.everywhere() == (alone,)
    assert alone.home == alone
    assert alone.buckets == ()
