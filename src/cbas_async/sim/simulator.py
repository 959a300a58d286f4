"""The spot simulator: replays a market trace against many jobs and one policy, vectorised.

Time advances on the trace's grid; the rules of one step are in `step.py`. Two loops apply
them, with the same results bit for bit:
- the plain stepper (`simulate_stepwise`, the reference): every job in lockstep, all rules
  at every step;
- fast-forward (`simulate` uses it when it can): each job on its own clock skips the steps
  in which nothing can happen to it (`fastforward.py`), then takes one step under the rules.
  It needs the policy's `Plan` (a `Planner`), and durations in whole seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cbas_async.sim.deadline import UniformProgress
from cbas_async.sim.fastforward import FastForward, replays_exactly
from cbas_async.sim.policy import Planner, Policy
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState, Workload
from cbas_async.sim.step import step
from cbas_async.sim.trace import MarketTrace
from cbas_async.sim.uniform_multi import UniformProgressMulti
from cbas_async.sim.uniform_plan import UniformProgressPlanner

__all__ = [
    "SimResult",
    "SimState",
    "Workload",
    "planner_for",
    "simulate",
    "simulate_stepwise",
]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SimResult:
    """Per-job outcomes of one policy (arrays indexed by job)."""

    policy: str
    cost_usd: FloatArray
    completion_s: FloatArray  # NaN when the job had not finished at the horizon
    interruptions: IntArray
    work_lost_s: FloatArray
    deadline_met: BoolArray
    steps: int  # trace-steps processed, summed over jobs
    progress_s: FloatArray | None = None  # job 0's progress after each step, when recorded
    region_moves: IntArray | None = None  # per job, checkpoints copied to another region


def simulate(
    trace: MarketTrace,
    workload: Workload,
    policy: Policy,
    starts: IntArray,
    *,
    horizon_steps: int,
    record: bool = False,
) -> SimResult:
    """Run every job from its start step for at most `horizon_steps` grid steps; by
    fast-forward when the policy has a planner (not when recording job 0's progress)."""
    planner = None if record else planner_for(policy, trace, workload)
    if planner is None:
        return simulate_stepwise(
            trace, workload, policy, starts, horizon_steps=horizon_steps, record=record
        )
    sim = SimState(trace, workload, np.asarray(starts, dtype=np.int64), horizon_steps)
    ahead = FastForward(sim)
    while True:
        ahead.run(planner.plan(sim))
        step(sim, planner)
        sim.advance((~sim.done).astype(np.int64))
        if _retire(sim):
            break
        kept = sim.compact()
        if kept is not None:
            planner.compact(kept)
    return _result(sim, policy, None)


def simulate_stepwise(
    trace: MarketTrace,
    workload: Workload,
    policy: Policy,
    starts: IntArray,
    *,
    horizon_steps: int,
    record: bool = False,
) -> SimResult:
    """The plain stepper: every rule for every job at every step (the reference)."""
    sim = SimState(trace, workload, np.asarray(starts, dtype=np.int64), horizon_steps)
    trail = np.full(horizon_steps, np.nan) if record else None
    for k in range(horizon_steps):
        sim.begin(k)
        step(sim, policy)
        if trail is not None:
            trail[k] = sim.x[0] if sim.ids[0] == 0 else workload.work_s
        if k & 7 == 7:
            if sim.done.all():
                break
            kept = sim.compact()
            if kept is not None:
                policy.compact(kept)
    return _result(sim, policy, trail)


def planner_for(policy: Policy, trace: MarketTrace, workload: Workload) -> Planner | None:
    """The policy's planner for fast-forward, or None: the stepper must run it."""
    if not replays_exactly(trace, workload):
        return None
    if type(policy) in (UniformProgress, UniformProgressMulti):
        # the multi-region variant decides at the same steps, only its zone differs
        assert isinstance(policy, UniformProgress)
        return UniformProgressPlanner(policy, trace.step_s)
    if isinstance(policy, Planner) and _plans_its_rules(type(policy)):
        return policy
    return None


def _plans_its_rules(cls: type) -> bool:
    """A plan describes the rules of the class that defines it: a subclass that changes a
    rule but inherits the plan has none."""
    owner = _owner(cls, "plan")
    rules = (_owner(cls, name) for name in ("launch", "checkpoint", "stop", "compact"))
    return owner is not None and all(r is not None and issubclass(owner, r) for r in rules)


def _owner(cls: type, name: str) -> type | None:
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def _retire(sim: SimState) -> bool:
    """Jobs at the horizon leave the run; True when no job is left."""
    over = np.flatnonzero(~sim.done & (sim.own_steps(slice(None)) >= sim.horizon))
    if len(over):
        sim.retire(over)
    return bool(sim.done.all())


def _result(sim: SimState, policy: Policy, trail: FloatArray | None) -> SimResult:
    completion = sim.outcome("completion").astype(np.float64)
    return SimResult(
        policy=policy.name,
        cost_usd=sim.outcome("cost").astype(np.float64),
        completion_s=completion,
        interruptions=sim.outcome("interruptions").astype(np.int64),
        work_lost_s=sim.outcome("lost").astype(np.float64),
        deadline_met=completion <= sim.workload.deadline_s * (1 + 1e-12),
        steps=int(np.minimum(sim.outcome("done_step") + 1, sim.horizon).sum()),
        progress_s=trail,
        region_moves=sim.outcome("moves").astype(np.int64),
    )
