"""A launcher for tests, built as the master builds it: after the account set-up of `cbas
bootstrap` in moto, so its requests name the real instance profile and security group."""

from __future__ import annotations

from cbas_async.account import open_account_clients, set_up_account
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.fleet.launcher import Launcher
from cbas_async.master.wiring import make_launcher
from cbas_async.settings import Settings


async def account_launcher(clients: Clients, settings: Settings, resources: Resources) -> Launcher:
    async with open_account_clients(settings) as accounts:
        await set_up_account(clients, accounts, settings, resources)
    return await make_launcher(clients, settings)
