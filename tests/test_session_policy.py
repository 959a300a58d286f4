"""One job's worker session, evaluated: the worker role's policy and the job's session policy
together allow the attempt's own calls and deny every call on another job's item, history or
files. (moto does not enforce IAM, so this evaluation is the proof; test_job_credentials.py
checks that the master really passes this policy to STS.)"""

from __future__ import annotations

import json

import pytest

from cbas_async.policies import policy
from cbas_async.scope import Scope
from cbas_async.session_policy import (
    EXAMPLE_JOB_ID,
    PACKED_LIMIT,
    job_session_policy,
    packed,
    printed_policies,
)
from tests.iam_eval import Call, allows, allows_session
from tests.test_policies import (
    BUCKET,
    COMMANDS,
    EXACT,
    PRINTED,
    QUEUE,
    SETTINGS,
    SPOT_EVENTS,
    _table,
)

A, B = "j-20261206T120000-aaaaaaaa", "j-20261206T120000-aaaaaaaa0"  # B starts with A's id


def _keys(job_id: str) -> dict[str, tuple[str, ...]]:
    return {"dynamodb:LeadingKeys": (job_id,)}


def _own(job: str) -> list[Call]:
    return [
        Call("dynamodb:GetItem", _table("jobs"), _keys(job)),
        Call("dynamodb:UpdateItem", _table("jobs"), _keys(job)),  # moves, checkpoint pointer
        Call("dynamodb:PutItem", _table("job-events"), _keys(job)),
        Call("s3:GetObject", f"{BUCKET}/jobs/{job}/input/a.txt"),
        Call("s3:ListBucket", BUCKET, {"s3:prefix": f"jobs/{job}/checkpoints/"}),
        Call("s3:PutObject", f"{BUCKET}/jobs/{job}/checkpoints/3/image.zst"),
        Call("s3:AbortMultipartUpload", f"{BUCKET}/jobs/{job}/checkpoints/4/image.zst"),
        Call("s3:DeleteObject", f"{BUCKET}/jobs/{job}/checkpoints/1/image.zst"),
        Call("s3:PutObject", f"{BUCKET}/jobs/{job}/logs/1/stdout/0"),
        Call("sqs:SendMessage", QUEUE),
        Call("sns:Subscribe", COMMANDS),
        Call("sns:Unsubscribe", COMMANDS),
    ]


OTHERS = [
    Call("dynamodb:UpdateItem", _table("jobs"), _keys(B)),  # rewrite another job
    Call("dynamodb:GetItem", _table("jobs"), _keys(B)),
    Call("dynamodb:UpdateItem", _table("jobs"), _keys(A) | {"dynamodb:LeadingKeys": (A, B)}),
    Call("dynamodb:PutItem", _table("job-events"), _keys(B)),  # forge its history
    Call("dynamodb:PutItem", _table("jobs"), _keys(A)),  # replace even its own item
    Call("dynamodb:Scan", _table("jobs")),  # no LeadingKeys: still denied
    Call("dynamodb:Query", f"{_table('jobs')}/index/by-state"),
    Call("s3:GetObject", f"{BUCKET}/jobs/{B}/input/a.txt"),  # read another job's input
    Call("s3:PutObject", f"{BUCKET}/jobs/{B}/output/out.txt"),
    Call("s3:DeleteObject", f"{BUCKET}/jobs/{B}/checkpoints/1/image.zst"),
    Call("s3:GetObject", f"{BUCKET}/jobs/{A}"),  # not under its prefix
    Call("s3:ListBucket", BUCKET, {"s3:prefix": f"jobs/{B}/"}),
    Call("s3:ListBucket", BUCKET, {"s3:prefix": "jobs/"}),
    Call("s3:ListBucket", BUCKET),  # no prefix: the whole bucket
    Call("sqs:ReceiveMessage", QUEUE),
    Call("sns:Publish", COMMANDS),
    Call("sns:Subscribe", SPOT_EVENTS),
    *[
        Call(f"dynamodb:{a}", _table(t))
        for t in ("tokens", "misc")
        for a in ("GetItem", "PutItem", "UpdateItem", "Scan")
    ],
    # any instance's session keys item, its own instance's included (aws:userid of a
    # session is `<role id>:<job id>.<attempt>`)
    Call("dynamodb:GetItem", _table("credentials"), {"dynamodb:LeadingKeys": ("R:i-1",)}),
    Call(
        "dynamodb:GetItem",
        _table("credentials"),
        {"dynamodb:LeadingKeys": (f"R:{A}.1",), "aws:userid": f"R:{A}.1"},
    ),
]


