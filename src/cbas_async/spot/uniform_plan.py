"""Uniform Progress (`deadline.py`) for fast-forward: its rules with each job on its own
clock, and its plan.

`UniformProgress` reads `sim.elapsed_s`, one clock for all jobs, which fast-forward does
not have. `UniformProgressPlanner` drives the same policy object (its per-job state) with
the same rules, rule for rule, reading each job's own elapsed time instead; the tests
compare it with the plain stepper running `UniformProgress` itself. A change to the rules
in `deadline.py` must be made here too (until `deadline.py` reads per-job clocks and the
plan can live there).
"""

from __future__ import annotations

import math

import numpy as np

from cbas_async.spot.deadline import UniformProgress
from cbas_async.spot.plans import NEVER, Plan, interval_plan, steps_above, steps_to
from cbas_async.spot.policies import cheapest_spot
from cbas_async.spot.state import BoolArray, FloatArray, IntArray, SimState

_MARGIN = 1e-9  # relative slack on the progress line, far above float rounding


class UniformProgressPlanner:
    """Uniform Progress on per-job clocks, with its plan (see the module docstring)."""

    def __init__(self, policy: UniformProgress, step_s: float) -> None:
        self.policy = policy
        self.name = policy.name
        self.saves_on_notice = policy.saves_on_notice
        self.needed_flat, self.period_flat = interval_plan(
            policy.interval_flat, step_s, policy.workload
        )

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        p = self.policy
        p.committed[jobs] |= self._must_commit(sim, jobs)
        bids = np.full(len(jobs), p.bid_usd_per_hour)
        spot = cheapest_spot(sim, jobs, bids)
        behind = sim.saved[jobs] < self._line_s(sim, jobs)
        fallback = np.where(behind, p.ondemand, -1)
        markets = np.where(spot >= 0, spot, fallback)
        return np.where(p.committed[jobs], p.ondemand, markets), bids

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        due: BoolArray = sim.x - sim.saved >= self._interval_s(sim)
        return due | self._must_protect(sim)

    def stop(self, sim: SimState) -> BoolArray | None:
        p = self.policy
        newly = sim.running & ~p.committed & self._must_commit(sim, slice(None))
        p.committed |= newly
        leave: BoolArray = newly & (sim.market != p.ondemand)
        on_demand = np.flatnonzero(sim.running & ~p.committed & (sim.market == p.ondemand))
        if len(on_demand):
            ahead = sim.x[on_demand] >= self._line_s(sim, on_demand)
            bids = np.full(len(on_demand), p.bid_usd_per_hour)
            spot_now = cheapest_spot(sim, on_demand, bids) >= 0
            leave[on_demand[ahead & spot_now]] = True
        return leave

    def compact(self, keep: BoolArray) -> None:
        self.policy.compact(keep)

    def plan(self, sim: SimState) -> Plan:
        """Daly checkpoints on spot; any other decision is an event, at the first step it
        could be taken: a launch, a move to on-demand for good, a checkpoint to protect
        work near the deadline, a move from on-demand back to spot."""
        p = self.policy
        key = p.row_base + np.maximum(sim.market, 0)
        first = steps_to(self.needed_flat[key], sim.x - sim.saved, sim.step_s)
        quiet = self._running_quiet(sim)
        idle = np.flatnonzero(~sim.running & ~sim.done)
        if len(idle):
            quiet[idle] = self._idle_quiet(sim, idle)
        return Plan(quiet=quiet, first=first, period=self.period_flat[key])

    # the rules of `deadline.py`, per job clock

    def _interval_s(self, sim: SimState) -> FloatArray:
        p = self.policy
        interval: FloatArray = p.interval_flat[p.row_base + np.maximum(sim.market, 0)]
        return interval

    def _line_s(self, sim: SimState, jobs: IntArray | slice) -> FloatArray:
        load = sim.workload
        line: FloatArray = load.work_s * np.minimum(sim.own_elapsed_s(jobs) / load.deadline_s, 1.0)
        return line

    def _slack_s(self, sim: SimState, jobs: IntArray | slice, done_s: FloatArray) -> FloatArray:
        load = sim.workload
        slack: FloatArray = (
            load.deadline_s - sim.own_elapsed_s(jobs) - (load.restart_cost_s + load.work_s - done_s)
        )
        return slack

    def _guards_s(self, sim: SimState) -> tuple[float, float]:
        """Slack below which a job commits to on-demand, and protects its work."""
        checkpoint_s = sim.step_s * math.ceil(sim.workload.checkpoint_cost_s / sim.step_s)
        return sim.step_s + checkpoint_s, sim.step_s + 2 * checkpoint_s

    def _commit_progress(self, sim: SimState, jobs: IntArray | slice) -> FloatArray:
        fits = sim.workload.checkpoint_cost_s <= sim.step_s
        progress: FloatArray = sim.x[jobs] if fits else sim.saved[jobs]
        return progress

    def _must_commit(self, sim: SimState, jobs: IntArray | slice) -> BoolArray:
        slack = self._slack_s(sim, jobs, self._commit_progress(sim, jobs))
        committed: BoolArray = slack < self._guards_s(sim)[0]
        return committed

    def _must_protect(self, sim: SimState) -> BoolArray:
        p = self.policy
        at_risk = sim.running & (sim.market != p.ondemand) & (sim.x > sim.saved) & ~sim.ckpt
        protect: BoolArray = at_risk & (
            self._slack_s(sim, slice(None), sim.saved) < self._guards_s(sim)[1]
        )
        return protect

    # how long each decision surely is not taken

    def _idle_quiet(self, sim: SimState, jobs: IntArray) -> IntArray:
        """An idle job launches when spot opens, when it falls behind the line (on-demand),
        or when it must commit; its saved progress is all it has."""
        p, step_s, idx = self.policy, sim.step_s, sim.idx[jobs]
        commit_guard, _ = self._guards_s(sim)
        wait = np.minimum(p.next_open[idx] - idx, self._until_behind(sim, jobs))
        slack = self._slack_s(sim, jobs, sim.saved[jobs])
        wait = np.minimum(wait, steps_above(slack, commit_guard, step_s))
        return np.where(p.committed[jobs], 0, wait)

    def _running_quiet(self, sim: SimState) -> IntArray:
        p, load, step_s = self.policy, sim.workload, sim.step_s
        commit_guard, protect_guard = self._guards_s(sim)
        # the commit slack falls by the overhead of each step (or by a step of time, when a
        # checkpoint outlasts a step and only saved work counts)
        fall = load.checkpoint_cost_s if load.checkpoint_cost_s <= step_s else step_s
        slack = self._slack_s(sim, slice(None), self._commit_progress(sim, slice(None)))
        quiet = np.where(p.committed, NEVER, steps_above(slack, commit_guard, fall))
        on_demand = sim.market == p.ondemand
        saved_slack = self._slack_s(sim, slice(None), sim.saved)
        protect = steps_above(saved_slack, protect_guard, step_s)
        quiet = np.minimum(quiet, np.where(on_demand, NEVER, protect))
        back = np.maximum(self._until_ahead(sim), p.next_open[sim.idx] - sim.idx)
        return np.minimum(quiet, np.where(on_demand & ~p.committed, back, NEVER))

    def _until_behind(self, sim: SimState, jobs: IntArray) -> IntArray:
        """Steps in which the line surely stays at or below the saved progress."""
        load = sim.workload
        elapsed = sim.own_elapsed_s(jobs)
        latest = sim.saved[jobs] * (1 - _MARGIN) * load.deadline_s / load.work_s
        steps = np.floor((latest - elapsed) / sim.step_s) + 1
        until: IntArray = np.clip(steps, 0, NEVER).astype(np.int64)
        return until

    def _until_ahead(self, sim: SimState) -> IntArray:
        """Steps in which an on-demand job (a full step of work each) surely stays below the
        line: x + j s < a (e + j s), with a the line's slope a little lowered."""
        load, step_s = sim.workload, sim.step_s
        slope = load.work_s * (1 - _MARGIN) / load.deadline_s
        gap = slope * sim.own_elapsed_s(slice(None)) - sim.x
        if slope >= 1:  # the line runs away at least as fast as the work
            return np.where(gap > 0, NEVER, 0)
        steps = np.ceil(gap / (step_s * (1 - slope)))
        return np.clip(steps, 0, NEVER).astype(np.int64)
