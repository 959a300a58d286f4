"""`cbas bootstrap` makes EC2's spot service-linked role where the account lacks it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cbas_async.account import AccountClients, open_account_clients
from cbas_async.settings import Settings
from cbas_async.spot_role import (
    SPOT_ROLE,
    SPOT_ROLE_PATH,
    ensure_spot_role,
    make_spot_role_as_aws_names_it,
    spot_role_exists,
)


@pytest.fixture
async def accounts(settings: Settings) -> AsyncIterator[AccountClients]:
    async with open_account_clients(settings) as opened:
        yield opened


async def _spot_roles(accounts: AccountClients) -> list[str]:
    found = await accounts.iam.list_roles(PathPrefix=SPOT_ROLE_PATH)
    return [role["RoleName"] for role in found["Roles"]]


async def test_a_missing_role_is_made_through_the_service_linked_role_call(
    accounts: AccountClients,
) -> None:
    assert await _spot_roles(accounts) == []
    await ensure_spot_role(accounts.iam)
    assert len(await _spot_roles(accounts)) == 1  # moto names it differently from AWS
    await ensure_spot_role(accounts.iam)  # tried again (moto's name), taken: no error
    assert len(await _spot_roles(accounts)) == 1


async def test_a_role_the_account_has_is_left_alone(accounts: AccountClients) -> None:
    await make_spot_role_as_aws_names_it(accounts.iam)
    assert await spot_role_exists(accounts.iam)
    await ensure_spot_role(accounts.iam)
    await make_spot_role_as_aws_names_it(accounts.iam)
    assert await _spot_roles(accounts) == [SPOT_ROLE]
