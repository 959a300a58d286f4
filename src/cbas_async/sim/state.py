"""The simulator's state: one array per job field, plus the trace flattened for fast gathers.

It is mutable on purpose: the simulator updates every job in place, and policies read it
(never write it) to decide. One `SimState` belongs to one simulation run.

Jobs are either in lockstep (the plain stepper: every job at step `k` of its own window) or
each on its own clock (the fast-forward loop: job i at step `idx[i] - starts[i]`). `k` and
`elapsed_s` exist only in lockstep; `own_steps` and `own_elapsed_s` work in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.eras import Billing

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

IDLE = -1  # pool index of a job with no instance
# every per-job array, and those that make up the result
_PER_JOB = (
    *("ids", "starts", "idx", "pool", "offset", "fi", "running", "done", "ckpt", "stopping"),
    *("session_start", "done_step", "interruptions", "bid", "completion", "region", "moves"),
    *("x", "saved", "debt", "cost", "lost", "hour_usd"),
)
_OUTPUTS = ("cost", "completion", "interruptions", "lost", "done_step", "moves")


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """One job: seconds of work, its deadline after its start, and checkpoint/restart costs.

    A checkpoint takes `checkpoint_cost_s` of instance time without progress and saves the
    progress made before it. Launching with saved progress costs `restart_cost_s` first.
    On a trace with regions the job starts in `home_region` (by default the first), and
    launching with saved progress in another region than the checkpoint's also costs
    `move_usd` (egress) and `move_s` (the copy: instance time without progress).
    """

    work_s: float
    deadline_s: float
    checkpoint_cost_s: float = 0.0
    restart_cost_s: float = 0.0
    home_region: str = ""
    move_usd: float = 0.0
    move_s: float = 0.0

    def __post_init__(self) -> None:
        if self.work_s <= 0 or self.deadline_s <= 0:
            raise ValueError("work_s and deadline_s must be above 0")
        if self.checkpoint_cost_s < 0 or self.restart_cost_s < 0:
            raise ValueError("checkpoint and restart costs must be at least 0")
        if self.move_usd < 0 or self.move_s < 0:
            raise ValueError("move costs must be at least 0")


class SimState:
    """Every job's state at the current grid step. A pool is where an instance runs: pools
    0..Z-1 are the zones' spot capacity, pool Z is on-demand."""

    def __init__(self, trace: MarketTrace, workload: Workload, starts: IntArray, horizon: int):
        if len(starts) == 0:
            raise ValueError("no jobs to simulate")
        if starts.min() < 0 or starts.max() + horizon > trace.n_steps:
            raise ValueError("every job's window must lie inside the trace")
        self.trace, self.workload, self.horizon = trace, workload, horizon
        self.steps_per_hour = _steps_per_hour(trace)
        self.n, self.ondemand = trace.n_steps, trace.n_zones
        self._flatten(trace)
        jobs = len(starts)
        self.starts = starts.astype(np.int64)
        self.lockstep = True
        self._k, self.idx = 0, self.starts.copy()
        self.pool = np.full(jobs, IDLE, dtype=np.int64)
        self.offset = np.zeros(jobs, dtype=np.int64)  # pool * n, for flat gathers
        self.fi = self.idx.copy()
        self.running = np.zeros(jobs, dtype=bool)
        self.done = np.zeros(jobs, dtype=bool)
        self.ckpt = np.zeros(jobs, dtype=bool)
        self.stopping = np.zeros(jobs, dtype=bool)
        self.session_start = np.zeros(jobs, dtype=np.int64)
        self.done_step = np.full(jobs, horizon, dtype=np.int64)
        self.interruptions = np.zeros(jobs, dtype=np.int64)
        self.region = np.full(jobs, _home_index(trace, workload), dtype=np.int64)
        self.moves = np.zeros(jobs, dtype=np.int64)  # launches that copied a checkpoint
        for name in ("x", "saved", "debt", "cost", "lost", "hour_usd"):
            setattr(self, name, np.zeros(jobs))
        self.bid = np.full(jobs, np.inf)
        self.completion = np.full(jobs, np.nan)
        self.ids = np.arange(jobs)  # each row's job number, as rows of finished jobs are dropped
        self.out: dict[str, npt.NDArray[np.generic]] = {
            name: getattr(self, name).copy() for name in _OUTPUTS
        }

    x: FloatArray  # progress in seconds of work, saved or not
    saved: FloatArray  # progress at the last completed checkpoint
    debt: FloatArray  # overhead (restart or checkpoint) still to run before work resumes
    cost: FloatArray
    lost: FloatArray
    hour_usd: FloatArray  # what the current instance-hour was charged (bid-era refunds)

    def _flatten(self, trace: MarketTrace) -> None:
        od = np.full(trace.n_steps, trace.ondemand_usd_per_hour)
        self.flat_start = np.concatenate([trace.price_start.ravel(), od])
        self.flat_mean = np.concatenate([trace.price_mean.ravel(), od])
        self.flat_max = np.concatenate([trace.price_max.ravel(), od])
        self.flat_available = np.concatenate([trace.available.ravel(), np.ones_like(od, bool)])
        self.capacity_limited = not bool(trace.available.all())
        # per pool, its region's index; on-demand (-1) runs wherever the job's checkpoint is
        self.pool_region = np.append(trace.zone_regions(), -1)
        self.multi_region = trace.multi_region

    @property
    def step_s(self) -> float:
        return self.trace.step_s

    @property
    def k(self) -> int:
        """The step every job is at (lockstep only)."""
        if not self.lockstep:
            raise RuntimeError("jobs are on their own clocks: use own_steps()")
        return self._k

    @property
    def elapsed_s(self) -> float:
        """Time since every job's own start, at the current step boundary (lockstep only)."""
        return self.k * self.trace.step_s

    def own_steps(self, jobs: IntArray | slice) -> IntArray:
        """Per job, its step since its own start (in lockstep: `k` for every job)."""
        steps: IntArray = self.idx[jobs] - self.starts[jobs]
        return steps

    def own_elapsed_s(self, jobs: IntArray | slice) -> FloatArray:
        """Per job, the time since its own start: bit for bit `elapsed_s` in lockstep."""
        return cast(FloatArray, self.own_steps(jobs) * self.trace.step_s)

    @property
    def hourly(self) -> bool:
        return self.trace.model.billing is Billing.HOURLY

    def begin(self, k: int) -> None:
        self._k = k
        np.add(self.starts, k, out=self.idx)
        np.add(self.offset, self.idx, out=self.fi)

    def advance(self, steps: IntArray) -> None:
        """Move each job `steps[i]` grid steps on its own clock (ends lockstep)."""
        self.lockstep = False
        self.idx += steps
        self.fi += steps

    def retire(self, jobs: IntArray) -> None:
        """`jobs` reached the horizon: their outcome stays as it is and they take no further
        part (marked done, without an instance, so no rule of a step applies to them)."""
        self.done[jobs] = True
        self.stopping[jobs] = False
        self.ckpt[jobs] = False
        self.set_pool(jobs, np.full(len(jobs), IDLE, dtype=np.int64))

    def set_pool(self, jobs: IntArray, pools: IntArray) -> None:
        self.pool[jobs] = pools
        self.running[jobs] = pools >= 0
        self.offset[jobs] = np.maximum(pools, 0) * self.n
        self.fi[jobs] = self.offset[jobs] + self.idx[jobs]

    def session_seconds(self, jobs: IntArray) -> FloatArray:
        steps = self.idx[jobs] - self.session_start[jobs]
        return steps.astype(np.float64) * self.trace.step_s

    def compact(self) -> BoolArray | None:
        """Drop the rows of finished jobs once they are most rows (their results are kept);
        returns the rows kept, or None when nothing changed."""
        keep = ~self.done
        kept = int(keep.sum())
        if kept == 0 or kept * 2 > len(keep) or len(keep) < 64:
            return None
        self._save(~keep)
        for name in _PER_JOB:
            setattr(self, name, getattr(self, name)[keep])
        return keep

    def outcome(self, name: str) -> npt.NDArray[np.generic]:
        """A result array over all jobs, in job order."""
        self._save(np.ones(len(self.ids), dtype=bool))
        return self.out[name]

    def _save(self, rows: BoolArray) -> None:
        for name in _OUTPUTS:
            self.out[name][self.ids[rows]] = getattr(self, name)[rows]

    def end_sessions(self, jobs: IntArray, keep_s: FloatArray) -> None:
        """Instances of `jobs` are gone: progress falls back to `keep_s` (now saved)."""
        self.lost[jobs] += self.x[jobs] - keep_s
        self.x[jobs] = keep_s
        self.saved[jobs] = keep_s
        self.debt[jobs] = 0.0
        self.ckpt[jobs] = False
        self.stopping[jobs] = False
        self.set_pool(jobs, np.full(len(jobs), IDLE, dtype=np.int64))


def _home_index(trace: MarketTrace, workload: Workload) -> int:
    names = trace.region_names
    if not workload.home_region or not names:
        return 0
    if workload.home_region not in names:
        raise ValueError(f"home region {workload.home_region} is not among {', '.join(names)}")
    return names.index(workload.home_region)


def _steps_per_hour(trace: MarketTrace) -> int:
    per_hour = 3600.0 / trace.step_s
    if trace.model.billing is Billing.HOURLY and abs(per_hour - round(per_hour)) > 1e-9:
        raise ValueError("hourly billing needs a grid step that divides an hour")
    return max(round(per_hour), 1) if math.isfinite(per_hour) else 1
