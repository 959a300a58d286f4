"""Fast-forward (`simulate`) gives the plain stepper's results (`simulate_stepwise`) bit for
bit: on the real traces of shared/data, for every policy that has a planner, under hourly
(bid era) and per-second (current era) billing, with checkpoints shorter and longer than a
grid step. And `simulate` falls back to the stepper for what fast-forward cannot replay.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import cbas_async.sim.simulator as simulator
from cbas_async.sim.catalog import OPTIMUM, make_policy
from cbas_async.sim.checkpointing import YoungDaly
from cbas_async.sim.fastforward import add_in_order
from cbas_async.sim.options import NAMES
from cbas_async.sim.policy import Policy, PolicyContext
from cbas_async.sim.simulator import SimResult, planner_for, simulate, simulate_stepwise
from cbas_async.sim.state import BoolArray, SimState, Workload
from cbas_async.sim.step import step as step_rules
from cbas_async.sim.trace import MarketTrace, trace_from_availability, trace_from_prices
from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.eras import Billing
from cbas_async.spot.history import from_epoch_s
from cbas_async.spot.prices import read_ondemand_csv, read_price_csv
from tests.sim.test_simulator import AT_BOUNDARY, EDGES, LATE_CAPACITY, MID_HOUR, NO_CAPACITY

PLANNED = tuple(name for name in NAMES if name != OPTIMUM)  # every simulated policy
HOUR = 3600.0
WORKLOADS = {
    # checkpoints shorter than a step: replayed inside fast-forward
    "6 h in 12 h": Workload(
        work_s=6 * HOUR, deadline_s=12 * HOUR, checkpoint_cost_s=60, restart_cost_s=120
    ),
    # a tight deadline: Uniform Progress commits to on-demand and protects its work
    "6 h in 7 h": Workload(
        work_s=6 * HOUR, deadline_s=7 * HOUR, checkpoint_cost_s=60, restart_cost_s=120
    ),
    # checkpoints and restarts longer than a step: each one is an event
    "slow checkpoints": Workload(
        work_s=4 * HOUR, deadline_s=8 * HOUR, checkpoint_cost_s=400, restart_cost_s=500
    ),
    "free checkpoints": Workload(work_s=4 * HOUR, deadline_s=8 * HOUR),
    # more work than time: every job misses, Uniform Progress's line outruns any job
    "6 h in 5 h": Workload(
        work_s=6 * HOUR, deadline_s=5 * HOUR, checkpoint_cost_s=60, restart_cost_s=120
    ),
}


def _price_trace(data: Path, itype: str, hazard: float | None) -> MarketTrace:
    name = (
        "spot_us-east-1_2015_bid-era.csv" if hazard is None else "spot_us-east-1_2021_post-2017.csv"
    )
    history = read_price_csv(data / "spot" / name, instance_types=[itype])
    first, _ = history.span_s(history.series_keys())
    ondemand = read_ondemand_csv(data / "spot" / "ondemand.csv", near=from_epoch_s(first))
    return trace_from_prices(
        history, instance_type=itype, ondemand_usd_per_hour=ondemand[itype], hazard_per_hour=hazard
    )


def _availability_trace(data: Path) -> MarketTrace:
    files = sorted((data / "availability" / "aws-02-15-2023").glob("us-*_v100_1.json"))
    return trace_from_availability(
        AvailabilityHistory.from_files(files),
        instance_type="p3.2xlarge",
        spot_usd_per_hour=0.3 * 3.06,
        ondemand_usd_per_hour=3.06,
    )


TRACES: dict[str, Callable[[Path], MarketTrace]] = {
    # bid era, hourly billing: spiky prices, interruptions from the price (5-minute grid)
    "2015 c3.xlarge": lambda data: _price_trace(data, "c3.xlarge", None),
    "2015 m3.medium": lambda data: _price_trace(data, "m3.medium", None),
    # current era, per-second billing: sampled capacity, a 2-minute notice
    "2021 c5.large": lambda data: _price_trace(data, "c5.large", 0.2),
    # current era, per-second billing: real capacity on a 195-second grid, nine zones
    "2023 p3.2xlarge": _availability_trace,
}


@pytest.fixture(scope="module")
def traces(data_dir: Path) -> dict[str, MarketTrace]:
    return {name: build(data_dir) for name, build in TRACES.items()}


def _context(trace: MarketTrace, workload: Workload, jobs: int) -> tuple[PolicyContext, int]:
    horizon = round(2 * workload.deadline_s / trace.step_s)
    lookback = round(72 * HOUR / trace.step_s)
    starts = np.linspace(lookback, trace.n_steps - horizon, jobs).round().astype(np.int64)
    return PolicyContext(
        trace=trace, workload=workload, starts=starts, lookback_steps=lookback
    ), horizon


def _both(
    ctx: PolicyContext, horizon: int, build: Callable[[PolicyContext], Policy]
) -> tuple[SimResult, SimResult]:
    """The same policy (built twice: policies keep per-job state) by the stepper and by
    fast-forward."""
    stepped = simulate_stepwise(
        ctx.trace, ctx.workload, build(ctx), ctx.starts, horizon_steps=horizon
    )
    fast = build(ctx)
    assert planner_for(fast, ctx.trace, ctx.workload) is not None, "fast-forward not taken"
    return stepped, simulate(ctx.trace, ctx.workload, fast, ctx.starts, horizon_steps=horizon)


def _assert_identical(stepped: SimResult, fast: SimResult) -> None:
    assert fast.policy == stepped.policy
    for field in ("cost_usd", "completion_s", "interruptions", "work_lost_s", "deadline_met"):
        np.testing.assert_array_equal(
            getattr(fast, field), getattr(stepped, field), err_msg=f"{stepped.policy} {field}"
        )
    assert fast.steps == stepped.steps  # trace-steps are counted the same way


@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("trace", list(TRACES))
@pytest.mark.parametrize("policy", PLANNED)
def test_fast_forward_matches_the_stepper_on_real_traces(
    traces: dict[str, MarketTrace], trace: str, workload: str, policy: str
) -> None:
    ctx, horizon = _context(traces[trace], WORKLOADS[workload], jobs=40)
    stepped, fast = _both(ctx, horizon, lambda c: make_policy(policy, c))
    _assert_identical(stepped, fast)


@pytest.mark.parametrize("policy", PLANNED)
def test_fast_forward_matches_the_stepper_on_the_benchmark_jobs(
    traces: dict[str, MarketTrace], policy: str
) -> None:
    # as benchmarks/spot_bench.py: 24 h jobs, a 48 h deadline, a week of lookback
    load = Workload(
        work_s=24 * HOUR, deadline_s=48 * HOUR, checkpoint_cost_s=60, restart_cost_s=120
    )
    ctx, horizon = _context(traces["2015 c3.xlarge"], load, jobs=150)
    stepped, fast = _both(ctx, horizon, lambda c: make_policy(policy, c))
    assert np.isfinite(stepped.completion_s).any()
    _assert_identical(stepped, fast)


def test_both_billing_models_are_covered(traces: dict[str, MarketTrace]) -> None:
    billing = {trace.model.billing for trace in traces.values()}
    assert billing == {Billing.HOURLY, Billing.PER_SECOND}


@pytest.mark.parametrize(
    "trace",
    [AT_BOUNDARY, MID_HOUR, EDGES, NO_CAPACITY, LATE_CAPACITY],
    ids=["at-boundary", "mid-hour", "edges", "no-capacity", "late-capacity"],
)
@pytest.mark.parametrize("policy", PLANNED)
def test_fast_forward_matches_the_stepper_on_hand_made_traces(
    trace: MarketTrace, policy: str
) -> None:
    load = Workload(work_s=7200, deadline_s=10800, checkpoint_cost_s=60, restart_cost_s=120)
    starts = np.array([0, 1, 2, 3], dtype=np.int64)
    ctx = PolicyContext(trace=trace, workload=load, starts=starts, lookback_steps=0)
    stepped, fast = _both(ctx, trace.n_steps - 3, lambda c: make_policy(policy, c))
    _assert_identical(stepped, fast)


def test_it_skips_the_quiet_steps(
    traces: dict[str, MarketTrace], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    rules = step_rules

    def counted(sim: SimState, policy: Policy) -> None:
        calls.append(len(sim.x))
        rules(sim, policy)

    monkeypatch.setattr(simulator, "step", counted)
    ctx, horizon = _context(traces["2015 c3.xlarge"], WORKLOADS["6 h in 12 h"], jobs=40)
    simulate(
        ctx.trace, ctx.workload, make_policy("young-daly", ctx), ctx.starts, horizon_steps=horizon
    )
    assert 0 < len(calls) < horizon // 4


class _EveryStep(YoungDaly):
    """A subclass that changes a rule but inherits the plan: its plan would be wrong."""

    def checkpoint(self, sim: SimState) -> BoolArray | None:
        running: BoolArray = sim.running.copy()
        return running


def test_the_stepper_runs_what_fast_forward_cannot_replay(traces: dict[str, MarketTrace]) -> None:
    trace = traces["2015 c3.xlarge"]
    ctx, _ = _context(trace, WORKLOADS["6 h in 12 h"], jobs=4)
    assert planner_for(_EveryStep(ctx), trace, ctx.workload) is None
    half_seconds = Workload(work_s=6 * HOUR, deadline_s=12 * HOUR, checkpoint_cost_s=60.5)
    assert planner_for(make_policy("young-daly", ctx), trace, half_seconds) is None
    assert planner_for(make_policy("broker", ctx), trace, half_seconds) is None
    assert planner_for(make_policy("young-daly", ctx), trace, ctx.workload) is not None


def test_subclass_results_are_those_of_its_own_rules(traces: dict[str, MarketTrace]) -> None:
    ctx, horizon = _context(traces["2015 c3.xlarge"], WORKLOADS["6 h in 12 h"], jobs=10)
    by_simulate = simulate(
        ctx.trace, ctx.workload, _EveryStep(ctx), ctx.starts, horizon_steps=horizon
    )
    by_stepper = simulate_stepwise(
        ctx.trace, ctx.workload, _EveryStep(ctx), ctx.starts, horizon_steps=horizon
    )
    _assert_identical(by_stepper, by_simulate)


def test_recording_progress_uses_the_stepper(traces: dict[str, MarketTrace]) -> None:
    ctx, horizon = _context(traces["2021 c5.large"], WORKLOADS["6 h in 12 h"], jobs=3)
    recorded = simulate(
        ctx.trace,
        ctx.workload,
        make_policy("young-daly", ctx),
        ctx.starts,
        horizon_steps=horizon,
        record=True,
    )
    assert recorded.progress_s is not None
    assert np.nanmax(recorded.progress_s) == ctx.workload.work_s
    plain = simulate(
        ctx.trace, ctx.workload, make_policy("young-daly", ctx), ctx.starts, horizon_steps=horizon
    )
    _assert_identical(recorded, plain)


def test_add_in_order_adds_one_charge_at_a_time() -> None:
    rng = np.random.default_rng(7)
    values = rng.random(500) * 0.123456789
    rows = np.array([0, 2, 3])
    first = np.array([5, 0, 100])
    count = np.array([130, 0, 7])
    total = np.array([1.0, 2.0, 3.0, 4.0])
    expected = total.copy()
    for row, start, n in zip(rows, first, count, strict=True):
        for j in range(n):
            expected[row] = expected[row] + values[start + 3 * j]
    add_in_order(total, rows, values, first, 3, count)
    assert total.tolist() == expected.tolist()  # bit for bit, not approximately


def test_jobs_on_their_own_clocks_have_no_common_step(traces: dict[str, MarketTrace]) -> None:
    trace = traces["2021 c5.large"]
    sim = SimState(trace, WORKLOADS["6 h in 12 h"], np.array([0, 5], dtype=np.int64), 10)
    assert sim.k == 0
    sim.advance(np.array([1, 2], dtype=np.int64))
    assert sim.own_steps(slice(None)).tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="own clocks"):
        _ = sim.elapsed_s
