"""The master's side of per-attempt worker credentials, through STS on the moto server: it
assumes the worker role with the job's session policy, for at most the hour role chaining
allows, and the keys never show in a repr. moto does not enforce IAM: what the keys may do
is evaluated in test_session_policy.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cbas_async.account import AccountClients, open_account_clients
from cbas_async.job_credentials import (
    CHAINED_MAX_S,
    REFRESH_AHEAD_S,
    JobCredentialIssuer,
    session_name,
)
from cbas_async.scope import Scope
from cbas_async.session_policy import job_session_policy
from cbas_async.settings import Settings

JOB = "j-20261206T120000-0123abcd"


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


async def test_the_master_assumes_the_worker_role_with_the_jobs_session_policy(
    accounts: AccountClients, settings: Settings
) -> None:
    sent: list[dict[str, Any]] = []
    accounts.sts.meta.events.register(
        "before-parameter-build.sts.AssumeRole", lambda params, **_: sent.append(dict(params))
    )
    scope = Scope.of(settings, account="123456789012")
    role = scope.role_arn("worker")
    issuer = JobCredentialIssuer(sts=accounts.sts, role_arn=role, scope=scope)
    before = datetime.now(UTC)
    keys = await issuer.issue(JOB, 3)
    [params] = sent
    assert json.loads(params["Policy"]) == job_session_policy(scope, JOB)
    assert (params["RoleArn"], params["RoleSessionName"]) == (role, f"{JOB}.3")
    assert params["DurationSeconds"] == CHAINED_MAX_S
    assert (keys.job_id, keys.attempt) == (JOB, 3)
    assert keys.access_key_id
    assert keys.session_token
    assert keys.expires_at <= before + timedelta(seconds=CHAINED_MAX_S + 60)
    assert not keys.refresh_due(keys.expires_at - timedelta(seconds=REFRESH_AHEAD_S + 1))
    assert keys.refresh_due(keys.expires_at - timedelta(seconds=REFRESH_AHEAD_S))
    assert keys.secret_access_key not in repr(keys)
    assert keys.session_token not in repr(keys)
    # an attempt outside the home region: the job's files are in the home bucket
    away = JobCredentialIssuer(sts=accounts.sts, role_arn=role, scope=scope, home_bucket="home")
    await away.issue(JOB, 4)
    assert json.loads(sent[-1]["Policy"]) == job_session_policy(scope, JOB, home_bucket="home")
    assert sent[-1]["Policy"] != params["Policy"]


async def test_an_unsafe_job_id_reaches_no_sts_call(
    accounts: AccountClients, settings: Settings
) -> None:
    sent: list[object] = []
    accounts.sts.meta.events.register(
        "before-parameter-build.sts.AssumeRole", lambda params, **_: sent.append(params)
    )
    scope = Scope.of(settings)
    issuer = JobCredentialIssuer(sts=accounts.sts, role_arn=scope.role_arn("worker"), scope=scope)
    with pytest.raises(ValueError, match="not a job id"):
        await issuer.issue("j-*", 1)
    assert sent == []
    with pytest.raises(ValueError, match="STS takes"):
        JobCredentialIssuer(sts=accounts.sts, role_arn="r", scope=scope, duration_s=7200)


def test_the_session_name_fits_sts() -> None:
    assert len(session_name("j-" + "x" * 126, 12)) == 64
