"""Placement across regions, as pure code: the target region of a job, the proactive move
rule and the adoption rule, with each region's price book made by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cbas_async.handlers.regions import (
    GIB,
    Adoption,
    RegionChooser,
    TransferRates,
    adoption,
)
from cbas_async.jobs import parse_spec
from cbas_async.records import CheckpointPointer, JobPlacement, JobRecord
from cbas_async.spot.eras import CURRENT_ERA
from cbas_async.spot.history import PriceHistory, PricePoint
from cbas_async.spot.pricebook import PriceBook
from cbas_async.states import JobState
from tests.fakes import FakeClock

NOW = datetime(2021, 4, 1, 12, tzinfo=UTC)
EAST, WEST = "us-east-1", "us-west-2"
BOTH = {EAST, WEST}


def book(region: str, price: float) -> PriceBook:
    """c5.large at a steady `price` in one zone of `region` for the week before NOW."""
    points = [
        PricePoint(
            timestamp=NOW - timedelta(hours=6 * (28 - i)),
            region=region,
            zone=f"{region}a",
            instance_type="c5.large",
            product="Linux/UNIX",
            price_usd_per_hour=price,
        )
        for i in range(28)
    ]
    history = PriceHistory.from_points(points)
    return PriceBook(model=CURRENT_ERA, ondemand={"c5.large": 0.085}, history=history)


def chooser(
    east: float, west: float, *, own: str = EAST, live: set[str] | None = None
) -> RegionChooser:
    async def live_regions() -> set[str]:
        return set(BOTH if live is None else live)

    return RegionChooser(
        books={EAST: book(EAST, east), WEST: book(WEST, west)},
        own=own,
        home=EAST,
        clock=FakeClock(NOW),
        live=live_regions,
        rates=TransferRates(egress_usd_per_gib=0.02, transfer_mib_s=100.0),
    )


def job(state: JobState = JobState.PENDING, **fields: Any) -> JobRecord:
    spec = parse_spec(
        {
            "name": "t",
            "command": ["true"],
            "expected_hours": 10,
            "resources": {"instance_types": ["c5.large"]},
        }
    )
    return JobRecord(
        job_id="j-1",
        state=state,
        version=3,
        attempt=1,
        spec=spec,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def pointer(size_gib: float, region: str | None = None) -> CheckpointPointer:
    return CheckpointPointer(
        attempt=1,
        seq=1,
        key="k",
        sha256="s",
        size_bytes=int(size_gib * GIB),
        method="app",
        taken_at="2021-04-01T11:00:00Z",
        region=region,
    )


def running_in(region: str, **fields: Any) -> JobRecord:
    placement = JobPlacement(
        region=region, zone=f"{region}a", instance_type="c5.large", checkpoint_interval_s=600
    )
    return job(JobState.RUNNING, placement=placement, **fields)


def test_a_copy_costs_egress_and_time_at_the_transfer_rate() -> None:
    rates = TransferRates(egress_usd_per_gib=0.02, transfer_mib_s=100.0)
    cost = rates.copy(int(10 * GIB), extra_s=180.0)
    assert cost.usd == pytest.approx(0.2)
    assert cost.seconds == pytest.approx(10 * 1024 / 100.0 + 180.0)
    assert rates.copy(0).usd == 0.0


def test_a_job_without_a_checkpoint_goes_where_it_finishes_cheapest() -> None:
    assert chooser(0.040, 0.030).target(job(), BOTH) == WEST
    assert chooser(0.030, 0.040).target(job(), BOTH) == EAST


def test_a_large_checkpoint_keeps_the_job_where_its_checkpoint_is() -> None:
    """West saves about 0.10 USD on 10 hours; copying 10 GiB out of east costs 0.20."""
    pick = chooser(0.040, 0.030)
    assert pick.target(job(checkpoint=pointer(10)), BOTH) == EAST
    assert pick.target(job(checkpoint=pointer(1)), BOTH) == WEST
    # a checkpoint already in west costs nothing to resume there
    assert pick.target(job(checkpoint=pointer(10, region=WEST)), BOTH) == WEST


def test_only_live_regions_are_candidates() -> None:
    assert chooser(0.040, 0.030).target(job(), {EAST}) == EAST
    # a live region without a price book is no candidate either
    pick = chooser(0.040, 0.030)
    assert [o.region for o in pick.options(job(), {EAST, "eu-west-1"}, here=EAST, move=None)] == [
        EAST
    ]


async def test_the_requeue_follows_the_move_asked_while_its_region_is_live() -> None:
    asked = job(JobState.INTERRUPTED, move_to=EAST)
    assert await chooser(0.040, 0.030).requeue_target(asked) == EAST
    # the region asked for lost its masters: the best live one instead
    assert await chooser(0.040, 0.030, own=WEST, live={WEST}).requeue_target(asked) == WEST
    assert await chooser(0.040, 0.030).requeue_target(job(JobState.INTERRUPTED)) == WEST


async def test_live_always_includes_this_masters_region() -> None:
    assert await chooser(0.04, 0.03, own=WEST, live=set()).live() == {WEST}


def test_a_running_job_moves_when_the_saving_beats_the_move_by_the_margin() -> None:
    """East 0.10 against west 0.02 over 10 hours: about 0.80 saved for a move of about 0.02."""
    target = chooser(0.100, 0.020).worth_moving(running_in(EAST, checkpoint=pointer(1)), BOTH)
    assert target is not None
    assert target.region == WEST
    assert target.move_usd > 0.02  # the egress, plus the copy, checkpoint and restart time


def test_a_running_job_stays_when_the_saving_is_small_or_eaten_by_the_move() -> None:
    running = running_in(EAST, checkpoint=pointer(1))
    assert chooser(0.040, 0.039).worth_moving(running, BOTH) is None  # 0.01 < 2 x 0.02
    big = running_in(EAST, checkpoint=pointer(30))  # 0.60 of egress against 0.20 saved
    assert chooser(0.040, 0.020).worth_moving(big, BOTH) is None
    assert chooser(0.020, 0.040).worth_moving(running, BOTH) is None  # already cheapest


def test_no_move_is_weighed_without_another_live_region_or_off_spot() -> None:
    pick = chooser(0.100, 0.020)
    assert pick.worth_moving(running_in(EAST), {EAST}) is None
    assert pick.worth_moving(running_in(EAST, move_to=WEST), BOTH) is None  # asked already
    on_demand = running_in(EAST).model_copy(
        update={
            "placement": JobPlacement(
                region=EAST, instance_type="c5.large", market="on-demand", checkpoint_interval_s=600
            )
        }
    )
    assert pick.worth_moving(on_demand, BOTH) is None
    assert pick.worth_moving(job(JobState.RUNNING), BOTH) is None  # no placement recorded


@pytest.mark.parametrize(
    ("state", "fields", "expected"),
    [
        (JobState.PENDING, {"target_region": EAST}, Adoption.ADOPT),
        (JobState.PENDING, {"target_region": WEST}, Adoption.LEAVE),
        (JobState.PENDING, {}, Adoption.RETARGET),
        (JobState.PENDING, {"target_region": "eu-west-1"}, Adoption.RETARGET),  # no master
        (JobState.INTERRUPTED, {"target_region": WEST}, Adoption.LEAVE),
        (JobState.INTERRUPTED, {}, Adoption.RETARGET),
        (JobState.RUNNING, {}, Adoption.ADOPT),  # placed nowhere known
    ],
)
def test_the_adoption_rule_of_waiting_jobs(
    state: JobState, fields: dict[str, Any], expected: Adoption
) -> None:
    assert adoption(job(state, **fields), own=EAST, live=BOTH) is expected


@pytest.mark.parametrize(
    ("region", "live", "expected"),
    [
        (EAST, BOTH, Adoption.ADOPT),
        (WEST, BOTH, Adoption.LEAVE),  # its region's masters watch it
        (WEST, {EAST}, Adoption.ADOPT),  # its region has no master left
    ],
)
def test_a_running_job_stays_with_the_masters_of_its_region(
    region: str, live: set[str], expected: Adoption
) -> None:
    assert adoption(running_in(region), own=EAST, live=live) is expected
