"""Uniform Progress (`deadline.py`) for fast-forward: its plan, i.e. how long each of its
decisions surely is not taken. The rules themselves are the policy's (they read each job's
own clock); the tests compare this with the plain stepper running `UniformProgress`.
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.deadline import UniformProgress
from cbas_async.sim.plans import NEVER, Plan, interval_plan, steps_above, steps_to
from cbas_async.sim.safety import (
    commit_guard_s,
    commit_progress_s,
    protect_guard_s,
    slack_s,
)
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState

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

    # the policy's own rules: they read each job's own clock
    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        return self.policy.launch(sim, jobs)

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        return self.policy.checkpoint(sim)

    def stop(self, sim: SimState) -> BoolArray | None:
        return self.policy.stop(sim)

    def compact(self, keep: BoolArray) -> None:
        self.policy.compact(keep)

    def plan(self, sim: SimState) -> Plan:
        """Daly checkpoints on spot; any other decision is an event, at the first step it
        could be taken: a launch, a move to on-demand for good, a checkpoint to protect
        work near the deadline, a move from on-demand back to spot."""
        p = self.policy
        key = p.row_base + np.maximum(sim.pool, 0)
        first = steps_to(self.needed_flat[key], sim.x - sim.saved, sim.step_s)
        quiet = self._running_quiet(sim)
        idle = np.flatnonzero(~sim.running & ~sim.done)
        if len(idle):
            quiet[idle] = self._idle_quiet(sim, idle)
        return Plan(quiet=quiet, first=first, period=self.period_flat[key])

    # how long each decision surely is not taken

    def _idle_quiet(self, sim: SimState, jobs: IntArray) -> IntArray:
        """An idle job launches when spot opens, when it falls behind the line (on-demand),
        or when it must commit; its saved progress is all it has."""
        p, step_s, idx = self.policy, sim.step_s, sim.idx[jobs]
        commit_guard = commit_guard_s(sim)
        wait = np.minimum(p.next_open[idx] - idx, self._until_behind(sim, jobs))
        slack = slack_s(sim, jobs, progress=sim.saved[jobs])
        wait = np.minimum(wait, steps_above(slack, commit_guard, step_s))
        return np.where(p.committed[jobs], 0, wait)

    def _running_quiet(self, sim: SimState) -> IntArray:
        p, load, step_s = self.policy, sim.workload, sim.step_s
        commit_guard, protect_guard = commit_guard_s(sim), protect_guard_s(sim)
        # the commit slack falls by the overhead of each step (or by a step of time, when a
        # checkpoint outlasts a step and only saved work counts)
        fall = load.checkpoint_cost_s if load.checkpoint_cost_s <= step_s else step_s
        slack = slack_s(sim, slice(None), progress=commit_progress_s(sim, slice(None)))
        quiet = np.where(p.committed, NEVER, steps_above(slack, commit_guard, fall))
        on_demand = sim.pool == p.ondemand
        saved_slack = slack_s(sim, slice(None), progress=sim.saved)
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
