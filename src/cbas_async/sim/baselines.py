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

Each policy here also has a `plan` for fast-forward (`plans.py`): from a job's current
step, how long it will decide nothing but checkpoints, and when those start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from cbas_async.sim.plans import (
    NEVER,
    LevelPlan,
    LevelTables,
    MarkedPlan,
    Plan,
    interval_plan,
    next_true,
    prefix_counts,
    steps_to,
    whole_threshold,
)
from cbas_async.sim.risk import failure_within, interruption_rate_per_hour, lookback, price_levels
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState, Workload
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.interval import daly_interval_s


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


def open_steps(trace: MarketTrace, bid_usd_per_hour: float) -> IntArray:
    """Per trace step (and one past the end): the first step from there at which some zone
    can start an instance at this max price (`trace.n_steps`: none)."""
    can = (trace.price_max <= bid_usd_per_hour) & trace.available
    return next_true(cast(BoolArray, can.any(axis=0)))


def _never(sim: SimState) -> IntArray:
    return np.full(len(sim.x), NEVER, dtype=np.int64)


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

    def plan(self, sim: SimState) -> Plan:
        never = _never(sim)
        idle = ~sim.running & ~sim.done
        return Plan(quiet=np.where(idle, 0, never), first=never, period=never)


class SpotNoCheckpoint:
    """Spot at max price = on-demand, cheapest zone, never checkpoints: restarts from scratch."""

    name = "spot-no-ckpt"
    saves_on_notice = False

    def __init__(self, ctx: PolicyContext) -> None:
        self.bid_usd_per_hour = ctx.trace.ondemand_usd_per_hour
        self.workload = ctx.workload
        self.next_open = open_steps(ctx.trace, self.bid_usd_per_hour)

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        bids = np.full(len(jobs), self.bid_usd_per_hour)
        return cheapest_spot(sim, jobs, bids), bids

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        return None

    def stop(self, sim: SimState) -> BoolArray | None:
        return None

    def compact(self, keep: BoolArray) -> None:
        pass

    def plan(self, sim: SimState) -> Plan:
        never = _never(sim)
        return Plan(quiet=self.launch_wait(sim), first=never, period=never)

    def launch_wait(self, sim: SimState) -> IntArray:
        """Per job: for an idle one, the steps until some zone can take it (it launches
        then); for any other, NEVER."""
        wait = self.next_open[sim.idx] - sim.idx
        return np.where(~sim.running & ~sim.done, wait, NEVER)


class YiHour(SpotNoCheckpoint):
    """Checkpoint so that it completes at each instance-hour boundary (Yi et al. 2010)."""

    name = "yi-hour"
    saves_on_notice = True

    def __init__(self, ctx: PolicyContext) -> None:
        super().__init__(ctx)
        # when it is due, by steps into the session (as `checkpoint` computes it)
        trace = ctx.trace
        per_hour = max(round(3600.0 / trace.step_s), 1)
        steps_in = np.arange(trace.n_steps + 2 * per_hour + 1)
        due = self._due(cast(FloatArray, steps_in * trace.step_s), trace.step_s)
        self.next_due = next_true(due)
        # due every hour (the grid divides an hour): many per plan, else one at a time
        regular = bool((due[1 + per_hour :] == due[1:-per_hour]).all())
        self.period = per_hour if regular else NEVER

    def _due(self, in_session_s: FloatArray, step_s: float) -> BoolArray:
        to_boundary_s = (-in_session_s) % 3600.0
        cost_s = self.workload.checkpoint_cost_s
        due = (to_boundary_s >= cost_s) & (to_boundary_s < cost_s + step_s)
        return due & (in_session_s > 0)

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        in_session_s = cast(FloatArray, (sim.idx - sim.session_start) * sim.step_s)
        return self._due(in_session_s, sim.step_s)

    def plan(self, sim: SimState) -> Plan:
        steps_in = sim.idx - sim.session_start
        first = self.next_due[steps_in] - steps_in
        quiet = self.launch_wait(sim)
        if self.period == NEVER:  # stop before the second one
            second = self.next_due[np.minimum(steps_in + first + 1, len(self.next_due) - 1)]
            quiet = np.where(sim.running, second - steps_in, quiet)
        return Plan(quiet=quiet, first=first, period=np.full(len(first), self.period))


