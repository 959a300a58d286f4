"""The offline optimum: exact on small traces, and never above any policy that meets the same
deadline on any trace in shared/data (short windows, few jobs)."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest

from cbas_async.sim.catalog import OPTIMUM, POLICY_NAMES
from cbas_async.sim.oracle import optimum, units_per_step
from cbas_async.sim.report import Scenario, run_policy
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace, trace_from_availability, trace_from_prices
from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from cbas_async.spot.history import PriceHistory, from_epoch_s
from cbas_async.spot.prices import read_ondemand_csv, read_price_csv
from tests.conftest import DATA
from tests.sim.synthetic import make_trace, steps

PLAIN = Workload(work_s=7200, deadline_s=14400)


def test_no_interruption_costs_the_hours_run() -> None:
    flat = make_trace(steps((0.1, 40)), model=BID_ERA)
    result = optimum(flat, PLAIN, 0)
    assert result.cost_usd == pytest.approx(0.2)
    assert result.completion_s == pytest.approx(7200)


def test_runs_through_a_spike_paying_the_hour_start_price() -> None:
    # the price is 1.5 from 5400 s; an unbounded max price keeps running: hours at 0 and 3600
    spike = make_trace(steps((0.1, 9), (1.5, 1), (0.2, 30)), model=BID_ERA)
    assert optimum(spike, PLAIN, 0).cost_usd == pytest.approx(0.2)


def test_uses_a_free_partial_hour_in_the_bid_era() -> None:
    # hour 0 at 0.1 (3600 s of work); a run from 3600 s charged 0.5 ends at the rise to 0.6
    # at 5400 s with its partial hour free (1800 s); then 3600 s from 7200 s at 0.1.
    trace = make_trace(steps((0.1, 6), (0.5, 3), (0.6, 3), (0.1, 30)), model=BID_ERA)
    result = optimum(trace, Workload(work_s=9000, deadline_s=10800), 0)
    assert result.cost_usd == pytest.approx(0.2)
    assert result.completion_s == pytest.approx(10800)


def test_waits_rather_than_paying_for_overheads_per_second() -> None:
    # capacity gone in step 6: two runs would pay a checkpoint and a restart (7380 s); one
    # run from 4200 s (7200 s) still meets the 4 h deadline
    trace = make_trace(
        steps((0.3, 40)), model=CURRENT_ERA, available=[True] * 6 + [False] + [True] * 33
    )
    costly = Workload(work_s=7200, deadline_s=14400, checkpoint_cost_s=60, restart_cost_s=120)
    result = optimum(trace, costly, 0)
    assert result.cost_usd == pytest.approx(0.6)
    assert result.completion_s == pytest.approx(11400)
    tight = Workload(work_s=7200, deadline_s=8000, checkpoint_cost_s=60, restart_cost_s=120)
    # two spot runs: 3600 s, then a checkpoint (60 s) and a restart (120 s): 7380 s in all
    assert optimum(trace, tight, 0).cost_usd == pytest.approx(7380 * 0.3 / 3600)


def test_uses_on_demand_when_spot_cannot_make_the_deadline() -> None:
    no_spot = make_trace(steps((0.3, 40)), model=CURRENT_ERA, available=[False] * 40)
    assert optimum(no_spot, PLAIN, 0).cost_usd == pytest.approx(2.0)


def test_an_impossible_deadline_costs_infinity() -> None:
    flat = make_trace(steps((0.1, 40)), model=BID_ERA)
    result = optimum(flat, Workload(work_s=7200, deadline_s=3600), 0)
    assert result.cost_usd == np.inf
    assert np.isnan(result.completion_s)


def test_units_make_overheads_whole() -> None:
    load = Workload(work_s=3600, deadline_s=7200, checkpoint_cost_s=60, restart_cost_s=120)
    assert units_per_step(600.0, load) == 10
    assert units_per_step(195.0, load) == 13
    assert units_per_step(300.0, Workload(work_s=1, deadline_s=1)) == 1


# --- never above a policy that meets the same deadline, on every shared trace -------------

SHORT = Workload(work_s=2 * 3600, deadline_s=4 * 3600, checkpoint_cost_s=60, restart_cost_s=120)
POLICIES = [name for name in POLICY_NAMES if name != OPTIMUM]
LOOKBACK_S = 24 * 3600.0


def _files() -> list[str]:
    spot = sorted(glob.glob(str(DATA / "spot" / "spot_*.csv")))
    availability = sorted(glob.glob(str(DATA / "availability" / "*" / "*.json")))
    return spot + availability


def _price_trace(path: Path) -> tuple[MarketTrace, PriceHistory | None]:
    history = read_price_csv(path)
    itype = history.instance_types()[0]
    history = read_price_csv(path, instance_types=[itype])
    first, _ = history.span_s(history.series_keys())
    prices = read_ondemand_csv(path.parent / "ondemand.csv", near=from_epoch_s(first))
    # three days from where every zone has a price; current-era traces get sampled capacity
    trace = trace_from_prices(
        history,
        instance_type=itype,
        ondemand_usd_per_hour=prices[itype],
        start_s=None,
        end_s=first + 3 * 86400.0,
        hazard_per_hour=0.3,
        seed=7,
    )
    return trace, history


def _availability_trace(path: Path) -> tuple[MarketTrace, PriceHistory | None]:
    history = AvailabilityHistory.from_files([path])
    ((zone, itype),) = history.series_keys()
    series = history.series(zone, itype)
    ondemand = read_ondemand_csv(DATA / "spot" / "ondemand.csv").get(itype, 1.0)
    trace = trace_from_availability(
        history,
        instance_type=itype,
        spot_usd_per_hour=0.3 * ondemand,
        ondemand_usd_per_hour=ondemand,
        end_s=series.start_s + 4 * 86400.0,
    )
    return trace, None


@pytest.mark.parametrize("name", [Path(f).name for f in _files()] or ["(no data)"])
def test_optimum_is_a_lower_bound_on_shared_traces(data_dir: Path, name: str) -> None:
    path = next(Path(f) for f in _files() if Path(f).name == name)
    trace, history = _price_trace(path) if path.suffix == ".csv" else _availability_trace(path)
    lookback = round(LOOKBACK_S / trace.step_s)
    horizon = round(2 * SHORT.deadline_s / trace.step_s)
    starts = np.linspace(lookback, trace.n_steps - horizon, 3).round().astype(np.int64)
    scenario = Scenario(
        trace=trace,
        workload=SHORT,
        starts=starts,
        horizon_steps=horizon,
        lookback_steps=lookback,
        history=history,
    )
    best = run_policy(scenario, OPTIMUM)
    assert np.isfinite(best.cost_usd).all()
    for policy in POLICIES:
        result = run_policy(scenario, policy)
        met = result.deadline_met
        assert (best.cost_usd[met] <= result.cost_usd[met] + 1e-9).all(), (
            policy,
            best.cost_usd,
            result.cost_usd,
        )
