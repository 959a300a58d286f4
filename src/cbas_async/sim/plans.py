"""Plans: what a policy tells fast-forward (`fastforward.py`) it will decide.

From each job's current step, if nothing happens to the job, a plan says for how many
steps the policy will decide nothing but checkpoints, and at which of those steps
checkpoints start: periodically, at marked steps of the pool, or at the steps whose price
level is among some levels. Each must be exactly the policy's own answer at that step;
the helpers here compute thresholds with the policy's float arithmetic (`first_step`) and
then work in whole seconds, as fast-forward does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, cast

import numpy as np

from cbas_async.sim.state import BoolArray, FloatArray, IntArray, Workload

NEVER: Final = 1 << 40  # a step offset beyond any horizon
_AROUND = np.arange(5)  # candidates around an estimate in `first_step`


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Plan:
    """A policy's decisions from each job's current step, if nothing happens to the job:
    for `quiet` steps none but checkpoints, which start `first` steps from now and every
    `period` steps after that (NEVER: none). A job may still be stopped by an event sooner."""

    quiet: IntArray
    first: IntArray
    period: IntArray

    def checkpoints(self, jobs: IntArray, steps: IntArray) -> tuple[IntArray, IntArray]:
        """For `jobs` over their next `steps` steps: how many checkpoints start, and the
        offset of the step where the last one starts (meaningless when none)."""
        first, period = self.first[jobs], self.period[jobs]
        count = cast(IntArray, np.where(first < steps, 1 + (steps - 1 - first) // period, 0))
        return count, first + (count - 1) * period


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MarkedPlan(Plan):
    """Checkpoints at marked steps of the job's pool (the `first` is the next one)."""

    marks_before: IntArray  # flat (pools x (steps + 1)): marked steps before each step
    last_mark: IntArray  # flat (pools x (steps + 1)): last marked step up to each (-1: none)
    key: IntArray  # per job: pool x (steps + 1) + its trace step, when planned
    idx: IntArray  # per job: its trace step, when planned

    def checkpoints(self, jobs: IntArray, steps: IntArray) -> tuple[IntArray, IntArray]:
        key = self.key[jobs]
        count = self.marks_before[key + steps] - self.marks_before[key]
        last: IntArray = self.last_mark[key + steps - 1] - self.idx[jobs]
        return count, last


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LevelTables:
    """Lookups over a grid of price levels (pools x steps) by position: pool x
    (steps + 1) + step, one more per pool for the end of its row."""

    stride: int
    level_at: IntArray  # per position: its level
    next_change: IntArray  # per position: the next one at another level
    next_at_level: IntArray  # (levels, positions): the next position at the level
    at_level_before: IntArray  # (levels, positions): steps at the level before
    last_at_level: IntArray  # (levels, positions): last step at the level so far (-1: none)

    @classmethod
    def build(cls, grid: IntArray, levels: int) -> LevelTables:
        pools, steps = grid.shape
        ends = np.arange(pools)[:, None] * (steps + 1)  # where each pool's row starts
        at_level = np.stack([grid == level for level in range(levels)])
        changed = np.concatenate([np.zeros((pools, 1), bool), grid[:, 1:] != grid[:, :-1]], 1)
        after_change = next_true(changed)[:, 1:]  # from the next step on
        before, last = prefix_counts(at_level)
        return cls(
            stride=steps + 1,
            level_at=np.concatenate([grid, np.zeros((pools, 1), np.int64)], 1).ravel(),
            next_change=(np.concatenate([after_change, after_change[:, -1:]], 1) + ends).ravel(),
            next_at_level=(next_true(at_level) + ends).reshape(levels, -1),
            at_level_before=before.reshape(levels, -1),
            last_at_level=last.reshape(levels, -1),
        )

    def end(self, position: IntArray) -> IntArray:
        """The position that ends the row (the pool) of each position."""
        end: IntArray = position - position % self.stride + self.stride - 1
        return end

    def ahead(self, position: IntArray, steps: IntArray) -> IntArray:
        """(jobs, levels): steps from each position to the first one `steps` or more on at
        each level (none in the row: to the row's end, beyond any horizon)."""
        at = np.minimum(position[:, None] + steps, self.end(position)[:, None])
        found: IntArray = self.next_at_level[np.arange(len(self.next_at_level)), at]
        return found - position[:, None]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class LevelPlan(Plan):
    """Checkpoints whose rule depends on the price level at each step: the `first`, then
    at each step whose level's `wait` has passed since the last one. For `regular` steps,
    they also are every `period` steps or, where `marked`, at each step of a level that
    waits 0 (closed forms); beyond, they are found run by run."""

    wait: IntArray  # (jobs, levels): steps after a checkpoint before the level's rule holds
    regular: IntArray  # per job
    marked: BoolArray  # per job
    tables: LevelTables
    key: IntArray  # per job: its position, when planned
    idx: IntArray  # per job: its trace step, when planned

    def checkpoints(self, jobs: IntArray, steps: IntArray) -> tuple[IntArray, IntArray]:
        count, last = Plan.checkpoints(self, jobs, steps)
        marked = self.marked[jobs]
        if marked.any():
            on_levels = self._on_levels(jobs, steps)
            count = np.where(marked, on_levels[0], count)
            last = np.where(marked, on_levels[1], last)
        far = np.flatnonzero((steps > self.regular[jobs]) & (self.first[jobs] < steps))
        if len(far):
            count[far], last[far] = self._run_by_run(jobs[far], steps[far])
        return count, last

    def _on_levels(self, jobs: IntArray, steps: IntArray) -> tuple[IntArray, IntArray]:
        first, key, always = self.first[jobs], self.key[jobs], self.wait[jobs] == 0
        levels, tables = np.arange(always.shape[1]), self.tables
        after = (key + np.minimum(first + 1, steps))[:, None]
        end = (key + steps)[:, None]
        seen = tables.at_level_before[levels, end] - tables.at_level_before[levels, after]
        latest = np.where(always, tables.last_at_level[levels, end - 1], -1).max(axis=1)
        count: IntArray = (first < steps) + np.where(always, seen, 0).sum(axis=1)
        return count, np.maximum(first, latest - self.idx[jobs])

    def _run_by_run(self, jobs: IntArray, steps: IntArray) -> tuple[IntArray, IntArray]:
        """From the first: the next is the first step at a level whose wait has passed.
        In a run of one level they come every wait + 1 steps, and in a run of levels that
        wait 0 at every step: a run is taken in one go. (Here steps are positions.)"""
        levels, wait, tables = np.arange(self.wait.shape[1]), self.wait[jobs], self.tables
        rows = np.arange(len(jobs))
        after_one = wait + 1  # the next one, counted from the last one
        run_on = np.where(wait == 0, NEVER, 1)  # the end of a run of levels that wait 0
        key = self.key[jobs]
        end, stop = tables.end(key)[:, None], key + steps
        at_last = key + self.first[jobs]
        count = np.ones(len(jobs), dtype=np.int64)
        going = np.ones(len(jobs), dtype=bool)
        while True:
            at = np.minimum(at_last[:, None] + after_one, end)
            later = tables.next_at_level[levels, at].min(axis=1)
            going &= later < stop
            if not going.any():
                return count, at_last - key
            here = wait[rows, tables.level_at[later]]
            at = np.minimum(later[:, None] + run_on, end)
            waiting_run = tables.next_at_level[levels, at].min(axis=1)
            run_end = np.where(here == 0, waiting_run, tables.next_change[later])
            taken = 1 + (np.minimum(run_end, stop) - 1 - later) // (here + 1)
            count += np.where(going, taken, 0)
            at_last = np.where(going, later + (taken - 1) * (here + 1), at_last)


