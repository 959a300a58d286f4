"""The broker policy's plan for fast-forward (`plans.py`), and the rules it shares with it.

From each job's current step, if nothing happens to the job, for how many steps the broker
surely decides nothing, and when its checkpoints start. A bound may be short (the job then
takes a step under the rules, as the stepper would), never long. Each decision of
`broker_policy.py` is an event at the first step it could be taken:
- an idle job: at once when it must plan again (its plan has run), has no spot zone
  planned, or is committed; else when some zone can take it at the planned max price, when
  its plan is an hour old, when its slack falls to its reserve, or when it must commit;
- a job on spot: when it must commit, or protect its work (the safety net); checkpoints
  every `interval` of work, or at the end of every `interval`-th instance-hour (aligned);
- a job on on-demand, not committed: when it must commit, and, if its slack covers the
  switch, at the first turn worth leaving for spot (from a table over the trace's steps).
"""

from __future__ import annotations

from typing import Protocol, cast

import numpy as np

from cbas_async.sim.plans import NEVER, Plan, next_true, steps_above, steps_to
from cbas_async.sim.progress import guard_s, round_trip_s, spare_s, switch_s
from cbas_async.sim.risk import PRIOR_EVENTS, CapacityOutlook
from cbas_async.sim.safety import commit_guard_s, commit_progress_s, protect_guard_s, slack_s
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState

_MARGIN_S = 1e-3  # far above float rounding of slack, far below a whole second


class BrokerPlans(Protocol):
    """What the planner reads of the broker policy: its outlook, and each job's plan (where
    and at what max price, made at which step of the job's clock) and checkpoint rule."""

    @property
    def outlook(self) -> CapacityOutlook: ...
    @property
    def ondemand(self) -> int: ...  # the on-demand column, after the zones
    @property
    def replan_steps(self) -> int: ...  # a plan is old after this many steps
    @property
    def committed(self) -> BoolArray: ...
    @property
    def used(self) -> BoolArray: ...
    @property
    def plan_step(self) -> IntArray: ...
    @property
    def plan_pool(self) -> IntArray: ...
    @property
    def plan_bid(self) -> FloatArray: ...
    @property
    def interval(self) -> FloatArray: ...
    @property
    def aligned(self) -> BoolArray: ...
    @property
    def reserve_per_work(self) -> FloatArray: ...


def at_hour_end(
    sim: SimState, steps_in: IntArray, every_h: FloatArray
) -> tuple[BoolArray, FloatArray]:
    """Per job `steps_in` steps into its session: whether an aligned checkpoint is due now
    (it ends with the `every_h`-th instance-hour), and the seconds to the hour's end."""
    in_session_s = steps_in * sim.step_s
    to_end_s = cast(FloatArray, (-in_session_s) % 3600.0)
    cost_s = sim.workload.checkpoint_cost_s
    hour = np.round((in_session_s + to_end_s) / 3600.0)
    due: BoolArray = (to_end_s >= cost_s) & (to_end_s < cost_s + sim.step_s) & (in_session_s > 0)
    due &= hour % every_h == 0
    return due, to_end_s


def rates_per_hour_at(outlook: CapacityOutlook, cols: IntArray) -> FloatArray:
    """(zones, len(cols)): `outlook.rates_per_hour` at each step, with its arithmetic."""
    lo = np.maximum(cols - outlook.window, 0)
    rises = outlook.rises[:, cols] - outlook.rises[:, lo]
    up = (cols - lo) - (outlook.down[:, cols] - outlook.down[:, lo])
    step_h = outlook.trace.step_s / 3600.0
    rates: FloatArray = (rises + PRIOR_EVENTS) / np.maximum(up * step_h, step_h)
    return rates


def worth_spot(sim: SimState, outlook: CapacityOutlook, cols: IntArray) -> BoolArray:
    """Per trace step: some zone can take a job now, and its expected spell with capacity
    (from its interruption rate) saves more than a round trip through spot costs."""
    trace = sim.trace
    can = (trace.price_max[:, cols] <= trace.ondemand_usd_per_hour) & trace.available[:, cols]
    rates = rates_per_hour_at(outlook, cols)
    saving = 1.0 - trace.price_start[:, cols] / trace.ondemand_usd_per_hour
    pays: BoolArray = can & (3600.0 / rates * saving > round_trip_s(sim))
    worth: BoolArray = np.any(pays, axis=0)
    return worth


def _above(value: FloatArray, floor: float, fall: float) -> IntArray:
    """`steps_above`, with 0 (decide now) where the value is not a number."""
    return np.where(np.isnan(value), 0, steps_above(np.nan_to_num(value, nan=floor), floor, fall))


