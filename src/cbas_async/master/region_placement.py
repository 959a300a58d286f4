"""The master's placement across regions, wired: a price feed per region, the region chooser
(each region priced with its own book, the live regions read from the leases) and the
proactive move checker. With one region there is one feed and neither of the others, so a
one-region master runs exactly as before."""

from __future__ import annotations

from collections.abc import Mapping

from cbas_async.aws import Clients
from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.fleet.checkpoint_copy import CheckpointCopier
from cbas_async.fleet.lease import live_regions
from cbas_async.fleet.pools import PoolBook
from cbas_async.handlers.mover import JobMover
from cbas_async.handlers.moves import MoveChecker
from cbas_async.handlers.regions import RegionChooser, TransferRates
from cbas_async.master.price_fetcher import PriceFeed, RegionPrices, open_region_prices
from cbas_async.settings import Settings
from cbas_async.spot.pricebook import PriceBook
from cbas_async.store import JobStore


def make_region_chooser(
    settings: Settings,
    *,
    books: Mapping[str, PriceBook],
    store: JobStore,
    clock: Clock,
    pools: PoolBook | None = None,
    copier: CheckpointCopier | None = None,
) -> RegionChooser | None:
    """Placement across the deployment's regions, each priced with its book; the live ones
    are those with a master's lease; a move's copy time at the rate `copier`'s copies
    measured, else `CBAS_TRANSFER_MIB_S`. None with one region: nothing changes."""
    if len(settings.all_regions) < 2:
        return None

    async def live() -> set[str]:
        return await live_regions(store, clock.now().timestamp())

    return RegionChooser(
        books=books,
        own=settings.region,
        home=settings.home_region,
        clock=clock,
        live=live,
        rates=TransferRates(
            egress_usd_per_gib=settings.egress_usd_per_gib,
            transfer_mib_s=settings.transfer_mib_s,
            meter=copier.meter if copier is not None else None,
        ),
        pools=pools,
    )


def make_move_checker(
    settings: Settings, chooser: RegionChooser | None, *, mover: JobMover, clock: Clock
) -> MoveChecker | None:
    """Proactive moves of running jobs, weighed every `CBAS_MOVE_CHECK_S`; None with one region."""
    if chooser is None:
        return None
    return MoveChecker(chooser=chooser, mover=mover, clock=clock, interval_s=settings.move_check_s)


async def region_price_feeds(
    settings: Settings,
    regional: Mapping[str, Clients],
    own: PriceFeed,
    bus: Bus,
    clock: Clock,
) -> RegionPrices:
    """A price feed per region of the deployment, each on its region's clients
    (`regional`, by region); with one region just `own`."""
    ec2 = {region: c.ec2 for region, c in regional.items() if region in settings.all_regions}
    return await open_region_prices(settings, own=own, ec2=ec2, bus=bus, clock=clock)
