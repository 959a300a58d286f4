"""Spot price history: the published price points, and one numpy step function per (zone,
instance type) built from them, with its queries.

A price holds from its timestamp until the next record of the same series. Before the
first record the price is unknown (NaN). Times inside are float seconds since the Unix
epoch; the public methods take UTC-aware datetimes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from cbas_async.spot.eras import (
    HOUR_S,
    Billing,
    MarketModel,
    billed_hour_starts_s,
    per_second_billed_s,
)

FloatArray = npt.NDArray[np.float64]
SeriesKey = tuple[str, str]  # (availability zone, instance type)


@dataclass(frozen=True, slots=True, kw_only=True)
class PricePoint:
    """One published spot price: from `timestamp` on, until the series' next point."""

    timestamp: datetime
    region: str
    zone: str
    instance_type: str
    product: str
    price_usd_per_hour: float


def epoch_s(moment: datetime) -> float:
    """Seconds since the Unix epoch; a naive datetime is refused."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be UTC-aware")
    return moment.timestamp()


def from_epoch_s(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def region_of_zone(zone: str) -> str:
    """us-east-1a -> us-east-1 (the zone letter dropped)."""
    return re.sub(r"[a-z]$", "", zone)


@dataclass(frozen=True, slots=True, eq=False)
class GridPrices:
    """A series resampled on a regular grid: per step, the price at its start, its time-weighted
    mean and its maximum (NaN where the step starts before the first record)."""

    start: FloatArray
    mean: FloatArray
    max: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class PriceSeries:
    """One step function: strictly increasing `times_s` and the price from each time on."""

    times_s: FloatArray
    prices_usd_per_hour: FloatArray

    @classmethod
    def build(cls, times_s: Iterable[float], prices: Iterable[float]) -> PriceSeries:
        """Sort by time; of several prices at one time the last given wins."""
        times = np.asarray(list(times_s) if not isinstance(times_s, np.ndarray) else times_s)
        values = np.asarray(list(prices) if not isinstance(prices, np.ndarray) else prices)
        order = np.argsort(times.astype(np.float64), kind="stable")
        times, values = times[order].astype(np.float64), values[order].astype(np.float64)
        keep = np.append(times[1:] != times[:-1], True)  # last of equal times
        return cls(times[keep], values[keep])

    def merge(self, other: PriceSeries) -> PriceSeries:
        """Both series' records; at equal times `other` wins."""
        times = np.concatenate([self.times_s, other.times_s])
        return PriceSeries.build(
            times, np.concatenate([self.prices_usd_per_hour, other.prices_usd_per_hour])
        )

    @property
    def first_s(self) -> float:
        return float(self.times_s[0])

    @property
    def last_s(self) -> float:
        return float(self.times_s[-1])

    def prices_at(self, times_s: FloatArray) -> FloatArray:
        index = np.searchsorted(self.times_s, times_s, side="right") - 1
        prices = self.prices_usd_per_hour[np.maximum(index, 0)]
        return np.where(index >= 0, prices, np.nan)

    def price_at(self, time_s: float) -> float:
        return float(self.prices_at(np.array([time_s]))[0])

    def _integral_to(self, times_s: FloatArray) -> FloatArray:
        """Integral of price dt from the first record to each time (0 before it), in USD*s/h."""
        widths = np.diff(self.times_s)
        cumulative = np.concatenate([[0.0], np.cumsum(self.prices_usd_per_hour[:-1] * widths)])
        index = np.searchsorted(self.times_s, times_s, side="right") - 1
        safe = np.maximum(index, 0)
        tail = self.prices_usd_per_hour[safe] * (times_s - self.times_s[safe])
        return np.where(index >= 0, cumulative[safe] + tail, 0.0)

    def integral(self, start_s: float, end_s: float) -> float:
        """Integral of the price over [start_s, end_s), in USD*s/h (unknown prices count 0)."""
        values = self._integral_to(np.array([start_s, end_s]))
        return float(values[1] - values[0])

    def mean_price(self, start_s: float, end_s: float) -> float:
        """Time-weighted mean over the known part of [start_s, end_s); NaN if none is known."""
        known_start = max(start_s, self.first_s)
        if end_s <= known_start:
            return math.nan
        return self.integral(known_start, end_s) / (end_s - known_start)

    def grid(self, start_s: float, step_s: float, steps: int) -> GridPrices:
        bounds = start_s + step_s * np.arange(steps + 1, dtype=np.float64)
        at_bounds = self.prices_at(bounds)
        price_start = at_bounds[:-1]
        integral = self._integral_to(bounds)
        mean = np.where(np.isnan(price_start), np.nan, np.diff(integral) / step_s)
        price_max = price_start.copy()
        inside = (self.times_s >= bounds[0]) & (self.times_s < bounds[-1])
        step_of = np.searchsorted(bounds, self.times_s[inside], side="right") - 1
        np.maximum.at(price_max, step_of, self.prices_usd_per_hour[inside])
        return GridPrices(start=price_start, mean=mean, max=price_max)


