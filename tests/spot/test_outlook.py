"""A market's recent past as the broker sees it: the price it expects to pay."""

from __future__ import annotations

import numpy as np
import pytest

from cbas_async.spot.history import PriceSeries
from cbas_async.spot.outlook import SpotOutlook, expected_price, outlook

HOUR = 3600.0


def _view(now: float, persistence: float) -> SpotOutlook:
    return SpotOutlook(
        1.0, 0.10, 0.01, 0.0, 0.0, price_now_usd_per_hour=now, hourly_persistence=persistence
    )


def test_a_constant_price_is_the_price_now_and_fully_persistent() -> None:
    series = PriceSeries.build(np.arange(48) * HOUR, [0.05] * 48)
    view = outlook(series, 1.0, start_s=0.0, end_s=48 * HOUR)
    assert view.price_now_usd_per_hour == 0.05
    assert view.hourly_persistence == 1.0
    assert expected_price(view, 10.0) == pytest.approx(0.05)


def test_the_price_now_reverts_to_the_mean_over_longer_runs() -> None:
    # AR(1) sampled hourly: the mean of now + (now - mean) * rho^k over k = 0..n-1
    view = _view(0.20, 0.5)
    assert expected_price(view, 1.0) == pytest.approx(0.20)  # the first hour: the price now
    assert expected_price(view, 2.0) == pytest.approx(0.10 + 0.10 * (1 + 0.5) / 2)
    assert expected_price(view, 1000.0) == pytest.approx(0.10, abs=1e-3)
    assert expected_price(_view(0.20, 0.0), 4.0) == pytest.approx(0.10 + 0.10 / 4)


def test_above_the_max_price_now_the_mean_is_expected() -> None:
    series = PriceSeries.build(np.arange(48) * HOUR, [0.05] * 47 + [0.50])
    view = outlook(series, 0.10, start_s=0.0, end_s=48 * HOUR)
    assert np.isnan(view.price_now_usd_per_hour)  # it waits; what it pays is the window's
    assert expected_price(view, 1.0) == pytest.approx(0.05)
