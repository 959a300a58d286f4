"""Price history: step-function queries, costs, merging and resampling."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from cbas_async.spot.history import PriceHistory, PricePoint, PriceSeries

T0 = datetime(2015, 3, 1, tzinfo=UTC)


def _point(minutes: float, price: float, zone: str = "us-east-1a") -> PricePoint:
    return PricePoint(
        timestamp=T0 + timedelta(minutes=minutes),
        region="us-east-1",
        zone=zone,
        instance_type="m3.medium",
        product="Linux/UNIX",
        price_usd_per_hour=price,
    )


# 0.10 from 0 min, 0.30 from 30 min, 0.20 from 90 min
HISTORY = PriceHistory.from_points([_point(30, 0.3), _point(0, 0.1), _point(90, 0.2)])


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_price_at_is_a_step_function() -> None:
    assert HISTORY.price_at("us-east-1a", "m3.medium", _at(0)) == 0.1
    assert HISTORY.price_at("us-east-1a", "m3.medium", _at(29.9)) == 0.1
    assert HISTORY.price_at("us-east-1a", "m3.medium", _at(30)) == 0.3
    assert HISTORY.price_at("us-east-1a", "m3.medium", _at(500)) == 0.2
    assert math.isnan(HISTORY.price_at("us-east-1a", "m3.medium", _at(-1)))


def test_mean_price_is_time_weighted() -> None:
    # 30 min at 0.1, 60 min at 0.3, 30 min at 0.2 over two hours
    mean = HISTORY.mean_price("us-east-1a", "m3.medium", _at(0), _at(120))
    assert mean == pytest.approx((30 * 0.1 + 60 * 0.3 + 30 * 0.2) / 120)
    # only the known part counts
    assert HISTORY.mean_price("us-east-1a", "m3.medium", _at(-60), _at(30)) == pytest.approx(0.1)


def test_hourly_cost_charges_each_hour_at_its_start() -> None:
    # hours start at 20 min (price 0.1) and 80 min (0.3); the price at 90 min does not matter
    cost = HISTORY.cost("us-east-1a", "m3.medium", _at(20), _at(140), BID_ERA)
    assert cost == pytest.approx(0.1 + 0.3)
    assert HISTORY.cost("us-east-1a", "m3.medium", _at(95), _at(96), BID_ERA) == 0.2


def test_hourly_cost_partial_hour_free_when_interrupted() -> None:
    full = HISTORY.cost("us-east-1a", "m3.medium", _at(0), _at(90), BID_ERA)
    free = HISTORY.cost(
        "us-east-1a", "m3.medium", _at(0), _at(90), BID_ERA, provider_interrupted=True
    )
    assert full == pytest.approx(0.1 + 0.3)
    assert free == pytest.approx(0.1)


def test_per_second_cost_integrates_with_a_minimum() -> None:
    cost = HISTORY.cost("us-east-1a", "m3.medium", _at(0), _at(120), CURRENT_ERA)
    assert cost == pytest.approx((30 * 0.1 + 60 * 0.3 + 30 * 0.2) / 60)
    short = HISTORY.cost("us-east-1a", "m3.medium", _at(0), _at(0.5), CURRENT_ERA)
    assert short == pytest.approx(0.1 / 60)  # a minute at 0.1


def test_merge_adds_and_replaces() -> None:
    merged = HISTORY.merge([_point(90, 0.25), _point(150, 0.05), _point(0, 0.5, "us-east-1b")])
    assert merged.price_at("us-east-1a", "m3.medium", _at(100)) == 0.25
    assert merged.price_at("us-east-1a", "m3.medium", _at(160)) == 0.05
    assert merged.zones("m3.medium") == ["us-east-1a", "us-east-1b"]
    assert HISTORY.price_at("us-east-1a", "m3.medium", _at(100)) == 0.2  # unchanged
    assert merged.region_of("us-east-1b") == "us-east-1"


def test_grid_resampling() -> None:
    series = PriceSeries.build([0.0, 90.0, 100.0, 250.0], [1.0, 5.0, 2.0, 3.0])
    grid = series.grid(0.0, 100.0, 3)
    # step [0,100): 1.0 then 5.0 from 90; [100,200): 2.0; [200,300): 2.0 then 3.0 from 250
    assert list(grid.start) == [1.0, 2.0, 2.0]
    assert list(grid.max) == [5.0, 2.0, 3.0]
    assert grid.mean == pytest.approx([(90 * 1 + 10 * 5) / 100, 2.0, 2.5])
    before = series.grid(-100.0, 100.0, 1)
    assert np.isnan(before.start[0])
    assert np.isnan(before.mean[0])


def test_series_of_equal_times_keep_the_last() -> None:
    series = PriceSeries.build([0.0, 0.0, 10.0], [1.0, 2.0, 3.0])
    assert list(series.times_s) == [0.0, 10.0]
    assert series.price_at(5.0) == 2.0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC-aware"):
        HISTORY.price_at("us-east-1a", "m3.medium", datetime(2015, 3, 1))
