"""Simulation across regions on hand-made traces: what a move costs, the single- and
multi-region Uniform Progress, the optimum against a hand computation, and the broker's
proactive move rule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cbas_async.sim.catalog import make_policy
from cbas_async.sim.oracle import optimum
from cbas_async.sim.region_broker import RegionBroker
from cbas_async.sim.simulator import planner_for, simulate, simulate_stepwise
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.broker import PlacementChoice
from cbas_async.spot.eras import CURRENT_ERA
from cbas_async.spot.region_scoring import MOVE_MARGIN, MoveCost, rank_regions, worth_moving
from tests.sim.synthetic import context, make_trace, run

STEP_S = 600.0


def two_regions(
    prices: tuple[float, float],
    available: tuple[list[bool], list[bool]],
    *,
    ondemand: float = 3.0,
) -> MarketTrace:
    """Zone a in region r-east, zone b in r-west."""
    steps = len(available[0])
    table = [[prices[0]] * steps, [prices[1]] * steps]
    trace = make_trace(
        table, model=CURRENT_ERA, step_s=STEP_S, ondemand=ondemand, available=list(available)
    )
    return replace(trace, regions=("r-east", "r-west"))


def load(**moves: float) -> Workload:
    return Workload(
        work_s=1800.0,
        deadline_s=36_000.0,
        checkpoint_cost_s=60.0,
        restart_cost_s=120.0,
        **moves,  # type: ignore[arg-type]
    )


def test_a_move_with_a_checkpoint_costs_egress_and_the_copy() -> None:
    """Up on a (east) for two steps, then only b (west): the job moves once; the move adds
    the egress and the copy's seconds at b's price, and delays completion by the copy."""
    trace = two_regions((1.0, 0.5), ([True, True] + [False] * 28, [True] * 30))
    free = run(trace, load(), "uniform-progress-multi")
    paid = run(trace, load(move_usd=0.32, move_s=120.0), "uniform-progress-multi")
    assert paid.region_moves is not None
    assert paid.region_moves.tolist() == [1]
    assert paid.cost_usd[0] - free.cost_usd[0] == pytest.approx(0.32 + 120.0 * 0.5 / 3600.0)
    assert paid.completion_s[0] - free.completion_s[0] == pytest.approx(120.0)


def test_a_move_without_saved_progress_is_free() -> None:
    trace = two_regions((1.0, 0.5), ([False] * 30, [True] * 30))
    workload = Workload(work_s=1800.0, deadline_s=36_000.0, move_usd=5.0, move_s=600.0)
    result = run(trace, workload, "uniform-progress-multi")
    assert result.region_moves is not None
    assert result.region_moves.tolist() == [0]
    assert result.cost_usd[0] == pytest.approx(1800.0 * 0.5 / 3600.0)


def test_uniform_progress_keeps_to_the_home_region() -> None:
    """Home (east) never has capacity: all the work runs on on-demand, none in the west."""
    trace = two_regions((1.0, 0.5), ([False] * 30, [True] * 30))
    workload = Workload(work_s=1800.0, deadline_s=36_000.0)
    result = run(trace, workload, "uniform-progress")
    assert result.cost_usd[0] == pytest.approx(1800.0 * 3.0 / 3600.0)
    assert result.deadline_met.all()
    west_home = run(trace, replace(workload, home_region="r-west"), "uniform-progress")
    assert west_home.cost_usd[0] == pytest.approx(1800.0 * 0.5 / 3600.0)


def test_the_multi_region_variant_stays_in_its_region_while_it_has_room() -> None:
    """West is cheaper but east (home) has room: it runs in the east, moving nothing."""
    trace = two_regions((1.0, 0.5), ([True] * 30, [True] * 30))
    result = run(trace, load(move_usd=0.32, move_s=120.0), "uniform-progress-multi")
    assert result.region_moves is not None
    assert result.region_moves.tolist() == [0]
    assert result.cost_usd[0] == pytest.approx(1.0 * 1800.0 / 3600.0, rel=0.1)


@pytest.mark.parametrize("name", ["young-daly", "uniform-progress-multi"])
def test_fast_forward_and_the_stepper_agree_across_regions(name: str) -> None:
    """Both move between the regions as capacity comes and goes; fast-forward replays it."""
    trace = two_regions((1.0, 0.5), ([True, True, False] * 10, [False, True, True] * 10))
    workload = load(move_usd=0.32, move_s=120.0)
    starts = np.array([0, 1, 2], dtype=np.int64)
    ctx = replace(context(trace, workload, 0, 0), starts=starts)
    assert planner_for(make_policy(name, ctx), trace, workload) is not None
    a = simulate(trace, workload, make_policy(name, ctx), starts, horizon_steps=27)
    b = simulate_stepwise(trace, workload, make_policy(name, ctx), starts, horizon_steps=27)
    assert np.array_equal(a.cost_usd, b.cost_usd)
    assert np.array_equal(a.completion_s, b.completion_s, equal_nan=True)
    assert b.region_moves is not None
    assert b.region_moves.sum() > 0
    assert np.array_equal(a.region_moves, b.region_moves)


@pytest.mark.parametrize(
    ("move_usd", "move_s", "expected", "moves"),
    [
        (0.5, 0.0, 0.5, 0),  # moving costs more than it saves: 3 steps on a
        (0.1, 0.0, 1 / 6 + 0.1 + 2 * 0.2 / 6, 1),  # a step on a, then two on b
        (0.1, 300.0, 2 / 6 + 0.1 + 0.2 * 900 / 3600, 1),  # two on a, the copy and 300 s on b
    ],
)
def test_the_optimum_on_two_regions_is_the_hand_computation(
    move_usd: float, move_s: float, expected: float, moves: int
) -> None:
    """a (home, 1 USD/h) always has room; b (0.2 USD/h) from step 2; 3 steps of work, a
    deadline of 4 steps, no checkpoint or restart cost."""
    trace = two_regions((1.0, 0.2), ([True] * 6, [False, False] + [True] * 4))
    workload = Workload(work_s=1800.0, deadline_s=2400.0, move_usd=move_usd, move_s=move_s)
    best = optimum(trace, workload, 0)
    assert best.cost_usd == pytest.approx(expected)
    assert best.region_moves == moves


def _placement(region: str, cost: float) -> PlacementChoice:
    return PlacementChoice(
        region=region,
        zone=f"{region}a",
        instance_type="m.test",
        market="spot",
        max_price_usd_per_hour=None,
        checkpoint_interval_s=None,
        expected_cost_usd=cost,
        expected_runtime_s=3600.0,
    )


@pytest.mark.parametrize(("move_usd", "moves"), [(0.4, True), (0.6, False)])
def test_a_running_job_moves_only_when_the_saving_beats_the_move(
    move_usd: float, moves: bool
) -> None:
    """Staying costs 2.0, the other region 1.0: a saving of 1.0 against the move's cost."""
    placements = {"r-east": _placement("r-east", 2.0), "r-west": _placement("r-west", 1.0)}
    options = rank_regions(
        placements, here="r-east", move=MoveCost(usd=move_usd, seconds=0.0), work_hours=1.0
    )
    target = worth_moving(options, here="r-east")
    assert (target is not None) is moves
    assert moves is (MOVE_MARGIN * move_usd < 1.0)


