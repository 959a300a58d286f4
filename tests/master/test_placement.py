"""The broker placer: job spec and price book in, the launcher's placement out (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cbas_async.handlers.placement import (
    DEFAULT_CHECKPOINT_COST_S,
    MAX_CHECKPOINT_INTERVAL_S,
    broker_job,
    broker_placer,
    checkpoint_cost_s,
    to_launch_placement,
)
from cbas_async.master.pricebook import PriceBook
from cbas_async.records import CheckpointPointer, JobRecord
from cbas_async.spot.broker import Placement as BrokerPlacement
from cbas_async.spot.history import PriceHistory
from cbas_async.spot.market import CURRENT_ERA
from cbas_async.spot.prices import PricePoint
from cbas_async.states import JobState
from tests.fakes import FakeClock

NOW = datetime(2021, 4, 1, 12, tzinfo=UTC)
ONDEMAND = {"c5.large": 0.085, "m5.large": 0.096}


def _points(zone: str, itype: str, price: float) -> list[PricePoint]:
    return [
        PricePoint(
            timestamp=NOW - timedelta(hours=6 * (24 - i)),
            region="us-east-1",
            zone=zone,
            instance_type=itype,
            product="Linux/UNIX",
            price_usd_per_hour=price,
        )
        for i in range(24)
    ]


def _book(history: PriceHistory | None = None) -> PriceBook:
    calm = PriceHistory.from_points(
        _points("us-east-1a", "c5.large", 0.040)
        + _points("us-east-1b", "c5.large", 0.035)
        + _points("us-east-1c", "m5.large", 0.045)
    )
    return PriceBook(model=CURRENT_ERA, ondemand=dict(ONDEMAND), history=history or calm)


def _job(spec: dict[str, Any], checkpoint: CheckpointPointer | None = None) -> JobRecord:
    full = {"name": "t", "command": ["true"], **spec}
    return JobRecord(
        job_id="j-1",
        state=JobState.PENDING,
        version=1,
        attempt=1,
        spec=full,
        created_at=NOW,
        updated_at=NOW,
        checkpoint=checkpoint,
    )


def _pointer(extra: dict[str, str]) -> CheckpointPointer:
    return CheckpointPointer(
        attempt=1, seq=1, key="k", sha256="s", size_bytes=1, method="app", taken_at="t", extra=extra
    )


def test_places_in_the_cheapest_zone_capped_at_on_demand() -> None:
    place = broker_placer(book=_book(), clock=FakeClock(NOW), region="us-east-1")
    placement = place(_job({"resources": {"instance_types": ["c5.large", "m5.large"]}}))
    assert (placement.zone, placement.instance_type) == ("us-east-1b", "c5.large")
    assert placement.market == "spot"
    assert placement.max_price_usd_per_hour == 0.085
    assert placement.region == "us-east-1"


def test_the_spec_max_price_caps_the_bid_and_its_interval_wins() -> None:
    place = broker_placer(book=_book(), clock=FakeClock(NOW), region="us-east-1")
    spec = {
        "resources": {"instance_types": ["c5.large"]},
        "max_price_usd_per_hour": 0.05,
        "checkpoint": {"method": "app", "interval_s": 7},
    }
    placement = place(_job(spec))
    assert placement.max_price_usd_per_hour == 0.05
    assert placement.checkpoint_interval_s == 7.0


def test_without_history_spot_in_no_zone_at_the_on_demand_cap() -> None:
    place = broker_placer(book=_book(PriceHistory({})), clock=FakeClock(NOW), region="us-east-1")
    placement = place(_job({"resources": {"instance_types": ["m5.large", "c5.large"]}}))
    assert placement.zone is None
    assert placement.instance_type == "c5.large"  # cheaper on demand
    assert placement.max_price_usd_per_hour == 0.085


def test_on_demand_choice_launches_without_a_cap() -> None:
    chosen = BrokerPlacement(
        region="us-east-1",
        zone=None,
        instance_type="c5.large",
        market="on-demand",
        max_price_usd_per_hour=None,
        checkpoint_interval_s=None,
        expected_cost_usd=0.085,
        expected_runtime_s=3600.0,
    )
    placement = to_launch_placement(chosen, {})
    assert placement.market == "on-demand"
    assert placement.max_price_usd_per_hour is None
    assert placement.checkpoint_interval_s == MAX_CHECKPOINT_INTERVAL_S
    assert placement.to_item()["market"] == "on-demand"


def test_a_tight_deadline_falls_back_to_on_demand() -> None:
    place = broker_placer(book=_book(), clock=FakeClock(NOW), region="us-east-1")
    deadline = (NOW + timedelta(minutes=61)).isoformat()
    placement = place(_job({"resources": {"instance_types": ["c5.large"]}, "deadline": deadline}))
    assert placement.market == "on-demand"
    assert placement.zone is None


def test_broker_job_reads_the_spec() -> None:
    spec = {
        "resources": {"instance_types": ["c5.large", "m5.large"]},
        "max_price_usd_per_hour": 0.07,
        "deadline": "2021-04-02T00:00:00Z",
    }
    job = broker_job(_job(spec), region="us-east-1", now=NOW)
    assert job.instance_types == ("c5.large", "m5.large")
    assert job.max_price_usd_per_hour == 0.07
    assert job.deadline == datetime(2021, 4, 2, tzinfo=UTC)
    assert job.region == "us-east-1"


def test_checkpoint_cost_is_the_measured_one_when_recorded() -> None:
    assert checkpoint_cost_s(_job({}, _pointer({"duration_s": "12.5"}))) == 12.5
    assert checkpoint_cost_s(_job({}, _pointer({"duration_s": "junk"}))) == (
        DEFAULT_CHECKPOINT_COST_S
    )
    assert checkpoint_cost_s(_job({})) == DEFAULT_CHECKPOINT_COST_S
