"""IMDS hands a local instance the worker role's temporary keys (moto's STS), in the shape
botocore's own instance-metadata provider reads, and renews them before they expire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from botocore.utils import InstanceMetadataFetcher

from cbas_async.account import AccountClients, open_account_clients
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.local.instance_role import InstanceRole
from cbas_async.settings import Settings
from tests.fakes import FakeClock

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


async def _role(accounts: AccountClients, clock: FakeClock) -> InstanceRole:
    made = await accounts.iam.create_role(
        RoleName="t-worker", AssumeRolePolicyDocument=json.dumps(TRUST)
    )
    return InstanceRole(sts=accounts.sts, role_arn=made["Role"]["Arn"], clock=clock)


async def test_botocore_finds_the_role_keys_through_the_emulator(
    accounts: AccountClients,
) -> None:
    role = await _role(accounts, FakeClock())
    async with ImdsEmulator(role=role) as imds:
        imds.register("i-1", "{}", "us-east-1a")
        fetcher = InstanceMetadataFetcher(base_url=imds.endpoint("i-1"), timeout=5)
        found = await asyncio.to_thread(fetcher.retrieve_iam_role_credentials)
        assert found["role_name"] == "t-worker"
        assert found["access_key"].startswith("ASIA")  # temporary keys, with a token
        assert found["token"]
        assert role.issued_to == ["i-1"]
        imds.remove("i-1")
        assert role.issued_to == []


async def test_keys_are_renewed_before_they_expire(accounts: AccountClients) -> None:
    clock = FakeClock()
    role = await _role(accounts, clock)
    first = json.loads(await role.credentials("i-1"))
    assert json.loads(await role.credentials("i-1")) == first  # cached
    await clock.advance(timedelta(minutes=50).total_seconds())
    renewed = json.loads(await role.credentials("i-1"))
    assert renewed["AccessKeyId"] != first["AccessKeyId"]


async def test_without_a_role_imds_has_no_credentials() -> None:
    async with ImdsEmulator() as imds:
        imds.register("i-1", "{}", "us-east-1a")
        fetcher = InstanceMetadataFetcher(base_url=imds.endpoint("i-1"), timeout=5)
        assert await asyncio.to_thread(fetcher.retrieve_iam_role_credentials) == {}


async def test_an_instance_gets_the_role_of_its_regions_instance_profile(
    accounts: AccountClients,
) -> None:
    home = await _role(accounts, FakeClock())
    west = await accounts.iam.create_role(
        RoleName="t-west-worker", AssumeRolePolicyDocument=json.dumps(TRUST)
    )
    role = InstanceRole(
        sts=accounts.sts,
        role_arn=home.arn(),
        clock=FakeClock(),
        by_region={"us-west-2": west["Role"]["Arn"]},
    )
    async with ImdsEmulator(role=role) as imds:
        imds.register("i-w", "{}", "us-west-2a")
        imds.register("i-e", "{}", "us-east-1a")
        for instance_id, name in (("i-w", "t-west-worker"), ("i-e", "t-worker")):
            fetcher = InstanceMetadataFetcher(base_url=imds.endpoint(instance_id), timeout=5)
            found = await asyncio.to_thread(fetcher.retrieve_iam_role_credentials)
            assert found["role_name"] == name