class PriceHistory:
    """Spot prices per (zone, instance type) as numpy step functions; immutable (merge copies)."""

    __slots__ = ("_regions", "_series")

    def __init__(
        self, series: Mapping[SeriesKey, PriceSeries], *, regions: Mapping[str, str] | None = None
    ) -> None:
        self._series = dict(series)
        self._regions = dict(regions or {})

    @classmethod
    def from_points(cls, points: Iterable[PricePoint]) -> PriceHistory:
        return cls({}).merge(points)

    def merge(self, points: Iterable[PricePoint]) -> PriceHistory:
        """A new history with these points added (a point at an existing time replaces it)."""
        grouped: dict[SeriesKey, tuple[list[float], list[float]]] = {}
        regions = dict(self._regions)
        for point in points:
            times, prices = grouped.setdefault((point.zone, point.instance_type), ([], []))
            times.append(epoch_s(point.timestamp))
            prices.append(point.price_usd_per_hour)
            regions[point.zone] = point.region
        series = dict(self._series)
        for key, (times, prices) in grouped.items():
            new = PriceSeries.build(times, prices)
            series[key] = series[key].merge(new) if key in series else new
        return PriceHistory(series, regions=regions)

    def series_keys(self) -> list[SeriesKey]:
        return sorted(self._series)

    def zones(self, instance_type: str) -> list[str]:
        return sorted(zone for zone, itype in self._series if itype == instance_type)

    def instance_types(self) -> list[str]:
        return sorted({itype for _, itype in self._series})

    def region_of(self, zone: str) -> str:
        return self._regions.get(zone) or region_of_zone(zone)

    def has(self, zone: str, instance_type: str) -> bool:
        return (zone, instance_type) in self._series

    def series(self, zone: str, instance_type: str) -> PriceSeries:
        """Raises KeyError for a series the history does not hold."""
        return self._series[(zone, instance_type)]

    def price_at(self, zone: str, instance_type: str, moment: datetime) -> float:
        """The price in effect at `moment`; NaN before the series' first record."""
        return self.series(zone, instance_type).price_at(epoch_s(moment))

    def mean_price(self, zone: str, instance_type: str, start: datetime, end: datetime) -> float:
        """Time-weighted mean price over [start, end) of the step function."""
        return self.series(zone, instance_type).mean_price(epoch_s(start), epoch_s(end))

    def cost(
        self,
        zone: str,
        instance_type: str,
        start: datetime,
        end: datetime,
        model: MarketModel,
        *,
        provider_interrupted: bool = False,
    ) -> float:
        """USD charged for one instance running over [start, end) under `model`'s billing."""
        series = self.series(zone, instance_type)
        start_s, end_s = epoch_s(start), epoch_s(end)
        if model.billing is Billing.HOURLY:
            starts = billed_hour_starts_s(start_s, end_s, provider_interrupted=provider_interrupted)
            return float(np.sum(series.prices_at(starts)))
        duration_s = max(end_s - start_s, 0.0)
        extra_s = per_second_billed_s(duration_s, model) - duration_s
        return (series.integral(start_s, end_s) + extra_s * series.price_at(end_s)) / HOUR_S

    def span_s(self, keys: Iterable[SeriesKey]) -> tuple[float, float]:
        """(latest first record, latest last record) over these series: where all are known."""
        chosen = [self._series[key] for key in keys]
        return max(s.first_s for s in chosen), max(s.last_s for s in chosen)
