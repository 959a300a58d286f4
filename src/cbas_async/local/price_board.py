"""The local EC2's spot price history: the prices the local market replays, per region, zone
and instance type, answered as DescribeSpotPriceHistory would (pure, apart from the lock).

EC2 publishes a record when a price changes, so a track keeps only the change points, each at
the wall time the replay shows it. A query sees the records up to now within its window, plus
each series' last change at or before the window's start (the price in force then), newest
first, as EC2 answers. `SpotPriceBoard` holds the tracks for the moto server's thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
LINUX = "Linux/UNIX"  # the product the traces were collected for
HISTORY_S = 90 * 86400.0  # how far back EC2 keeps the price history


@dataclass(frozen=True, slots=True, eq=False)
class PriceTrack:
    """One series as EC2 publishes it: a record at each price change, at its wall time."""

    region: str
    zone: str
    instance_type: str
    times_s: FloatArray  # wall epoch seconds, increasing
    prices_usd_per_hour: FloatArray
    product: str = LINUX

    @classmethod
    def of_changes(
        cls,
        *,
        region: str,
        zone: str,
        instance_type: str,
        times_s: Iterable[float],
        prices: Iterable[float],
    ) -> PriceTrack:
        """From one price per sample: only the first sample and the changes stay."""
        stamps = np.asarray(list(times_s), dtype=np.float64)
        values = np.asarray(list(prices), dtype=np.float64)
        keep = np.ones(len(values), dtype=bool)
        keep[1:] = values[1:] != values[:-1]
        return cls(region, zone, instance_type, stamps[keep], values[keep])


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryQuery:
    """What a DescribeSpotPriceHistory request asks for. Each rule is a set the value must be
    in (a parameter and a filter on the same field both apply); `None` times: not given."""

    instance_types: tuple[frozenset[str], ...] = ()
    zones: tuple[frozenset[str], ...] = ()
    products: tuple[frozenset[str], ...] = ()
    start_s: float | None = None
    end_s: float | None = None

    def wants(self, track: PriceTrack) -> bool:
        return (
            _all_in(track.instance_type, self.instance_types)
            and _all_in(track.zone, self.zones)
            and _all_in(track.product, self.products)
        )


def _all_in(value: str, rules: tuple[frozenset[str], ...]) -> bool:
    return all(value in rule for rule in rules)


def history_records(
    tracks: Iterable[PriceTrack], region: str, query: HistoryQuery, now_s: float
) -> list[dict[str, str]]:
    """The records EC2 would answer in `region` at `now_s`, newest first."""
    end_s = now_s if query.end_s is None else min(query.end_s, now_s)
    start_s = end_s - HISTORY_S if query.start_s is None else query.start_s
    found: list[tuple[float, str, str, float, str]] = []
    for track in tracks:
        if track.region != region or not query.wants(track) or start_s > end_s:
            continue
        first = max(int(np.searchsorted(track.times_s, start_s, side="right")) - 1, 0)
        last = int(np.searchsorted(track.times_s, end_s, side="right"))
        for i in range(first, last):
            price = float(track.prices_usd_per_hour[i])
            found.append(
                (float(track.times_s[i]), track.zone, track.instance_type, price, track.product)
            )
    found.sort(key=lambda r: (-r[0], r[1], r[2]))
    return [_record(*row) for row in found]


def _record(
    at_s: float, zone: str, instance_type: str, price: float, product: str
) -> dict[str, str]:
    return {
        "AvailabilityZone": zone,
        "InstanceType": instance_type,
        "ProductDescription": product,
        "SpotPrice": f"{price:.6f}",
        "Timestamp": _iso(at_s),
    }


def _iso(at_s: float) -> str:
    """EC2's form, to the millisecond: 2023-02-15T00:03:15.000Z."""
    return datetime.fromtimestamp(at_s, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass
class SpotPriceBoard:
    """The price tracks the local EC2 answers with, set by the local market; thread-safe.
    While empty, moto answers DescribeSpotPriceHistory itself (its placeholder prices)."""

    now_s: Callable[[], float] = time.time
    _tracks: list[PriceTrack] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def active(self) -> bool:
        return bool(self._tracks)

    def publish(
        self, tracks: Iterable[PriceTrack], *, now_s: Callable[[], float] | None = None
    ) -> None:
        """Answer from `tracks` from now on; `now_s`: the local cloud's clock (epoch seconds)."""
        with self._lock:
            self._tracks = list(tracks)
            if now_s is not None:
                self.now_s = now_s

    def clear(self) -> None:
        with self._lock:
            self._tracks = []
            self.now_s = time.time

    def history(self, region: str, query: HistoryQuery) -> list[dict[str, str]]:
        with self._lock:
            tracks, now_s = list(self._tracks), self.now_s
        return history_records(tracks, region, query, now_s())