def first_step(
    start: FloatArray, step_s: float, estimate: FloatArray, holds: Callable[[FloatArray], BoolArray]
) -> IntArray:
    """Per job, the least j >= 0 at which `holds(start + j * step_s)` is true (false, then
    true for good), from an estimate within a step of it (infinite: NEVER). The candidates
    around it are checked with `holds` itself, on arrays of shape (jobs, 5), so the answer
    agrees with the policy's own float arithmetic."""
    near = np.ceil(np.fmin(np.fmax(estimate, 0.0), float(NEVER))).astype(np.int64)
    low = np.maximum(near - 2, 0)
    candidates = low[:, None] + _AROUND
    misses = (~holds(start[:, None] + candidates * step_s)).sum(axis=1)
    return np.where(near >= NEVER, NEVER, low + misses)


def whole_threshold(estimate: FloatArray, holds: Callable[[FloatArray], BoolArray]) -> FloatArray:
    """Per element, the least whole number r >= 0 with `holds(r)` (false, then true for
    good), from an estimate within a unit of it (infinite: inf). Unsaved work is a whole
    number of seconds in fast-forward, so "holds(unsaved)" is "unsaved >= this"."""
    found = first_step(np.zeros(len(estimate)), 1.0, estimate, holds)
    return np.where(found >= NEVER, np.inf, found.astype(np.float64))


