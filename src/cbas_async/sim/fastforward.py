"""Fast-forward: each job skips the grid steps in which nothing can happen to it.

Between two events a running job only gains work and cost, and an idle one only waits.
Events are what the step rules (`step.py`) would act on: an interruption (the next step
whose price or capacity blocks the job's max price, from a per-pool table), the step in
which the job could finish, a restart, checkpoint or stop in progress, the horizon, and
whatever its policy decides, which it tells with a `Plan` (`plans.py`).

The steps skipped are applied in closed form, bit for bit as the stepper would: progress
is a sum of whole seconds (exact in any order, see `replays_exactly`), and each charge is
added to the cost one at a time in the stepper's order (`add_in_order`).
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.plans import NEVER, Plan, next_true
from cbas_async.sim.state import FloatArray, IntArray, SimState, Workload
from cbas_async.sim.trace import MarketTrace

_BLOCK = 64  # charges summed per pass of `add_in_order` (bounds its memory)


def replays_exactly(trace: MarketTrace, workload: Workload) -> bool:
    """Whether fast-forward gives the stepper's results bit for bit: every duration is a
    whole number of seconds (so progress, a sum of them, is exact in any order) and every
    price is finite (an idle job's per-second charge is 0 only for a finite price)."""
    durations = (
        trace.step_s,
        trace.model.notice_s,
        workload.work_s,
        workload.checkpoint_cost_s,
        workload.restart_cost_s,
        workload.move_s,
    )
    whole = all(float(d).is_integer() and abs(d) < 2.0**40 for d in durations)
    prices = (trace.price_start, trace.price_mean)
    return whole and all(bool(np.isfinite(p).all()) for p in prices)


def add_in_order(
    total: FloatArray,
    rows: IntArray,
    values: FloatArray,
    first: IntArray,
    stride: int,
    count: IntArray,
) -> None:
    """total[rows[i]] += values[first[i] + j * stride] for j < count[i], one addition at a
    time in that order, as the stepper adds them (a cumulative sum is sequential, unlike
    `sum`), so the totals are bit-identical."""
    live = np.flatnonzero(count > 0)
    done = 0
    last = len(values) - 1
    while len(live):
        width = min(int(count[live].max()) - done, _BLOCK)
        cols = np.arange(done, done + width)
        at = np.minimum(first[live, None] + cols * stride, last)
        terms = np.where(cols < count[live, None], values[at], 0.0)  # + 0.0 changes nothing
        jobs = rows[live]
        running = np.concatenate([total[jobs, None], terms], axis=1)
        total[jobs] = np.cumsum(running, axis=1)[:, -1]
        done += width
        live = live[count[live] > done]


class FastForward:
    """Moves every job of one run to its next event; keeps the run's lookup tables."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim
        trace, load = sim.trace, sim.workload
        # per-second billing: a step's charge, per pool and step (as `step.py` computes it)
        self.per_step_usd = sim.flat_mean * trace.step_s / 3600.0 if not sim.hourly else None
        self.inline_checkpoints = load.checkpoint_cost_s < trace.step_s
        self._blocked_at: dict[float, IntArray] = {}

    def run(self, plan: Plan) -> None:
        """Skip, for every job, the steps before its next event (they change nothing but
        progress and cost), and move its clock past them; at most to the horizon's last
        step, which the step rules take."""
        sim = self.sim
        steps = np.minimum(plan.quiet, sim.horizon - 1 - sim.own_steps(slice(None)))
        # finished, or a restart, checkpoint or stop under way: the step rules go on
        steps[sim.done | sim.stopping | (sim.debt > 0)] = 0
        rows = np.flatnonzero(steps * sim.running)
        if len(rows):
            moves = np.minimum(steps[rows], self._until_event(plan, rows))
            steps[rows] = moves
            self._bill(rows, moves)
            self._progress(plan, rows, moves)
        sim.advance(steps)

    def _until_event(self, plan: Plan, rows: IntArray) -> IntArray:
        """Steps until an interruption, the step the work could end in (as if each step
        were all work), or a checkpoint that fast-forward cannot replay."""
        sim = self.sim
        left = (sim.workload.work_s - sim.x[rows]) / sim.step_s
        until = np.minimum(self._until_blocked(rows), np.ceil(left).astype(np.int64) - 1)
        first = plan.first[rows]
        if not self.inline_checkpoints:  # a checkpoint outlasts its step
            return np.minimum(until, first)
        # a checkpoint needs unsaved work: with none now, the step rules decide
        return np.where((first == 0) & (sim.x[rows] <= sim.saved[rows]), 0, until)

    def _until_blocked(self, rows: IntArray) -> IntArray:
        """Steps until the job's pool blocks its max price (an interruption)."""
        sim = self.sim
        bids = sim.bid[rows]
        capped = np.isfinite(bids)  # on-demand (no cap) is never interrupted
        values = bids[capped]
        if len(values) == 0:
            return np.full(len(rows), NEVER, dtype=np.int64)
        until = np.full(len(rows), NEVER, dtype=np.int64)
        same = (values == values[0]).all()  # one max price, the policy's: one table
        for bid in [values[0]] if same else np.unique(values):
            mine = np.flatnonzero(capped & (bids == bid))
            blocked_at = self._blocked_table(float(bid))
            until[mine] = blocked_at[sim.fi[rows[mine]]] - sim.idx[rows[mine]]
        return until

    def _blocked_table(self, bid: float) -> IntArray:
        """Flat like `sim.fi`: the next step (of that pool) that blocks this max price."""
        table = self._blocked_at.get(bid)
        if table is None:
            sim = self.sim
            blocked = (sim.flat_max > bid) | ~sim.flat_available
            table = next_true(blocked.reshape(-1, sim.n))[:, :-1].ravel()
            self._blocked_at[bid] = table
        return table

    def _bill(self, rows: IntArray, moves: IntArray) -> None:
        sim = self.sim
        if self.per_step_usd is not None:
            add_in_order(sim.cost, rows, self.per_step_usd, sim.fi[rows], 1, moves)
            return
        per_hour = sim.steps_per_hour
        into = sim.idx[rows] - sim.session_start[rows]
        first = (-into) % per_hour  # steps until the next instance-hour starts
        hours = np.where(first < moves, 1 + (moves - 1 - first) // per_hour, 0)
        start = sim.fi[rows] + first
        add_in_order(sim.cost, rows, sim.flat_start, start, per_hour, hours)
        charged = np.flatnonzero(hours)
        last = start[charged] + (hours[charged] - 1) * per_hour
        sim.hour_usd[rows[charged]] = sim.flat_start[last]

    def _progress(self, plan: Plan, rows: IntArray, moves: IntArray) -> None:
        sim = self.sim
        step_s, cost_s = sim.step_s, sim.workload.checkpoint_cost_s
        count, last = plan.checkpoints(rows, moves)
        x = sim.x[rows]
        saved_at_last = x + last * step_s - (count - 1) * cost_s
        sim.saved[rows] = np.where(count > 0, saved_at_last, sim.saved[rows])
        sim.x[rows] = x + moves * step_s - count * cost_s
