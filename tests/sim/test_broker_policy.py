"""The broker policy on tiny traces, where the reason for each decision can be read off.

600 s steps, on-demand at 1.0 USD/h, checkpoint C = 60 s, restart R = 120 s. Each job sees
a lookback of ten calm days first (`LOOKBACK` steps), so every interruption rate is about
its prior: no interruption is expected and the slack kept in reserve is the guard alone,
a step, a checkpoint step and a round trip through spot: 600 + 600 + (600 + 120 + 120 + 120)
= 2160 s (current era).
"""

from __future__ import annotations

import pytest

from cbas_async.sim.state import Workload
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from tests.sim.synthetic import make_trace, run, steps

LOOKBACK = 1440
TAIL = 80
STEPS = LOOKBACK + TAIL
TWO_HOURS = Workload(work_s=7200, deadline_s=21600, checkpoint_cost_s=60, restart_cost_s=120)


def _capacity(outage_steps: int) -> list[bool]:
    """Capacity all along, but for the job's first `outage_steps` steps."""
    return [True] * LOOKBACK + [False] * outage_steps + [True] * (TAIL - outage_steps)


def test_waits_through_an_outage_its_slack_can_absorb() -> None:
    # an hour without spot at the start; slack 6 h - 2 h - R = 14280 s, far above the
    # 2160 s reserve: the broker waits, then runs 2 h on spot at 0.3. Uniform Progress is
    # behind its line after one step and bridges on on-demand until it is ahead again
    trace = make_trace(steps((0.3, STEPS)), model=CURRENT_ERA, available=_capacity(6))
    broker = run(trace, TWO_HOURS, "broker", start=LOOKBACK, lookback=LOOKBACK)
    assert broker.cost_usd[0] == pytest.approx(2 * 0.3)
    assert broker.completion_s[0] == pytest.approx(3600 + 7200)
    uniform = run(trace, TWO_HOURS, "uniform-progress", start=LOOKBACK, lookback=LOOKBACK)
    assert uniform.cost_usd[0] > 2 * broker.cost_usd[0]


def test_bridges_an_outage_that_outlasts_its_slack_and_stays_on_demand() -> None:
    # four hours without spot: once the slack is down to the reserve (after 20 steps) the
    # job runs on on-demand. Spot is back at step 24, but a switch (a checkpoint step and a
    # restart, 720 s) would leave less than the guard: it stays, and pays 2 h on demand,
    # nothing more, and meets its deadline
    trace = make_trace(steps((0.3, STEPS)), model=CURRENT_ERA, available=_capacity(24))
    result = run(trace, TWO_HOURS, "broker", start=LOOKBACK, lookback=LOOKBACK)
    assert result.cost_usd[0] == pytest.approx(2.0)
    assert result.completion_s[0] == pytest.approx(20 * 600 + 7200)
    assert result.deadline_met[0]


def test_takes_a_zone_with_room_rather_than_wait_for_the_planned_one() -> None:
    # 1a never failed in the lookback, 1b failed every 8 h: the plan prefers 1a, at the
    # same price. 1a is out for the first two steps: the job starts on 1b at once
    calm = _capacity(2)
    flaky = [i % 48 != 0 or i >= LOOKBACK for i in range(STEPS)]
    trace = make_trace(
        [steps((0.3, STEPS)), steps((0.3, STEPS))], model=CURRENT_ERA, available=[calm, flaky]
    )
    result = run(trace, TWO_HOURS, "broker", start=LOOKBACK, lookback=LOOKBACK)
    # never idle: every second to completion billed at 0.3 (one checkpoint on the way)
    assert result.cost_usd[0] == pytest.approx(result.completion_s[0] * 0.3 / 3600)
    assert result.completion_s[0] < 7200 + 600


@pytest.mark.parametrize(("deadline_s", "waits"), [(21600, True), (9720, False)])
def test_waits_for_a_cheaper_zone_only_when_the_wait_fits_in_its_spare_slack(
    deadline_s: float, waits: bool
) -> None:
    # 1a at 0.2 is out for the job's first step (its spells last one step), 1b at 0.3 has
    # room. With 6 h to go the 600 s wait fits in the spare slack: it waits and runs on 1a.
    # With 2.7 h to go, slack 2400 s, spare 240 s: it runs on 1b at once
    cheap = [i % 48 != 0 and i != LOOKBACK for i in range(STEPS)]
    trace = make_trace(
        [steps((0.2, STEPS)), steps((0.3, STEPS))],
        model=CURRENT_ERA,
        available=[cheap, [True] * STEPS],
    )
    load = Workload(work_s=7200, deadline_s=deadline_s, checkpoint_cost_s=60, restart_cost_s=120)
    result = run(trace, load, "broker", start=LOOKBACK, lookback=LOOKBACK)
    completion = result.completion_s[0]
    if waits:
        assert result.cost_usd[0] == pytest.approx((completion - 600) * 0.2 / 3600)
    else:
        assert result.cost_usd[0] == pytest.approx(completion * 0.3 / 3600)
    assert result.deadline_met[0]


def test_bid_era_whole_hours_under_a_deadline_lose_at_most_the_free_partial_hour() -> None:
    # 4 h of work, 8 h to the deadline: losing the whole run near its end could not be
    # absorbed, so a checkpoint will be taken anyway and the fifth hour is paid whatever the
    # plan; the broker checkpoints at every hour end. A spike above on-demand 3.5 h in
    # interrupts it: it loses only work of the interrupted hour, which is not billed, and
    # pays five hours at 0.1. Uniform Progress (no checkpoint due yet) loses all 3.5 h and
    # has to finish on on-demand
    lookback = 6 * 24 * 7
    trace = make_trace(steps((0.1, lookback + 21), (1.5, 1), (0.1, 60)), model=BID_ERA)
    load = Workload(work_s=4 * 3600, deadline_s=8 * 3600, checkpoint_cost_s=60, restart_cost_s=120)
    broker = run(trace, load, "broker", start=lookback, lookback=lookback)
    assert broker.interruptions[0] == 1
    assert broker.work_lost_s[0] < 3600
    assert broker.cost_usd[0] == pytest.approx(5 * 0.1)
    assert broker.deadline_met[0]
    uniform = run(trace, load, "uniform-progress", start=lookback, lookback=lookback)
    assert uniform.work_lost_s[0] == pytest.approx(3.5 * 3600)
    assert uniform.cost_usd[0] > 10 * broker.cost_usd[0]
