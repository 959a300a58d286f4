"""The job store against the moto server: conditional writes, fencing, history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.errors import IllegalTransition, InvalidSpec, JobNotFound, StaleWrite
from cbas_async.jobs import parse_spec
from cbas_async.records import (
    CheckpointPointer,
    JobCost,
    JobEvent,
    JobPlacement,
    JobRecord,
    PricedAttempt,
)
from cbas_async.settings import Settings
from cbas_async.states import JobState, is_legal_path
from cbas_async.store import JobStore
from tests.test_records import STORED_ITEM

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SPEC = parse_spec({"name": "t", "command": ["true"], "max_attempts": 3})


@pytest.fixture
async def store(clients: Clients, settings: Settings) -> JobStore:
    await bootstrap(clients, settings)
    return JobStore(
        dynamo=clients.dynamo,
        jobs_table=settings.jobs_table,
        events_table=settings.events_table,
        misc_table=settings.misc_table,
    )


async def test_create_then_get(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    got = await store.get(record.job_id)
    assert got == record
    assert got.state is JobState.SUBMITTED
    assert (got.version, got.attempt) == (0, 1)
    assert got.spec == SPEC


async def test_unknown_job_raises_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound) as info:
        await store.get("j-nope")
    assert info.value.job_id == "j-nope"


async def test_transition_writes_state_version_and_event(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    moved = await store.transition(
        record.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=NOW, actor="test"
    )
    assert (moved.state, moved.version) == (JobState.PENDING, 1)
    events = await store.events(record.job_id)
    assert [(e.seq, e.from_state, e.to_state) for e in events] == [
        (0, None, JobState.SUBMITTED),
        (1, JobState.SUBMITTED, JobState.PENDING),
    ]


async def test_illegal_transition_is_refused_before_writing(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    with pytest.raises(IllegalTransition):
        await store.transition(
            record.job_id, {JobState.SUBMITTED}, JobState.SUCCEEDED, 0, now=NOW, actor="t"
        )
    assert await store.get(record.job_id) == record
    assert len(await store.events(record.job_id)) == 1


async def test_unknown_job_transition_raises_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        await store.transition("j-x", {JobState.SUBMITTED}, JobState.PENDING, 0, now=NOW, actor="t")


async def test_fifty_concurrent_transitions_exactly_one_wins(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")

    async def attempt(i: int) -> bool:
        try:
            await store.transition(
                record.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=NOW, actor=f"w{i}"
            )
        except StaleWrite:
            return False
        return True

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    assert results.count(True) == 1
    events = await store.events(record.job_id)
    assert [e.to_state for e in events] == [JobState.SUBMITTED, JobState.PENDING]
    assert (await store.get(record.job_id)).version == 1


async def _to_running(store: JobStore, job_id: str) -> None:
    path = [JobState.PENDING, JobState.LAUNCHING, JobState.RUNNING]
    current = JobState.SUBMITTED
    for version, target in enumerate(path):
        await store.transition(job_id, {current}, target, version, now=NOW, actor="t", attempt=1)
        current = target


async def test_older_attempt_cannot_write(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    await _to_running(store, record.job_id)
    await store.transition(
        record.job_id, {JobState.RUNNING}, JobState.INTERRUPTED, 3, now=NOW, actor="m"
    )
    await store.transition(
        record.job_id,
        {JobState.INTERRUPTED},
        JobState.PENDING,
        4,
        now=NOW,
        actor="m",
        new_attempt=2,
    )
    with pytest.raises(StaleWrite):
        await store.transition(
            record.job_id, {JobState.PENDING}, JobState.LAUNCHING, 5, now=NOW, actor="w", attempt=1
        )
    with pytest.raises(StaleWrite):
        await store.update_fields(record.job_id, attempt=1, updates={"reason": "stale"})
    got = await store.get(record.job_id)
    assert (got.state, got.attempt, got.reason) == (JobState.PENDING, 2, None)


async def test_a_placement_set_by_a_transition_stays_in_its_history_entry(
    store: JobStore,
) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    await store.transition(
        record.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=NOW, actor="m"
    )
    placement = JobPlacement(
        region="us-east-1", zone="us-east-1b", instance_type="m5.large", checkpoint_interval_s=60
    )
    await store.transition(
        record.job_id,
        {JobState.PENDING},
        JobState.LAUNCHING,
        1,
        now=NOW,
        actor="m",
        updates={"placement": placement},
    )
    await store.update_fields(
        record.job_id,
        attempt=1,
        updates={"placement": placement.model_copy(update={"zone": "us-east-1c"})},
    )
    events = await store.events(record.job_id)
    assert [e.placement for e in events] == [None, None, placement]
    # entries written before placements were kept in them still load
    legacy = {"job_id": "j", "seq": 2, "to_state": "LAUNCHING", "at": "2026-11-27T12:00:00Z"}
    assert JobEvent.from_item({**legacy, "attempt": 1, "actor": "m"}).placement is None


def _pointer(attempt: int, seq: int) -> CheckpointPointer:
    return CheckpointPointer(
        attempt=attempt,
        seq=seq,
        key=f"jobs/x/checkpoints/{attempt}-{seq}/image.tar.zst",
        sha256="0" * 64,
        size_bytes=10,
        method="app",
        taken_at=(NOW + timedelta(seconds=seq)).isoformat(),
    )


async def test_checkpoint_pointer_keeps_previous_and_is_fenced(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    await store.record_checkpoint(record.job_id, _pointer(1, 1))
    await store.record_checkpoint(record.job_id, _pointer(1, 2))
    got = await store.get(record.job_id)
    assert (got.checkpoint, got.checkpoint_prev) == (_pointer(1, 2), _pointer(1, 1))
    with pytest.raises(StaleWrite):  # not newer
        await store.record_checkpoint(record.job_id, _pointer(1, 2))
    with pytest.raises(StaleWrite):  # attempt 2 is not the job's attempt
        await store.record_checkpoint(record.job_id, _pointer(2, 1))
    await store.drop_checkpoint(record.job_id, _pointer(1, 2))
    got = await store.get(record.job_id)
    assert (got.checkpoint, got.checkpoint_prev) == (_pointer(1, 1), None)


async def test_list_by_state_paginates(store: JobStore) -> None:
    ids = {(await store.create(SPEC, now=NOW, actor="t")).job_id for _ in range(7)}
    seen: list[str] = []
    token: str | None = None
    while True:
        page, token = await store.list_by_state(JobState.SUBMITTED, limit=3, page_token=token)
        assert len(page) <= 3
        seen += [r.job_id for r in page]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)
    assert await store.list_by_state(JobState.RUNNING) == ([], None)


async def test_history_is_a_legal_path(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    await _to_running(store, record.job_id)
    events = await store.events(record.job_id)
    assert is_legal_path([e.to_state for e in events])


async def test_a_record_of_every_part_round_trips_through_dynamodb(store: JobStore) -> None:
    record = await store.create(SPEC, now=NOW, actor="test")
    await _to_running(store, record.job_id)
    placement = JobPlacement(
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c5.large",
        max_price_usd_per_hour=0.085,
        checkpoint_interval_s=300.0,
        instance_id="i-0abc",
    )
    priced = PricedAttempt(
        instance_type="c5.large",
        zone="us-east-1a",
        max_price_usd_per_hour=0.085,
        start=NOW,
        running_at=NOW + timedelta(seconds=10),
        end=NOW + timedelta(seconds=1000),
        outcome=JobState.INTERRUPTED,
        duration_s=1000.0,
        cost_usd=0.01,
        ondemand_usd=0.023611111,
        work_redone_s=100.0,
    )
    cost = JobCost(spot_usd=0.01, ondemand_usd=0.02125, work_redone_s=100.0, attempts={1: priced})
    await store.update_fields(
        record.job_id, attempt=1, updates={"placement": placement, **cost.to_item()}
    )
    await store.record_checkpoint(record.job_id, _pointer(1, 1))
    got = await store.get(record.job_id)
    assert (got.placement, got.cost, got.checkpoint) == (placement, cost, _pointer(1, 1))
    assert got.spec == SPEC
    assert JobRecord.from_item(got.to_item()) == got


async def test_an_item_of_todays_shape_is_read_and_moved_by_the_store(
    store: JobStore, clients: Clients, settings: Settings
) -> None:
    item = {**STORED_ITEM, "state": "INTERRUPTED", "attempt": Decimal("1")}
    await clients.dynamo.put_item(settings.jobs_table, item)
    job = await store.get(item["job_id"])
    assert job == JobRecord.from_item(item)
    assert job.placement is not None
    assert job.placement.max_price_usd_per_hour == 0.085
    moved = await store.transition(
        job.job_id,
        {JobState.INTERRUPTED},
        JobState.PENDING,
        job.version,
        now=NOW,
        actor="m",
        attempt=1,
        new_attempt=2,
    )
    assert (moved.state, moved.attempt, moved.cost) == (JobState.PENDING, 2, job.cost)
    assert [j.job_id for j in await store.all_in_states({JobState.PENDING})] == [job.job_id]


async def test_a_job_whose_stored_spec_no_longer_validates_does_not_stop_the_listings(
    store: JobStore, clients: Clients, settings: Settings
) -> None:
    good = await store.create(SPEC, now=NOW, actor="t")
    bad = {**STORED_ITEM, "job_id": "j-unreadable", "state": "SUBMITTED", "spec_json": "{}"}
    await clients.dynamo.put_item(settings.jobs_table, bad)
    listed = await store.all_in_states({JobState.SUBMITTED})
    assert [j.job_id for j in listed] == [good.job_id]
    page, _ = await store.list_by_state(JobState.SUBMITTED, limit=10)
    assert [j.job_id for j in page] == [good.job_id]
    with pytest.raises(InvalidSpec):
        await store.get("j-unreadable")
