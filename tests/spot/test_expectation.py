"""Expected instance time, billed hours and checkpoint plans under Poisson interruptions."""

from __future__ import annotations

import math

from cbas_async.spot.eras import BID_ERA
from cbas_async.spot.expectation import expected_run

HOUR = 3600.0


def test_hourly_a_checkpoint_the_deadline_needs_anyway_makes_every_hour_end_free() -> None:
    # 6 h of work, a rare interruption: a checkpoint would add a seventh paid hour, so none
    # is planned; when one will be taken anyway, the seventh hour is paid whatever the plan
    # and checkpoints at every hour end (5 x 60 s) fit in it
    def run(needed: bool) -> tuple[float, float, bool]:
        plan = expected_run(
            work_s=6 * HOUR,
            rate_per_hour=0.01,
            checkpoint_cost_s=60.0,
            restart_cost_s=120.0,
            model=BID_ERA,
            checkpoint_needed=needed,
        )
        return plan.billed_hours, plan.interval_s, plan.hour_aligned

    billed, interval, aligned = run(False)
    assert (math.ceil(billed), interval, aligned) == (7, math.inf, False)
    billed, interval, aligned = run(True)
    assert (math.ceil(billed), interval, aligned) == (8, HOUR, True)
    assert billed < run(False)[0] + 1.0 + 1e-9


def test_hourly_a_rate_beyond_a_float_is_no_error() -> None:
    # a zone up for a second of its window gets an enormous rate; the plan without
    # checkpoints would never finish (exp overflows a float), the others still can
    plan = expected_run(
        work_s=24 * HOUR,
        rate_per_hour=5000.0,
        checkpoint_cost_s=60.0,
        restart_cost_s=120.0,
        model=BID_ERA,
    )
    assert plan.hour_aligned
    assert plan.interval_s == HOUR
