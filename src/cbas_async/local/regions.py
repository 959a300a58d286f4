"""The local cloud's regions, set up as `cbas bootstrap` sets up a deployment: in each region
its bucket, queues, topics, EventBridge rules, workers' security group and the events
queue's subscription; the tables in the home region (`setup_regions.py`, idempotent)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from cbas_async import setup_regions
from cbas_async.account import Account, AccountClients
from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import Resources, bootstrap_regions
from cbas_async.settings import Settings
from cbas_async.setup_regions import open_region_accounts
from cbas_async.spot_role import make_spot_role_as_aws_names_it


@dataclass(frozen=True, slots=True)
class LocalRegion:
    """One region of the local cloud: its clients (S3, SQS, SNS, EC2 there) and resources."""

    name: str
    clients: Clients
    resources: Resources


@dataclass(frozen=True, slots=True)
class LocalRegions:
    """Every region, the home region first; the account as the home region's set-up made it."""

    regions: dict[str, LocalRegion]
    account: Account
    accounts: AccountClients  # IAM, EventBridge and STS in the home region

    @property
    def home(self) -> LocalRegion:
        return next(iter(self.regions.values()))


async def set_up_regions(stack: AsyncExitStack, settings: Settings) -> LocalRegions:
    """Bootstrap every region of `settings` as `cbas bootstrap` does (the home region first,
    each region's roles knowing every region's bucket); clients stay open on `stack`."""
    opened = await stack.enter_async_context(open_region_clients(settings))
    accounts = await stack.enter_async_context(open_region_accounts(settings))
    resources = await bootstrap_regions(opened, settings)
    # the launch names the spot role as AWS does, once per account
    await make_spot_role_as_aws_names_it(accounts[settings.home_region].iam)
    made = await setup_regions.set_up_regions(opened, accounts, settings, resources)
    regions = {
        name: LocalRegion(name, opened[name], resources[name]) for name in settings.all_regions
    }
    home = settings.home_region
    return LocalRegions(regions, made[home], accounts[home])
