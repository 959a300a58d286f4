"""Hand-computed outcomes of every policy on tiny traces, under both billing models.

All traces use 600 s steps (6 per hour), on-demand at 1.0 USD/h and one zone. With a
checkpoint cost C = 60 s and restart cost R = 120 s unless said otherwise. The expected
numbers are derived step by step in each case's comment.
"""

from __future__ import annotations

import numpy as np
import pytest

from cbas_async.sim.baselines import OnDemand
from cbas_async.sim.checkpointing import YoungDaly
from cbas_async.sim.report import Scenario, run_policy
from cbas_async.sim.simulator import SimResult, simulate
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA, MarketModel
from tests.sim.synthetic import context, make_trace, run, steps

PLAIN = Workload(work_s=7200, deadline_s=14400)
COSTLY = Workload(work_s=7200, deadline_s=14400, checkpoint_cost_s=60, restart_cost_s=120)

# bid era: above the max price (1.0) exactly at the start of the second instance-hour
AT_BOUNDARY = make_trace(steps((0.1, 6), (1.5, 1), (0.2, 6), (0.3, 27)), model=BID_ERA)
# bid era: the price touches the max price (1.0) but does not exceed it
AT_MAX = make_trace(steps((0.1, 6), (1.0, 1), (0.2, 6), (0.3, 27)), model=BID_ERA)
# bid era: above the max price in the middle of the second hour (t = 5400 s)
MID_HOUR = make_trace(steps((0.1, 9), (1.5, 1), (0.2, 30)), model=BID_ERA)
# bid era: rising edge at step 3, above the max price at step 8
EDGES = make_trace(steps((0.1, 3), (0.15, 5), (1.5, 1), (0.2, 31)), model=BID_ERA)
# bid era: no spot for the first two steps
LATE_SPOT = make_trace(steps((1.5, 2), (0.2, 38)), model=BID_ERA)
# current era at 0.3 USD/h: no capacity in step 6 (t = 3600 s)
NO_CAPACITY = make_trace(
    steps((0.3, 40)), model=CURRENT_ERA, available=[True] * 6 + [False] + [True] * 33
)
# current era: no capacity for the first two steps
LATE_CAPACITY = make_trace(steps((0.3, 40)), model=CURRENT_ERA, available=[False] * 2 + [True] * 38)


def _check(
    result: SimResult, cost: float, completion_s: float, interruptions: int, lost_s: float
) -> None:
    assert result.cost_usd[0] == pytest.approx(cost, abs=1e-9)
    assert result.completion_s[0] == pytest.approx(completion_s, abs=1e-6)
    assert result.interruptions[0] == interruptions
    assert result.work_lost_s[0] == pytest.approx(lost_s, abs=1e-6)


@pytest.mark.parametrize(
    ("trace", "work_s", "cost"),
    [
        (AT_BOUNDARY, 7200, 2.0),  # two hours at 1.0
        (AT_BOUNDARY, 5400, 2.0),  # hourly: 1.5 h is billed as 2 started hours
        (NO_CAPACITY, 5400, 1.5),  # per second: 1.5 h
    ],
)
def test_ondemand(trace: MarketTrace, work_s: float, cost: float) -> None:
    result = run(trace, Workload(work_s=work_s, deadline_s=14400), "ondemand")
    _check(result, cost, work_s, 0, 0.0)


def test_spot_interrupted_exactly_at_an_hour_boundary() -> None:
    # hour 0 charged 0.1; at 3600 s the price (1.5) exceeds 1.0: interrupted with the first
    # hour complete and the second not started (not charged); 3600 s of work lost.
    # Relaunch at step 7 (4200 s) for 7200 s: hours at steps 7 (0.2) and 13 (0.3).
    result = run(AT_BOUNDARY, PLAIN, "spot-no-ckpt")
    _check(result, 0.1 + 0.2 + 0.3, 4200 + 7200, 1, 3600)


def test_a_price_equal_to_the_max_price_does_not_interrupt() -> None:
    # hours at steps 0 (0.1) and 6 (1.0, equal to the max price: still running)
    _check(run(AT_MAX, PLAIN, "spot-no-ckpt"), 0.1 + 1.0, 7200, 0, 0.0)


