"""A master of a deployment over two regions, opened against moto: a price fetcher for the
other region runs beside its own, and it has a launcher and a region watcher for the other
region (with one region, `test_intake.py` opens the master)."""

from __future__ import annotations

from cbas_async.aws import open_clients
from cbas_async.bootstrap import bootstrap
from cbas_async.fleet.launcher import Launcher
from cbas_async.master.app import open_master
from cbas_async.master.region_watch import RegionWatcher
from cbas_async.settings import Settings
from tests.launching import account_launcher


async def test_a_master_of_two_regions_prices_both(
    launcher: Launcher, master_settings: Settings
) -> None:
    assert launcher is not None  # the account set-up the master's launch config needs
    two = master_settings.replace(http_port=0, regions=("us-east-1", "us-west-2"))
    west = two.in_region("us-west-2")
    async with open_clients(west) as clients:  # the master launches there too: bootstrapped
        await account_launcher(clients, west, await bootstrap(clients, west))
    async with open_master(two) as master:
        names = [c.name for c in master.components]
        assert [n for n in names if n.startswith("price-fetcher")] == [
            "price-fetcher",
            "price-fetcher:us-west-2",
        ]
        assert set(master.others) == {"us-west-2"}
        assert master.others["us-west-2"].launcher.region == "us-west-2"
        assert names.count(RegionWatcher.name) == 1
