"""Uniform Progress across regions (`uniform-progress-multi`): Uniform Progress that stays
in the region of its checkpoint while some zone there has capacity, and otherwise goes to
the cheapest zone with capacity in any region (the multi-region variant SkyNomad compares).

It starts in the home region. It launches at the same steps as Uniform Progress (only the
zone differs), so Uniform Progress's plan serves it under fast-forward.
"""

from __future__ import annotations

import numpy as np

from cbas_async.sim.deadline import UniformProgress
from cbas_async.sim.state import BoolArray, FloatArray, IntArray, SimState


def cheapest_in_region(sim: SimState, jobs: IntArray, bids: FloatArray) -> IntArray:
    """Per job, the cheapest zone of its checkpoint's region that can take it now (-1: none)."""
    cols = sim.idx[jobs]
    trace = sim.trace
    can: BoolArray = (trace.price_max[:, cols] <= bids) & trace.available[:, cols]
    can &= sim.pool_region[:-1, None] == sim.region[jobs][None, :]
    prices = np.where(can, trace.price_start[:, cols], np.inf)
    best = prices.argmin(axis=0)
    return np.where(can.any(axis=0), best, -1).astype(np.int64)


class UniformProgressMulti(UniformProgress):
    """Uniform Progress over every region, preferring the one its checkpoint is in."""

    name = "uniform-progress-multi"

    def launch(self, sim: SimState, jobs: IntArray) -> tuple[IntArray, FloatArray]:
        pools, bids = super().launch(sim, jobs)
        local = cheapest_in_region(sim, jobs, bids)
        spot = (pools >= 0) & (pools != self.ondemand)
        return np.where(spot & (local >= 0), local, pools), bids
