"""The broker placer: job spec and price book in, the launcher's placement out (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cbas_async.clock import utc_iso
from cbas_async.handlers.placement import (
    DEFAULT_CHECKPOINT_COST_S,
    DEFAULT_WORK_HOURS,
    MAX_CHECKPOINT_INTERVAL_S,
    broker_job,
    broker_placer,
    checkpoint_cost_s,
    checkpointed_work_s,
    first_allowed_type,
    job_placement,
    remaining_work_hours,
    to_launch_request,
)
from cbas_async.jobs import parse_spec
from cbas_async.records import CheckpointPointer, JobCost, JobRecord, PricedAttempt
from cbas_async.spot.broker import PlacementChoice as BrokerPlacement
from cbas_async.spot.eras import CURRENT_ERA
from cbas_async.spot.history import PriceHistory, PricePoint
from cbas_async.spot.pricebook import PriceBook
from cbas_async.states import JobState
from tests.fakes import FakeClock

NOW = datetime(2021, 4, 1, 12, tzinfo=UTC)
ONDEMAND = {"c5.large": 0.085, "m5.large": 0.096}
MINIMAL = {"name": "t", "command": ["true"]}


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
        spec=parse_spec(full),
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
    placement = to_launch_request(chosen, parse_spec(MINIMAL))
    assert placement.market == "on-demand"
    assert placement.max_price_usd_per_hour is None
    assert placement.checkpoint_interval_s == MAX_CHECKPOINT_INTERVAL_S
    recorded = job_placement(placement, "i-1")
    assert (recorded.market, recorded.instance_id) == ("on-demand", "i-1")
    assert recorded.max_price_usd_per_hour is None


@pytest.mark.parametrize(
    ("spec", "aligned", "interval_s"),
    [({}, True, 7200.0), ({"checkpoint": {"interval_s": 600}}, False, 600.0)],
)
def test_hour_aligned_checkpoints_pass_to_the_launch_unless_the_spec_sets_an_interval(
    spec: dict[str, Any], aligned: bool, interval_s: float
) -> None:
    chosen = BrokerPlacement(
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c3.xlarge",
        market="spot",
        max_price_usd_per_hour=0.21,
        checkpoint_interval_s=7200.0,
        expected_cost_usd=0.1,
        expected_runtime_s=3 * 3600.0,
        checkpoint_at_hour_end=True,
    )
    placement = to_launch_request(chosen, parse_spec({**MINIMAL, **spec}))
    assert placement.checkpoint_at_hour_end is aligned
    assert placement.checkpoint_interval_s == interval_s


@pytest.mark.parametrize(("resources", "disk_gib"), [({}, 30), ({"disk_gib": 200}, 200)])
def test_the_root_volume_size_comes_from_the_spec(resources: dict[str, Any], disk_gib: int) -> None:
    place = first_allowed_type("us-east-1")
    assert place(_job({"resources": resources})).disk_gib == disk_gib
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
    spec = parse_spec({**MINIMAL, "resources": resources})
    assert to_launch_request(chosen, spec).disk_gib == disk_gib


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
    assert job.work_hours == DEFAULT_WORK_HOURS
    assert broker_job(_job({"expected_hours": 6.5}), region="r", now=NOW).work_hours == 6.5


def test_checkpoint_cost_is_the_measured_one_when_recorded() -> None:
    assert checkpoint_cost_s(_job({}, _pointer({"duration_s": "12.5"}))) == 12.5
    assert checkpoint_cost_s(_job({}, _pointer({"duration_s": "junk"}))) == (
        DEFAULT_CHECKPOINT_COST_S
    )
    assert checkpoint_cost_s(_job({})) == DEFAULT_CHECKPOINT_COST_S


def _at(minutes: float) -> str:
    return utc_iso(NOW + timedelta(minutes=minutes))


def _interrupted(
    spec: dict[str, Any], pointer_attempt: int, taken_min: float, entries: dict[int, Any]
) -> JobRecord:
    """A job back in PENDING for attempt 3, its checkpoint from `pointer_attempt`."""
    pointer = _pointer({}).model_copy(
        update={"attempt": pointer_attempt, "taken_at": _at(taken_min)}
    )
    cost = JobCost(attempts=entries)
    return _job(spec, pointer).model_copy(update={"attempt": 3, "cost": cost})


def _entry(running_min: float | None, end_min: float, redone_s: float) -> PricedAttempt:
    return PricedAttempt(
        instance_type="c5.large",
        start=NOW + timedelta(minutes=(running_min or end_min) - 1),
        running_at=None if running_min is None else NOW + timedelta(minutes=running_min),
        end=NOW + timedelta(minutes=end_min),
        outcome=JobState.INTERRUPTED,
        duration_s=0.0,
        cost_usd=0.0,
        ondemand_usd=0.0,
        work_redone_s=redone_s,
    )


# attempt 1 ran 10 min to its last checkpoint (redone: 5 of its 15), attempt 2 never ran
ENTRIES = {1: _entry(-200, -185, 300.0), 2: _entry(None, -150, 0.0)}


def test_checkpointed_work_sums_each_attempts_run_up_to_its_last_checkpoint() -> None:
    entries = {**ENTRIES, 3: _entry(-120, -40, 0)}
    job = _interrupted({}, 3, -60, entries)
    assert checkpointed_work_s(job) == (10 + 60) * 60.0  # attempt 3 ran from -120 to -60
    # its attempt was priced before entries said when it ran: nothing is counted
    legacy = {**entries, 3: _entry(None, -40, 0)}
    assert checkpointed_work_s(_interrupted({}, 3, -60, legacy)) == 0.0
    assert checkpointed_work_s(job.model_copy(update={"checkpoint": None})) == 0.0
    assert checkpointed_work_s(_interrupted({}, 4, -60, entries)) == 0.0  # not priced yet


def test_remaining_work_is_the_estimate_less_the_checkpointed_work() -> None:
    entries = {**ENTRIES, 3: _entry(-120, -40, 0)}
    hinted = _interrupted({"expected_hours": 2}, 3, -60, entries)
    assert remaining_work_hours(hinted) == pytest.approx(2 - 70 / 60)
    assert remaining_work_hours(_interrupted({}, 3, -60, entries)) == DEFAULT_WORK_HOURS
    # past its estimate: a tenth of it is planned for
    assert remaining_work_hours(_interrupted({"expected_hours": 1}, 3, -60, entries)) == 0.1


def test_the_runtime_hint_decides_spot_or_on_demand_near_a_deadline() -> None:
    place = broker_placer(book=_book(), clock=FakeClock(NOW), region="us-east-1")
    spec: dict[str, Any] = {
        "resources": {"instance_types": ["c5.large"]},
        "deadline": utc_iso(NOW + timedelta(hours=2)),
    }
    # no slack for an interruption: on demand; half an hour has plenty, so spot
    assert place(_job({**spec, "expected_hours": 2})).market == "on-demand"
    assert place(_job({**spec, "expected_hours": 0.5})).market == "spot"
    assert place(_job(spec)).market == "spot"  # the default hour
    # the 2 h job, interrupted with 1 h 40 min checkpointed, has 20 min to go: spot again
    entries = {3: _entry(-120, -5, 0)}
    job = _interrupted({**spec, "expected_hours": 2}, 3, -20, entries)
    assert remaining_work_hours(job) == pytest.approx(1 / 3)
    assert place(job).market == "spot"
    assert place(job.model_copy(update={"cost": JobCost()})).market == "on-demand"
