"""A deployment in two regions on the session's moto server (us-east-1 the home region,
us-west-2 the other), for the tests of bootstrap, teardown and doctor across regions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cbas_async import __version__
from cbas_async.account import AccountClients
from cbas_async.aws import Clients, open_region_clients
from cbas_async.settings import Settings
from cbas_async.setup_regions import bootstrap_everywhere, open_region_accounts

HOME, WEST = "us-east-1", "us-west-2"
Opened = tuple[dict[str, Clients], dict[str, AccountClients]]


def two_regions(settings: Settings) -> Settings:
    return settings.replace(regions=(HOME, WEST))


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Opened]:
    """The clients and the account clients of each region, by region."""
    async with open_region_clients(settings) as clients, open_region_accounts(settings) as acc:
        yield clients, acc


def a_wheel(folder: Path) -> Path:
    wheel = folder / f"cbas_async-{__version__}-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    return wheel


async def deploy(everywhere: Opened, settings: Settings, folder: Path) -> dict[str, Any]:
    """`cbas bootstrap` in every region, with a wheel of this version; what it made."""
    clients, accounts = everywhere
    return await bootstrap_everywhere(clients, accounts, settings, a_wheel(folder))
