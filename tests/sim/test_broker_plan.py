"""The broker's plan for fast-forward: the closed forms it rests on agree with the rules step
by step, and it does skip steps. That fast-forward gives the stepper's results bit for bit
with the broker is in test_fastforward.py and test_fastforward_random.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cbas_async.sim.simulator as simulator
from cbas_async.sim.broker_plan import BrokerPlanner, at_hour_end, rates_per_hour_at
from cbas_async.sim.broker_policy import BrokerPolicy
from cbas_async.sim.plans import NEVER
from cbas_async.sim.policy import Policy
from cbas_async.sim.risk import CapacityOutlook
from cbas_async.sim.simulator import simulate
from cbas_async.sim.state import SimState, Workload
from cbas_async.sim.step import step as step_rules
from tests.sim.test_fastforward import TRACES, _context

HOUR = 3600.0
LOAD = Workload(work_s=24 * HOUR, deadline_s=48 * HOUR, checkpoint_cost_s=60, restart_cost_s=120)


@pytest.mark.parametrize("trace", ["2015 c3.xlarge", "2023 p3.2xlarge"])
def test_rates_at_many_steps_are_those_at_each_step(data_dir: Path, trace: str) -> None:
    market = TRACES[trace](data_dir)
    outlook = CapacityOutlook(market, 500)
    cols = np.arange(0, market.n_steps, 7)
    each = np.stack([outlook.rates_per_hour(int(c)) for c in cols], axis=1)
    assert rates_per_hour_at(outlook, cols).tolist() == each.tolist()  # bit for bit


@pytest.mark.parametrize("cost_s", [0.0, 60.0, 299.0, 400.0])
@pytest.mark.parametrize("every_h", [1.0, 2.0, 5.0])
def test_the_next_hour_end_checkpoint_is_the_rules_next_one(
    data_dir: Path, cost_s: float, every_h: float
) -> None:
    trace = TRACES["2015 c3.xlarge"](data_dir)  # 5-minute steps, hourly billing
    load = Workload(work_s=HOUR, deadline_s=2 * HOUR, checkpoint_cost_s=cost_s)
    ctx, _ = _context(trace, load, jobs=1)
    sim = SimState(trace, load, ctx.starts, 10)
    planner = BrokerPlanner(BrokerPolicy(ctx), sim)
    steps_in = np.arange(0, 4 * round(every_h) * sim.steps_per_hour)
    found, period = planner._next_hour_end(sim, every_h, steps_in)
    ahead = steps_in[:, None] + np.arange(3 * period)
    due, _ = at_hour_end(sim, ahead.ravel(), np.full(ahead.size, every_h))
    due = due.reshape(ahead.shape)
    expected = np.where(due.any(axis=1), due.argmax(axis=1), NEVER)
    assert found.tolist() == expected.tolist()
    assert period == every_h * sim.steps_per_hour


def test_the_broker_skips_the_quiet_steps(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(sim: SimState, policy: Policy) -> None:
        calls.append(len(sim.x))
        step_rules(sim, policy)

    monkeypatch.setattr(simulator, "step", counted)
    ctx, horizon = _context(TRACES["2021 c5.large"](data_dir), LOAD, jobs=20)
    result = simulate(ctx.trace, ctx.workload, BrokerPolicy(ctx), ctx.starts, horizon_steps=horizon)
    assert 0 < sum(calls) < result.steps // 10
