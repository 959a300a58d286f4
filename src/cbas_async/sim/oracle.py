"""The offline optimum: the cheapest way to finish by the deadline, knowing the whole trace.

Dynamic programming over the trace's grid. The state at a step boundary is the progress
(in units of `unit_s`, a divisor of the grid step), whether an instance runs and in which
pool, and (hourly billing) how far into its instance-hour it is; on a trace with regions,
an idle job's state also holds the region of its checkpoint, each region has an on-demand
pool, and a launch with saved progress in another region pays the move (egress, and the
copy's time, rounded down to whole units, before the restart). An instance run
("session") pays the restart cost at its start when progress was saved, and a checkpoint
at its end unless it finishes the job. Overheads are rounded down to whole units.

It is a lower bound on every policy of `simulator.py` that meets the same deadline,
because it may do whatever they do and more cheaply:
- it may run spot at any price (as with an unbounded max price) and, in the bid era, end a
  session at any rise of the step maximum with its partial hour free (a superset of the
  interruptions any max price produces: a policy is interrupted at step j only if
  max[j] > its max price >= max[j-1]);
- it never loses work, checkpoints only when a session ends and ignores the 60 s minimum;
- its progress, counted in whole units with overheads rounded down, is never behind a
  policy running the same sessions, so it finishes in the same step or earlier and pays
  at most the same share of that step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.eras import Billing, Era

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class OptimumResult:
    """The optimum for one job: cost (inf when the deadline cannot be met) and completion."""

    cost_usd: float
    completion_s: float
    region_moves: int = 0  # checkpoints it copies between regions


@dataclass(frozen=True, slots=True)
class _Grid:
    """The job's window as the DP sees it: pools are the zones plus on-demand."""

    step_s: float
    units: int  # progress units per step
    work_units: float
    restart_units: int
    checkpoint_units: int
    hours: int  # phases of an instance-hour (1 for per-second billing)
    start: FloatArray  # (pools, steps) opening prices
    mean: FloatArray
    usable: npt.NDArray[np.bool_]
    refundable: npt.NDArray[np.bool_]  # (pools, phase, step): may end here, partial hour free
    pool_region: npt.NDArray[np.int64]  # per pool, its region (on-demand: one per region)
    move_units: int
    move_usd: float
    home: int


def _new_highs(highs: FloatArray, hours: int) -> npt.NDArray[np.bool_]:
    """(zones, phase, step): the step's maximum beats every maximum of the `phase` steps
    before it (those of the current instance-hour), as a bid-era interruption requires."""
    zones, steps = highs.shape
    out = np.zeros((zones, hours, steps), dtype=bool)
    recent = np.full((zones, steps), -np.inf)
    for phase in range(1, hours):
        shifted = np.full((zones, steps), np.inf)
        shifted[:, phase:] = highs[:, :-phase]
        recent = np.maximum(recent, shifted)
        out[:, phase] = highs > recent
    return out


def units_per_step(step_s: float, workload: Workload, max_units: int = 16) -> int:
    """The fewest units per step that make checkpoint, restart and move times whole units."""
    for units in range(1, max_units + 1):
        unit_s = step_s / units
        times = (workload.checkpoint_cost_s, workload.restart_cost_s, workload.move_s)
        if all(abs(t / unit_s - round(t / unit_s)) < 1e-9 for t in times):
            return units
    return max_units


def _grid(trace: MarketTrace, workload: Workload, start: int, steps: int) -> _Grid:
    window = slice(start, start + steps + 1)
    regions = max(len(trace.region_names), 1)
    od = np.full((regions, min(steps + 1, trace.n_steps - start)), trace.ondemand_usd_per_hour)
    price_start = np.vstack([trace.price_start[:, window], od])
    price_mean = np.vstack([trace.price_mean[:, window], od])
    usable = np.vstack([trace.available[:, window], np.ones_like(od, dtype=bool)])
    hourly = trace.model.billing is Billing.HOURLY
    hours = round(3600.0 / trace.step_s) if hourly else 1
    refundable = np.zeros((usable.shape[0], hours, usable.shape[1]), dtype=bool)
    if hourly and trace.model.era is Era.BID:
        refundable[: trace.n_zones] = _new_highs(trace.price_max[:, window], hours)
    units = units_per_step(trace.step_s, workload)
    unit_s = trace.step_s / units
    names = trace.region_names
    return _Grid(
        step_s=trace.step_s,
        units=units,
        work_units=workload.work_s / unit_s,
        restart_units=math.floor(workload.restart_cost_s / unit_s + 1e-9),
        checkpoint_units=math.floor(workload.checkpoint_cost_s / unit_s + 1e-9),
        hours=hours,
        start=price_start,
        mean=price_mean,
        usable=usable,
        refundable=refundable,
        pool_region=np.concatenate([trace.zone_regions(), np.arange(regions)]),
        move_units=math.floor(workload.move_s / unit_s + 1e-9),
        move_usd=workload.move_usd,
        home=names.index(workload.home_region) if workload.home_region in names else 0,
    )


