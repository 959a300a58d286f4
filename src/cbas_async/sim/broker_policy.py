"""The broker as a simulator policy: `choose_placement` for where and how to run on spot, the
reserve of `progress.py` for when the deadline needs on-demand, and the commit-to-on-demand
safety net of `deadline.py`.

- Placement: the job asks the broker for the cheapest spot placement of its remaining work
  (`bridged_by_caller`: spot placements are ranked with the on-demand each would need, but
  the policy decides itself when to run on on-demand), after each run, every hour, and
  whenever a zone other than the planned one could take it while it waits. A zone that
  cannot take the job now is a candidate only while none can, or if it is cheaper than
  every zone that can and its expected wait fits in the job's spare slack.
- Waiting: with no zone able to take it, a job waits while its slack is above its reserve
  and bridges on on-demand below it.
- Leaving on-demand: at a turn (under hourly billing, the end of a paid hour), a job on
  on-demand whose slack covers the switch and the guard, with some zone's expected spell
  with capacity worth a round trip, plans again and moves to spot if the plan can start
  now. A job without a spot placement (no usable history) stays on on-demand.

Every rule reads each job's own clock, never the stepper's common one, so the policy runs
under fast-forward too, with its plan (`broker_plan.py`).
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.baselines import cheapest_spot
from cbas_async.sim.broker_plan import BrokerPlanner, at_hour_end, worth_spot
from cbas_async.sim.plans import Plan
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.progress import behind, can_switch, reserve_s, spare_s
from cbas_async.sim.risk import PRIOR_EVENTS, CapacityOutlook
from cbas_async.sim.safety import must_commit, must_protect
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState
from cbas_async.spot.broker import BrokerJob, PlacementChoice, choose_placement
from cbas_async.spot.history import PriceHistory, PriceSeries, from_epoch_s

_PER_JOB = (
    *("committed", "used", "plan_step", "plan_pool", "plan_bid", "interval", "aligned"),
    "reserve_per_work",
)


class BrokerPolicy:
    """Our broker, replayed: see the module docstring."""

    name = "broker"
    saves_on_notice = True

    def __init__(self, ctx: PolicyContext, history: PriceHistory | None = None) -> None:
        trace = ctx.trace
        self.ctx = ctx
        self.history = history or _flat_history(ctx)
        self.ondemand = trace.n_zones
        jobs = len(ctx.starts)
        self.committed = np.zeros(jobs, dtype=bool)
        self.used = np.ones(jobs, dtype=bool)  # the plan has run: plan again at next launch
        self.plan_step = np.full(jobs, -(10**9), dtype=np.int64)  # on the job's own clock
        self.plan_pool = np.full(jobs, -1, dtype=np.int64)
        self.plan_bid = np.full(jobs, np.inf)
        self.interval = np.full(jobs, np.inf)  # work between checkpoints, or hours when aligned
        self.aligned = np.zeros(jobs, dtype=bool)
        self.reserve_per_work = np.zeros(jobs)  # slack to keep per second of work left
        self.replan_steps = max(round(3600.0 / trace.step_s), 1)
        # interruption rates and waits at the on-demand cap: capacity, and bid-era prices
        self.outlook = CapacityOutlook(trace, ctx.lookback_steps)
        self.capacity = self.outlook if trace.model.notice_s else None
        self._planner: BrokerPlanner | None = None

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        self.committed[jobs] |= must_commit(sim, jobs)
        stale = self.used[jobs] | self._plan_old(sim, jobs)
        stale |= self._elsewhere(sim, jobs)
        for job in jobs[stale & ~self.committed[jobs]]:
            self._plan(sim, int(job))
        pools = self.plan_pool[jobs]
        waiting = (pools < self.ondemand) & ~self._ready(sim, jobs)
        late = behind(sim, jobs, self.reserve_per_work[jobs])
        pools = np.where(waiting, np.where(late, self.ondemand, -1), pools)
        return np.where(self.committed[jobs], self.ondemand, pools), self.plan_bid[jobs]

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        self.used |= sim.running & (sim.pool == self.plan_pool)
        on_spot = sim.pool != self.ondemand
        by_work: BoolArray = on_spot & ~self.aligned & (sim.x - sim.saved >= self.interval)
        by_work |= must_protect(sim)
        if not self.aligned.any():
            return by_work
        every_h = np.where(self.aligned, self.interval, 1.0)
        due, to_end_s = at_hour_end(sim, sim.idx - sim.session_start, every_h)
        due &= sim.workload.work_s - sim.x > to_end_s  # not when it finishes before the hour ends
        aligned: BoolArray = by_work | (on_spot & self.aligned & due)
        return aligned

    def stop(self, sim: SimState) -> BoolArray | None:
        newly = sim.running & ~self.committed & must_commit(sim, slice(None))
        self.committed |= newly
        leave: BoolArray = newly & (sim.pool != self.ondemand)
        on_demand = np.flatnonzero(
            sim.running & ~self.committed & (sim.pool == self.ondemand) & self._turn(sim)
        )
        if len(on_demand):
            movable = on_demand[can_switch(sim, on_demand)]
            movable = movable[self._worth_spot(sim, movable)]
            for job in movable[self._stale_on_demand(sim, movable)]:
                self._plan(sim, int(job))
            leave[movable] = self._ready(sim, movable)
        return leave

    def compact(self, keep: BoolArray) -> None:
        for name in _PER_JOB:
            setattr(self, name, getattr(self, name)[keep])

    def plan(self, sim: SimState) -> Plan:
        """For fast-forward: see `broker_plan.py`."""
        if self._planner is None:
            self._planner = BrokerPlanner(self, sim)
        return self._planner.plan(sim)

    def _plan_old(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """Planned an hour or more ago (on the job's own clock)."""
        old: BoolArray = sim.own_steps(jobs) - self.plan_step[jobs] >= self.replan_steps
        return old

    def _ready(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """The planned spot zone can take the job now."""
        planned = self.plan_pool[jobs]
        rows = np.minimum(planned, self.ondemand - 1)
        cols = sim.idx[jobs]
        trace = sim.trace
        ready: BoolArray = (planned < self.ondemand) & (
            (trace.price_max[rows, cols] <= self.plan_bid[jobs]) & trace.available[rows, cols]
        )
        return ready

    def _turn(self, sim: SimState) -> BoolArray:
        """Steps where an on-demand job may leave: under hourly billing only at the end of a
        paid hour (so it is not wasted), otherwise any step."""
        if not sim.hourly:
            return np.ones(len(sim.pool), dtype=bool)
        steps_in = sim.idx - sim.session_start
        turn: BoolArray = steps_in % sim.steps_per_hour == sim.steps_per_hour - 1
        return turn

    def _worth_spot(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """Some zone can take the job now, and its expected spell with capacity (from its
        interruption rate) saves more than a round trip through spot costs."""
        return worth_spot(sim, self.outlook, sim.idx[jobs])

    def _stale_on_demand(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """Plans of jobs on on-demand worth redoing: an hour old, or a spot zone that cannot
        take the job while another can."""
        old = self._plan_old(sim, jobs)
        waiting = (self.plan_pool[jobs] < self.ondemand) & ~self._ready(sim, jobs)
        stale: BoolArray = old | waiting
        return stale

    def _elsewhere(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """Waiting for a zone while another one could take the job now."""
        planned = self.plan_pool[jobs]
        waiting = (planned < self.ondemand) & ~self._ready(sim, jobs)
        if not waiting.any():
            return waiting
        some: BoolArray = cheapest_spot(sim, jobs, self.plan_bid[jobs]) >= 0
        return waiting & some

    def _plan(self, sim: SimState, job: int) -> None:
        self._record(sim, job, self._choose(sim, job))

    def _choose(self, sim: SimState, job: int, region: str | None = None) -> PlacementChoice:
        """The production broker's placement for the job's remaining work (in `region`)."""
        trace, load = sim.trace, sim.workload
        step = int(sim.idx[job])
        deadline_s = trace.time_s(int(sim.starts[job])) + load.deadline_s
        capacity = self.capacity
        return choose_placement(
            job=BrokerJob(
                instance_types=(trace.instance_type,),
                work_hours=(load.work_s - sim.saved[job]) / 3600.0,
                checkpoint_cost_s=load.checkpoint_cost_s,
                restart_cost_s=load.restart_cost_s,
                deadline=from_epoch_s(deadline_s),
                region=region,
            ),
            history=self.history,
            ondemand={trace.instance_type: trace.ondemand_usd_per_hour},
            hazard_per_hour=self._keyed(capacity.rates_per_hour(step)) if capacity else None,
            now=from_epoch_s(trace.time_s(step)),
            model=trace.model,
            unavailable=self._keyed(self._waits_s(sim, job)),
            outage_s=self._keyed(capacity.outages_s(step)) if capacity else None,
            bridged_by_caller=True,
        )

    def _waits_s(self, sim: SimState, job: int) -> FloatArray:
        """Expected wait per zone (inf: not a candidate). While some zone can take the job
        now, another is a candidate only if it is cheaper and its wait fits in the spare
        slack: the plan's cost does not price the slack a wait spends."""
        trace, step = sim.trace, int(sim.idx[job])
        can = (trace.price_max[:, step] <= trace.ondemand_usd_per_hour) & trace.available[:, step]
        waits = self.capacity.waits_s(step) if self.capacity else np.zeros(trace.n_zones)
        if not can.any():
            return waits
        cheaper = trace.price_max[:, step] < trace.price_start[can, step].min()
        rows = np.array([job])
        spare = spare_s(sim, rows, self.reserve_per_work[rows], progress=sim.saved[rows])
        return np.where(can | (cheaper & (waits <= spare[0])), waits, np.inf)

    def _pooled_rate_per_hour(self, step: int) -> float:
        """Interruptions per hour of capacity over all zones, in the lookback window."""
        outlook = self.outlook
        lo = max(step - outlook.window, 0)
        rises = float((outlook.rises[:, step] - outlook.rises[:, lo]).sum())
        down = float((outlook.down[:, step] - outlook.down[:, lo]).sum())
        step_h = outlook.trace.step_s / 3600.0
        up_h = ((step - lo) * outlook.trace.n_zones - down) * step_h
        return (rises + PRIOR_EVENTS) / max(up_h, step_h)

    def _keyed(self, values: FloatArray) -> dict[tuple[str, str], float]:
        itype = self.ctx.trace.instance_type
        return {(z, itype): float(v) for z, v in zip(self.ctx.trace.zones, values, strict=True)}

    def _record(self, sim: SimState, job: int, placement: PlacementChoice) -> None:
        trace = self.ctx.trace
        spot = placement.market == "spot" and placement.zone in trace.zones
        self.plan_pool[job] = trace.zones.index(placement.zone) if spot else self.ondemand
        cap = placement.max_price_usd_per_hour
        self.plan_bid[job] = cap if cap is not None else trace.ondemand_usd_per_hour
        interval = placement.checkpoint_interval_s
        self.aligned[job] = spot and placement.checkpoint_at_hour_end
        if self.aligned[job] and interval:
            self.interval[job] = round(interval / 3600.0)
        else:
            self.interval[job] = max(interval, trace.step_s) if spot and interval else np.inf
        work_s = sim.workload.work_s - float(sim.saved[job])
        instance_s = placement.expected_instance_s or work_s
        planned = placement.expected_interruptions or 0.0
        count = planned
        if self.capacity is not None:  # jobs move to any zone with room: the market's rate
            count = self._pooled_rate_per_hour(int(sim.idx[job])) * instance_s / 3600.0
        loss_s = (instance_s - work_s) / planned if planned > 0 else 0.0
        reserve = reserve_s(loss_s=count * loss_s, interruptions=count)
        self.reserve_per_work[job] = reserve / work_s if spot and work_s > 0 else 0.0
        self.plan_step[job] = sim.own_steps(slice(job, job + 1))[0]
        self.used[job] = False


def _flat_history(ctx: PolicyContext) -> PriceHistory:
    """A history of the trace's opening prices (for traces that carry no price history)."""
    trace = ctx.trace
    times = trace.start_s + trace.step_s * np.arange(trace.n_steps)
    series = {
        (zone, trace.instance_type): PriceSeries.build(times, trace.price_start[row])
        for row, zone in enumerate(trace.zones)
    }
    regions = dict(zip(trace.zones, trace.regions, strict=True)) if trace.regions else None
    return PriceHistory(series, regions=regions)
