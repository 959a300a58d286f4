"""Young's and Daly's checkpoint intervals against Daly's published examples.

Daly 2006 (FGCS 22(3):303-312), for delta < 2M:
    T_opt = sqrt(2 delta M) [1 + (1/3) sqrt(delta / 2M) + (1/9) (delta / 2M)] - delta
and T_opt = M otherwise. His figures 3-5 (R = 10 min, delta = 5 min) report
T_opt = 117 min for M = 24 h, 57 min for M = 6 h and 9.1 min for M = 15 min.
"""

from __future__ import annotations

import math

import pytest

from cbas_async.spot.interval import daly_interval_s, daly_wall_time_s, young_interval_s

MINUTE = 60.0


@pytest.mark.parametrize(
    ("mtbf_min", "published_min", "exact_min"),
    [
        # sqrt(2*5*1440) = 120; delta/2M = 1/576 -> 120 (1 + 1/72 + 1/5184) - 5
        (24 * 60, 117, 120 * (1 + 1 / 72 + 1 / 5184) - 5),
        # sqrt(2*5*360) = 60; delta/2M = 1/144 -> 60 (1 + 1/36 + 1/1296) - 5
        (6 * 60, 57, 60 * (1 + 1 / 36 + 1 / 1296) - 5),
        # sqrt(150); delta/2M = 1/6
        (15, 9.1, math.sqrt(150) * (1 + math.sqrt(1 / 6) / 3 + 1 / 54) - 5),
    ],
)
def test_daly_matches_his_published_examples(
    mtbf_min: float, published_min: float, exact_min: float
) -> None:
    interval_min = daly_interval_s(5 * MINUTE, mtbf_min * MINUTE) / MINUTE
    assert interval_min == pytest.approx(exact_min, rel=1e-12)
    assert round(interval_min, 1 if published_min < 10 else 0) == published_min


def test_young_is_the_first_order_term() -> None:
    delta_s, mtbf_s = 5 * MINUTE, 24 * 3600.0
    young = young_interval_s(delta_s, mtbf_s)
    assert young == pytest.approx(120 * MINUTE)
    # Daly = Young (1 + O(sqrt(delta / M))) - delta: the gap shrinks with delta / M
    for ratio in (1e-2, 1e-4, 1e-6):
        daly = daly_interval_s(ratio * mtbf_s, mtbf_s)
        young = young_interval_s(ratio * mtbf_s, mtbf_s)
        assert (daly + ratio * mtbf_s) / young - 1 == pytest.approx(
            math.sqrt(ratio / 2) / 3, rel=0.05
        )


def test_daly_is_m_when_the_dump_takes_two_mtbf() -> None:
    assert daly_interval_s(7200.0, 3600.0) == 3600.0
    assert daly_interval_s(0.0, 3600.0) == 0.0
    assert daly_interval_s(60.0, math.inf) == math.inf


def test_daly_interval_is_near_the_minimum_of_his_wall_time_model() -> None:
    delta_s, mtbf_s, restart_s = 5 * MINUTE, 6 * 3600.0, 10 * MINUTE

    def wall(interval_s: float) -> float:
        return daly_wall_time_s(
            work_s=500 * 3600.0,
            interval_s=interval_s,
            checkpoint_cost_s=delta_s,
            restart_cost_s=restart_s,
            mtbf_s=mtbf_s,
        )

    grid = [60.0 * m for m in range(5, 300)]
    best = min(grid, key=wall)
    assert daly_interval_s(delta_s, mtbf_s) == pytest.approx(best, abs=60.0)
    assert wall(daly_interval_s(delta_s, mtbf_s)) <= wall(young_interval_s(delta_s, mtbf_s))


def test_wall_time_without_interruptions_is_work_plus_checkpoints() -> None:
    wall = daly_wall_time_s(
        work_s=3600.0,
        interval_s=1000.0,
        checkpoint_cost_s=10.0,
        restart_cost_s=5.0,
        mtbf_s=math.inf,
    )
    assert wall == 3600.0 + 3 * 10.0
