"""`cbas bootstrap`: the deployment in every region of `CBAS_REGIONS`, the home region first.
The tables once (home region); in each region the bucket, queues, topics and the account
set-up (`account.py`: roles named per region, security group, EventBridge rules, events
delivery, lifecycle rule), and this version's wheel in each region's bucket, since a worker
fetches it from its own region's. EC2's spot service-linked role is made once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from cbas_async.account import (
    Account,
    AccountClients,
    account_scope,
    open_account_clients,
    set_up_region,
)
from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import Resources, bootstrap_regions
from cbas_async.scope import Scope
from cbas_async.session_policy import printed_policies
from cbas_async.settings import Settings
from cbas_async.spot_role import ensure_spot_role
from cbas_async.wheels import this_wheel, upload_wheel


@asynccontextmanager
async def open_region_accounts(settings: Settings) -> AsyncIterator[dict[str, AccountClients]]:
    """IAM, EventBridge and STS for each region of the deployment, by region."""
    async with AsyncExitStack() as stack:
        yield {
            region: await stack.enter_async_context(
                open_account_clients(settings.in_region(region))
            )
            for region in settings.all_regions
        }


def region_settings(settings: Settings, region: str) -> Settings:
    """The settings of `region` for its set-up: `CBAS_SUBNET_ID` names a subnet of the
    region the command runs in; every other region's workers use its default VPC."""
    if region == settings.region:
        return settings
    return settings.in_region(region).replace(subnet_id=None)


async def set_up_regions(
    clients: Mapping[str, Clients],
    accounts: Mapping[str, AccountClients],
    settings: Settings,
    resources: Mapping[str, Resources],
) -> dict[str, Account]:
    """The account set-up of every region; each region's roles may use what their
    process needs of every region (`policies.py`), so each scope knows every bucket."""
    await ensure_spot_role(accounts[settings.home_region].iam)
    buckets = {region: made.bucket for region, made in resources.items()}
    done: dict[str, Account] = {}
    for region in settings.all_regions:
        here = region_settings(settings, region)
        scope = await account_scope(accounts[region], here, buckets[region], buckets)
        done[region] = await set_up_region(
            clients[region], accounts[region], scope, here, resources[region]
        )
    return done


async def bootstrap_everywhere(
    clients: Mapping[str, Clients],
    accounts: Mapping[str, AccountClients],
    settings: Settings,
    wheel: Path,
) -> dict[str, dict[str, Any]]:
    """Everything `cbas bootstrap` makes, by region: resources, account, wheel key."""
    resources = await bootstrap_regions(clients, settings)
    account = await set_up_regions(clients, accounts, settings, resources)
    made: dict[str, dict[str, Any]] = {}
    for region, found in resources.items():
        key = await upload_wheel(clients[region].s3, found.bucket, wheel)
        made[region] = {
            **dataclasses.asdict(found),
            **dataclasses.asdict(account[region]),
            "wheel_key": key,
        }
    return made


async def bootstrap_command(
    settings: Settings, *, print_policies: bool = False, wheel: Path | None = None
) -> int:
    """`cbas bootstrap [--print-policies] [--wheel FILE]`: print the policies (no AWS call),
    or set up the deployment's data resources and account resources in every region,
    upload this version's wheel (`wheel`, else found or built) and print what they are
    (one region: its names; several: by region)."""
    if print_policies:
        print(printed_policies(Scope.of(settings)))
        return 0
    wheel_file = await asyncio.to_thread(this_wheel, wheel)
    async with open_region_clients(settings) as clients, open_region_accounts(settings) as accounts:
        made = await bootstrap_everywhere(clients, accounts, settings, wheel_file)
    several = len(settings.all_regions) > 1
    print(json.dumps(made if several else made[settings.region], indent=2))
    return 0
