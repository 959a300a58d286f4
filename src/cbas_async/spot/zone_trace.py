"""Self-describing trace files: one zone's spot availability (and spot prices, if given),
with its region, instance type, start and on-demand price in `metadata`.

    {"metadata": {"gap_seconds": 195, "start": "2023-02-15T00:00:00Z", "zone": "us-east-1a",
                  "region": "us-east-1", "instance_type": "p3.2xlarge",
                  "ondemand_usd_per_hour": 3.06},
     "data": [1, 0, ...], "prices": [1.67, 1.67, ...]}

Such a file's name and folder need no particular form. `prices` (spot USD/h per sample) is
optional. Read here, in `spot/`, because both the simulator (`sim/priced.py`) and the local
cloud's market replay them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cbas_async.clock import parse_utc
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
