"""The price fetcher: a replayed trace (pure, FakeClock) and EC2 (against moto)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cbas_async.aws import Clients, open_region_clients
from cbas_async.bus import Bus
from cbas_async.events import Event, PricesUpdated
from cbas_async.master.price_fetcher import (
    PriceFetcher,
    open_price_feed,
    open_price_source,
    open_region_prices,
)
from cbas_async.master.region_placement import region_price_feeds
from cbas_async.settings import Settings
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from cbas_async.spot.pricebook import PriceBook, ondemand_prices
from cbas_async.spot.prices import Ec2PriceSource
from cbas_async.spot.replay import WARMUP, ReplayPriceSource, ReplayTimeline
from tests.fakes import FakeClock

WALL = datetime(2026, 11, 27, 12, tzinfo=UTC)
HEADER = "timestamp,region,availability_zone,instance_type,product_description,price_usd_per_hour\n"


def write_trace(tmp: Path) -> Path:
    """c5.large in one zone: 0.03 from day 0, 0.05 from day 7 + 1 h, 0.04 from day 7 + 3 h."""
    rows = [
        "2021-03-01T00:00:00Z,us-east-1,us-east-1a,c5.large,Linux/UNIX,0.03",
        "2021-03-08T01:00:00Z,us-east-1,us-east-1a,c5.large,Linux/UNIX,0.05",
        "2021-03-08T03:00:00Z,us-east-1,us-east-1a,c5.large,Linux/UNIX,0.04",
    ]
    path = tmp / "trace.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def published(bus: Bus, collector: Collector) -> list[Event]:
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.run(stopping))
        await bus.drain()
        stopping.set()
    return collector.events


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll until `check` holds (the merge runs in a worker thread), failing at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_timeline_maps_trace_time_onto_the_wall_clock() -> None:
    timeline = ReplayTimeline(origin_s=1000.0, epoch_s=WALL.timestamp(), speed=10.0)
    assert timeline.trace_s(WALL + timedelta(seconds=6)) == 1060.0
    assert timeline.wall_s(1060.0) == WALL.timestamp() + 6


async def test_a_replayed_trace_publishes_points_as_their_time_comes(tmp_path: Path) -> None:
    clock = FakeClock(WALL)
    source = await ReplayPriceSource.load(
        write_trace(tmp_path), epoch=WALL, speed=60.0, clock=clock
    )
    assert source.timeline.origin == datetime(2021, 3, 1, tzinfo=UTC) + WARMUP
    book = PriceBook(model=CURRENT_ERA, ondemand={})
    bus, collector = Bus(), Collector()
    bus.subscribe("prices", collector)
    fetcher = PriceFetcher(source=source, book=book, bus=bus, clock=clock, interval_s=60)
    assert await fetcher.fetch_once() == 1  # only the warm-up point is in the past
    assert book.history.price_at("us-east-1a", "c5.large", WALL) == 0.03
    await clock.advance(60)  # one trace hour at 60x
    assert await fetcher.fetch_once() == 1
    assert book.history.price_at("us-east-1a", "c5.large", clock.now()) == 0.05
    assert await fetcher.fetch_once() == 0  # nothing new: nothing merged or published
    events = await published(bus, collector)
    assert [e.points for e in events if isinstance(e, PricesUpdated)] == [1, 1]


async def test_run_refreshes_every_interval(tmp_path: Path) -> None:
    clock = FakeClock(WALL)
    source = await ReplayPriceSource.load(
        write_trace(tmp_path), epoch=WALL, speed=60.0, clock=clock
    )
    book = PriceBook(model=CURRENT_ERA, ondemand={})
    fetcher = PriceFetcher(source=source, book=book, bus=Bus(), clock=clock, interval_s=180)
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(fetcher.run(stopping))
        await eventually(lambda: book.history.has("us-east-1a", "c5.large") and clock.sleepers > 0)
        assert book.history.price_at("us-east-1a", "c5.large", clock.now()) == 0.03
        await clock.advance(180)  # three trace hours: both later points are out
        await eventually(lambda: len(book.history.series("us-east-1a", "c5.large").times_s) == 3)
        prices = book.history.series("us-east-1a", "c5.large").prices_usd_per_hour
        assert prices.tolist() == [0.03, 0.05, 0.04]
        stopping.set()


async def test_the_feed_follows_the_settings(tmp_path: Path, clients: Clients) -> None:
    trace = write_trace(tmp_path)
    ondemand = tmp_path / "ondemand.csv"
    ondemand.write_text(
        "region,instance_type,product_description,price_usd_per_hour,as_of\n"
        "us-east-1,c5.large,Linux/UNIX,0.07,2021-01-01\n"
        "us-east-1,c5.large,Linux/UNIX,0.09,2025-01-01\n"
    )
    clock = FakeClock(WALL)
    settings = Settings(price_trace=trace, ondemand_csv=ondemand, trace_epoch=WALL)
    source, book = await open_price_source(settings, ec2=clients.ec2, clock=clock)
    assert isinstance(source, ReplayPriceSource)
    assert book.model is CURRENT_ERA  # the trace is from 2021
    assert book.ondemand["c5.large"] == 0.07  # the row nearest the trace
    assert book.ondemand["m5.large"] == 0.096  # built in
    source, book = await open_price_source(Settings(), ec2=clients.ec2, clock=clock)
    assert isinstance(source, Ec2PriceSource)
    assert book.ondemand == ondemand_prices(None, near=None)


async def test_bid_era_trace_gives_the_bid_era_model(tmp_path: Path, clients: Clients) -> None:
    trace = tmp_path / "old.csv"
    trace.write_text(
        HEADER + "2015-03-11T00:00:00Z,us-east-1,us-east-1a,m3.medium,Linux/UNIX,0.01\n"
    )
    settings = Settings(price_trace=trace)
    _, book = await open_price_source(settings, ec2=clients.ec2, clock=FakeClock(WALL))
    assert book.model is BID_ERA


async def test_ec2_prices_from_moto_are_merged(settings: Settings, clients: Clients) -> None:
    clock = FakeClock(WALL)
    feed = await open_price_feed(
        settings.replace(price_trace=None), ec2=clients.ec2, bus=Bus(), clock=clock
    )
    # moto's placeholder history is from 2006, before the 7-day backfill: nothing is merged,
    # but the fetch went through EC2 and the book was stamped
    assert feed.book.updated_at == WALL
    assert feed.book.history.series_keys() == []
    assert feed.fetcher.name == "price-fetcher"


def test_settings_read_the_spot_variables(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CBAS_PRICE_TRACE": str(tmp_path / "t.csv"),
            "CBAS_TRACE_EPOCH": "2026-11-27T12:00:00Z",
            "CBAS_ONDEMAND_CSV": str(tmp_path / "o.csv"),
            "CBAS_PRICE_REFRESH_S": "60",
        }
    )
    assert settings.price_trace == tmp_path / "t.csv"
    assert settings.trace_epoch == WALL
    assert settings.price_refresh_s == 60.0
    assert Settings.from_env(settings.to_env()).trace_epoch == WALL


def ondemand_by_region(tmp: Path) -> Path:
    path = tmp / "ondemand.csv"
    path.write_text(
        "region,instance_type,product_description,price_usd_per_hour,as_of\n"
        "us-east-1,c5.large,Linux/UNIX,0.085,2021-01-01\n"
        "us-west-2,c5.large,Linux/UNIX,0.095,2021-01-01\n"
    )
    return path


async def test_each_region_has_its_own_book_and_fetcher(tmp_path: Path, clients: Clients) -> None:
    clock = FakeClock(WALL)
    settings = Settings(
        regions=("us-east-1", "us-west-2"),
        price_trace=write_trace(tmp_path),
        ondemand_csv=ondemand_by_region(tmp_path),
        trace_epoch=WALL,
    )
    own = await open_price_feed(settings, ec2=clients.ec2, bus=Bus(), clock=clock)
    ec2 = {"us-east-1": clients.ec2, "us-west-2": clients.ec2}
    prices = await open_region_prices(settings, own=own, ec2=ec2, bus=Bus(), clock=clock)
    assert prices.books["us-east-1"] is own.book  # the book today's placement uses
    assert prices.books["us-west-2"].ondemand["c5.large"] == 0.095
    assert [f.name for f in prices.other_fetchers] == ["price-fetcher:us-west-2"]
    assert prices.books["us-west-2"].updated_at == WALL  # fetched once before placing
    alone = settings.replace(regions=())
    single = await open_region_prices(alone, own=own, ec2=ec2, bus=Bus(), clock=clock)
    assert (single.books, single.other_fetchers) == ({"us-east-1": own.book}, [])


async def test_the_master_prices_other_regions_through_their_ec2(
    tmp_path: Path, settings: Settings, clients: Clients
) -> None:
    clock = FakeClock(WALL)
    west = settings.replace(
        region="us-west-2",
        regions=("us-east-1", "us-west-2"),
        ondemand_csv=ondemand_by_region(tmp_path),
    )
    own = await open_price_feed(west, ec2=clients.ec2, bus=Bus(), clock=clock)
    async with open_region_clients(west) as regional:
        prices = await region_price_feeds(west, regional, own, Bus(), clock)
        east = prices.books["us-east-1"]
        assert east.ondemand["c5.large"] == 0.085
        assert east.updated_at == WALL  # asked us-east-1's EC2 (moto's history is too old)
        assert [f.name for f in prices.other_fetchers] == ["price-fetcher:us-east-1"]
