"""The baseline policies without checkpoints the simulator compares: on-demand only, and
plain spot (restart from scratch after an interruption).

Spot policies here and in `checkpointing.py` launch in the zone with the lowest current
price among those where an instance can start, with the max price at the on-demand price
(AWS's default since 2017): `cheapest_spot`. Each policy also has a `plan` for
fast-forward (`plans.py`): from a job's current step, how long it will decide nothing but
checkpoints, and when those start.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from cbas_async.sim.plans import NEVER, Plan, next_true
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState
from cbas_async.sim.trace import MarketTrace


def cheapest_spot(sim: SimState, jobs: IntArray, bids: FloatArray) -> IntArray:
    """Per job, the zone with the lowest opening price where it can start now (-1: none)."""
    cols = sim.idx[jobs]
    trace = sim.trace
    can = (trace.price_max[:, cols] <= bids) & trace.available[:, cols]
    prices = np.where(can, trace.price_start[:, cols], np.inf)
    best = prices.argmin(axis=0)
    return np.where(can.any(axis=0), best, -1).astype(np.int64)


def open_steps(trace: MarketTrace, bid_usd_per_hour: float) -> IntArray:
    """Per trace step (and one past the end): the first step from there at which some zone
    can start an instance at this max price (`trace.n_steps`: none)."""
    can = (trace.price_max <= bid_usd_per_hour) & trace.available
    return next_true(cast(BoolArray, can.any(axis=0)))


def never_steps(sim: SimState) -> IntArray:
    return np.full(len(sim.x), NEVER, dtype=np.int64)


class OnDemand:
    """Only on-demand instances: no interruptions, no checkpoints."""

    name = "ondemand"
    saves_on_notice = False

    def __init__(self, ctx: PolicyContext) -> None:
        self.ondemand = ctx.trace.n_zones

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        return np.full(len(jobs), self.ondemand, dtype=np.int64), np.full(len(jobs), np.inf)

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        return None

    def stop(self, sim: SimState) -> BoolArray | None:
        return None

    def compact(self, keep: BoolArray) -> None:
        pass

    def plan(self, sim: SimState) -> Plan:
        never = never_steps(sim)
        idle = ~sim.running & ~sim.done
        return Plan(quiet=np.where(idle, 0, never), first=never, period=never)


class SpotNoCheckpoint:
    """Spot at max price = on-demand, cheapest zone, never checkpoints: restarts from scratch."""

    name = "spot-no-ckpt"
    saves_on_notice = False

    def __init__(self, ctx: PolicyContext) -> None:
        self.bid_usd_per_hour = ctx.trace.ondemand_usd_per_hour
        self.workload = ctx.workload
        self.next_open = open_steps(ctx.trace, self.bid_usd_per_hour)

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        bids = np.full(len(jobs), self.bid_usd_per_hour)
        return cheapest_spot(sim, jobs, bids), bids

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        return None

    def stop(self, sim: SimState) -> BoolArray | None:
        return None

    def compact(self, keep: BoolArray) -> None:
        pass

    def plan(self, sim: SimState) -> Plan:
        never = never_steps(sim)
        return Plan(quiet=self.launch_wait(sim), first=never, period=never)

    def launch_wait(self, sim: SimState) -> IntArray:
        """Per job: for an idle one, the steps until some zone can take it (it launches
        then); for any other, NEVER."""
        wait = self.next_open[sim.idx] - sim.idx
        return np.where(~sim.running & ~sim.done, wait, NEVER)
