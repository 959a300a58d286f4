"""The price fetcher: refreshes the master's `PriceBook` from a `PriceSource` every few
minutes and publishes `PricesUpdated`; the choice of source (EC2, or a replayed trace); and
one feed per region of the deployment, for placement across regions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.errors import CbasError
from cbas_async.events import PricesUpdated
from cbas_async.loops import every
from cbas_async.settings import Settings
from cbas_async.spot.eras import model_for
from cbas_async.spot.history import from_epoch_s
from cbas_async.spot.pricebook import PriceBook, ondemand_prices
from cbas_async.spot.prices import Ec2PriceSource, PriceSource
from cbas_async.spot.replay import WARMUP, ReplayPriceSource

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

log = structlog.get_logger(__name__)


class PriceFetcher:
    """Merges new spot prices into the shared book; one fetch per `interval_s`."""

    name = "price-fetcher"

    def __init__(
        self,
        *,
        source: PriceSource,
        book: PriceBook,
        bus: Bus,
        clock: Clock,
        interval_s: float,
        backfill: timedelta | None = None,
        name: str = "price-fetcher",
    ) -> None:
        """`backfill`: how far back the first fetch reaches (None: all the source has)."""
        self.name = name
        self._source = source
        self._book = book
        self._bus = bus
        self._clock = clock
        self._interval_s = interval_s
        self._backfill = backfill

    async def run(self, stopping: asyncio.Event) -> None:
        # `refresh` logs the failures it expects; anything else ends the master
        await every(
            self._interval_s, self.refresh, stopping=stopping, clock=self._clock, log_event=None
        )

    async def refresh(self) -> int:
        """`fetch_once`, logging instead of raising (the old prices stay in use)."""
        try:
            return await self.fetch_once()
        except CbasError as exc:
            log.warning("price_fetch_failed", error=str(exc))
            return 0

    async def fetch_once(self) -> int:
        """Fetch from the newest price held, merge, publish; returns the number of new points.
        Raises what the source raises (TransientError, PermanentError)."""
        since = self._latest()
        points = await self._source.fetch(since=since)
        fresh = [p for p in points if since is None or p.timestamp > since]
        now = self._clock.now()
        self._book.updated_at = now
        if not fresh:
            return 0
        self._book.history = await asyncio.to_thread(self._book.history.merge, fresh)
        await self._bus.publish(PricesUpdated(points=len(fresh), at=now))
        log.info("prices_updated", points=len(fresh))
        return len(fresh)

    def _latest(self) -> datetime | None:
        history = self._book.history
        last = [history.series(*key).last_s for key in history.series_keys()]
        if last:
            return from_epoch_s(max(last))
        return None if self._backfill is None else self._clock.now() - self._backfill


async def open_price_source(
    settings: Settings, *, ec2: EC2Client, clock: Clock
) -> tuple[PriceSource, PriceBook]:
    """The source and an empty book: a replayed `CBAS_PRICE_TRACE` (trace time mapped onto
    `CBAS_TRACE_EPOCH`, or now, at `CBAS_SPEED`), else EC2 for the built-in types."""
    if settings.price_trace is not None:
        replay = await ReplayPriceSource.load(
            settings.price_trace,
            epoch=settings.trace_epoch or clock.now(),
            speed=settings.speed,
            clock=clock,
        )
        origin = replay.timeline.origin
        prices = ondemand_prices(settings.ondemand_csv, near=origin, region=settings.region)
        return replay, PriceBook(model=model_for(origin), ondemand=prices)
    prices = ondemand_prices(settings.ondemand_csv, near=clock.now(), region=settings.region)
    source = Ec2PriceSource(ec2, settings.region, sorted(prices))
    return source, PriceBook(model=model_for(clock.now()), ondemand=prices)


@dataclass(frozen=True, slots=True)
class PriceFeed:
    """The master's price feed: the shared price book and the component that refreshes it."""

    book: PriceBook
    fetcher: PriceFetcher


async def open_price_feed(
    settings: Settings, *, ec2: EC2Client, bus: Bus, clock: Clock, name: str = "price-fetcher"
) -> PriceFeed:
    """Build the feed and fetch once, so the first placements already see prices (a failed
    fetch only logs: placement then falls back to on-demand-capped spot)."""
    source, book = await open_price_source(settings, ec2=ec2, clock=clock)
    fetcher = PriceFetcher(
        source=source,
        book=book,
        bus=bus,
        clock=clock,
        interval_s=settings.price_refresh_s,
        backfill=None if settings.price_trace else WARMUP,
        name=name,
    )
    await fetcher.refresh()
    return PriceFeed(book, fetcher)


@dataclass(frozen=True, slots=True)
class RegionPrices:
    """A price feed per region of the deployment; `own` names this master's region, whose
    feed is the one it places in and prices attempts with."""

    own: str
    feeds: Mapping[str, PriceFeed]

    @property
    def books(self) -> dict[str, PriceBook]:
        return {region: feed.book for region, feed in self.feeds.items()}

    @property
    def other_fetchers(self) -> list[PriceFetcher]:
        """The fetchers of the other regions (the own one already runs as today's)."""
        return [feed.fetcher for region, feed in self.feeds.items() if region != self.own]


async def open_region_prices(
    settings: Settings,
    *,
    own: PriceFeed,
    ec2: Mapping[str, EC2Client],
    bus: Bus,
    clock: Clock,
) -> RegionPrices:
    """`own` for this master's region and a feed for each other region of the deployment,
    from that region's EC2 client in `ec2` (or, with `CBAS_PRICE_TRACE`, the trace with
    that region's on-demand prices), each fetched once; one region: just `own`."""
    others = [r for r in settings.all_regions if r != settings.region]
    async with asyncio.TaskGroup() as group:
        opening = {
            region: group.create_task(
                open_price_feed(
                    settings.in_region(region),
                    ec2=ec2[region],
                    bus=bus,
                    clock=clock,
                    name=f"price-fetcher:{region}",
                )
            )
            for region in others
        }
    feeds = {settings.region: own} | {region: task.result() for region, task in opening.items()}
    return RegionPrices(own=settings.region, feeds=feeds)
