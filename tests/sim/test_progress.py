"""The broker policy's reserve: slack kept for the interruptions a plan still expects."""

from __future__ import annotations

import math

import pytest

from cbas_async.sim.progress import reserve_s


def test_the_reserve_is_the_expected_loss_plus_one_poisson_deviation() -> None:
    # 4 interruptions expected, 1000 s lost in all: mean 1000 s, the count's deviation is
    # sqrt(4) = 2 interruptions of 250 s each
    assert reserve_s(loss_s=1000.0, interruptions=4.0) == pytest.approx(1500.0)
    assert reserve_s(loss_s=1000.0, interruptions=100.0) == pytest.approx(1100.0)


def test_no_interruption_expected_keeps_no_reserve() -> None:
    assert reserve_s(loss_s=0.0, interruptions=0.0) == 0.0
    assert reserve_s(loss_s=-5.0, interruptions=0.0) == 0.0
    assert math.isfinite(reserve_s(loss_s=1.0, interruptions=1e-6))
