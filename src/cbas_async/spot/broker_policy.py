"""The broker as a simulator policy: `choose_placement` at every launch, checkpoints as its
placement says, and the commit-to-on-demand safety net of `deadline.py`.

A job keeps its plan (zone, max price, checkpoints) while it waits for its zone, and plans
again after each run, every hour of waiting, or as soon as another zone can take it.
While it waits, it bridges on on-demand if it is behind: if the slack left is below what
the plan expects interruptions to cost from here; it goes back to its spot zone as soon
as that has room (under hourly billing, at the end of a paid hour). A job the broker put
on on-demand is planned again every hour and moves to spot when the plan says so.
"""

from __future__ import annotations

import numpy as np

from cbas_async.spot.broker import BrokerJob, Placement, choose_placement
from cbas_async.spot.deadline import must_commit, must_protect, slack_s
from cbas_async.spot.history import PriceHistory, PriceSeries, from_epoch_s
from cbas_async.spot.policies import PolicyContext, cheapest_spot
from cbas_async.spot.risk import CapacityOutlook
from cbas_async.spot.state import BoolArray, FloatArray, IntArray, SimState

_PER_JOB = (
    *("committed", "used", "plan_step", "plan_market", "plan_bid", "interval", "aligned"),
    "loss_per_work",
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
        self.plan_step = np.full(jobs, -(10**9), dtype=np.int64)
        self.plan_market = np.full(jobs, -1, dtype=np.int64)
        self.plan_bid = np.full(jobs, np.inf)
        self.interval = np.full(jobs, np.inf)  # work between checkpoints, or hours when aligned
        self.aligned = np.zeros(jobs, dtype=bool)
        self.loss_per_work = np.zeros(jobs)  # expected interruption losses per second of work
        self.replan_steps = max(round(3600.0 / trace.step_s), 1)
        self.capacity = CapacityOutlook(trace, ctx.lookback_steps) if trace.model.notice_s else None

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        self.committed[jobs] |= must_commit(sim, jobs)
        stale = self.used[jobs] | (sim.k - self.plan_step[jobs] >= self.replan_steps)
        stale |= self._elsewhere(sim, jobs)
        for job in jobs[stale & ~self.committed[jobs]]:
            self._plan(sim, int(job))
        markets = self.plan_market[jobs]
        waiting = (markets < self.ondemand) & ~self._ready(sim, jobs)
        bridge = waiting & self._behind(sim, jobs)
        markets = np.where(self.committed[jobs] | bridge, self.ondemand, markets)
        return markets, self.plan_bid[jobs]

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        self.used |= sim.running & (sim.market == self.plan_market)
        on_spot = sim.market != self.ondemand
        by_work: BoolArray = on_spot & ~self.aligned & (sim.x - sim.saved >= self.interval)
        by_work |= must_protect(sim)
        if not self.aligned.any():
            return by_work
        in_session_s = (sim.idx - sim.session_start) * sim.step_s
        to_end_s = (-in_session_s) % 3600.0
        cost_s = sim.workload.checkpoint_cost_s
        hour = np.round((in_session_s + to_end_s) / 3600.0)
        due = (to_end_s >= cost_s) & (to_end_s < cost_s + sim.step_s) & (in_session_s > 0)
        due &= hour % np.where(self.aligned, self.interval, 1.0) == 0
        due &= sim.workload.work_s - sim.x > to_end_s  # not when it finishes before the hour ends
        aligned: BoolArray = by_work | (on_spot & self.aligned & due)
        return aligned

    def stop(self, sim: SimState) -> BoolArray | None:
        newly = sim.running & ~self.committed & must_commit(sim, slice(None))
        self.committed |= newly
        leave: BoolArray = newly & (sim.market != self.ondemand)
        for job in np.flatnonzero(self._review_ondemand(sim)):
            self._plan(sim, int(job))
        on_demand = np.flatnonzero(
            sim.running & ~self.committed & (sim.market == self.ondemand) & self._turn(sim)
        )
        if len(on_demand):
            leave[on_demand] = self._ready(sim, on_demand)  # spot is back: bridge no more
        return leave

    def compact(self, keep: BoolArray) -> None:
        for name in _PER_JOB:
            setattr(self, name, getattr(self, name)[keep])

    def _behind(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """The slack left is below what the plan expects interruptions to cost from here."""
        remaining_s = sim.workload.work_s - sim.saved[jobs]
        expected_loss_s = self.loss_per_work[jobs] * remaining_s
        behind: BoolArray = slack_s(sim, jobs) < expected_loss_s
        return behind

    def _ready(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """The planned spot zone can take the job now."""
        planned = self.plan_market[jobs]
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
            return np.ones(len(sim.market), dtype=bool)
        steps_in = sim.idx - sim.session_start
        turn: BoolArray = steps_in % sim.steps_per_hour == sim.steps_per_hour - 1
        return turn

    def _review_ondemand(self, sim: SimState) -> BoolArray:
        """On-demand jobs whose plan is on-demand: plan again every hour."""
        planned = sim.running & ~self.committed & (sim.market == self.ondemand)
        planned &= self.plan_market == self.ondemand
        steps_in = sim.idx - sim.session_start
        due: BoolArray = planned & (steps_in % self.replan_steps == self.replan_steps - 1)
        return due

    def _elsewhere(self, sim: SimState, jobs: IntArray) -> BoolArray:
        """Waiting for a zone while another one could take the job now."""
        planned = self.plan_market[jobs]
        waiting = (planned < self.ondemand) & ~self._ready(sim, jobs)
        if not waiting.any():
            return waiting
        some: BoolArray = cheapest_spot(sim, jobs, self.plan_bid[jobs]) >= 0
        return waiting & some

    def _plan(self, sim: SimState, job: int) -> None:
        trace, load = sim.trace, sim.workload
        step = int(sim.idx[job])
        deadline_s = trace.time_s(int(sim.starts[job])) + load.deadline_s
        placement = choose_placement(
            job=BrokerJob(
                instance_types=(trace.instance_type,),
                work_hours=(load.work_s - sim.saved[job]) / 3600.0,
                checkpoint_cost_s=load.checkpoint_cost_s,
                restart_cost_s=load.restart_cost_s,
                deadline=from_epoch_s(deadline_s),
            ),
            history=self.history,
            ondemand={trace.instance_type: trace.ondemand_usd_per_hour},
            hazard_per_hour=self._keyed(self.capacity.rates_per_hour(step))
            if self.capacity
            else None,
            now=from_epoch_s(trace.time_s(step)),
            model=trace.model,
            unavailable=self._keyed(self.capacity.waits_s(step)) if self.capacity else None,
            outage_s=self._keyed(self.capacity.outages_s(step)) if self.capacity else None,
        )
        self._record(job, sim.k, placement, load.work_s - float(sim.saved[job]))

    def _keyed(self, values: FloatArray) -> dict[tuple[str, str], float]:
        itype = self.ctx.trace.instance_type
        return {(z, itype): float(v) for z, v in zip(self.ctx.trace.zones, values, strict=True)}

    def _record(self, job: int, k: int, placement: Placement, work_s: float) -> None:
        trace = self.ctx.trace
        spot = placement.market == "spot" and placement.zone in trace.zones
        self.plan_market[job] = trace.zones.index(placement.zone) if spot else self.ondemand
        cap = placement.max_price_usd_per_hour
        self.plan_bid[job] = cap if cap is not None else trace.ondemand_usd_per_hour
        interval = placement.checkpoint_interval_s
        self.aligned[job] = spot and placement.checkpoint_at_hour_end
        if self.aligned[job] and interval:
            self.interval[job] = round(interval / 3600.0)
        else:
            self.interval[job] = max(interval, trace.step_s) if spot and interval else np.inf
        runtime_s = (placement.expected_runtime_s or 0.0) if spot else 0.0
        self.loss_per_work[job] = max(runtime_s - work_s, 0.0) / work_s if work_s > 0 else 0.0
        self.plan_step[job] = k
        self.used[job] = False


def _flat_history(ctx: PolicyContext) -> PriceHistory:
    """A history of the trace's opening prices (for traces that carry no price history)."""
    trace = ctx.trace
    times = trace.start_s + trace.step_s * np.arange(trace.n_steps)
    series = {
        (zone, trace.instance_type): PriceSeries.build(times, trace.price_start[row])
        for row, zone in enumerate(trace.zones)
    }
    return PriceHistory(series)
