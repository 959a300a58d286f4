"""Uniform Progress, the deadline-aware baseline of NSDI 2024.

Uniform Progress and the broker policy (`broker_policy.py`) share a safety net
(`safety.py`). Counting
unsaved work as lost, when the time left could soon no longer absorb one more grid step
plus a checkpoint before finishing on on-demand, the job checkpoints; when it can no
longer, the job moves to on-demand for good. Uniform Progress is from Wu et al., "Can't Be
Late: Optimizing Spot Instance Savings under Deadlines", NSDI 2024: spot whenever it can
be had; when it cannot, on-demand only while progress is behind the uniform line
work x elapsed / deadline; back from on-demand to spot once ahead of the line again.
Uniform Progress checkpoints every Daly interval.
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.baselines import SpotNoCheckpoint, cheapest_spot
from cbas_async.sim.checkpointing import young_daly_table
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.safety import must_commit, must_protect
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState


class UniformProgress(SpotNoCheckpoint):
    """Uniform Progress with a commit-to-on-demand safety net; Daly-interval checkpoints."""

    name = "uniform-progress"
    saves_on_notice = True

    def __init__(self, ctx: PolicyContext) -> None:
        super().__init__(ctx)
        self.committed = np.zeros(len(ctx.starts), dtype=bool)
        table = young_daly_table(ctx)
        self.columns = table.shape[1]
        self.interval_flat = table.ravel()
        self.row_base = np.arange(len(ctx.starts), dtype=np.int64) * self.columns
        self.ondemand = ctx.trace.n_zones

    def line_s(self, sim: SimState, jobs: IntArray | slice) -> FloatArray:
        """The uniform progress line, on each job's own clock."""
        load = sim.workload
        line: FloatArray = load.work_s * np.minimum(sim.own_elapsed_s(jobs) / load.deadline_s, 1.0)
        return line

    def interval_s(self, sim: SimState) -> FloatArray:
        """Each job's Daly interval in the pool it runs in."""
        interval: FloatArray = self.interval_flat[self.row_base + np.maximum(sim.pool, 0)]
        return interval

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        self.committed[jobs] |= must_commit(sim, jobs)
        spot, bids = super().launch(sim, jobs)
        behind = sim.saved[jobs] < self.line_s(sim, jobs)
        fallback = np.where(behind, self.ondemand, -1)
        pools = np.where(spot >= 0, spot, fallback)
        return np.where(self.committed[jobs], self.ondemand, pools), bids

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        due: BoolArray = sim.x - sim.saved >= self.interval_s(sim)
        return due | must_protect(sim)

    def stop(self, sim: SimState) -> BoolArray | None:
        newly = sim.running & ~self.committed & must_commit(sim, slice(None))
        self.committed |= newly
        leave: BoolArray = newly & (sim.pool != self.ondemand)
        on_demand = np.flatnonzero(sim.running & ~self.committed & (sim.pool == self.ondemand))
        if len(on_demand):
            ahead = sim.x[on_demand] >= self.line_s(sim, on_demand)
            bids = np.full(len(on_demand), self.bid_usd_per_hour)
            spot_now = cheapest_spot(sim, on_demand, bids) >= 0
            leave[on_demand[ahead & spot_now]] = True
        return leave

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]
        self.committed = self.committed[keep]
