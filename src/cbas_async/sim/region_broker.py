"""The broker across regions, as a simulator policy: `BrokerPolicy`'s rules, with each plan
chosen over every region (`spot/region_scoring.py`) and proactive moves of running jobs.

- Planning: the production broker's placement in each region (`choose_placement` with the
  job's region set), ranked by expected cost to finish plus, for a region other than the
  checkpoint's, the move (egress and the copy's instance time). With no saved progress
  nothing moves, so a job starts where it is expected to finish cheapest.
- Proactive moves: once an hour on its own clock, a job running on spot compares staying
  in its region with the best other one; it leaves (after a checkpoint) when the expected
  saving beats the move's cost, its checkpoint and restart included, `MOVE_MARGIN` times,
  the target zone can take it now, and its spare slack covers the move's time.

Its rules change the broker's, so it runs under the plain stepper (no fast-forward plan).
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.broker_policy import BrokerPolicy
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.progress import spare_s
from cbas_async.sim.state import BoolArray, SimState
from cbas_async.spot.history import PriceHistory
from cbas_async.spot.region_scoring import (
    MOVE_MARGIN,
    MoveCost,
    RegionOption,
    rank_regions,
    worth_moving,
)


class RegionBroker(BrokerPolicy):
    """The broker over every (region, zone): see the module docstring."""

    name = "broker"

    def __init__(self, ctx: PolicyContext, history: PriceHistory | None = None) -> None:
        super().__init__(ctx, history)
        self.regions = ctx.trace.region_names
        self.checked = np.zeros(len(ctx.starts), dtype=np.int64)  # own step of the last look
        self.proactive_moves = 0
        self.move_margin = MOVE_MARGIN

    def stop(self, sim: SimState) -> BoolArray | None:
        asked = super().stop(sim)
        leave = np.zeros(len(sim.pool), dtype=bool) if asked is None else asked
        due = sim.running & ~self.committed & ~sim.stopping & ~leave & (sim.debt <= 0)
        due &= sim.pool != self.ondemand
        due &= sim.own_steps(slice(None)) - self.checked >= self.replan_steps
        for job in np.flatnonzero(due):
            self.checked[job] = sim.own_steps(slice(job, job + 1))[0]
            leave[job] = self._move_away(sim, int(job))
        return leave

    def compact(self, keep: BoolArray) -> None:
        super().compact(keep)
        self.checked = self.checked[keep]

    def _plan(self, sim: SimState, job: int) -> None:
        moving = sim.saved[job] > 0
        load = sim.workload
        move = MoveCost(usd=load.move_usd, seconds=load.move_s) if moving else None
        options = self._options(sim, job, move)
        placement = options[0].placement if options else self._choose(sim, job)
        self._record(sim, job, placement)

    def _options(self, sim: SimState, job: int, move: MoveCost | None) -> list[RegionOption]:
        zones = set(sim.trace.zones)
        placements = {region: self._choose(sim, job, region) for region in self.regions}
        spot = {r: p for r, p in placements.items() if p.zone in zones}
        work_h = (sim.workload.work_s - float(sim.saved[job])) / 3600.0
        return rank_regions(spot, here=self._here(sim, job), move=move, work_hours=work_h)

    def _here(self, sim: SimState, job: int) -> str:
        return self.regions[int(sim.region[job])]

    def _move_away(self, sim: SimState, job: int) -> bool:
        """Plan a proactive move of a running job and say whether to leave now."""
        load = sim.workload
        seconds = load.move_s + load.checkpoint_cost_s + load.restart_cost_s
        options = self._options(sim, job, MoveCost(usd=load.move_usd, seconds=seconds))
        target = worth_moving(options, here=self._here(sim, job), margin=self.move_margin)
        if target is None or target.placement.zone is None:
            return False
        pool, step = sim.trace.zones.index(target.placement.zone), int(sim.idx[job])
        if not sim.trace.available[pool, step]:
            return False
        rows = np.array([job])
        spare = spare_s(sim, rows, self.reserve_per_work[rows], progress=sim.x[rows])[0]
        if spare < seconds:
            return False
        self._record(sim, job, target.placement)
        self.proactive_moves += 1
        return True
