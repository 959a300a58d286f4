"""`cbas teardown` against the moto server: removes all bootstrap made, twice is harmless,
and live jobs stop it unless forced."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from cbas_async.account import AccountClients, open_account_clients, set_up_account
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.deployment import make_store
from cbas_async.scope import EVENT_RULES, ROLES, Scope
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.teardown import JobsLive, StillInUse, teardown, teardown_command

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


@pytest.fixture
async def deployed(clients: Clients, accounts: AccountClients, settings: Settings) -> Resources:
    """A bootstrapped deployment with files, an unfinished upload and a master subscribed."""
    resources = await bootstrap(clients, settings)
    await set_up_account(clients, accounts, settings, resources)
    await clients.s3.put_object(Bucket=resources.bucket, Key="jobs/j1/input/a", Body=b"a")
    await clients.s3.create_multipart_upload(Bucket=resources.bucket, Key="jobs/j1/ck")
    await clients.sns.subscribe(
        TopicArn=resources.events_topic_arn,
        Protocol="sqs",
        Endpoint="arn:aws:sqs:us-east-1:123456789012:test-ping",
    )
    return resources


async def _what_is_left(clients: Clients, accounts: AccountClients) -> dict[str, Any]:
    """Everything in the (moto) account that a deployment could own."""
    iam = accounts.iam
    rules = await accounts.events.list_rules()
    groups = await clients.ec2.describe_security_groups(
        Filters=[{"Name": "tag-key", "Values": ["cbas:deployment"]}]
    )
    return {
        "tables": (await clients.dynamo.send_request(action="ListTables", payload={}))[
            "TableNames"
        ],
        "buckets": (await clients.s3.list_buckets())["Buckets"],
        "queues": (await clients.sqs.list_queues()).get("QueueUrls", []),
        "topics": (await clients.sns.list_topics())["Topics"],
        # EC2's spot service-linked role is the account's, not the deployment's: it stays
        "roles": [
            r["RoleName"]
            for r in (await iam.list_roles())["Roles"]
            if not r["Path"].startswith("/aws-service-role/")
        ],
        "profiles": (await iam.list_instance_profiles())["InstanceProfiles"],
        "rules": rules["Rules"],
        "groups": groups["SecurityGroups"],
    }


async def test_teardown_removes_everything_bootstrap_made(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    deleted = await teardown(clients, accounts, settings)
    left = await _what_is_left(clients, accounts)
    assert all(not found for found in left.values()), left
    scope = Scope.of(settings)
    assert set(deleted) == {
        *(scope.rule_name(s) for s in EVENT_RULES),
        *(f"role/{scope.role_name(p)}" for p in ROLES),
        *(f"instance-profile/{scope.role_name(p)}" for p in ROLES),
        scope.security_group_name,
        deployed.bucket,
        settings.ping_queue,
        settings.events_queue,
        deployed.topic_arn,
        deployed.events_topic_arn,
        *scope.tables,
    }
    assert deleted[-1] == settings.misc_table  # it names the bucket: last to go


async def test_a_second_teardown_finds_nothing_and_succeeds(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    await teardown(clients, accounts, settings)
    assert await teardown(clients, accounts, settings) == []


async def test_teardown_of_what_was_never_bootstrapped_is_a_no_op(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    assert await teardown(clients, accounts, settings) == []


async def test_live_jobs_stop_teardown_before_anything_is_deleted(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    store = make_store(clients, deployed)
    job = await store.create({"name": "x", "command": ["true"]}, now=NOW, actor="test")
    before = await _what_is_left(clients, accounts)
    with pytest.raises(JobsLive) as refused:
        await teardown(clients, accounts, settings)
    assert refused.value.job_ids == [job.job_id]
    assert await _what_is_left(clients, accounts) == before


async def test_finished_jobs_do_not_stop_teardown(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    store = make_store(clients, deployed)
    job = await store.create({"name": "x", "command": ["true"]}, now=NOW, actor="test")
    await store.transition(
        job.job_id,
        expected_states={JobState.SUBMITTED},
        expected_version=0,
        new_state=JobState.CANCELLED,
        now=NOW,
        actor="test",
    )
    assert settings.jobs_table in await teardown(clients, accounts, settings)


async def test_force_tears_down_live_jobs_and_terminates_their_instances(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    store = make_store(clients, deployed)
    await store.create({"name": "x", "command": ["true"]}, now=NOW, actor="test")
    ours = await _instance(clients, "test")
    theirs = await _instance(clients, "other")
    deleted = await teardown(clients, accounts, settings, force=True)
    assert ours in deleted
    assert theirs not in deleted
    assert await _state(clients, ours) in ("shutting-down", "terminated")
    assert await _state(clients, theirs) == "running"


async def _instance(clients: Clients, deployment: str) -> str:
    launched = await clients.ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "cbas:deployment", "Value": deployment}],
            }
        ],
    )
    return launched["Instances"][0]["InstanceId"]


async def _state(clients: Clients, instance_id: str) -> str:
    found = await clients.ec2.describe_instances(InstanceIds=[instance_id])
    return found["Reservations"][0]["Instances"][0]["State"]["Name"]


async def test_the_command_exits_1_on_live_jobs_and_0_when_done(
    clients: Clients, settings: Settings, deployed: Resources, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(clients, deployed)
    await store.create({"name": "x", "command": ["true"]}, now=NOW, actor="test")
    assert await teardown_command(settings) == 1
    assert "1 live job(s)" in capsys.readouterr().err
    assert await teardown_command(settings, force=True) == 0
    assert "is gone" in capsys.readouterr().out


async def test_a_group_still_in_use_is_named_after_the_rest_is_gone(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    scope = Scope.of(settings)
    groups = await clients.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [scope.security_group_name]}]
    )
    group_id = groups["SecurityGroups"][0]["GroupId"]
    # moto lets the group go anyway: answer as EC2 does while an instance still has it
    in_use = {"Code": "DependencyViolation", "Message": f"resource {group_id} has a dependent"}

    def refuse(**_: Any) -> tuple[SimpleNamespace, dict[str, Any]]:
        return SimpleNamespace(status_code=400, headers={}), {"Error": in_use}

    # a before-call handler's answer replaces the call; the stubs type handlers as -> None
    clients.ec2.meta.events.register("before-call.ec2.DeleteSecurityGroup", refuse)  # type: ignore[arg-type]
    with pytest.raises(StillInUse, match=group_id):
        await teardown(clients, accounts, settings)
    left = await _what_is_left(clients, accounts)
    assert [g["GroupId"] for g in left.pop("groups")] == [group_id]
    assert all(not found for found in left.values()), left


async def _cbas(settings: Settings, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        *args,
        env={**settings.to_env(), "PATH": os.environ.get("PATH", "")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_bootstraps_prints_policies_and_tears_down(
    clients: Clients, accounts: AccountClients, settings: Settings
) -> None:
    code, out, _ = await _cbas(settings, "bootstrap", "--print-policies")
    assert code == 0
    assert sorted(json.loads(out)) == ["master", "operator", "user", "worker", "worker-session"]
    code, out, _ = await _cbas(settings, "bootstrap")
    assert code == 0
    assert json.loads(out)["security_group_id"].startswith("sg-")
    code, out, _ = await _cbas(settings, "teardown")
    assert (code, out.splitlines()[-1]) == (0, "deployment 'test' in us-east-1 is gone")
    assert all(not found for found in (await _what_is_left(clients, accounts)).values())