def steps_to(needed: FloatArray, have: FloatArray, step_s: float) -> IntArray:
    """Per element, the least j >= 0 with have + j * step_s >= needed, for whole numbers
    (an exact ceiling division); NEVER where `needed` is infinite."""
    finite = np.isfinite(needed)
    gap = np.where(finite, np.maximum(needed - have, 0.0), 0.0)
    steps = -np.floor_divide(-gap, step_s)
    return np.where(finite, np.minimum(steps, NEVER), NEVER).astype(np.int64)


def interval_plan(
    interval_s: FloatArray, step_s: float, workload: Workload
) -> tuple[FloatArray, IntArray]:
    """For the rule "unsaved work >= interval" (Young/Daly): the whole seconds of unsaved
    work at which a checkpoint is due, and the steps from one checkpoint to the next."""
    needed = np.ceil(interval_s)
    after_s = np.full(len(needed), step_s - workload.checkpoint_cost_s)
    return needed, 1 + steps_to(needed, after_s, step_s)


def steps_above(value: FloatArray, floor: float, fall: float) -> IntArray:
    """How many steps from now `value`, falling by at most `fall` a step, surely stays at or
    above `floor` (one step fewer than exact, so float rounding never matters)."""
    if fall <= 0:
        return np.where(value >= floor, NEVER, 0)
    steps = np.clip(np.floor((value - floor) / fall), 0, NEVER)
    return steps.astype(np.int64)


def next_true(flags: BoolArray) -> IntArray:
    """Along the last axis: the first index at or after each one where `flags` is true (the
    axis length when none); one more column than `flags`, for that answer."""
    size = flags.shape[-1]
    where = np.where(flags, np.arange(size), size)
    padded = np.concatenate([where, np.full((*flags.shape[:-1], 1), size)], axis=-1)
    found: IntArray = np.minimum.accumulate(padded[..., ::-1], axis=-1)[..., ::-1]
    return found


def prefix_counts(flags: BoolArray) -> tuple[IntArray, IntArray]:
    """Along the last axis: how many flags are set before each index, and the last index
    up to each where one is (-1: none); both with one more column, as `next_true`."""
    zero = np.zeros((*flags.shape[:-1], 1), dtype=np.int64)
    before = np.concatenate([zero, np.cumsum(flags, axis=-1)], axis=-1)
    last = np.maximum.accumulate(np.where(flags, np.arange(flags.shape[-1]), -1), axis=-1)
    return before, np.concatenate([last, last[..., -1:]], axis=-1)
