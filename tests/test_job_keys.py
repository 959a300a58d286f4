"""Per-attempt session keys delivered through `<d>-credentials`, on the moto server: the
master writes an attempt's keys under `<role id>:<instance id>` after its launch, renews
them when due (fake clock), deletes them when the attempt ends; the worker finds its item
by its instance profile's `UserId` and every client signs with the session key. What the
keys may do is evaluated in test_policies.py and test_session_policy.py (moto enforces no
IAM)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiobotocore.session import get_session
from aiodynamo.errors import ItemNotFound
from botocore.exceptions import ClientError

from cbas_async.account import AccountClients, open_account_clients
from cbas_async.aws import Clients, client_kwargs, open_clients
from cbas_async.bootstrap import ensure_tables
from cbas_async.job_credentials import REFRESH_AHEAD_S, JobCredentialIssuer, JobCredentials
from cbas_async.job_keys import TTL_ATTRIBUTE, KeyKeeper, item_key
from cbas_async.resource_policies import trust_policy
from cbas_async.scope import Scope
from cbas_async.settings import Settings
from cbas_async.worker.keys import JobKeyReader, NoJobKeys, job_key_provider
from tests.fakes import FakeClock

JOB = "j-20261206T120000-0123abcd"
INSTANCE = "i-0123456789abcdef0"


@dataclass
class _World:
    accounts: AccountClients
    keeper: KeyKeeper
    clock: FakeClock
    role_id: str
    role_arn: str


@pytest.fixture
async def world(settings: Settings, clients: Clients) -> AsyncIterator[_World]:
    await ensure_tables(clients, settings)
    async with open_account_clients(settings) as accounts:
        scope = Scope.of(settings, account="123456789012")
        role = await accounts.iam.create_role(
            RoleName=scope.role_name("worker"), AssumeRolePolicyDocument=json.dumps(trust_policy())
        )
        arn, role_id = role["Role"]["Arn"], role["Role"]["RoleId"]
        clock = FakeClock(datetime.now(UTC))  # moto's keys expire on the wall clock
        keeper = KeyKeeper(
            issuer=JobCredentialIssuer(sts=accounts.sts, role_arn=arn, scope=scope),
            dynamo=clients.dynamo,
            table=settings.credentials_table,
            role_id=role_id,
            clock=clock,
        )
        yield _World(accounts, keeper, clock, role_id, arn)


async def _item(clients: Clients, settings: Settings, world: _World) -> dict[str, object]:
    key = item_key(world.role_id, INSTANCE)
    return dict(await clients.dynamo.get_item(settings.credentials_table, {"key": key}))


async def test_the_master_writes_renews_and_deletes_an_attempts_keys(
    world: _World, clients: Clients, settings: Settings
) -> None:
    assert await world.keeper.issue(JOB, 2, INSTANCE)
    first = await _item(clients, settings, world)
    assert (first["job_id"], first["attempt"], first["instance_id"]) == (JOB, 2, INSTANCE)
    expires = datetime.fromisoformat(str(first["expires_at"]))
    assert int(str(first[TTL_ATTRIBUTE])) == int((expires + timedelta(hours=1)).timestamp())
    await world.keeper.renew_once()  # not due: the same keys
    assert (await _item(clients, settings, world))["access_key_id"] == first["access_key_id"]
    await world.clock.advance((expires - world.clock.now()).total_seconds() - REFRESH_AHEAD_S)
    await world.keeper.renew_once()
    renewed = await _item(clients, settings, world)
    assert renewed["access_key_id"] != first["access_key_id"]
    assert renewed["attempt"] == 2
    assert await world.keeper.issue(JOB, 3, "i-next")  # a later attempt elsewhere
    await world.keeper.renew_once()
    with pytest.raises(ItemNotFound):  # the earlier instance's keys are gone
        await _item(clients, settings, world)
    world.keeper.keep_only([])  # the job is no longer live
    await world.keeper.renew_once()
    with pytest.raises(ItemNotFound):
        await clients.dynamo.get_item(
            settings.credentials_table, {"key": item_key(world.role_id, "i-next")}
        )


async def test_a_new_master_adopts_the_items_and_renews_them(
    world: _World, clients: Clients, settings: Settings
) -> None:
    await world.keeper.issue(JOB, 1, INSTANCE)
    again = KeyKeeper(
        issuer=JobCredentialIssuer(
            sts=world.accounts.sts, role_arn=world.role_arn, scope=Scope.of(settings)
        ),
        dynamo=clients.dynamo,
        table=settings.credentials_table,
        role_id=world.role_id,
        clock=world.clock,
    )
    await again.adopt()
    assert again.issued == {JOB: INSTANCE}


class _FailsOnce:
    """An issuer whose first call STS refuses."""

    def __init__(self, real: JobCredentialIssuer) -> None:
        self.real = real
        self.calls = 0

    async def issue(self, job_id: str, attempt: int) -> JobCredentials:
        self.calls += 1
        if self.calls == 1:
            raise ClientError({"Error": {"Code": "Throttling"}}, "AssumeRole")
        return await self.real.issue(job_id, attempt)


async def test_a_refused_issue_is_logged_then_retried_until_the_job_ends(
    world: _World, clients: Clients, settings: Settings
) -> None:
    failing = _FailsOnce(world.keeper._issuer)
    world.keeper._issuer = failing  # type: ignore[assignment]
    assert not await world.keeper.issue(JOB, 1, INSTANCE)
    assert world.keeper.issued == {}
    await world.keeper.renew_once()  # tried again, and it lands
    assert world.keeper.issued == {JOB: INSTANCE}
    assert (await _item(clients, settings, world))["job_id"] == JOB
    assert not await world.keeper.issue("j-*", 1, "i-other")  # no policy can name it
    world.keeper.keep_only([JOB])  # that one is not live: no more tries
    await world.keeper.renew_once()
    assert failing.calls == 3


async def _instance_settings(world: _World, settings: Settings) -> Settings:
    """The settings of a worker whose only keys are its instance profile's."""
    answer = await world.accounts.sts.assume_role(
        RoleArn=world.role_arn, RoleSessionName=INSTANCE, DurationSeconds=3600
    )
    keys = answer["Credentials"]
    return settings.replace(
        aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"]
    )