def test_a_move_is_priced_at_the_target_rate_and_free_without_a_checkpoint() -> None:
    placements = {"r-east": _placement("r-east", 2.0), "r-west": _placement("r-west", 1.0)}
    move = MoveCost(usd=0.3, seconds=3600.0)
    ranked = rank_regions(placements, here="r-east", move=move, work_hours=2.0)
    assert [o.region for o in ranked] == ["r-west", "r-east"]
    assert ranked[0].move_usd == pytest.approx(0.3 + 0.5)  # an hour at 1.0 USD / 2 h
    free = rank_regions(placements, here="r-east", move=None, work_hours=2.0)
    assert free[0].move_usd == 0.0


@pytest.mark.parametrize(("move_usd", "moves"), [(0.3, 1), (20.0, 0)])
def test_the_broker_leaves_a_dear_region_when_the_move_pays(move_usd: float, moves: int) -> None:
    """East (home, 2 USD/h) has room; west (0.5 USD/h) has none for the job's first 40 min,
    so it starts in the east; an hour on, moving 4 h of work saves far more than 0.3 USD
    (it moves) and less than 20 USD (it stays)."""
    lookback, steps = 48, 88
    west = [True] * lookback + [False] * 4 + [True] * (steps - lookback - 4)
    trace = two_regions((2.0, 0.5), ([True] * steps, west))
    workload = Workload(
        work_s=4 * 3600.0,
        deadline_s=6 * 3600.0,
        checkpoint_cost_s=60.0,
        restart_cost_s=120.0,
        move_usd=move_usd,
        move_s=120.0,
    )
    broker = RegionBroker(context(trace, workload, lookback, lookback))
    starts = np.array([lookback], dtype=np.int64)
    result = simulate(trace, workload, broker, starts, horizon_steps=steps - lookback)
    assert broker.proactive_moves == moves
    assert result.region_moves is not None
    assert result.region_moves.tolist() == [moves]
    assert result.deadline_met.all()
    on_east_only = 2.0 * 4  # at least four hours at 2 USD/h
    assert bool(result.cost_usd[0] < on_east_only / 2) == bool(moves)