class BrokerPlanner:
    """The plan of one broker policy (`broker_policy.py`) in one run, with that run's tables."""

    def __init__(self, policy: BrokerPlans, sim: SimState) -> None:
        self.policy = policy
        steps = np.arange(sim.n)
        self.next_worth = next_true(worth_spot(sim, policy.outlook, steps))
        self._hour_end: dict[float, tuple[int, IntArray]] = {}

    def plan(self, sim: SimState) -> Plan:
        jobs = len(sim.x)
        quiet = np.zeros(jobs, dtype=np.int64)
        first = np.full(jobs, NEVER, dtype=np.int64)
        period = np.ones(jobs, dtype=np.int64)
        running = np.flatnonzero(sim.running)
        if len(running):
            quiet[running] = self._running_quiet(sim, running)
            first[running], period[running] = self._checkpoints(sim, running)
        idle = np.flatnonzero(~sim.running & ~sim.done)
        if len(idle):
            quiet[idle] = self._idle_quiet(sim, idle)
        return Plan(quiet=quiet, first=first, period=period)

    def _idle_quiet(self, sim: SimState, jobs: IntArray) -> IntArray:
        p, step_s = self.policy, sim.step_s
        age = np.maximum(p.plan_step[jobs] + p.replan_steps - sim.own_steps(jobs), 0)
        quiet = np.minimum(age, self._until_open(sim, jobs))
        spare = spare_s(sim, jobs, p.reserve_per_work[jobs], progress=sim.saved[jobs])
        quiet = np.minimum(quiet, _above(spare, 0.0, step_s))
        slack = slack_s(sim, jobs, progress=commit_progress_s(sim, jobs))
        quiet = np.minimum(quiet, _above(slack, commit_guard_s(sim), step_s))
        planned = p.plan_pool[jobs]
        now = p.committed[jobs] | p.used[jobs] | (planned < 0) | (planned >= p.ondemand)
        return np.where(now, 0, quiet)

    def _until_open(self, sim: SimState, jobs: IntArray) -> IntArray:
        """Steps until some zone can take the job at its planned max price, looked for up
        to an hour ahead (its plan is old by then)."""
        trace, width = sim.trace, self.policy.replan_steps
        cols = np.minimum(sim.idx[jobs, None] + np.arange(width), sim.n - 1)
        bids = self.policy.plan_bid[jobs, None]
        can = (trace.price_max[:, cols] <= bids) & trace.available[:, cols]
        opens = cast(BoolArray, np.any(can, axis=0))
        found: IntArray = np.where(opens.any(axis=1), opens.argmax(axis=1), width)
        return found

    def _running_quiet(self, sim: SimState, jobs: IntArray) -> IntArray:
        p, load, step_s = self.policy, sim.workload, sim.step_s
        # the commit slack falls by the overhead of each step (or by a step of time, when a
        # checkpoint outlasts a step and only saved work counts)
        fall = load.checkpoint_cost_s if load.checkpoint_cost_s <= step_s else step_s
        slack = slack_s(sim, jobs, progress=commit_progress_s(sim, jobs))
        committed = p.committed[jobs]
        quiet = np.where(committed, NEVER, _above(slack, commit_guard_s(sim), fall))
        spot = sim.pool[jobs] != p.ondemand
        protect = _above(slack_s(sim, jobs), protect_guard_s(sim), step_s)
        quiet = np.minimum(quiet, np.where(spot, protect, NEVER))
        on_demand = ~spot & ~committed
        if on_demand.any():
            quiet[on_demand] = np.minimum(quiet[on_demand], self._until_turn(sim, jobs[on_demand]))
        return quiet

    def _until_turn(self, sim: SimState, jobs: IntArray) -> IntArray:
        """Steps until a job on on-demand could leave for spot: its slack after a switch
        stays as it is on on-demand (a step of work a step); then at the first turn where
        spot is worth it (from when its plan is old, if the plan is on-demand)."""
        p = self.policy
        after_switch = slack_s(sim, jobs, progress=sim.x[jobs]) - switch_s(sim)
        able = after_switch >= guard_s(sim) - _MARGIN_S
        idx = sim.idx[jobs]
        from_step = idx.copy()
        on_demand_plan = p.plan_pool[jobs] >= p.ondemand
        age = p.plan_step[jobs] + p.replan_steps - sim.own_steps(jobs)
        from_step[on_demand_plan] += np.maximum(age[on_demand_plan], 0)
        worth = self.next_worth[np.minimum(from_step, sim.n)]
        if sim.hourly:  # the next step that ends a paid hour
            per_hour = sim.steps_per_hour
            worth += (per_hour - 1 - (worth - sim.session_start[jobs])) % per_hour
        return np.where(able & (worth < sim.n), worth - idx, NEVER)

    def _checkpoints(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, IntArray]:
        """Checkpoints on spot: every `interval` of work, or aligned to hour ends."""
        p, load, step_s = self.policy, sim.workload, sim.step_s
        spot = sim.pool[jobs] != p.ondemand
        aligned = p.aligned[jobs]
        needed = np.ceil(np.where(aligned, np.inf, p.interval[jobs]))
        by_work = spot & ~aligned & np.isfinite(needed)
        unsaved = sim.x[jobs] - sim.saved[jobs]
        first = np.where(by_work, steps_to(needed, unsaved, step_s), NEVER)
        after_s = np.full(len(jobs), step_s - load.checkpoint_cost_s)
        period = np.where(by_work, 1 + steps_to(needed, after_s, step_s), 1)
        rows = np.flatnonzero(spot & aligned)
        for every_h in np.unique(p.interval[jobs[rows]]):
            mine = rows[p.interval[jobs[rows]] == every_h]
            steps_in = sim.idx[jobs[mine]] - sim.session_start[jobs[mine]]
            first[mine], period[mine] = self._next_hour_end(sim, float(every_h), steps_in)
        return first, period

    def _next_hour_end(
        self, sim: SimState, every_h: float, steps_in: IntArray
    ) -> tuple[IntArray, int]:
        """Steps to the next aligned checkpoint, and between two of them. Past the session's
        first step the rule repeats every `every_h` hours of steps (whole seconds)."""
        if not (np.isfinite(every_h) and every_h >= 1 and float(every_h).is_integer()):
            return np.full(len(steps_in), NEVER, dtype=np.int64), 1
        cycle = round(every_h) * sim.steps_per_hour
        table = self._hour_end.get(every_h)
        if table is None:
            steps = np.arange(2 * cycle + 1)
            due, _ = at_hour_end(sim, steps, np.full(len(steps), every_h))
            table = (cycle, next_true(due))
            self._hour_end[every_h] = table
        _, upcoming = table
        at = np.where(steps_in <= cycle, steps_in, (steps_in - 1) % cycle + 1)
        found = upcoming[at]
        return np.where(found > 2 * cycle, NEVER, found - at), cycle
