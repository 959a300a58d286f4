"""`cbas doctor` against the moto server: every check passes on a bootstrapped deployment,
and each resource taken away (or set wrong) fails exactly the check that names it."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from cbas_async import __version__, cli
from cbas_async.account import AccountClients, open_account_clients, set_up_account
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.doctor import diagnose, render
from cbas_async.doctor_checks import Check
from cbas_async.scope import Scope
from cbas_async.settings import Settings
from cbas_async.spot_role import SPOT_ROLE, SPOT_ROLE_FIX, make_spot_role_as_aws_names_it
from cbas_async.wheels import upload_wheel
from tests.test_policies_recorded import ACCOUNT, Recorder, _denied

TYPES = ("c5.large", "c6g.large")  # one of each architecture


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


@pytest.fixture
async def deployed(
    clients: Clients, accounts: AccountClients, settings: Settings, tmp_path: Path
) -> Resources:
    """Bootstrapped as `cbas bootstrap` does it (a wheel of this version uploaded), and the
    spot role made."""
    resources = await bootstrap(clients, settings)
    await make_spot_role_as_aws_names_it(accounts.iam)  # as the local cloud does
    await set_up_account(clients, accounts, settings, resources)
    wheel = tmp_path / f"cbas_async-{__version__}-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    await upload_wheel(clients.s3, resources.bucket, wheel)
    return resources


async def _failures(clients: Clients, accounts: AccountClients, settings: Settings) -> list[Check]:
    return [c for c in await diagnose(clients, accounts, settings, TYPES) if not c.ok]


Breakage = Callable[[Clients, AccountClients, Scope], Awaitable[object]]


async def _drop_table(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    await clients.dynamo.delete_table(scope.tables[1])


async def _drop_profile(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    name = scope.role_name("worker")
    await accounts.iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
    await accounts.iam.delete_instance_profile(InstanceProfileName=name)


async def _drop_target(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    await accounts.events.remove_targets(Rule=scope.rule_name("rebalance"), Ids=["topic"])


async def _drop_spot_role(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    await accounts.iam.delete_role(RoleName=SPOT_ROLE)


async def _drop_wheel(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    listed = await clients.s3.list_objects_v2(Bucket=scope.bucket or "", Prefix="wheels/")
    for item in listed.get("Contents", []):
        await clients.s3.delete_object(Bucket=scope.bucket or "", Key=item["Key"])


async def _unsubscribe(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    topic = scope.topic_arn(scope.events_topic)
    found = await clients.sns.list_subscriptions_by_topic(TopicArn=topic)
    for sub in found["Subscriptions"]:
        await clients.sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])


async def _open_group(clients: Clients, accounts: AccountClients, scope: Scope) -> None:
    found = await clients.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [scope.security_group_name]}]
    )
    await clients.ec2.authorize_security_group_ingress(
        GroupId=found["SecurityGroups"][0]["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )


# each step breaks one more thing: (breakage, the check it fails, a phrase of the message)
BREAKAGES: list[tuple[Breakage, str, str]] = [
    (_drop_table, "tables", "missing: test-job-events"),
    (_drop_target, "event_rules", "the target arn:aws:sns:us-east-1:123456789012:test-spot-"),
    (_drop_spot_role, "spot_role", SPOT_ROLE_FIX),
    (_drop_wheel, "wheel", "cbas bootstrap --wheel FILE"),
    (_unsubscribe, "events_delivery", "the subscription of queue test-master-events"),
    (_open_group, "security_group", "has inbound rules"),
    (_drop_profile, "roles", "instance profile test-us-east-1-worker"),
]


async def test_all_pass_then_each_resource_taken_away_fails_the_check_that_names_it(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    """Cumulative, to bootstrap once: each step adds exactly its own failure. The first run
    is recorded: the operator's policy allows every call the doctor makes."""
    recorder = Recorder(Scope.of(settings, account=ACCOUNT))
    seen = recorder.wrap(clients)
    checks = await diagnose(seen, recorder.wrap_account(accounts), settings, TYPES)
    assert [c for c in checks if not c.ok] == []
    assert {"ec2:RunInstances", "iam:GetRole", "ec2:DescribeInstanceTypes"} <= {
        c.action for c in recorder.calls
    }
    assert _denied("operator", recorder, deployed.bucket) == []
    assert checks[0].name == "credentials"
    assert {"tables", "event_rules", "worker_image", "dry_run", "spot_role"} <= {
        c.name for c in checks
    }
    assert render(checks, as_json=False).endswith("all checks passed")
    scope = Scope.of(settings, account=ACCOUNT, bucket=deployed.bucket)
    before: set[str] = set()
    for breakage, check, phrase in BREAKAGES:
        await breakage(clients, accounts, scope)
        failures = {c.name: c.message for c in await _failures(clients, accounts, settings)}
        expected = {check, "dry_run"} if breakage is _drop_profile else {check}
        assert set(failures) - before == expected, breakage.__name__
        assert phrase in failures[check]
        before = set(failures)
    assert "test-us-east-1-worker" in failures["dry_run"]


async def test_wrong_settings_fail_the_checks_that_name_them(
    clients: Clients, accounts: AccountClients, settings: Settings, deployed: Resources
) -> None:
    missing = settings.replace(worker_image_id="ami-0123456789abcdef0")
    failures = await _failures(clients, accounts, missing)
    assert [c.name for c in failures] == ["worker_image", "dry_run"]
    assert all("ami-0123456789abcdef0" in c.message for c in failures)
    assert "CBAS_WORKER_IMAGE_ID" in failures[0].message

    images = await clients.ec2.describe_images(
        Filters=[{"Name": "architecture", "Values": ["x86_64"]}]
    )
    x86 = settings.replace(worker_image_id=images["Images"][0]["ImageId"])
    failures = await _failures(clients, accounts, x86)
    assert [c.name for c in failures] == ["worker_image"]
    assert "c6g.large runs arm64" in failures[0].message

    wrong = settings.replace(subnet_id="subnet-0000000000000000f")
    named = {c.name: c.message for c in await _failures(clients, accounts, wrong)}
    assert "CBAS_SUBNET_ID=subnet-0000000000000000f" in named["subnet"]


def test_nothing_bootstrapped_exits_1_and_the_json_names_each_failure(settings: Settings) -> None:
    """Through the same `main` as the `cbas doctor` command, in process (logs go to a
    buffer that stays open, as in tests/test_cli.py)."""
    types = [arg for t in TYPES for arg in ("--instance-type", t)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["doctor", "--json", *types], settings.to_env())
    report = json.loads(out.getvalue())
    assert code == 1
    assert report["ok"] is False
    assert report["checks"][0] == {
        "name": "credentials",
        "ok": True,
        "message": "account 123456789012 as arn:aws:sts::123456789012:user/moto in us-east-1",
    }
    failing = {c["name"] for c in report["checks"] if not c["ok"]}
    assert {"tables", "bucket", "queues", "roles", "event_rules", "spot_role"} <= failing
