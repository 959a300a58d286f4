"""Fast-forward against the plain stepper on random small markets (property test): random
prices, capacity, era, grid, costs and job starts, every policy that has a planner."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cbas_async.sim.catalog import OPTIMUM, make_policy
from cbas_async.sim.options import NAMES
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.simulator import planner_for, simulate, simulate_stepwise
from cbas_async.sim.state import Workload
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from tests.sim.synthetic import make_trace

PLANNED = tuple(name for name in NAMES if name != OPTIMUM)  # every simulated policy


@st.composite
def _cases(draw: st.DrawFn) -> tuple[PolicyContext, int, str]:
    bid_era = draw(st.booleans())
    step_s = draw(st.sampled_from([300.0, 600.0, 900.0] if bid_era else [120.0, 195.0, 600.0]))
    zones, steps = draw(st.integers(1, 3)), draw(st.integers(30, 160))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = np.array([0.05, 0.2, 0.3, 0.6, 0.8, 1.0, 1.4])  # on-demand is 1.0
    calm = draw(st.floats(0.5, 0.98))  # chance that the price stays the same
    prices = np.empty((zones, steps))
    prices[:, 0] = rng.choice(levels, zones)
    for t in range(1, steps):
        moves = rng.random(zones) > calm
        prices[:, t] = np.where(moves, rng.choice(levels, zones), prices[:, t - 1])
    available = None if bid_era else rng.random((zones, steps)) > draw(st.floats(0.0, 0.3))
    trace = make_trace(
        prices.tolist(),
        model=BID_ERA if bid_era else CURRENT_ERA,
        step_s=step_s,
        available=None if available is None else available.tolist(),
    )
    work_s = float(draw(st.integers(1, 40)) * 300)
    workload = Workload(
        work_s=work_s,
        deadline_s=work_s * draw(st.sampled_from([0.9, 1.0, 1.2, 1.5, 2.0, 3.0])),
        checkpoint_cost_s=float(draw(st.sampled_from([0, 30, 60, 119, 120, 300, 400, 700]))),
        restart_cost_s=float(draw(st.sampled_from([0, 60, 120, 300, 500]))),
    )
    horizon = draw(st.integers(1, steps // 2))
    lookback = draw(st.integers(0, steps - horizon))
    jobs = draw(st.integers(1, 6))
    starts = np.sort(rng.integers(lookback, steps - horizon + 1, jobs)).astype(np.int64)
    ctx = PolicyContext(trace=trace, workload=workload, starts=starts, lookback_steps=lookback)
    return ctx, horizon, draw(st.sampled_from(PLANNED))


@settings(max_examples=300, deadline=None)
@given(_cases())
def test_fast_forward_matches_the_stepper_on_random_markets(
    case: tuple[PolicyContext, int, str],
) -> None:
    ctx, horizon, name = case
    stepped = simulate_stepwise(
        ctx.trace, ctx.workload, make_policy(name, ctx), ctx.starts, horizon_steps=horizon
    )
    policy = make_policy(name, ctx)
    assert planner_for(policy, ctx.trace, ctx.workload) is not None
    fast = simulate(ctx.trace, ctx.workload, policy, ctx.starts, horizon_steps=horizon)
    for field in ("cost_usd", "completion_s", "interruptions", "work_lost_s", "deadline_met"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(stepped, field), err_msg=field)
    assert fast.steps == stepped.steps
