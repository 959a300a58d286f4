"""The spot simulator: replays a market trace against many jobs and one policy, vectorised.

Time advances on the trace's grid; at each step boundary, for all jobs at once:
1. running spot instances are interrupted (price above max price, or no capacity); in the
   bid era a partial instance-hour is refunded; with a notice long enough for a checkpoint,
   a checkpointing policy keeps its progress up to the notice;
2. voluntary stops take effect (a policy's stop first runs a checkpoint);
3. idle jobs may launch (the policy picks a market and a max price);
4. running jobs may start a checkpoint;
5. each running job spends the step on overhead (restart, checkpoint), then work, and is
   billed: in hourly billing each instance-hour at its start, else per second (60 s minimum).
A job can finish inside a step; sessions otherwise start and end on step boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cbas_async.spot.state import BoolArray, FloatArray, IntArray, SimState, Workload
from cbas_async.spot.trace import MarketTrace

__all__ = ["Policy", "SimResult", "SimState", "Workload", "simulate"]


class Policy(Protocol):
    """A vectorised online policy; it reads `SimState` and answers for many jobs at once."""

    @property
    def name(self) -> str: ...

    @property
    def saves_on_notice(self) -> bool:
        """Whether it checkpoints when an interruption notice arrives."""
        ...

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        """For idle `jobs`: (market per job, -1 to wait; max price per job)."""
        ...

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        """Per job: start a checkpoint now (None: never)."""
        ...

    def stop(self, sim: SimState) -> BoolArray | None:
        """Per job: leave the current instance (after a checkpoint) (None: never)."""
        ...

    def compact(self, keep: BoolArray) -> None:
        """The simulator dropped the rows of finished jobs: keep only these rows."""
        ...


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


def simulate(
    trace: MarketTrace,
    workload: Workload,
    policy: Policy,
    starts: IntArray,
    *,
    horizon_steps: int,
    record: bool = False,
) -> SimResult:
    """Run every job from its start step for at most `horizon_steps` grid steps."""
    sim = SimState(trace, workload, np.asarray(starts, dtype=np.int64), horizon_steps)
    trail = np.full(horizon_steps, np.nan) if record else None
    for k in range(horizon_steps):
        sim.begin(k)
        _interrupt(sim, policy)
        _stop(sim, policy)
        _launch(sim, policy)
        _checkpoint(sim, policy)
        _advance(sim)
        if trail is not None:
            trail[k] = sim.x[0] if sim.ids[0] == 0 else workload.work_s
        if k & 7 == 7:
            if sim.done.all():
                break
            kept = sim.compact()
            if kept is not None:
                policy.compact(kept)
    completion = sim.outcome("completion").astype(np.float64)
    return SimResult(
        policy=policy.name,
        cost_usd=sim.outcome("cost").astype(np.float64),
        completion_s=completion,
        interruptions=sim.outcome("interruptions").astype(np.int64),
        work_lost_s=sim.outcome("lost").astype(np.float64),
        deadline_met=completion <= workload.deadline_s * (1 + 1e-12),
        steps=int(np.minimum(sim.outcome("done_step") + 1, horizon_steps).sum()),
        progress_s=trail,
    )


def _interrupt(sim: SimState, policy: Policy) -> None:
    killed = sim.running & (sim.flat_max[sim.fi] > sim.bid)
    if sim.capacity_limited:
        killed |= sim.running & ~sim.flat_available[sim.fi]
    if not killed.any():
        return
    jobs = np.flatnonzero(killed)
    if sim.hourly:
        partial = (sim.idx[jobs] - sim.session_start[jobs]) % sim.steps_per_hour != 0
        sim.cost[jobs] -= np.where(partial, sim.hour_usd[jobs], 0.0)
    else:
        _bill_minimum(sim, jobs, sim.session_seconds(jobs))
    keep = sim.saved[jobs]
    notice_s = sim.trace.model.notice_s
    if policy.saves_on_notice and 0 < sim.workload.checkpoint_cost_s <= notice_s:
        keep = np.maximum(keep, sim.x[jobs] - sim.debt[jobs] - notice_s)
    sim.interruptions[jobs] += 1
    sim.end_sessions(jobs, keep)


def _stop(sim: SimState, policy: Policy) -> None:
    want = policy.stop(sim)
    if want is not None:
        asked = np.flatnonzero(want & sim.running & ~sim.stopping)
        if len(asked):
            _request_stop(sim, asked)
    if sim.stopping.any():
        ready = np.flatnonzero(sim.stopping & (sim.debt <= 0))
        _leave(sim, ready)


def _request_stop(sim: SimState, jobs: IntArray) -> None:
    cost_s = sim.workload.checkpoint_cost_s
    unsaved = (sim.x[jobs] > sim.saved[jobs]) & (sim.debt[jobs] <= 0)
    if cost_s > 0:
        start = jobs[unsaved]
        sim.debt[start] = cost_s
        sim.ckpt[start] = True
    else:
        sim.saved[jobs[unsaved]] = sim.x[jobs[unsaved]]
    sim.stopping[jobs[sim.ckpt[jobs]]] = True
    _leave(sim, jobs[~sim.ckpt[jobs]])


def _leave(sim: SimState, jobs: IntArray) -> None:
    if len(jobs) == 0:
        return
    if not sim.hourly:
        _bill_minimum(sim, jobs, sim.session_seconds(jobs))
    sim.end_sessions(jobs, sim.saved[jobs])


def _launch(sim: SimState, policy: Policy) -> None:
    idle = ~sim.running & ~sim.done
    if not idle.any():
        return
    jobs = np.flatnonzero(idle)
    markets, bids = policy.launch(sim, jobs)
    flat = np.maximum(markets, 0) * sim.n + sim.idx[jobs]
    spot_ok = (sim.flat_max[flat] <= bids) & sim.flat_available[flat]
    go = (markets == sim.ondemand) | ((markets >= 0) & spot_ok)
    jobs, markets = jobs[go], markets[go]
    if len(jobs) == 0:
        return
    sim.set_market(jobs, markets)
    sim.bid[jobs] = np.where(markets == sim.ondemand, np.inf, bids[go])
    sim.session_start[jobs] = sim.idx[jobs]
    sim.x[jobs] = sim.saved[jobs]
    sim.debt[jobs] = np.where(sim.saved[jobs] > 0, sim.workload.restart_cost_s, 0.0)
    sim.ckpt[jobs] = False
    sim.stopping[jobs] = False


def _checkpoint(sim: SimState, policy: Policy) -> None:
    want = policy.checkpoint(sim)
    if want is None or not want.any():
        return
    ok = want & sim.running & (sim.debt <= 0) & ~sim.stopping & (sim.x > sim.saved)
    if sim.workload.checkpoint_cost_s > 0:
        sim.debt[ok] = sim.workload.checkpoint_cost_s
        sim.ckpt |= ok
    else:
        sim.saved[ok] = sim.x[ok]


def _advance(sim: SimState) -> None:
    step_s = sim.trace.step_s
    overhead = np.minimum(sim.debt, step_s)
    sim.debt -= overhead
    if sim.ckpt.any():
        saved_now = sim.ckpt & (sim.debt <= 0)
        np.copyto(sim.saved, sim.x, where=saved_now)
        sim.ckpt &= ~saved_now
    work = (step_s - overhead) * sim.running
    if sim.stopping.any():
        work[sim.stopping] = 0.0
    remaining = sim.workload.work_s - sim.x
    finishing = work >= remaining
    finishing &= sim.running
    ends = np.flatnonzero(finishing)
    used = step_s * sim.running  # an instance is billed the whole step unless it finishes
    if len(ends):
        used[ends] = overhead[ends] + remaining[ends]
    sim.x += np.minimum(work, remaining)
    _bill_step(sim, used)
    if len(ends):
        _finish(sim, ends, used)


def _bill_step(sim: SimState, used: FloatArray) -> None:
    if sim.hourly:
        new_hour = (sim.idx - sim.session_start) % sim.steps_per_hour == 0
        new_hour &= sim.running
        charge = np.where(new_hour, sim.flat_start[sim.fi], 0.0)
        sim.cost += charge
        np.copyto(sim.hour_usd, charge, where=new_hour)
    else:
        sim.cost += sim.flat_mean[sim.fi] * used / 3600.0


def _finish(sim: SimState, jobs: IntArray, used: FloatArray) -> None:
    sim.completion[jobs] = sim.elapsed_s + used[jobs]
    sim.done[jobs] = True
    sim.done_step[jobs] = sim.k
    if not sim.hourly:
        _bill_minimum(sim, jobs, sim.session_seconds(jobs) + used[jobs])
    sim.saved[jobs] = sim.x[jobs]
    sim.set_market(jobs, np.full(len(jobs), -1, dtype=np.int64))


def _bill_minimum(sim: SimState, jobs: IntArray, duration_s: FloatArray) -> None:
    """Per-second billing charges at least the model's minimum per instance run."""
    short_s = np.maximum(sim.trace.model.min_billed_s - duration_s, 0.0)
    if short_s.any():
        sim.cost[jobs] += short_s * sim.flat_start[sim.fi[jobs]] / 3600.0
