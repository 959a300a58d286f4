"""Small hand-made market traces for exact tests: one price (or capacity) per grid step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.report import Scenario, run_policy
from cbas_async.sim.simulator import SimResult
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.eras import MarketModel

START_S = 1_699_999_200.0  # 2023-11-14T22:00:00Z, on an hour


def steps(*runs: tuple[float, int]) -> list[float]:
    """(value, count) runs flattened: steps((0.1, 6), (1.5, 1)) -> six 0.1 then one 1.5."""
    return [value for value, count in runs for _ in range(count)]


def make_trace(
    prices: Sequence[float] | Sequence[Sequence[float]],
    *,
    model: MarketModel,
    step_s: float = 600.0,
    ondemand: float = 1.0,
    available: Sequence[bool] | Sequence[Sequence[bool]] | None = None,
    highs: Sequence[float] | None = None,
) -> MarketTrace:
    """Prices per step (one zone, or one row per zone); the step's mean and maximum equal its
    price unless `highs` gives the maximum."""
    table = np.atleast_2d(np.asarray(prices, dtype=np.float64))
    capacity = (
        np.ones(table.shape, dtype=bool)
        if available is None
        else np.atleast_2d(np.asarray(available, dtype=bool))
    )
    maxima = table.copy() if highs is None else np.atleast_2d(np.asarray(highs, dtype=np.float64))
    return MarketTrace(
        instance_type="m.test",
        zones=tuple(f"zz-test-1{chr(ord('a') + i)}" for i in range(table.shape[0])),
        start_s=START_S,
        step_s=step_s,
        price_start=table,
        price_mean=table.copy(),
        price_max=maxima,
        available=capacity,
        ondemand_usd_per_hour=ondemand,
        model=model,
    )


def run(
    trace: MarketTrace, workload: Workload, policy: str, *, start: int = 0, lookback: int = 0
) -> SimResult:
    """One job from `start`, followed for twice its deadline (or to the trace's end)."""
    horizon = min(round(2 * workload.deadline_s / trace.step_s), trace.n_steps - start)
    scenario = Scenario(
        trace=trace,
        workload=workload,
        starts=np.array([start], dtype=np.int64),
        horizon_steps=horizon,
        lookback_steps=lookback,
    )
    return run_policy(scenario, policy)


def context(trace: MarketTrace, workload: Workload, start: int, lookback: int) -> PolicyContext:
    return PolicyContext(
        trace=trace,
        workload=workload,
        starts=np.array([start], dtype=np.int64),
        lookback_steps=lookback,
    )
