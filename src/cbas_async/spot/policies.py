"""The baseline policies the simulator compares: on-demand, plain spot, and checkpointing spot.

All spot baselines launch in the zone with the lowest current price among those where an
instance can start, with the max price at the on-demand price (AWS's default since 2017).
Checkpoint policies:
- `yi-hour`, `yi-edge`, `yi-adaptive`: Yi, Kondo and Andrzejak, "Reducing costs of spot
  instances via checkpointing in the Amazon Elastic Compute Cloud", IEEE CLOUD 2010:
  checkpoint so it completes at each instance-hour boundary; at each rising edge of the
  price; or when the expected loss of skipping exceeds the checkpoint's cost. Our adaptive
  rule compares P(interruption within the next hour | price level) x work at risk with the
  checkpoint time, P estimated from the job's lookback window.
- `young-daly`: every Daly (2006) interval of work, from the zone's interruption rate.
The deadline-aware policies (`uniform-progress`, `broker`) are in `deadline.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cbas_async.spot.interval import daly_interval_s
from cbas_async.spot.risk import failure_within, interruption_rate_per_hour, lookback, price_levels
from cbas_async.spot.state import BoolArray, FloatArray, IntArray, SimState, Workload
from cbas_async.spot.trace import MarketTrace


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PolicyContext:
    """What a policy may know before its jobs start: the trace's past and the workload."""

    trace: MarketTrace
    workload: Workload
    starts: IntArray
    lookback_steps: int


def cheapest_spot(sim: SimState, jobs: IntArray, bids: FloatArray) -> IntArray:
    """Per job, the zone with the lowest opening price where it can start now (-1: none)."""
    cols = sim.idx[jobs]
    trace = sim.trace
    can = (trace.price_max[:, cols] <= bids) & trace.available[:, cols]
    prices = np.where(can, trace.price_start[:, cols], np.inf)
    best = prices.argmin(axis=0)
    return np.where(can.any(axis=0), best, -1).astype(np.int64)


def young_daly_table(ctx: PolicyContext) -> FloatArray:
    """(jobs, zones + 1): Daly's interval per job and market (on-demand: never)."""
    lo, hi = lookback(ctx.starts, ctx.lookback_steps)
    rate = interruption_rate_per_hour(ctx.trace, ctx.trace.ondemand_usd_per_hour, lo, hi)
    mtbf_s = 3600.0 / rate
    cost_s = ctx.workload.checkpoint_cost_s
    intervals = np.vectorize(lambda m: daly_interval_s(cost_s, m), otypes=[float])(mtbf_s)
    never = np.full((len(ctx.starts), 1), np.inf)
    return np.hstack([np.maximum(intervals, ctx.trace.step_s), never])


class OnDemand:
    """Only on-demand instances: no interruptions, no checkpoints."""

    name = "ondemand"
    saves_on_notice = False

    def __init__(self, ctx: PolicyContext) -> None:
        self.ondemand = ctx.trace.n_zones

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        return np.full(len(jobs), self.ondemand, dtype=np.int64), np.full(len(jobs), np.inf)

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        return None

    def stop(self, sim: SimState) -> BoolArray | None:
        return None

    def compact(self, keep: BoolArray) -> None:
        pass


class SpotNoCheckpoint:
    """Spot at max price = on-demand, cheapest zone, never checkpoints: restarts from scratch."""

    name = "spot-no-ckpt"
    saves_on_notice = False

    def __init__(self, ctx: PolicyContext) -> None:
        self.bid_usd_per_hour = ctx.trace.ondemand_usd_per_hour
        self.workload = ctx.workload

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        bids = np.full(len(jobs), self.bid_usd_per_hour)
        return cheapest_spot(sim, jobs, bids), bids

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        return None

    def stop(self, sim: SimState) -> BoolArray | None:
        return None

    def compact(self, keep: BoolArray) -> None:
        pass


class YiHour(SpotNoCheckpoint):
    """Checkpoint so that it completes at each instance-hour boundary (Yi et al. 2010)."""

    name = "yi-hour"
    saves_on_notice = True

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        in_session_s = (sim.idx - sim.session_start) * sim.step_s
        to_boundary_s = (-in_session_s) % 3600.0
        cost_s = self.workload.checkpoint_cost_s
        due = (to_boundary_s >= cost_s) & (to_boundary_s < cost_s + sim.step_s)
        return due & (in_session_s > 0)


class YiEdge(SpotNoCheckpoint):
    """Checkpoint when the price rises (a rising edge), Yi et al. 2010."""

    name = "yi-edge"
    saves_on_notice = True

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        previous = sim.offset + np.maximum(sim.idx - 1, 0)
        return sim.flat_start[sim.fi] > sim.flat_start[previous]


class YiAdaptive(SpotNoCheckpoint):
    """Checkpoint when P(interrupted within an hour | price level) x work at risk > its cost."""

    name = "yi-adaptive"
    saves_on_notice = True

    def __init__(self, ctx: PolicyContext) -> None:
        super().__init__(ctx)
        trace = ctx.trace
        lo, hi = lookback(ctx.starts, ctx.lookback_steps)
        hour_steps = max(math.ceil(3600.0 / trace.step_s), 1)
        chance = failure_within(trace, self.bid_usd_per_hour, lo, hi, hour_steps)
        jobs, zones, levels = chance.shape
        with_ondemand = np.concatenate([chance, np.zeros((jobs, 1, levels))], axis=1)
        self.levels = levels
        self.chance_flat = with_ondemand.ravel()
        self.row_base = np.arange(jobs, dtype=np.int64) * (zones + 1) * levels
        od_level = np.zeros((1, trace.n_steps), dtype=np.int64)
        self.level_flat = np.concatenate([price_levels(trace), od_level]).ravel()

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        level = self.level_flat[sim.fi]
        key = self.row_base + np.maximum(sim.market, 0) * self.levels + level
        at_risk_s = sim.x - sim.saved
        due: BoolArray = self.chance_flat[key] * at_risk_s > self.workload.checkpoint_cost_s
        return due

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]


class YoungDaly(SpotNoCheckpoint):
    """Checkpoint every Daly interval of work, from the zone's rate in the lookback window."""

    name = "young-daly"
    saves_on_notice = True

    def __init__(self, ctx: PolicyContext) -> None:
        super().__init__(ctx)
        table = young_daly_table(ctx)
        self.columns = table.shape[1]
        self.interval_flat = table.ravel()
        self.row_base = np.arange(len(ctx.starts), dtype=np.int64) * self.columns

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        interval_s = self.interval_flat[self.row_base + np.maximum(sim.market, 0)]
        due: BoolArray = sim.x - sim.saved >= interval_s
        return due

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]
