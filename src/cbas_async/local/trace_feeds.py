"""What a replayed trace feeds besides interruptions: the local EC2's spot price history
(`local.price_board`) and the launches its capacity refuses (`local.ec2_faults`).

`PricedMarket` is the current era with prices: the self-describing zone traces
(`spot.zone_trace`, e.g. `shared/data/regions/`) say per tick whether a zone has capacity and
what spot costs there. Its replay starts a week into the trace, as a price CSV's does, so the
master's first read of the price history already has a week of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from cbas_async.clock import Clock
from cbas_async.errors import ConfigError
from cbas_async.local.ec2_faults import ALL_ZONES, CapacityOutage
from cbas_async.local.moto_server import MotoServer
from cbas_async.local.price_board import PriceTrack
from cbas_async.local.spot_market import (
    CapacityMarket,
    Interrupting,
    LocalMarket,
    PriceMarket,
    Targets,
    TraceMarket,
    load_trace_market,
    market_timeline,
)
from cbas_async.spot.availability import AvailabilityHistory, AvailabilitySeries
from cbas_async.spot.history import PriceHistory, epoch_s
from cbas_async.spot.replay import ReplayTimeline
from cbas_async.spot.zone_trace import ZoneTrace, describes_itself, read_zone_trace

# the priced traces beside the checkout (`shared/data/regions/`), replayed by default
SHARED_REGION_TRACES = (
    Path(__file__).resolve().parents[4] / "shared" / "data" / "regions" / "aws-02-15-2023"
)


class PricedMarket(CapacityMarket):
    """Reclaims as the capacity market does; its traces also carry the region and prices."""

    warm_up = True

    def __init__(self, zones: Sequence[ZoneTrace]) -> None:
        super().__init__(
            AvailabilityHistory(
                {
                    (z.zone, z.instance_type): AvailabilitySeries(
                        z.start_s, z.gap_s, z.available.astype(np.int64)
                    )
                    for z in zones
                }
            )
        )
        self.zones = list(zones)

    def regions(self) -> list[str]:
        return sorted({z.region for z in self.zones})

    def region_of(self, zone: str) -> str:
        found = [z.region for z in self.zones if z.zone == zone]
        return found[0] if found else self.history.region_of(zone)

    def price_tracks(self, timeline: ReplayTimeline) -> list[PriceTrack]:
        """Each zone's prices as EC2 publishes them, at the wall times the replay shows."""
        tracks = []
        for z in self.zones:
            if z.prices is None:
                continue
            ticks = z.start_s + z.gap_s * np.arange(len(z.prices), dtype=np.float64)
            tracks.append(
                PriceTrack.of_changes(
                    region=z.region,
                    zone=z.zone,
                    instance_type=z.instance_type,
                    times_s=[timeline.wall_s(t) for t in ticks],
                    prices=z.prices,
                )
            )
        return tracks


def csv_price_tracks(history: PriceHistory, timeline: ReplayTimeline) -> list[PriceTrack]:
    """A price CSV's series as the local EC2 publishes them."""
    tracks = []
    for zone, instance_type in history.series_keys():
        series = history.series(zone, instance_type)
        tracks.append(
            PriceTrack.of_changes(
                region=history.region_of(zone),
                zone=zone,
                instance_type=instance_type,
                times_s=[timeline.wall_s(t) for t in series.times_s],
                prices=series.prices_usd_per_hour,
            )
        )
    return tracks


def market_price_tracks(market: TraceMarket, timeline: ReplayTimeline) -> list[PriceTrack]:
    """What the local EC2's price history shows for a replayed market (none: no prices)."""
    if isinstance(market, PricedMarket):
        return market.price_tracks(timeline)
    if isinstance(market, PriceMarket):
        return csv_price_tracks(market.history, timeline)
    return []


def load_market(paths: Sequence[Path]) -> TraceMarket:
    """Self-describing zone traces (files, or folders of them) make a `PricedMarket`; else
    one price CSV, availability JSON or folder of them (`load_trace_market`). ValueError
    for a mix, or several paths that are not all self-describing."""
    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    if files and all(f.suffix == ".json" and describes_itself(f) for f in files):
        return PricedMarket([read_zone_trace(f) for f in files])
    if len(paths) != 1:
        raise ValueError("several traces must all be self-describing zone traces (JSON)")
    return load_trace_market(paths[0])


class TraceCapacity:
    """The launch side of a capacity trace, for the fault gate: a spot launch into a zone
    without capacity now gets `InsufficientInstanceCapacity`. A launch that names no zone, or
    a zone the trace does not cover, is refused only when every zone the trace has for its
    type in that region is out (the trace stands for the region)."""

    def __init__(
        self,
        market: CapacityMarket,
        timeline: ReplayTimeline,
        now: Callable[[], datetime],
        region_of: Callable[[str], str] | None = None,
    ) -> None:
        self._history = market.history
        self._timeline = timeline
        self._now = now
        self._region_of = region_of or self._history.region_of

    def outages(self, region: str) -> list[CapacityOutage]:
        trace_s = self._timeline.trace_s(self._now())
        out: list[CapacityOutage] = []
        for instance_type in self._history.instance_types():
            zones = [z for z in self._history.zones(instance_type) if self._region_of(z) == region]
            gone = [z for z in zones if self._out(z, instance_type, trace_s)]
            out += [CapacityOutage(z, instance_type, "spot", math.inf) for z in gone]
            if zones and len(gone) == len(zones):
                out.append(CapacityOutage(ALL_ZONES, instance_type, "spot", math.inf))
        return out

    def _out(self, zone: str, instance_type: str, trace_s: float) -> bool:
        series = self._history.series(zone, instance_type)
        return series.start_s <= trace_s < series.end_s and not series.available_at(trace_s)


def replay_market(
    paths: Sequence[Path],
    *,
    epoch: datetime,
    speed: float,
    targets: Targets,
    interrupter: Interrupting,
    clock: Clock,
    moto: MotoServer,
) -> LocalMarket:
    """The local market replaying `paths`, its prices shown as the local EC2's price history
    and its capacity refusing launches (a capacity trace's)."""
    market = load_market(paths)
    timeline = market_timeline(market, epoch=epoch, speed=speed)
    moto.prices.publish(market_price_tracks(market, timeline), now_s=lambda: epoch_s(clock.now()))
    if isinstance(market, CapacityMarket) and moto.faults.ec2 is not None:
        region_of = market.region_of if isinstance(market, PricedMarket) else None
        moto.faults.ec2.follow(TraceCapacity(market, timeline, clock.now, region_of))
    return LocalMarket(
        market=market, timeline=timeline, targets=targets, interrupter=interrupter, clock=clock
    )


def region_traces(regions: Sequence[str], folder: Path = SHARED_REGION_TRACES) -> list[Path]:
    """The shared priced traces of `regions` (`shared/data/regions/`); ConfigError when
    there are none."""
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    chosen = [f for f in files if read_zone_trace(f).region in regions]
    if not chosen:
        raise ConfigError(
            "--trace", f"no priced traces of {', '.join(regions)} in {folder}: name them"
        )
    return chosen
