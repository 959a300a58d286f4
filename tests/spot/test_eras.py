"""Billing and interruption rules of the two eras."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from cbas_async.spot.eras import (
    BID_ERA,
    CURRENT_ERA,
    Billing,
    billed_hour_starts_s,
    hazard_availability,
    interrupted_by_price,
    interruption_probability,
    model_for,
    model_named,
    per_second_billed_s,
)


def test_only_a_price_above_the_max_price_interrupts() -> None:
    assert interrupted_by_price(0.21, 0.2)
    assert not interrupted_by_price(0.2, 0.2)


def test_every_started_hour_is_billed_when_the_user_stops() -> None:
    assert list(billed_hour_starts_s(0.0, 5400.0, provider_interrupted=False)) == [0.0, 3600.0]


def test_the_partial_hour_is_free_when_the_provider_interrupts() -> None:
    assert list(billed_hour_starts_s(0.0, 5400.0, provider_interrupted=True)) == [0.0]


def test_an_interruption_exactly_on_the_hour_has_no_partial_hour() -> None:
    assert list(billed_hour_starts_s(100.0, 7300.0, provider_interrupted=True)) == [100.0, 3700.0]
    assert list(billed_hour_starts_s(100.0, 7300.0, provider_interrupted=False)) == [100.0, 3700.0]


def test_per_second_billing_has_a_minute_minimum() -> None:
    assert per_second_billed_s(30.0, CURRENT_ERA) == 60.0
    assert per_second_billed_s(61.5, CURRENT_ERA) == 61.5
    assert per_second_billed_s(0.0, CURRENT_ERA) == 0.0


def test_eras() -> None:
    assert model_for(datetime(2015, 5, 1, tzinfo=UTC)) is BID_ERA
    assert model_for(datetime(2021, 5, 1, tzinfo=UTC)) is CURRENT_ERA
    assert BID_ERA.billing is Billing.HOURLY
    assert BID_ERA.notice_s == 0
    assert CURRENT_ERA.notice_s == 120
    assert CURRENT_ERA.min_billed_s == 60
    assert model_named("bid") is BID_ERA
    with pytest.raises(ValueError, match="unknown market model"):
        model_named("spotty")


def test_hazard_sampling_matches_its_rate() -> None:
    rng = np.random.default_rng(1)
    capacity = hazard_availability(1.0, step_s=360.0, steps=200_000, rng=rng)
    assert (~capacity).mean() == pytest.approx(interruption_probability(1.0, 360.0), rel=0.05)
    assert interruption_probability(0.0, 3600.0) == 0.0
