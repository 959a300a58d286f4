"""The checkpointing spot baselines the simulator compares (spot as in `baselines.py`):

- `yi-hour`, `yi-edge`, `yi-adaptive`: Yi, Kondo and Andrzejak, "Reducing costs of spot
  instances via checkpointing in the Amazon Elastic Compute Cloud", IEEE CLOUD 2010:
  checkpoint so it completes at each instance-hour boundary; at each rising edge of the
  price; or when the expected loss of skipping exceeds the checkpoint's cost. Our adaptive
  rule compares P(interruption within the next hour | price level) x work at risk with the
  checkpoint time, P estimated from the job's lookback window.
- `young-daly`: every Daly (2006) interval of work, from the zone's interruption rate.

The deadline-aware policies (`uniform-progress`, `broker`) are in `deadline.py` and
`broker_policy.py`.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from cbas_async.sim.baselines import SpotNoCheckpoint, never_steps
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
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.risk import failure_within, interruption_rate_per_hour, lookback, price_levels
from cbas_async.sim.state import BoolArray, FloatArray, SimState
from cbas_async.spot.interval import daly_interval_s


def young_daly_table(ctx: PolicyContext) -> FloatArray:
    """(jobs, zones + 1): Daly's interval per job and pool (on-demand: never)."""
    lo, hi = lookback(ctx.starts, ctx.lookback_steps)
    rate = interruption_rate_per_hour(ctx.trace, ctx.trace.ondemand_usd_per_hour, lo, hi)
    mtbf_s = 3600.0 / rate
    cost_s = ctx.workload.checkpoint_cost_s
    intervals = np.vectorize(lambda m: daly_interval_s(cost_s, m), otypes=[float])(mtbf_s)
    never = np.full((len(ctx.starts), 1), np.inf)
    return np.hstack([np.maximum(intervals, ctx.trace.step_s), never])


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
        prices = np.concatenate([trace.price_start, od])  # per pool, as `sim.flat_start`
        rising = prices > np.concatenate([prices[:, :1], prices[:, :-1]], axis=1)
        before, last = prefix_counts(rising)
        self.marks_before, self.last_mark = before.ravel(), last.ravel()
        self.next_mark = next_true(rising).ravel()
        self.stride = trace.n_steps + 1

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        previous = sim.offset + np.maximum(sim.idx - 1, 0)
        return sim.flat_start[sim.fi] > sim.flat_start[previous]

    def plan(self, sim: SimState) -> Plan:
        key = np.maximum(sim.pool, 0) * self.stride + sim.idx
        return MarkedPlan(
            quiet=self.launch_wait(sim),
            first=self.next_mark[key] - sim.idx,
            period=never_steps(sim),
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
        levels_per_pool = np.concatenate([price_levels(trace), od_level])
        self.level_flat = levels_per_pool.ravel()
        self.tables = LevelTables.build(levels_per_pool, levels)
        self.level_ids = np.arange(levels)
        # unsaved work at which it is due, and steps from one checkpoint to the next, per
        # job, pool and level (as `chance_flat`)
        odds, cost_s = self.chance_flat, ctx.workload.checkpoint_cost_s
        estimate = np.divide(cost_s, odds, out=np.full(len(odds), np.inf), where=odds > 0)
        self.needed_flat = whole_threshold(estimate, lambda r: odds[:, None] * r > cost_s)
        self.period_flat = 1 + steps_to(
            self.needed_flat, np.full(len(odds), trace.step_s - cost_s), trace.step_s
        )

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        level = self.level_flat[sim.fi]
        key = self.row_base + np.maximum(sim.pool, 0) * self.levels + level
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
        pool = np.maximum(sim.pool, 0)
        keys = (self.row_base + pool * self.levels)[:, None] + self.level_ids
        passed = steps_to(self.needed_flat[keys], (sim.x - sim.saved)[:, None], sim.step_s)
        position = pool * self.tables.stride + sim.idx
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
        interval_s = self.interval_flat[self.row_base + np.maximum(sim.pool, 0)]
        due: BoolArray = sim.x - sim.saved >= interval_s
        return due

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]

    def plan(self, sim: SimState) -> Plan:
        key = self.row_base + np.maximum(sim.pool, 0)
        first = steps_to(self.needed_flat[key], sim.x - sim.saved, sim.step_s)
        return Plan(quiet=self.launch_wait(sim), first=first, period=self.period_flat[key])
