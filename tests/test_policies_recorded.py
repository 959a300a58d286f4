"""The generated policies against calls recorded live through the moto server: every AWS call
that bootstrap and teardown (the operator) and the user commands make, as IAM action and
resource ARN, is allowed by that process's policy, both as bootstrap writes it and as
`--print-policies` prints it. A call added to the code without its permission fails here."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiodynamo.http.types import HttpImplementation, Request, Response

from cbas_async import commands
from cbas_async.account import AccountClients, open_account_clients, set_up_account
from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap, resolve
from cbas_async.clock import SystemClock
from cbas_async.deployment import Session, make_store
from cbas_async.policies import policy
from cbas_async.sandbox import Sandbox
from cbas_async.scope import DEPLOYMENT_TAG, Process, Scope
from cbas_async.settings import Settings
from cbas_async.specfile import load_spec_file
from cbas_async.spot_role import SPOT_ROLE
from cbas_async.states import JobState
from cbas_async.teardown import teardown
from tests.iam_eval import Call, allows

ACCOUNT = "123456789012"  # moto's
# operations whose IAM action is not `<service>:<Operation>`
_ACTIONS = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "s3:PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
}
_NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


class Recorder:
    """Collects the IAM view of every call made through the clients it wraps."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.calls: list[Call] = []

    def botocore(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        action = f"{model.service_model.signing_name}:{model.name}"
        action = _ACTIONS.get(action, action)
        if action not in _NEEDS_NO_PERMISSION:
            self.calls += _botocore_calls(self.scope, action, params)

    def dynamo(self, inner: HttpImplementation) -> HttpImplementation:
        async def recording(request: Request) -> Response:
            headers = {k.lower(): v for k, v in (request.headers or {}).items()}
            operation = headers["x-amz-target"].rpartition(".")[2]
            self.calls += _dynamo_calls(self.scope, operation, json.loads(request.body or b"{}"))
            return await inner(request)

        return recording

    def wrap(self, clients: Clients) -> Clients:
        for client in (clients.s3, clients.sqs, clients.sns, clients.ec2):
            client.meta.events.register("before-parameter-build", self.botocore)
        dynamo = dataclasses.replace(clients.dynamo, http=self.dynamo(clients.dynamo.http))
        return dataclasses.replace(clients, dynamo=dynamo)

    def wrap_account(self, accounts: AccountClients) -> AccountClients:
        for client in (accounts.iam, accounts.events, accounts.sts):
            client.meta.events.register("before-parameter-build", self.botocore)
        return accounts


def _botocore_calls(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    service = action.partition(":")[0]
    resource: Callable[[Scope, str, dict[str, Any]], list[Call]] = _RESOURCES.get(
        service, lambda _s, a, _p: [Call(a, "*")]
    )
    return resource(scope, action, params)


def _s3(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    if "Bucket" not in params:
        return [Call(action, "*")]
    if "Delete" in params:  # DeleteObjects: s3:DeleteObject on each key
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        return [Call(action, f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    key = f"/{params['Key']}" if "Key" in params else ""
    return [Call(action, f"arn:aws:s3:::{params['Bucket']}{key}")]


def _iam(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    role = f"arn:aws:iam::{ACCOUNT}:role/{params.get('RoleName')}"
    if action == "iam:CreateServiceLinkedRole":  # the role it makes, for the service named
        service = params["AWSServiceName"]
        made = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{SPOT_ROLE}"
        return [Call(action, made, {"iam:AWSServiceName": service})]
    if "InstanceProfileName" not in params:
        return [Call(action, role)]
    profile = f"arn:aws:iam::{ACCOUNT}:instance-profile/{params['InstanceProfileName']}"
    passes = action == "iam:AddRoleToInstanceProfile"  # IAM also checks PassRole on the role
    return [Call(action, profile), *([Call("iam:PassRole", role)] if passes else [])]


def _events(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    name = params.get("Name") or params.get("Rule")
    return [Call(action, f"arn:aws:events:{scope.region}:{ACCOUNT}:rule/{name}")]


def _sqs(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    name = params.get("QueueName") or str(params.get("QueueUrl", "")).rpartition("/")[2]
    return [Call(action, f"arn:aws:sqs:{scope.region}:{ACCOUNT}:{name}")]


def _sns(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    if "SubscriptionArn" in params:  # authorized on the subscription's topic
        return [Call(action, str(params["SubscriptionArn"]).rpartition(":")[0])]
    topic = params.get("TopicArn") or f"arn:aws:sns:{scope.region}:{ACCOUNT}:{params['Name']}"
    return [Call(action, topic)]


def _ec2(scope: Scope, action: str, params: dict[str, Any]) -> list[Call]:
    group = f"arn:aws:ec2:{scope.region}:{ACCOUNT}:security-group/{params.get('GroupId')}"
    ours = {f"aws:ResourceTag/{DEPLOYMENT_TAG}": scope.deployment}
    if action in ("ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress"):
        return [Call(action, group, ours)]
    if action == "ec2:TerminateInstances":
        arn = f"arn:aws:ec2:{scope.region}:{ACCOUNT}:instance/"
        return [Call(action, arn + i, ours) for i in params["InstanceIds"]]
    if action == "ec2:CreateSecurityGroup":  # tags at creation are a CreateTags call too
        tagging = {"ec2:CreateAction": "CreateSecurityGroup"}
        return [Call(action, "*"), Call("ec2:CreateTags", group.replace("None", "sg-1"), tagging)]
    return [Call(action, "*")]


_RESOURCES: dict[str, Callable[[Scope, str, dict[str, Any]], list[Call]]] = {
    "s3": _s3,
    "iam": _iam,
    "events": _events,
    "sqs": _sqs,
    "sns": _sns,
    "ec2": _ec2,
}


def _dynamo_calls(scope: Scope, operation: str, body: dict[str, Any]) -> list[Call]:
    def table(name: str) -> str:
        return f"arn:aws:dynamodb:{scope.tables_region}:{ACCOUNT}:table/{name}"

    if operation == "TransactWriteItems":  # authorized item by item
        return [
            Call(f"dynamodb:{kind}Item", table(item[kind]["TableName"]))
            for item in body["TransactItems"]
            for kind in item
        ]
    if "TableName" not in body:
        return [Call(f"dynamodb:{operation}", "*")]
    arn = table(body["TableName"])
    if "IndexName" in body:
        arn += f"/index/{body['IndexName']}"
    return [Call(f"dynamodb:{operation}", arn)]


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


def _denied(process: Process, recorder: Recorder, bucket: str) -> list[Call]:
    """The recorded calls that the bootstrapped or the printed policy would refuse."""
    settings_scope = recorder.scope
    written = policy(process, dataclasses.replace(settings_scope, bucket=bucket))
    printed = policy(process, dataclasses.replace(settings_scope, account="*", bucket=None))
    return [c for c in recorder.calls if not (allows(written, c) and allows(printed, c))]


async def test_the_operator_may_make_every_call_of_bootstrap_and_teardown(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    recorder = Recorder(Scope.of(settings, account=ACCOUNT))
    seen, seen_accounts = recorder.wrap(clients), recorder.wrap_account(accounts)
    resources = await bootstrap(seen, settings)
    await set_up_account(seen, seen_accounts, settings, resources)
    await set_up_account(seen, seen_accounts, settings, resources)  # the read-only second run
    mark = len(recorder.calls)
    await _leave_work_behind(clients, resources.bucket)
    del recorder.calls[mark:]  # the same clients: these calls are not the operator's
    await teardown(seen, seen_accounts, settings, force=True)
    actions = {call.action for call in recorder.calls}
    assert {"iam:CreateRole", "events:PutRule", "ec2:CreateSecurityGroup"} <= actions
    assert {"iam:DeleteRole", "events:DeleteRule", "ec2:TerminateInstances"} <= actions
    assert {"dynamodb:DeleteTable", "s3:DeleteObject", "s3:ListBucketMultipartUploads"} <= actions
    assert {"sqs:SetQueueAttributes", "sns:Subscribe", "sqs:DeleteQueue"} <= actions
    assert _denied("operator", recorder, resources.bucket) == []


async def _leave_work_behind(clients: Clients, bucket: str) -> None:
    """What users and the master leave for teardown."""
    await clients.s3.create_multipart_upload(Bucket=bucket, Key="jobs/j/ck")
    await clients.s3.put_object(Bucket=bucket, Key="jobs/j/input/a", Body=b"a")
    await clients.ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": DEPLOYMENT_TAG, "Value": "test"}]}
        ],
    )


async def test_the_user_may_make_every_call_of_the_user_commands(
    clients: Clients, settings: Settings, tmp_path: Path
) -> None:
    made = await bootstrap(clients, settings)
    (tmp_path / "in.txt").write_text("x")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"name": "j", "command": ["true"], "input_files": ["in.txt"]}))
    recorder = Recorder(Scope.of(settings, account=ACCOUNT))
    seen = recorder.wrap(clients)
    resources = await resolve(seen, settings)
    session = Session(
        settings,
        seen,
        resources,
        make_store(seen, resources),
        Sandbox(s3=seen.s3, bucket=made.bucket),
    )
    jobs = commands.SessionJobs(session, clock=SystemClock())
    job = await jobs.submit(load_spec_file(spec))
    await jobs.get(job.job_id)
    await jobs.list_jobs([JobState.PENDING])
    await jobs.read_logs(job.job_id, set())
    await jobs.outputs(job.job_id, tmp_path / "out")
    await jobs.cancel(job.job_id)
    assert {"dynamodb:Query", "s3:PutObject", "dynamodb:UpdateItem"} <= {
        call.action for call in recorder.calls
    }
    assert _denied("user", recorder, made.bucket) == []