class YiEdge(SpotNoCheckpoint):
    """Checkpoint when the price rises (a rising edge), Yi et al. 2010."""

    name = "yi-edge"
    saves_on_notice = True

    def __init__(self, ctx: PolicyContext) -> None:
        super().__init__(ctx)
        trace = ctx.trace
        od = np.full((1, trace.n_steps), trace.ondemand_usd_per_hour)
        prices = np.concatenate([trace.price_start, od])  # per market, as `sim.flat_start`
        rising = prices > np.concatenate([prices[:, :1], prices[:, :-1]], axis=1)
        before, last = prefix_counts(rising)
        self.marks_before, self.last_mark = before.ravel(), last.ravel()
        self.next_mark = next_true(rising).ravel()
        self.stride = trace.n_steps + 1

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        previous = sim.offset + np.maximum(sim.idx - 1, 0)
        return sim.flat_start[sim.fi] > sim.flat_start[previous]

    def plan(self, sim: SimState) -> Plan:
        key = np.maximum(sim.market, 0) * self.stride + sim.idx
        return MarkedPlan(
            quiet=self.launch_wait(sim),
            first=self.next_mark[key] - sim.idx,
            period=_never(sim),
            marks_before=self.marks_before,
            last_mark=self.last_mark,
            key=key,
            idx=sim.idx.copy(),
        )


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
        levels_per_market = np.concatenate([price_levels(trace), od_level])
        self.level_flat = levels_per_market.ravel()
        self.tables = LevelTables.build(levels_per_market, levels)
        self.level_ids = np.arange(levels)
        # unsaved work at which it is due, and steps from one checkpoint to the next, per
        # job, market and level (as `chance_flat`)
        odds, cost_s = self.chance_flat, ctx.workload.checkpoint_cost_s
        estimate = np.divide(cost_s, odds, out=np.full(len(odds), np.inf), where=odds > 0)
        self.needed_flat = whole_threshold(estimate, lambda r: odds[:, None] * r > cost_s)
        self.period_flat = 1 + steps_to(
            self.needed_flat, np.full(len(odds), trace.step_s - cost_s), trace.step_s
        )

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        level = self.level_flat[sim.fi]
        key = self.row_base + np.maximum(sim.market, 0) * self.levels + level
        at_risk_s = sim.x - sim.saved
        due: BoolArray = self.chance_flat[key] * at_risk_s > self.workload.checkpoint_cost_s
        return due

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]

    def plan(self, sim: SimState) -> Plan:
        """The rule is "chance of the level now x unsaved > cost". The first checkpoint is at
        the first step where the level's own threshold is passed. After it unsaved work
        restarts, so at each level a checkpoint is due `period` steps after the last one:
        checkpoints come every `period` steps while the levels keep it; with a period of 1,
        at every step of a level with that period, until a level with another period
        within reach; after that `LevelPlan` finds them one by one."""
        market = np.maximum(sim.market, 0)
        keys = (self.row_base + market * self.levels)[:, None] + self.level_ids
        passed = steps_to(self.needed_flat[keys], (sim.x - sim.saved)[:, None], sim.step_s)
        position = market * self.tables.stride + sim.idx
        first = self.tables.ahead(position, passed).min(axis=1)
        ahead = np.minimum(first, sim.n - 1 - sim.idx)  # (beyond the trace, nothing to do)
        period = self.period_flat[keys[:, 0] + self.level_flat[sim.fi + ahead]]
        periods = self.period_flat[keys]
        marked, always = period == 1, periods == 1
        # steps fast-forward may take: to the horizon, and before the work could be done
        work_steps = np.ceil((self.workload.work_s - sim.x) / sim.step_s).astype(np.int64)
        reach = np.minimum(sim.horizon - 1 - sim.own_steps(slice(None)), work_steps)
        off = np.where(
            marked[:, None], ~always & (periods <= reach[:, None]), periods != period[:, None]
        )
        later = self.tables.ahead(position, first[:, None] + 1)
        return LevelPlan(
            quiet=np.where(sim.running, NEVER, self.launch_wait(sim)),
            first=first,
            period=period,
            wait=periods - 1,
            regular=np.where(off, later, NEVER).min(axis=1),
            marked=marked,
            tables=self.tables,
            key=position,
            idx=sim.idx.copy(),
        )


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
        self.needed_flat, self.period_flat = interval_plan(
            self.interval_flat, ctx.trace.step_s, ctx.workload
        )

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        interval_s = self.interval_flat[self.row_base + np.maximum(sim.market, 0)]
        due: BoolArray = sim.x - sim.saved >= interval_s
        return due

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]

    def plan(self, sim: SimState) -> Plan:
        key = self.row_base + np.maximum(sim.market, 0)
        first = steps_to(self.needed_flat[key], sim.x - sim.saved, sim.step_s)
        return Plan(quiet=self.launch_wait(sim), first=first, period=self.period_flat[key])
