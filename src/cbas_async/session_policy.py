"""The session policy of one job's attempt: the worker role narrowed to that job, which the
master passes when it assumes the role for the attempt (`job_credentials.py`). Pure.

A session's rights are what both its role's identity policy (`policies.worker_grants`, the
ceiling) and its session policy allow, so the worker of job A cannot write job B's item or
history (`dynamodb:LeadingKeys`), read or write B's files (`jobs/<A>/` only), or list B's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cbas_async.policies import Grant, all_policies, document
from cbas_async.scope import Scope

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)  # no wildcard, no `/`
EXAMPLE_JOB_ID = "j-20261206T120000-0123abcd"
PACKED_LIMIT = 2048  # STS refuses a larger session policy (its packed size also counts)


def job_session_grants(scope: Scope, job_id: str, *, home_bucket: str | None = None) -> list[Grant]:
    """The calls of `policies.worker_grants`, on job `job_id` only. Raises ValueError for
    an id that would widen a pattern (a wildcard or a `/`).

    `home_bucket`, when another than `scope.bucket` (an attempt outside the home region),
    holds the job's inputs, outputs and logs: there the session gets the job's prefix, and
    in its own bucket only the job's checkpoints (`jobs/<id>/checkpoints/`). (Naming the
    three areas at home would not fit STS's 2048 characters with the longest job id.)"""
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"not a job id: {job_id!r}")
    own_key = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": job_id}}
    prefix = f"jobs/{job_id}/"
    files = ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject")
    record = ("dynamodb:GetItem", "dynamodb:UpdateItem")
    buckets, objects = _file_resources(scope, prefix, home_bucket)
    return [
        Grant("OwnRecord", record, (scope.jobs_arn,), own_key),
        Grant("OwnHistory", ("dynamodb:PutItem",), (scope.events_arn,), own_key),
        Grant(
            "ListOwnFiles", ("s3:ListBucket",), buckets, {"StringLike": {"s3:prefix": f"{prefix}*"}}
        ),
        Grant("OwnFiles", files, objects),
        Grant("Ping", ("sqs:SendMessage",), (scope.queue_arn,)),
        Grant("Commands", ("sns:Subscribe", "sns:Unsubscribe"), (scope.topic_arn(scope.topic),)),
    ]


def _file_resources(
    scope: Scope, prefix: str, home_bucket: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The buckets the session may list (under the job's prefix) and the objects it may
    touch: the job's prefix in one bucket, or that at home and its checkpoints here."""
    here = scope.bucket_arn
    if home_bucket is None or home_bucket == scope.bucket:
        return (here,), (f"{here}/{prefix}*",)
    home = f"arn:{scope.partition}:s3:::{home_bucket}"
    return (here, home), (f"{home}/{prefix}*", f"{here}/{prefix}checkpoints/*")


def job_session_policy(
    scope: Scope, job_id: str, *, home_bucket: str | None = None
) -> dict[str, Any]:
    return document(job_session_grants(scope, job_id, home_bucket=home_bucket))


def packed(policy: dict[str, Any]) -> str:
    """The policy as sent to STS: compact JSON."""
    return json.dumps(policy, separators=(",", ":"))


def printed_policies(scope: Scope) -> str:
    """What `cbas bootstrap --print-policies` prints: every process's policy, and the session
    policy of one job's worker (for an example job id), as JSON."""
    shown = {**all_policies(scope), "worker-session": job_session_policy(scope, EXAMPLE_JOB_ID)}
    return json.dumps(shown, indent=2)