def optimum(trace: MarketTrace, workload: Workload, start: int) -> OptimumResult:
    """The optimum for a job starting at grid step `start`."""
    steps = math.ceil(workload.deadline_s / trace.step_s - 1e-9)
    steps = min(steps, trace.n_steps - start)
    return _Solver(_grid(trace, workload, start, steps), workload.deadline_s).solve(steps)


class _Solver:
    """The DP tables: `idle[region, y]` and `run[pool, phase, y]`, minimal cost so far."""

    def __init__(self, grid: _Grid, deadline_s: float) -> None:
        self.g, self.deadline_s = grid, deadline_s
        self.low = -(grid.restart_units + grid.checkpoint_units)  # progress can dip below 0
        self.top = math.ceil(grid.work_units) - 1  # highest unfinished progress
        size = self.top - self.low + 1
        self.y = np.arange(self.low, self.top + 1)
        self.regions = int(grid.pool_region.max()) + 1
        self.idle = np.full((self.regions, size), np.inf)
        self.idle[grid.home, -self.low] = 0.0
        self.run = np.full((grid.start.shape[0], grid.hours, size), np.inf)
        self.best, self.best_time, self.best_moves = math.inf, math.nan, 0
        # with regions, the moves of each state's cheapest path, alongside its cost
        self.track = self.regions > 1
        self.idle_moves = np.zeros(self.idle.shape)
        self.run_moves = np.zeros(self.run.shape) if self.track else self.run[:0]

    def solve(self, steps: int) -> OptimumResult:
        for k in range(steps):
            if k > 0:
                self._end_sessions(k)
            self._launch(k)
            self._run_step(k)
        return OptimumResult(self.best, self.best_time, self.best_moves)

    def _shift_down(self, values: FloatArray, by: int, where: npt.NDArray[np.bool_]) -> FloatArray:
        """values moved from progress y to y - by where `where`, clamped at the lowest level."""
        return _shift(values, None, by, where)[0]

    def _shift_both(
        self, values: FloatArray, moves: FloatArray, by: int, where: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        """`_shift_down`, with the moves of the value kept at each level."""
        return _shift(values, moves, by, where)

    def _end_sessions(self, k: int) -> None:
        g = self.g
        refund = np.zeros(self.run.shape[:2])
        if g.hours > 1:
            phases = np.arange(1, g.hours)
            hour_start = np.maximum(k - phases, 0)
            free = g.refundable[:, 1:, k] & (phases <= k)[None, :]
            refund[:, 1:] = np.where(free, g.start[:, hour_start], 0.0)
        paid = self.run - refund[:, :, None]
        ended, ended_moves = _pick(paid, self.run_moves, axis=1, track=self.track)
        everywhere = np.ones(ended.shape[1], dtype=bool)
        for region in range(self.regions):
            rows = g.pool_region == region
            mine, moves = _pick(ended[rows], ended_moves[rows], axis=0, track=self.track)
            shifted, moves = self._shift_both(mine, moves, g.checkpoint_units, everywhere)
            self._keep_cheaper(self.idle[region], self.idle_moves[region], shifted, moves)

    def _keep_cheaper(
        self, values: FloatArray, moves: FloatArray, other: FloatArray, other_moves: FloatArray
    ) -> None:
        """values (in place) become the lower of both, and moves follow them."""
        if self.track:
            np.copyto(moves, other_moves, where=other < values)
        np.minimum(values, other, out=values)

    def _arrive(self) -> tuple[FloatArray, FloatArray]:
        """(regions, y): cheapest start of a session in each region, with a move from
        another region's checkpoint where that is cheaper; and that start's moves."""
        g, saved = self.g, self.y > 0
        pairs = [
            self._shift_both(row, moves, g.restart_units, saved)
            for row, moves in zip(self.idle, self.idle_moves, strict=True)
        ]
        here = np.vstack([p[0] for p in pairs])
        here_moves = np.vstack([p[1] for p in pairs])
        if self.regions == 1:
            return here, here_moves
        fee, one = np.where(saved, g.move_usd, 0.0), saved.astype(np.float64)
        by = g.restart_units + g.move_units
        moved = [
            self._shift_both(row + fee, moves + one, by, saved)
            for row, moves in zip(self.idle, self.idle_moves, strict=True)
        ]
        for target in range(self.regions):
            for origin in range(self.regions):
                if origin != target:
                    values, moves = moved[origin]
                    self._keep_cheaper(here[target], here_moves[target], values, moves)
        return here, here_moves

    def _launch(self, k: int) -> None:
        g = self.g
        arrive, arrive_moves = self._arrive()
        fresh = np.where(g.usable[:, k][:, None], arrive[g.pool_region], np.inf)
        if self.track:
            fresh_moves = arrive_moves[g.pool_region]
            np.copyto(self.run_moves[:, 0, :], fresh_moves, where=fresh < self.run[:, 0, :])
        np.minimum(self.run[:, 0, :], fresh, out=self.run[:, 0, :])
        self.run[~g.usable[:, k]] = np.inf

    def _run_step(self, k: int) -> None:
        g = self.g
        if g.hours > 1:
            cost = np.zeros(self.run.shape[:2])
            cost[:, 0] = g.start[:, k]
        else:
            cost = (g.mean[:, k] * g.step_s / 3600.0)[:, None]
        self._complete(k, cost)
        moved = np.full_like(self.run, np.inf)
        if g.units < self.run.shape[2]:
            moved[:, :, g.units :] = self.run[:, :, : -g.units] + cost[:, :, None]
        self.run = np.roll(moved, 1, axis=1) if g.hours > 1 else moved
        if self.track:
            moves = np.zeros_like(self.run_moves)
            moves[:, :, g.units :] = self.run_moves[:, :, : -g.units]
            self.run_moves = np.roll(moves, 1, axis=1) if g.hours > 1 else moves

    def _complete(self, k: int, cost: FloatArray) -> None:
        g = self.g
        share = (g.work_units - self.y) / g.units  # of this step still needed
        can = (share > 0) & (share <= 1) & ((k + share) * g.step_s <= self.deadline_s + 1e-6)
        if not can.any():
            return
        fraction = np.ones_like(share) if g.hours > 1 else share
        total = self.run + cost[:, :, None] * fraction[None, None, :]
        total = np.where(can[None, None, :], total, np.inf)
        flat = int(np.argmin(total))
        value = float(total.ravel()[flat])
        if value < self.best:
            y_index = flat % len(self.y)
            self.best, self.best_time = value, (k + share[y_index]) * g.step_s
            self.best_moves = int(self.run_moves.ravel()[flat]) if self.track else 0


def _shift(
    values: FloatArray, moves: FloatArray | None, by: int, where: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """values moved from progress y to y - by where `where`, clamped at the lowest level
    (the lowest value where several land); with `moves`, those of the value kept."""
    levels = np.arange(len(values))
    target = np.where(where, np.maximum(levels - by, 0), levels)
    out = np.full_like(values, np.inf)
    np.minimum.at(out, target, values)
    if moves is None:
        return out, out[:0]
    kept = np.zeros_like(moves)
    won = values == out[target]
    kept[target[won]] = moves[won]
    return out, kept


def _pick(
    values: FloatArray, moves: FloatArray, *, axis: int, track: bool
) -> tuple[FloatArray, FloatArray]:
    """The minimum along `axis`, and (when tracking) the moves of the state it comes from."""
    if not track:
        least = values.min(axis=axis)
        return least, np.zeros_like(least)
    at = np.expand_dims(values.argmin(axis=axis), axis)
    return (
        np.take_along_axis(values, at, axis=axis).squeeze(axis),
        np.take_along_axis(moves, at, axis=axis).squeeze(axis),
    )
