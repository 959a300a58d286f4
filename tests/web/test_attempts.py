"""A job's attempts as its detail shows them: where each ran and what it cost (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cbas_async.jobs import JobSpec
from cbas_async.records import JobCost, JobEvent, JobPlacement, JobRecord, PricedAttempt
from cbas_async.states import JobState
from cbas_async.web.api import attempts

T0 = datetime(2026, 12, 1, tzinfo=UTC)
EAST = JobPlacement(
    region="us-east-1", zone="us-east-1a", instance_type="c5.large", checkpoint_interval_s=300.0
)
WEST = EAST.model_copy(update={"region": "us-west-2", "zone": "us-west-2b"})
S = JobState


def priced(region: str | None) -> PricedAttempt:
    return PricedAttempt(
        region=region,
        zone="us-east-1a",
        instance_type="c5.large",
        start=T0,
        end=T0 + timedelta(hours=1),
        outcome=S.INTERRUPTED,
        duration_s=3600.0,
        cost_usd=0.0312,
        ondemand_usd=0.085,
        work_redone_s=60.0,
    )


def job(placement: JobPlacement | None, cost: JobCost) -> JobRecord:
    return JobRecord(
        job_id="j-20261201T000000-0123abcd",
        state=S.LAUNCHING,
        version=7,
        attempt=2,
        spec=JobSpec(name="moved", command=["true"]),
        created_at=T0,
        updated_at=T0,
        placement=placement,
        cost=cost,
    )


def history(*moves: tuple[JobState, int, JobPlacement | None]) -> list[JobEvent]:
    return [
        JobEvent(
            job_id="j-20261201T000000-0123abcd",
            seq=seq,
            to_state=state,
            at=T0 + timedelta(minutes=seq),
            attempt=attempt,
            placement=placement,
        )
        for seq, (state, attempt, placement) in enumerate(moves)
    ]


def test_each_attempt_shows_its_region_and_its_cost_once_priced() -> None:
    events = history(
        (S.PENDING, 1, None),
        (S.LAUNCHING, 1, EAST),
        (S.RUNNING, 1, None),
        (S.INTERRUPTED, 1, None),
        (S.PENDING, 2, None),
        (S.LAUNCHING, 2, WEST),
    )
    first, second = attempts(job(WEST, JobCost(attempts={1: priced("us-east-1")})), events)
    assert (first.region, first.zone, first.cost_usd) == ("us-east-1", "us-east-1a", 0.0312)
    assert first.last_state is S.INTERRUPTED
    assert (second.region, second.zone, second.instance_type) == (
        "us-west-2",
        "us-west-2b",
        "c5.large",
    )
    assert second.cost_usd is None  # running: priced when it ends
    assert second.states == [S.PENDING, S.LAUNCHING]


def test_older_records_fall_back_to_the_history_then_the_job_placement() -> None:
    # priced before attempts recorded their region; history entries without placements
    events = history(
        (S.LAUNCHING, 1, EAST),
        (S.INTERRUPTED, 1, None),
        (S.PENDING, 2, None),
        (S.LAUNCHING, 2, None),
    )
    first, second = attempts(job(WEST, JobCost(attempts={1: priced(None)})), events)
    assert first.region == "us-east-1"  # from attempt 1's LAUNCHING entry
    assert second.region == "us-west-2"  # the live attempt: the job's placement
    first, second = attempts(
        job(None, JobCost()), history((S.PENDING, 1, None), (S.PENDING, 2, None))
    )
    assert (first.region, first.zone, first.instance_type, first.cost_usd) == (
        None,
        None,
        None,
        None,
    )
    assert second.region is None  # never placed
