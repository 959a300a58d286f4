"""Trace files that describe themselves: availability (and spot prices) of one zone, with
its region, instance type, start and on-demand price in `metadata`.

    {"metadata": {"gap_seconds": 195, "start": "2023-02-15T00:00:00Z", "zone": "us-east-1a",
                  "region": "us-east-1", "instance_type": "p3.2xlarge",
                  "ondemand_usd_per_hour": 3.06},
     "data": [1, 0, ...], "prices": [1.67, 1.67, ...]}

Such a file's name and folder need no particular form. `prices` (spot USD/h per sample) is
optional: without it the caller's flat spot price stands in. Every file of one trace shares
the sample gap, and their starts lie on one grid; the trace covers where all are known.
Its on-demand price is the cheapest region's (on-demand runs wherever the job is). The files
are read by `spot/zone_trace.py` (the local cloud's market replays them too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.eras import CURRENT_ERA
from cbas_async.spot.zone_trace import (
    TraceFileError,
    ZoneTrace,
    describes_itself,
    read_zone_trace,
)

__all__ = [
    "TraceFileError",
    "ZoneTrace",
    "describes_itself",
    "read_zone_trace",
    "trace_from_zone_files",
]
FloatArray = npt.NDArray[np.float64]


def trace_from_zone_files(
    zones: Sequence[ZoneTrace],
    *,
    spot_usd_per_hour: float | None,
    ondemand_usd_per_hour: float | None = None,
) -> MarketTrace:
    """One market over the span every zone covers; zones in the order given."""
    if not zones:
        raise TraceFileError("no trace files")
    names = [z.zone for z in zones]
    if len(set(names)) < len(names):
        raise TraceFileError("two trace files describe the same zone")
    gap_s = zones[0].gap_s
    if any(z.gap_s != gap_s for z in zones):
        raise TraceFileError("the trace files have different gap_seconds")
    first = max(z.start_s for z in zones)
    end = min(z.start_s + z.gap_s * len(z.available) for z in zones)
    offsets = [(first - z.start_s) / gap_s for z in zones]
    if any(abs(o - round(o)) > 1e-9 for o in offsets):
        raise TraceFileError("the trace files' starts are not on one grid of gap_seconds")
    steps = round((end - first) / gap_s)
    if steps < 1:
        raise TraceFileError("the trace files share no sample")
    rows = [slice(round(o), round(o) + steps) for o in offsets]
    prices = np.vstack(
        [_prices(z, spot_usd_per_hour)[row] for z, row in zip(zones, rows, strict=True)]
    )
    return MarketTrace(
        instance_type=zones[0].instance_type,
        zones=tuple(z.zone for z in zones),
        start_s=first,
        step_s=gap_s,
        price_start=prices,
        price_mean=prices.copy(),
        price_max=prices.copy(),
        available=np.vstack([z.available[row] for z, row in zip(zones, rows, strict=True)]),
        ondemand_usd_per_hour=ondemand_usd_per_hour or min(z.ondemand_usd_per_hour for z in zones),
        model=CURRENT_ERA,
        regions=tuple(z.region for z in zones),
    )


def _prices(zone: ZoneTrace, spot_usd_per_hour: float | None) -> FloatArray:
    if zone.prices is not None:
        return zone.prices
    if spot_usd_per_hour is None:
        raise TraceFileError(f"the trace of {zone.zone} carries no prices: give --spot-price USD")
    return np.full(len(zone.available), spot_usd_per_hour)
