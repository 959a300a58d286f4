"""Deadline-aware policies: Uniform Progress (the NSDI 2024 baseline) and the shared safety net.

Uniform Progress and the broker policy (`broker_policy.py`) share a safety net. Counting
unsaved work as lost, when the time left could soon no longer absorb one more grid step
plus a checkpoint before finishing on on-demand, the job checkpoints; when it can no
longer, the job moves to on-demand for good. Uniform Progress is from Wu et al., "Can't Be
Late: Optimizing Spot Instance Savings under Deadlines", NSDI 2024: spot whenever it can
be had; when it cannot, on-demand only while progress is behind the uniform line
work x elapsed / deadline; back from on-demand to spot once ahead of the line again.
Uniform Progress checkpoints every Daly interval.
"""

from __future__ import annotations

import math

import numpy as np

from cbas_async.spot.policies import (
    PolicyContext,
    SpotNoCheckpoint,
    cheapest_spot,
    young_daly_table,
)
from cbas_async.spot.state import BoolArray, FloatArray, IntArray, SimState


def slack_s(
    sim: SimState, jobs: IntArray | slice, *, progress: FloatArray | None = None
) -> FloatArray:
    """Time to spare if the job moved to on-demand now with this progress (by default the
    saved progress: unsaved work counted as lost)."""
    load = sim.workload
    done_s = sim.saved[jobs] if progress is None else progress
    slack: FloatArray = (
        load.deadline_s - sim.elapsed_s - (load.restart_cost_s + load.work_s - done_s)
    )
    return slack


def _checkpoint_s(sim: SimState) -> float:
    return sim.step_s * math.ceil(sim.workload.checkpoint_cost_s / sim.step_s)


def must_commit(sim: SimState, jobs: IntArray | slice) -> BoolArray:
    """Per job: on-demand from now on is the only safe way left to meet the deadline (one
    more step, and a checkpoint before leaving, must still fit). When a checkpoint fits in
    a step, the work done so far counts: `must_protect` saves it during this step."""
    guard_s = sim.step_s + _checkpoint_s(sim)
    fits = sim.workload.checkpoint_cost_s <= sim.step_s
    progress = sim.x[jobs] if fits else None
    committed: BoolArray = slack_s(sim, jobs, progress=progress) < guard_s
    return committed


def must_protect(sim: SimState) -> BoolArray:
    """Per job: checkpoint now, because losing the unsaved work would soon force on-demand
    (this keeps a job that is about to finish on spot from being moved for nothing)."""
    guard_s = sim.step_s + 2 * _checkpoint_s(sim)
    at_risk = sim.running & (sim.market != sim.ondemand) & (sim.x > sim.saved) & ~sim.ckpt
    protect: BoolArray = at_risk & (slack_s(sim, slice(None)) < guard_s)
    return protect


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

    def _line_s(self, sim: SimState) -> float:
        return sim.workload.work_s * min(sim.elapsed_s / sim.workload.deadline_s, 1.0)

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        self.committed[jobs] |= must_commit(sim, jobs)
        spot, bids = super().launch(sim, jobs)
        behind = sim.saved[jobs] < self._line_s(sim)
        fallback = np.where(behind, self.ondemand, -1)
        markets = np.where(spot >= 0, spot, fallback)
        return np.where(self.committed[jobs], self.ondemand, markets), bids

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        interval_s = self.interval_flat[self.row_base + np.maximum(sim.market, 0)]
        due: BoolArray = sim.x - sim.saved >= interval_s
        return due | must_protect(sim)

    def stop(self, sim: SimState) -> BoolArray | None:
        newly = sim.running & ~self.committed & must_commit(sim, slice(None))
        self.committed |= newly
        leave: BoolArray = newly & (sim.market != self.ondemand)
        on_demand = np.flatnonzero(sim.running & ~self.committed & (sim.market == self.ondemand))
        if len(on_demand):
            ahead = sim.x[on_demand] >= self._line_s(sim)
            bids = np.full(len(on_demand), self.bid_usd_per_hour)
            spot_now = cheapest_spot(sim, on_demand, bids) >= 0
            leave[on_demand[ahead & spot_now]] = True
        return leave

    def compact(self, keep: BoolArray) -> None:
        self.row_base = self.row_base[keep]
        self.committed = self.committed[keep]
