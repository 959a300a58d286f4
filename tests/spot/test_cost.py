"""Cost per attempt and per job, from the price history and the billing model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cbas_async.spot.cost import attempt_cost, job_cost, ondemand_run_usd
from cbas_async.spot.eras import BID_ERA, CURRENT_ERA
from cbas_async.spot.history import PriceHistory, PricePoint

T0 = datetime(2015, 3, 1, tzinfo=UTC)
HISTORY = PriceHistory.from_points(
    PricePoint(
        timestamp=T0 + timedelta(minutes=minutes),
        region="us-east-1",
        zone="us-east-1a",
        instance_type="r3.large",
        product="Linux/UNIX",
        price_usd_per_hour=price,
    )
    for minutes, price in [(0, 0.02), (60, 0.05), (120, 0.03)]
)


def test_bid_era_attempts() -> None:
    stopped = attempt_cost(
        history=HISTORY,
        zone="us-east-1a",
        instance_type="r3.large",
        start=T0,
        end=T0 + timedelta(minutes=90),
        model=BID_ERA,
        ondemand_usd_per_hour=0.175,
    )
    assert stopped.cost_usd == pytest.approx(0.02 + 0.05)
    assert stopped.ondemand_usd == pytest.approx(2 * 0.175)
    interrupted = attempt_cost(
        history=HISTORY,
        zone="us-east-1a",
        instance_type="r3.large",
        start=T0,
        end=T0 + timedelta(minutes=90),
        model=BID_ERA,
        ondemand_usd_per_hour=0.175,
        provider_interrupted=True,
        work_redone_s=1800.0,
    )
    assert interrupted.cost_usd == pytest.approx(0.02)
    assert interrupted.work_redone_s == 1800.0


def test_current_era_attempt_and_on_demand_attempt() -> None:
    spot = attempt_cost(
        history=HISTORY,
        zone="us-east-1a",
        instance_type="r3.large",
        start=T0,
        end=T0 + timedelta(minutes=90),
        model=CURRENT_ERA,
        ondemand_usd_per_hour=0.175,
    )
    assert spot.cost_usd == pytest.approx(0.02 + 0.05 / 2)
    assert spot.ondemand_usd == pytest.approx(1.5 * 0.175)
    ondemand = attempt_cost(
        history=HISTORY,
        zone=None,
        instance_type="r3.large",
        start=T0,
        end=T0 + timedelta(minutes=90),
        model=CURRENT_ERA,
        ondemand_usd_per_hour=0.175,
        spot=False,
    )
    assert ondemand.cost_usd == ondemand.ondemand_usd == pytest.approx(1.5 * 0.175)


def test_job_cost_sums_attempts_and_prices_useful_time_on_demand() -> None:
    first = attempt_cost(
        history=HISTORY,
        zone="us-east-1a",
        instance_type="r3.large",
        start=T0,
        end=T0 + timedelta(minutes=90),
        model=CURRENT_ERA,
        ondemand_usd_per_hour=0.175,
        provider_interrupted=True,
        work_redone_s=1800.0,
    )
    second = attempt_cost(
        history=HISTORY,
        zone="us-east-1a",
        instance_type="r3.large",
        start=T0 + timedelta(minutes=120),
        end=T0 + timedelta(minutes=180),
        model=CURRENT_ERA,
        ondemand_usd_per_hour=0.175,
    )
    total = job_cost([first, second], ondemand_usd_per_hour=0.175, model=CURRENT_ERA)
    assert total.cost_usd == pytest.approx(first.cost_usd + 0.03)
    assert total.ondemand_usd == pytest.approx(2.0 * 0.175)  # 150 min run, 30 min redone
    assert total.work_redone_s == 1800.0
    assert total.attempts == 2


def test_on_demand_runs_by_era() -> None:
    assert ondemand_run_usd(3601.0, 1.0, BID_ERA) == 2.0
    assert ondemand_run_usd(3600.0, 1.0, BID_ERA) == 1.0
    assert ondemand_run_usd(30.0, 1.0, CURRENT_ERA) == pytest.approx(60 / 3600)
    assert ondemand_run_usd(0.0, 1.0, CURRENT_ERA) == 0.0
