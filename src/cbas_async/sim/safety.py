"""The deadline safety net every deadline-aware policy shares (Uniform Progress, the
broker): when a job must commit to on-demand, and when a job on spot must save its work.

Every rule reads each job's own clock (`SimState.own_elapsed_s`, bit for bit the common
clock in lockstep), so the same functions serve the plain stepper and fast-forward.
"""

from __future__ import annotations

import math

from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState


def checkpoint_steps_s(sim: SimState) -> float:
    """A checkpoint in whole grid steps: a job that stops does no work until it has left."""
    return sim.step_s * math.ceil(sim.workload.checkpoint_cost_s / sim.step_s)


def slack_s(
    sim: SimState, jobs: IntArray | slice, *, progress: FloatArray | None = None
) -> FloatArray:
    """Time to spare if the job moved to on-demand now with this progress (by default the
    saved progress: unsaved work counted as lost)."""
    load = sim.workload
    done_s = sim.saved[jobs] if progress is None else progress
    slack: FloatArray = (
        load.deadline_s - sim.own_elapsed_s(jobs) - (load.restart_cost_s + load.work_s - done_s)
    )
    return slack


def commit_guard_s(sim: SimState) -> float:
    """Slack below which a job commits to on-demand: one more step and a checkpoint."""
    return sim.step_s + checkpoint_steps_s(sim)


def protect_guard_s(sim: SimState) -> float:
    """Slack (unsaved work counted as lost) below which a job on spot saves its work."""
    return sim.step_s + 2 * checkpoint_steps_s(sim)


def commit_progress_s(sim: SimState, jobs: IntArray | slice) -> FloatArray:
    """The progress `must_commit` counts: all of it when a checkpoint fits in a step
    (`must_protect` saves it during this step), else the saved progress."""
    fits = sim.workload.checkpoint_cost_s <= sim.step_s
    progress: FloatArray = sim.x[jobs] if fits else sim.saved[jobs]
    return progress


def must_commit(sim: SimState, jobs: IntArray | slice) -> BoolArray:
    """Per job: on-demand from now on is the only safe way left to meet the deadline (one
    more step, and a checkpoint before leaving, must still fit)."""
    slack = slack_s(sim, jobs, progress=commit_progress_s(sim, jobs))
    committed: BoolArray = slack < commit_guard_s(sim)
    return committed


def must_protect(sim: SimState) -> BoolArray:
    """Per job: checkpoint now, because losing the unsaved work would soon force on-demand
    (this keeps a job that is about to finish on spot from being moved for nothing)."""
    at_risk = sim.running & (sim.pool != sim.ondemand) & (sim.x > sim.saved) & ~sim.ckpt
    protect: BoolArray = at_risk & (slack_s(sim, slice(None)) < protect_guard_s(sim))
    return protect