async def test_the_worker_signs_every_client_with_its_session_key(
    world: _World, settings: Settings
) -> None:
    await world.keeper.issue(JOB, 1, INSTANCE)
    issued = world.keeper._issued[JOB].keys.access_key_id
    instance = await _instance_settings(world, settings)
    signed: list[object] = []
    async with (
        job_key_provider(instance, settings.credentials_table, world.clock) as provider,
        open_clients(instance, provider=provider) as opened,
    ):
        opened.s3.meta.events.register(
            "before-send.s3", lambda request, **_: signed.append(request.headers["Authorization"])
        )
        await opened.s3.list_buckets()
        dynamo_key = await opened.dynamo.credentials.get_key(opened.http)
    assert dynamo_key is not None
    assert dynamo_key.id == issued
    assert f"Credential={issued}/" in str(signed[0])
    assert issued != instance.aws_access_key_id


async def test_the_worker_rereads_its_item_and_gives_up_past_its_wait(
    world: _World, settings: Settings
) -> None:
    async with get_session().create_client("dynamodb", **client_kwargs(settings)) as dynamo:  # type: ignore[call-overload]
        reader = JobKeyReader(
            dynamo=dynamo,
            table=settings.credentials_table,
            key=item_key(world.role_id, INSTANCE),
            clock=world.clock,
            wait_s=0,
        )
        with pytest.raises(NoJobKeys):  # the master wrote nothing for this instance
            await reader.wait()
        await world.keeper.issue(JOB, 1, INSTANCE)
        first = await reader.wait()
        due = first.expires_at - timedelta(seconds=REFRESH_AHEAD_S)
        await world.clock.advance((due - world.clock.now()).total_seconds())
        await world.keeper.renew_once()
        assert (await reader.metadata())["access_key"] != first.access_key_id
