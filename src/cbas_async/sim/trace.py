"""A market trace on a regular time grid: what the simulator, the policies and the optimum replay.

Prices are resampled per grid step (price at the step's start, time-weighted mean, maximum)
and capacity is a boolean per step. The grid is the model's time resolution: a running
instance is interrupted at the start of a step whose maximum price exceeds its max price
(bid era) or that has no capacity (current era).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.eras import CURRENT_ERA, Era, MarketModel, hazard_availability, model_for
from cbas_async.spot.history import PriceHistory, from_epoch_s

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MarketTrace:
    """One instance type's market on a grid: arrays of shape (zones, steps), plus on-demand."""

    instance_type: str
    zones: tuple[str, ...]
    start_s: float
    step_s: float
    price_start: FloatArray
    price_mean: FloatArray
    price_max: FloatArray
    available: BoolArray
    ondemand_usd_per_hour: float
    model: MarketModel
    # per zone, its region, for traces whose files name it (empty: one market, no regions)
    regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        shape = (len(self.zones), self.price_start.shape[1] if self.price_start.ndim == 2 else -1)
        for name in ("price_start", "price_mean", "price_max", "available"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {shape}")
        if self.step_s <= 0:
            raise ValueError("step_s must be above 0")
        if self.regions and len(self.regions) != len(self.zones):
            raise ValueError("regions must name one region per zone")

    @property
    def region_names(self) -> tuple[str, ...]:
        """The regions in order of first appearance (empty for a trace without regions)."""
        return tuple(dict.fromkeys(self.regions))

    @property
    def multi_region(self) -> bool:
        return len(self.region_names) > 1

    @property
    def n_steps(self) -> int:
        return int(self.price_start.shape[1])

    @property
    def n_zones(self) -> int:
        return len(self.zones)

    @property
    def steps_per_hour(self) -> float:
        return 3600.0 / self.step_s

    def time_s(self, step: int) -> float:
        return self.start_s + step * self.step_s

    def zone_regions(self) -> IntArray:
        """Per zone, the index of its region in `region_names` (all 0 without regions)."""
        names = self.region_names
        return np.array([names.index(r) for r in self.regions] or [0] * self.n_zones, np.int64)

    def only_zones(self, rows: Sequence[int]) -> MarketTrace:
        """The same market restricted to these zones (rows)."""
        keep = list(rows)
        if not keep:
            raise ValueError("no zones left")
        return replace(
            self,
            zones=tuple(self.zones[r] for r in keep),
            price_start=self.price_start[keep],
            price_mean=self.price_mean[keep],
            price_max=self.price_max[keep],
            available=self.available[keep],
            regions=tuple(self.regions[r] for r in keep) if self.regions else (),
        )


def _zones(available: Sequence[str], wanted: Sequence[str] | None, what: str) -> list[str]:
    if not wanted:
        if not available:
            raise ValueError(f"the trace has no {what}")
        return list(available)
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise ValueError(f"no {what} for zones {', '.join(missing)}")
    return list(wanted)


def _grid_bounds(
    known_s: tuple[float, float], step_s: float, start_s: float | None, end_s: float | None
) -> tuple[float, int]:
    first = math.ceil(known_s[0] / step_s) * step_s if start_s is None else start_s
    last = known_s[1] if end_s is None else end_s
    steps = int((last - first) // step_s)
    if steps < 1:
        raise ValueError("the chosen window holds no whole grid step")
    return first, steps


def trace_from_prices(
    history: PriceHistory,
    *,
    instance_type: str,
    ondemand_usd_per_hour: float,
    zones: Sequence[str] | None = None,
    step_s: float = 300.0,
    start_s: float | None = None,
    end_s: float | None = None,
    model: MarketModel | None = None,
    hazard_per_hour: float | Mapping[str, float] | None = None,
    seed: int = 0,
) -> MarketTrace:
    """A price trace on a grid from where every chosen zone has a price (or `start_s`).

    The era defaults to the one in force at the start. In the current era, capacity comes
    from `hazard_per_hour` (one rate, or one per zone), sampled with `seed`; without it
    capacity never runs out.
    """
    chosen = _zones(history.zones(instance_type), zones, f"price series of {instance_type}")
    start, steps = _grid_bounds(
        history.span_s([(z, instance_type) for z in chosen]), step_s, start_s, end_s
    )
    era_model = model or model_for(from_epoch_s(start))
    grids = [history.series(zone, instance_type).grid(start, step_s, steps) for zone in chosen]
    available = np.ones((len(chosen), steps), dtype=bool)
    if era_model.era is Era.CURRENT and hazard_per_hour is not None:
        available = _sampled_capacity(chosen, hazard_per_hour, step_s, steps, seed)
    return MarketTrace(
        instance_type=instance_type,
        zones=tuple(chosen),
        start_s=start,
        step_s=step_s,
        price_start=np.vstack([g.start for g in grids]),
        price_mean=np.vstack([g.mean for g in grids]),
        price_max=np.vstack([g.max for g in grids]),
        available=available,
        ondemand_usd_per_hour=ondemand_usd_per_hour,
        model=era_model,
    )


def _sampled_capacity(
    zones: Sequence[str],
    hazard_per_hour: float | Mapping[str, float],
    step_s: float,
    steps: int,
    seed: int,
) -> BoolArray:
    rng = np.random.default_rng(seed)
    available = np.ones((len(zones), steps), dtype=bool)
    for row, zone in enumerate(zones):
        rate = (
            hazard_per_hour
            if isinstance(hazard_per_hour, float | int)
            else hazard_per_hour.get(zone, 0.0)
        )
        available[row] = hazard_availability(float(rate), step_s=step_s, steps=steps, rng=rng)
    return available


def trace_from_availability(
    history: AvailabilityHistory,
    *,
    instance_type: str,
    spot_usd_per_hour: float,
    ondemand_usd_per_hour: float,
    zones: Sequence[str] | None = None,
    step_s: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
) -> MarketTrace:
    """A capacity trace at a constant spot price, current era; the grid defaults to the
    samples' own gap, so availability is exact."""
    chosen = _zones(history.zones(instance_type), zones, f"availability of {instance_type}")
    keys = [(z, instance_type) for z in chosen]
    step = step_s or history.series(*keys[0]).gap_s
    known = history.span_s(keys)
    start, steps = _grid_bounds(known, step, known[0] if start_s is None else start_s, end_s)
    available = np.vstack([history.series(*key).grid(start, step, steps) for key in keys])
    prices = np.full(available.shape, spot_usd_per_hour, dtype=np.float64)
    return MarketTrace(
        instance_type=instance_type,
        zones=tuple(chosen),
        start_s=start,
        step_s=step,
        price_start=prices,
        price_mean=prices.copy(),
        price_max=prices.copy(),
        available=available,
        ondemand_usd_per_hour=ondemand_usd_per_hour,
        model=CURRENT_ERA,
    )
