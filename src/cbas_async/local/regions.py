"""The local cloud's regions, set up as `cbas bootstrap` sets up a deployment: in each region
its queues, topics, EventBridge rules, workers' security group and the events queue's
subscription; the tables (and, for now, the one bucket) in the home region. Bootstrap is
called once per region here (`settings.in_region`), each call idempotent."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from cbas_async.account import Account, AccountClients, open_account_clients, set_up_account
from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.settings import Settings
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
    """Bootstrap every region of `settings` (the home region first); clients stay open on
    `stack`."""
    opened = await stack.enter_async_context(open_region_clients(settings))
    regions: dict[str, LocalRegion] = {}
    found: tuple[Account, AccountClients] | None = None
    for name in settings.all_regions:
        here = settings.in_region(name)
        resources = await bootstrap(opened[name], here)
        accounts = await stack.enter_async_context(open_account_clients(here))
        if found is None:  # the launch names the spot role as AWS does, once per account
            await make_spot_role_as_aws_names_it(accounts.iam)
        account = await set_up_account(opened[name], accounts, here, resources)
        found = found or (account, accounts)
        regions[name] = LocalRegion(name, opened[name], resources)
    assert found is not None, "settings name at least one region"
    return LocalRegions(regions, *found)
