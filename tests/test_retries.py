"""The one retry policy: its worst cases, the clients configured from it, and, through the
local cloud's fault gate, one failing call making exactly the policy's tries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiodynamo.errors import AIODynamoError, BrokenThrottleConfig
from botocore.exceptions import ClientError

from cbas_async.aws import open_clients
from cbas_async.bootstrap import bootstrap
from cbas_async.deployment import make_store
from cbas_async.local.moto_server import MotoServer
from cbas_async.retries import DAEMON, INTERACTIVE, PolicyRetry, policy_for
from cbas_async.sandbox import Sandbox
from cbas_async.settings import Settings
from cbas_async.worker.jobwriter import JobWriter
from tests.fakes import FakeClock


def test_profiles_and_their_worst_cases() -> None:
    assert (DAEMON.attempts, DAEMON.worst_backoff_s) == (8, 71.0)  # 1+2+4+8+16+20+20
    assert (INTERACTIVE.attempts, INTERACTIVE.worst_backoff_s) == (3, 3.0)
    assert INTERACTIVE.worst_case_s == 3.0 + 3 * 35.0  # each try may time out too
    assert policy_for(60.0) is DAEMON
    assert policy_for(8.0) is INTERACTIVE
    assert DAEMON.botocore_retries() == {"mode": "standard", "total_max_attempts": 8}


def test_dynamo_retry_waits_only_between_tries() -> None:
    for policy in (DAEMON, INTERACTIVE):
        waits = list(PolicyRetry(policy=policy).delays())
        assert len(waits) == policy.attempts  # aiodynamo makes one try per wait
        assert waits[-1] == 0.0
        assert all(0 <= w <= policy.max_wait_s(k) for k, w in enumerate(waits[:-1], start=1))
        assert sum(waits) <= policy.worst_backoff_s


async def test_clients_take_the_policy_of_their_profile(settings: Settings) -> None:
    for budget_s, policy in ((60.0, DAEMON), (8.0, INTERACTIVE)):
        async with open_clients(settings.replace(aws_retry_s=budget_s)) as clients:
            assert clients.s3.meta.config.retries == policy.botocore_retries()  # type: ignore[attr-defined]
            throttle = clients.dynamo.throttle_config
            assert isinstance(throttle, PolicyRetry)
            assert (throttle.policy, throttle.time_limit_secs) == (policy, budget_s)


async def test_one_failing_call_makes_exactly_the_policys_tries(
    moto: MotoServer, settings: Settings
) -> None:
    interactive = settings.replace(aws_retry_s=8.0)
    async with open_clients(interactive) as clients:
        resources = await bootstrap(clients, interactive)
        sandbox = Sandbox(s3=clients.s3, bucket=resources.bucket)
        writer = JobWriter(
            store=make_store(clients, resources),
            job_id="j-none",
            attempt=1,
            actor="w",
            clock=FakeClock(datetime(2026, 11, 27, tzinfo=UTC)),
        )
        moto.faults.fail("s3", seconds=120)
        moto.faults.fail("dynamodb", seconds=120)
        before = dict(moto.faults.failed)
        with pytest.raises(ClientError):  # the worker's log shipping call, S3
            await sandbox.put_log_chunk("j-none", 1, "stdout", 0, b"line\n")
        with pytest.raises(AIODynamoError) as failed:  # the worker's job read, DynamoDB
            await writer.read()
        assert not isinstance(failed.value, BrokenThrottleConfig)  # the service's own error
        moto.faults.clear()
    assert moto.faults.failed["s3"] - before.get("s3", 0) == INTERACTIVE.attempts
    assert moto.faults.failed["dynamodb"] - before.get("dynamodb", 0) == INTERACTIVE.attempts