def test_the_partial_hour_is_free_when_the_provider_interrupts() -> None:
    # hours at steps 0 and 6 (0.1 each); interrupted at 5400 s: hour 2 is refunded. 5400 s
    # lost; relaunch at 6000 s, hours at steps 10 and 16 (0.2 each); done at 13200 s.
    _check(run(MID_HOUR, PLAIN, "spot-no-ckpt"), 0.1 + 0.2 + 0.2, 13200, 1, 5400)


def test_spot_without_checkpoints_per_second() -> None:
    # 3600 s at 0.3 then no capacity: all lost; again from 4200 s for 7200 s at 0.3
    _check(run(NO_CAPACITY, PLAIN, "spot-no-ckpt"), 0.3 * 3, 11400, 1, 3600)


def test_yi_hour_bid_era() -> None:
    # checkpoint at 3000 s (done 3060 s, saved 3000); 3540 at the interruption: 540 lost.
    # Relaunch at 4200 s: restart until 4320; checkpoint at 7200 s (x = 6300); done at
    # 8580 s. Hours at steps 0 (0.1), 7 (0.2), 13 (0.3).
    _check(run(AT_BOUNDARY, COSTLY, "yi-hour"), 0.1 + 0.2 + 0.3, 8580, 1, 540)


def test_yi_hour_per_second_keeps_work_up_to_the_notice() -> None:
    # saved 3000 at 3060 s; interrupted at 3600 s with x = 3540: the notice checkpoint keeps
    # 3540 - 120 = 3420 (120 s lost). From 4200 s: restart, checkpoint at 7200 s, done at
    # 8160 s. Billed 3600 + 3960 s at 0.3.
    _check(run(NO_CAPACITY, COSTLY, "yi-hour"), 7560 * 0.3 / 3600, 8160, 1, 120)


def test_yi_edge_bid_era() -> None:
    # rising edge at 1800 s: checkpoint (saved 1800). Interrupted at 4800 s (x = 4740) in the
    # second hour: its charge (0.15) is refunded. From 5400 s: 120 s restart + 5400 s work.
    # Hours at steps 0 (0.1), 9 (0.2) and 15 (0.2).
    _check(run(EDGES, COSTLY, "yi-edge"), 0.1 + 0.2 + 0.2, 10920, 1, 2940)


def test_yi_edge_per_second_with_a_flat_price() -> None:
    # no edge: only the notice checkpoint (keeps 3480). From 4200 s: 120 + 3720 s.
    _check(run(NO_CAPACITY, COSTLY, "yi-edge"), 7440 * 0.3 / 3600, 8040, 1, 120)


def test_yi_adaptive_bid_era() -> None:
    # no lookback: P(interruption within an hour) = (0 + 0.5) / (0 + 1) = 0.5, so a
    # checkpoint whenever 0.5 x unsaved work > 60 s: after every step with work. x grows
    # 540 per step; saved 2760, x 3300 at the interruption (540 lost). From 4200 s:
    # restart, then 540 per step from 5400 s (x = 4200... 7020 at 9000 s), last
    # checkpoint at 9000 s and 180 s of work. Hours at steps 0, 7 and 13.
    _check(run(AT_BOUNDARY, COSTLY, "yi-adaptive"), 0.1 + 0.2 + 0.3, 9240, 1, 540)


def test_yi_adaptive_per_second() -> None:
    # as above, but the notice keeps 3300 - 120 = 3180; done at 8760 s; 3600 + 4560 s billed
    _check(run(NO_CAPACITY, COSTLY, "yi-adaptive"), 8160 * 0.3 / 3600, 8760, 1, 120)


def test_young_daly_interval_from_the_lookback() -> None:
    # no lookback: rate 0.5 per 600 s = 3/h, M = 1200 s; Daly gives 340.5 s, raised to one
    # step: a checkpoint once 600 s of work are unsaved (every other step).
    policy = YoungDaly(context(AT_BOUNDARY, COSTLY, 0, 0))
    assert policy.interval_flat[0] == pytest.approx(600.0)
    assert policy.interval_flat[-1] == np.inf  # on-demand: never


