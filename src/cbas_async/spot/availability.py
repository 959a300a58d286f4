"""Spot availability history: capacity samples per (zone, instance type), as numpy arrays.

The JSON files of `shared/data/availability/` hold `{"metadata": {"gap_seconds": G},
"data": [v0, v1, ...]}`: sample i covers [i*G, (i+1)*G) from the trace start, and v is
how many spot instances could be had then (0 = none). The start date and the zone and
instance kind come from the path: `aws-MM-DD-YYYY/<zone>_<kind>.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cbas_async.spot.history import SeriesKey, epoch_s, region_of_zone

# the GPU kinds the published traces name, and the EC2 types they were collected on
KIND_INSTANCE_TYPES: Mapping[str, str] = {
    "v100_1": "p3.2xlarge",
    "v100_8": "p3.16xlarge",
    "k80_1": "p2.xlarge",
    "k80_8": "p2.8xlarge",
}
_FOLDER = re.compile(r"aws-(\d{2})-(\d{2})-(\d{4})$")
_FILE = re.compile(r"^(?P<zone>[a-z]+-[a-z]+-\d+[a-z])_(?P<kind>.+)$")


@dataclass(frozen=True, slots=True, eq=False)
class AvailabilitySeries:
    """Capacity samples every `gap_s` seconds from `start_s` (epoch seconds)."""

    start_s: float
    gap_s: float
    counts: npt.NDArray[np.int64]

    @property
    def end_s(self) -> float:
        return self.start_s + self.gap_s * len(self.counts)

    def available_at(self, time_s: float) -> bool:
        """Whether an instance could be had at `time_s`; False outside the trace."""
        index = int(np.floor((time_s - self.start_s) / self.gap_s))
        return 0 <= index < len(self.counts) and bool(self.counts[index] > 0)

    def grid(self, start_s: float, step_s: float, steps: int) -> npt.NDArray[np.bool_]:
        """Per grid step: True when every sample overlapping it had capacity."""
        bounds = start_s + step_s * np.arange(steps + 1, dtype=np.float64)
        first = np.floor((bounds[:-1] - self.start_s) / self.gap_s + 1e-9).astype(np.int64)
        last = np.ceil((bounds[1:] - self.start_s) / self.gap_s - 1e-9).astype(np.int64) - 1
        inside = (first >= 0) & (last < len(self.counts))
        zeros = np.concatenate([[0], np.cumsum(self.counts <= 0)])
        lo = np.clip(first, 0, len(self.counts))
        hi = np.clip(last + 1, 0, len(self.counts))
        available: npt.NDArray[np.bool_] = inside & (zeros[hi] - zeros[lo] == 0)
        return available


class AvailabilityHistory:
    """Capacity traces per (zone, instance type): the availability half of the spot market."""

    __slots__ = ("_series",)

    def __init__(self, series: Mapping[SeriesKey, AvailabilitySeries]) -> None:
        self._series = dict(series)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> AvailabilityHistory:
        return cls(dict(read_availability_json(path) for path in paths))

    def series_keys(self) -> list[SeriesKey]:
        return sorted(self._series)

    def zones(self, instance_type: str) -> list[str]:
        return sorted(zone for zone, itype in self._series if itype == instance_type)

    def instance_types(self) -> list[str]:
        return sorted({itype for _, itype in self._series})

    def region_of(self, zone: str) -> str:
        return region_of_zone(zone)

    def series(self, zone: str, instance_type: str) -> AvailabilitySeries:
        """Raises KeyError for a series the history does not hold."""
        return self._series[(zone, instance_type)]

    def available_at(self, zone: str, instance_type: str, moment: datetime) -> bool:
        return self.series(zone, instance_type).available_at(epoch_s(moment))

    def span_s(self, keys: Iterable[SeriesKey]) -> tuple[float, float]:
        """(latest start, earliest end) over these series: where all of them are known."""
        chosen = [self._series[key] for key in keys]
        return max(s.start_s for s in chosen), min(s.end_s for s in chosen)


def parse_availability_name(path: Path) -> tuple[str, str, datetime | None]:
    """(zone, instance type, trace start) from `aws-MM-DD-YYYY/<zone>_<kind>.json`."""
    match = _FILE.match(path.stem)
    if match is None:
        raise ValueError(f"{path.name}: expected <zone>_<kind>.json, e.g. us-east-1a_v100_1.json")
    kind = match["kind"]
    itype = KIND_INSTANCE_TYPES.get(kind, kind)
    folder = _FOLDER.search(path.parent.name)
    start = None
    if folder is not None:
        month, day, year = (int(g) for g in folder.groups())
        start = datetime(year, month, day, tzinfo=UTC)
    return match["zone"], itype, start


def read_availability_json(
    path: Path, *, start: datetime | None = None
) -> tuple[SeriesKey, AvailabilitySeries]:
    """One trace file; `start` overrides the date taken from the folder name."""
    zone, itype, named_start = parse_availability_name(path)
    begin = start or named_start
    if begin is None:
        raise ValueError(f"{path}: no start date (folder aws-MM-DD-YYYY) and none given")
    document = json.loads(path.read_text(encoding="utf-8"))
    gap_s = float(document["metadata"]["gap_seconds"])
    counts = np.asarray(document["data"], dtype=np.int64)
    return (zone, itype), AvailabilitySeries(epoch_s(begin), gap_s, counts)
