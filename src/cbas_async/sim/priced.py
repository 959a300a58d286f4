"""Trace files that describe themselves: availability (and spot prices) of one zone, with
its region, instance type, start and on-demand price in `metadata`.

    {"metadata": {"gap_seconds": 195, "start": "2023-02-15T00:00:00Z", "zone": "us-east-1a",
                  "region": "us-east-1", "instance_type": "p3.2xlarge",
                  "ondemand_usd_per_hour": 3.06},
     "data": [1, 0, ...], "prices": [1.67, 1.67, ...]}

Such a file's name and folder need no particular form. `prices` (spot USD/h per sample) is
optional: without it the caller's flat spot price stands in. Every file of one trace shares
the sample gap, and their starts lie on one grid; the trace covers where all are known.
Its on-demand price is the cheapest region's (on-demand runs wherever the job is).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cbas_async.clock import parse_utc
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.eras import CURRENT_ERA
from cbas_async.spot.history import epoch_s

FloatArray = npt.NDArray[np.float64]
REQUIRED = ("gap_seconds", "start", "zone", "region", "instance_type", "ondemand_usd_per_hour")


class TraceFileError(ValueError):
    """A trace file that cannot be read as a self-describing trace; the message names it."""


@dataclass(frozen=True, slots=True, eq=False)
class ZoneTrace:
    """One file: capacity (and spot price, or None) per sample from `start_s`."""

    zone: str
    region: str
    instance_type: str
    ondemand_usd_per_hour: float
    start_s: float
    gap_s: float
    available: npt.NDArray[np.bool_]
    prices: FloatArray | None


def describes_itself(path: Path) -> bool:
    """Whether the file's metadata names its zone (so it is read here)."""
    return "zone" in _document(path).get("metadata", {})


def read_zone_trace(path: Path) -> ZoneTrace:
    """Raises TraceFileError for a missing field or a `prices` array of the wrong length."""
    document = _document(path)
    meta = document.get("metadata")
    if not isinstance(meta, dict):
        raise TraceFileError(f"{path}: no metadata object")
    missing = [f"metadata.{name}" for name in REQUIRED if name not in meta]
    missing += [] if "data" in document else ["data"]
    if missing:
        raise TraceFileError(f"{path}: missing {', '.join(missing)}")
    try:
        data = np.asarray(document["data"], dtype=np.float64)
        prices = document.get("prices")
        spot = None if prices is None else np.asarray(prices, dtype=np.float64)
        start_s = epoch_s(parse_utc(str(meta["start"])))
        gap_s, ondemand = float(meta["gap_seconds"]), float(meta["ondemand_usd_per_hour"])
    except (TypeError, ValueError) as exc:
        raise TraceFileError(f"{path}: {exc}") from exc
    _check(path, data, spot, gap_s)
    return ZoneTrace(
        zone=str(meta["zone"]),
        region=str(meta["region"]),
        instance_type=str(meta["instance_type"]),
        ondemand_usd_per_hour=ondemand,
        start_s=start_s,
        gap_s=gap_s,
        available=data > 0,
        prices=spot,
    )


def _document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TraceFileError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise TraceFileError(f"{path}: expected a JSON object")
    return document


def _check(path: Path, data: FloatArray, prices: FloatArray | None, gap_s: float) -> None:
    if data.ndim != 1 or len(data) == 0:
        raise TraceFileError(f"{path}: data must be a non-empty list of numbers")
    if gap_s <= 0:
        raise TraceFileError(f"{path}: gap_seconds must be above 0")
    if prices is None:
        return
    if prices.shape != data.shape:
        raise TraceFileError(
            f"{path}: prices has {prices.size} samples, data has {len(data)}: they must match"
        )
    if not np.isfinite(prices).all() or (prices < 0).any():
        raise TraceFileError(f"{path}: prices must be finite and at least 0")


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