def test_young_daly_bid_era() -> None:
    # checkpoints at 600, 1800, 3000 s; interrupted with x = 3420, saved 2880 (540 lost).
    # From 4200 s: checkpoints at 5400, 6600, 7800 s; done at 8820 s. Hours at 0, 7, 13.
    _check(run(AT_BOUNDARY, COSTLY, "young-daly"), 0.1 + 0.2 + 0.3, 8820, 1, 540)


def test_young_daly_per_second() -> None:
    # the notice keeps 3300; done at 8400 s; 3600 + 4200 s billed
    _check(run(NO_CAPACITY, COSTLY, "young-daly"), 7800 * 0.3 / 3600, 8400, 1, 120)


UP_WORK = Workload(work_s=7200, deadline_s=10800)


def test_uniform_progress_bid_era() -> None:
    # t=0: no spot, not behind the line (0): wait. t=600: behind (0 < 400): on-demand, its
    # hour charged 1.0. t=1800: x = 1200 = the line and spot is there: back to spot (the
    # paid hour is lost), 6000 s left: done at 7800 s; spot hours at steps 3 and 9 (0.2).
    _check(run(LATE_SPOT, UP_WORK, "uniform-progress"), 1.0 + 0.2 + 0.2, 7800, 0, 0.0)


def test_uniform_progress_per_second() -> None:
    # same decisions; 1200 s on-demand at 1.0, then 6000 s at 0.3
    _check(run(LATE_CAPACITY, UP_WORK, "uniform-progress"), 1200 / 3600 + 0.5, 7800, 0, 0.0)


def test_uniform_progress_leaves_on_demand_after_a_checkpoint_and_protects_its_work() -> None:
    # as above until t=1800 s, where leaving on-demand first checkpoints (saved 1200 at
    # 1860 s) and the on-demand step is billed whole; spot from 2400 s (restart 120 s).
    # With the deadline at 1.5 x the work the slack soon cannot absorb losing unsaved work,
    # so from 3000 s it checkpoints every step (60 s of each 600): x = 1680, 2220, ... and
    # the last checkpoint at 9000 s leaves 120 s of work: done at 9180 s. On-demand 1800 s
    # at 1.0, spot 6780 s at 0.3.
    costly = Workload(work_s=7200, deadline_s=10800, checkpoint_cost_s=60, restart_cost_s=120)
    result = run(LATE_CAPACITY, costly, "uniform-progress")
    _check(result, 0.5 + 6780 * 0.3 / 3600, 9180, 0, 0.0)


BROKER_WORK = Workload(work_s=7200, deadline_s=21600, checkpoint_cost_s=60, restart_cost_s=120)


@pytest.mark.parametrize("model", [BID_ERA, CURRENT_ERA])
def test_broker_on_a_calm_market(model: MarketModel) -> None:
    # a flat 0.1 for ten days: the broker picks spot, no checkpoint is worth it (a rate of
    # 0.5 per 240 h), the deadline leaves room: 2 h at 0.1 in either billing
    flat = make_trace(steps((0.1, 1500)), model=model)
    _check(run(flat, BROKER_WORK, "broker", start=1440, lookback=1440), 0.2, 7200, 0, 0.0)


def test_a_job_window_must_fit_in_the_trace() -> None:
    trace = make_trace(steps((0.1, 10)), model=BID_ERA)
    policy = OnDemand(context(trace, PLAIN, 5, 0))
    with pytest.raises(ValueError, match="inside the trace"):
        simulate(trace, PLAIN, policy, np.array([5]), horizon_steps=10)


def test_many_jobs_at_once_match_one_at_a_time() -> None:
    starts = np.array([0, 1, 2, 3], dtype=np.int64)
    together = run_policy(
        Scenario(
            trace=AT_BOUNDARY, workload=COSTLY, starts=starts, horizon_steps=36, lookback_steps=0
        ),
        "young-daly",
    )
    for i, start in enumerate(starts):
        alone = run(AT_BOUNDARY, COSTLY, "young-daly", start=int(start))
        assert together.cost_usd[i] == pytest.approx(alone.cost_usd[0])
        assert together.completion_s[i] == pytest.approx(alone.completion_s[0])
