"""One grid step of the simulator for every job at once: the rules of the model.

At each job's step boundary:
1. running spot instances are interrupted (price above max price, or no capacity); in the
   bid era a partial instance-hour is refunded; with a notice long enough for a checkpoint,
   a checkpointing policy keeps its progress up to the notice;
2. voluntary stops take effect (a policy's stop first runs a checkpoint);
3. idle jobs may launch (the policy picks a pool and a max price); on a trace with regions,
   a launch on spot in another region than the job's checkpoint first copies it there;
4. running jobs may start a checkpoint;
5. each running job spends the step on overhead (restart, checkpoint), then work, and is
   billed: in hourly billing each instance-hour at its start, else per second (60 s minimum).
A job can finish inside a step; sessions otherwise start and end on step boundaries.

Every rule reads each job's own step (`sim.idx`), so jobs need not be in lockstep.
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.policy import Policy
from cbas_async.sim.state import FloatArray, IntArray, SimState


def step(sim: SimState, policy: Policy) -> None:
    """Apply one step's rules to every job, each at its current step."""
    _interrupt(sim, policy)
    _stop(sim, policy)
    _launch(sim, policy)
    _checkpoint(sim, policy)
    _advance(sim)


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
    pools, bids = policy.launch(sim, jobs)
    flat = np.maximum(pools, 0) * sim.n + sim.idx[jobs]
    spot_ok = (sim.flat_max[flat] <= bids) & sim.flat_available[flat]
    go = (pools == sim.ondemand) | ((pools >= 0) & spot_ok)
    jobs, pools = jobs[go], pools[go]
    if len(jobs) == 0:
        return
    sim.set_pool(jobs, pools)
    sim.bid[jobs] = np.where(pools == sim.ondemand, np.inf, bids[go])
    sim.session_start[jobs] = sim.idx[jobs]
    sim.x[jobs] = sim.saved[jobs]
    sim.debt[jobs] = np.where(sim.saved[jobs] > 0, sim.workload.restart_cost_s, 0.0)
    sim.ckpt[jobs] = False
    sim.stopping[jobs] = False
    if sim.multi_region:
        _move(sim, jobs, pools)


def _move(sim: SimState, jobs: IntArray, pools: IntArray) -> None:
    """A launch on spot in another region than the checkpoint's copies the checkpoint
    there first: egress, and the copy's time before the restart (on-demand stays put)."""
    target = sim.pool_region[pools]
    spot = target >= 0
    moved = jobs[spot & (target != sim.region[jobs]) & (sim.saved[jobs] > 0)]
    sim.region[jobs[spot]] = target[spot]
    if len(moved):
        sim.cost[moved] += sim.workload.move_usd
        sim.debt[moved] += sim.workload.move_s
        sim.moves[moved] += 1


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
    steps = sim.own_steps(jobs)
    sim.completion[jobs] = steps * sim.trace.step_s + used[jobs]
    sim.done[jobs] = True
    sim.done_step[jobs] = steps
    if not sim.hourly:
        _bill_minimum(sim, jobs, sim.session_seconds(jobs) + used[jobs])
    sim.saved[jobs] = sim.x[jobs]
    sim.set_pool(jobs, np.full(len(jobs), -1, dtype=np.int64))


def _bill_minimum(sim: SimState, jobs: IntArray, duration_s: FloatArray) -> None:
    """Per-second billing charges at least the model's minimum per instance run."""
    short_s = np.maximum(sim.trace.model.min_billed_s - duration_s, 0.0)
    if short_s.any():
        sim.cost[jobs] += short_s * sim.flat_start[sim.fi[jobs]] / 3600.0