@pytest.mark.parametrize("scope", [EXACT, PRINTED], ids=["bootstrapped", "printed"])
def test_the_worker_of_a_job_may_make_its_own_calls(scope: Scope) -> None:
    role, session = policy("worker", scope), job_session_policy(scope, A)
    for call in _own(A):
        assert allows_session(role, session, call), call


@pytest.mark.parametrize("scope", [EXACT, PRINTED], ids=["bootstrapped", "printed"])
def test_the_worker_of_a_job_cannot_touch_another_job(scope: Scope) -> None:
    role, session = policy("worker", scope), job_session_policy(scope, A)
    for call in OTHERS:
        assert not allows_session(role, session, call), call
    for call in _own(B):  # B's own calls, made with A's keys
        if not call.action.startswith(("sqs:", "sns:")):
            assert not allows_session(role, session, call), call


@pytest.mark.parametrize("job_id", ["*", "j-1*", "j-1/../j-2", "", "j 1", "?"])
def test_an_id_that_would_widen_a_pattern_is_refused(job_id: str) -> None:
    with pytest.raises(ValueError, match="not a job id"):
        job_session_policy(EXACT, job_id)


def test_the_session_policy_fits_sts_and_is_printed() -> None:
    long_id = "j-" + "x" * 126
    assert len(packed(job_session_policy(PRINTED, long_id))) <= PACKED_LIMIT
    shown = json.loads(printed_policies(PRINTED))
    assert sorted(shown) == ["master", "operator", "user", "worker", "worker-session"]
    assert shown["worker-session"] == job_session_policy(PRINTED, EXAMPLE_JOB_ID)


@pytest.mark.parametrize(
    ("keys", "allowed"),
    [((A,), True), ((A, A), True), ((A, B), False), ((B,), False)],
)
def test_the_evaluator_takes_every_leading_key(keys: tuple[str, ...], allowed: bool) -> None:
    session = job_session_policy(EXACT, A)
    call = Call("dynamodb:UpdateItem", _table("jobs"), {"dynamodb:LeadingKeys": keys})
    assert allows_session(policy("worker", EXACT), session, call) is allowed


# an attempt in us-west-2 of a deployment whose home region is us-east-1
AWAY = Scope.of(
    SETTINGS.replace(regions=("us-east-1", "us-west-2"), region="us-west-2"),
    account="123456789012",
    bucket="cbas-away0123456",
)
AWAY_BUCKET = "arn:aws:s3:::cbas-away0123456"


def test_away_from_home_the_files_are_at_home_and_the_checkpoints_here() -> None:
    session = job_session_policy(AWAY, A, home_bucket="cbas-0123456789ab")
    checkpoint = f"jobs/{A}/checkpoints/2-1/state.tar.zst"
    allowed = [
        Call("s3:GetObject", f"{BUCKET}/jobs/{A}/input/a.txt"),
        Call("s3:PutObject", f"{BUCKET}/jobs/{A}/output/out.txt"),
        Call("s3:PutObject", f"{BUCKET}/jobs/{A}/logs/0002/stdout.000001"),
        Call("s3:ListBucket", BUCKET, {"s3:prefix": f"jobs/{A}/logs/"}),
        Call("s3:PutObject", f"{AWAY_BUCKET}/{checkpoint}"),
        Call("s3:GetObject", f"{AWAY_BUCKET}/{checkpoint}"),
        Call("s3:DeleteObject", f"{AWAY_BUCKET}/{checkpoint}"),
        Call("s3:ListBucket", AWAY_BUCKET, {"s3:prefix": f"jobs/{A}/checkpoints/"}),
    ]
    denied = [
        Call("s3:PutObject", f"{AWAY_BUCKET}/jobs/{A}/output/out.txt"),  # files: home only
        Call("s3:GetObject", f"{AWAY_BUCKET}/jobs/{B}/checkpoints/1-1/state.tar.zst"),
        Call("s3:GetObject", f"{BUCKET}/jobs/{B}/input/a.txt"),
        Call("s3:ListBucket", AWAY_BUCKET, {"s3:prefix": f"jobs/{B}/"}),
        Call("s3:GetObject", f"arn:aws:s3:::elsewhere/jobs/{A}/input/a.txt"),
    ]
    assert [allows(session, call) for call in allowed] == [True] * len(allowed)
    assert [allows(session, call) for call in denied] == [False] * len(denied)
    long_id = "j-" + "x" * 126
    assert len(packed(job_session_policy(AWAY, long_id, home_bucket="b" * 63))) <= PACKED_LIMIT


def test_at_home_the_session_policy_is_as_before() -> None:
    assert job_session_policy(EXACT, A, home_bucket=EXACT.bucket) == job_session_policy(EXACT, A)
