"""Stale workers and corrupt checkpoints: an old attempt changes nothing; a bad newest
checkpoint makes the next attempt resume from the previous one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from cbas_async.clock import SystemClock
from cbas_async.records import CheckpointPointer
from cbas_async.states import JobState
from tests.worker import primes
from tests.worker.helpers import LocalCloud, eventually


async def _pointer(cloud: LocalCloud, job_id: str, attempt: int, seq: int) -> CheckpointPointer:
    async def probe() -> CheckpointPointer | None:
        pointer = (await cloud.store.get(job_id)).checkpoint
        if pointer is not None and (pointer.attempt, pointer.seq) >= (attempt, seq):
            return pointer
        return None

    return await eventually(probe)


async def _subscriptions(cloud: LocalCloud) -> list[str]:
    found = await cloud.clients.sns.list_subscriptions_by_topic(TopicArn=cloud.resources.topic_arn)
    return [s["Endpoint"] for s in found["Subscriptions"]]


async def test_a_stale_worker_exits_without_touching_anything(cloud: LocalCloud) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    await cloud.store.update_fields(job_id, attempt=1, updates={"note": "x"})
    await cloud.requeue(job_id)  # LAUNCHING -> INTERRUPTED -> PENDING (attempt 2) -> LAUNCHING
    before = await cloud.store.get(job_id)
    events = await cloud.store.events(job_id)
    assert await cloud.run_worker(cloud.boot(job_id, 1)) == 0
    assert await cloud.store.get(job_id) == before
    assert await cloud.store.events(job_id) == events
    assert await cloud.sandbox.log_chunks(job_id) == []
    assert await _subscriptions(cloud) == []


async def test_the_attempt_s_descriptor_on_another_instance_changes_nothing(
    cloud: LocalCloud,
) -> None:
    job_id = await cloud.submit({"name": "t", "command": ["true"]})
    await cloud.place_on(job_id, cloud.boot(job_id, 1))
    before = await cloud.store.get(job_id)
    with capture_logs() as logs:
        assert await cloud.run_worker(cloud.boot(job_id, 1)) == 0  # same attempt, elsewhere
    assert await cloud.store.get(job_id) == before
    assert [e["event"] for e in logs if e["event"] == "stale_worker"] == ["stale_worker"]


async def test_a_superseded_worker_stops_its_job_and_writes_nothing_more(
    cloud: LocalCloud,
) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(cloud.boot(job_id, 1)))
        await _pointer(cloud, job_id, 1, 1)
        assert await cloud.requeue(job_id) == 2  # the master gave up on attempt 1
        taken = await cloud.store.get(job_id)
    assert worker.result() == 0
    after = await cloud.store.get(job_id)
    assert after == taken
    assert after.state is JobState.LAUNCHING
    assert after.checkpoint is not None
    assert after.checkpoint.attempt == 1
    assert await _subscriptions(cloud) == []


async def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    spec = primes.spec(limit=1_000_000, pause_s=0.05)  # 40 chunks, about 2 s
    job_id = await cloud.submit(spec, {"primes.py": primes.PROGRAM})
    async with asyncio.TaskGroup() as tg:
        instance_id = cloud.boot(job_id, 1, checkpoint_interval_s=0.4)
        worker = tg.create_task(cloud.run_worker(instance_id))
        await _pointer(cloud, job_id, 1, 2)
        worker.cancel()  # vanishes without notice
    record = await cloud.store.get(job_id)
    newest, previous = record.checkpoint, record.checkpoint_prev
    assert newest is not None
    assert previous is not None
    bucket = cloud.resources.bucket
    await cloud.clients.s3.put_object(Bucket=bucket, Key=newest.key, Body=b"garbage")
    await cloud.requeue(job_id)
    with capture_logs() as logs:
        assert await cloud.run_worker(cloud.boot(job_id, 2)) == 0
    unusable = [e for e in logs if e["event"] == "checkpoint_unusable"]
    restored = [e for e in logs if e["event"] == "checkpoint_restored"]
    assert [e["key"] for e in unusable] == [newest.key]
    assert [e["key"] for e in restored] == [previous.key]
    record = await cloud.store.get(job_id)
    assert record.state is JobState.SUCCEEDED
    expected = primes.uninterrupted_result(tmp_path / "p", limit=1_000_000)
    assert await cloud.output(job_id, "result.txt") == expected
    attempt2 = await cloud.log_text(job_id, "stdout", 2)
    attempt1 = primes.chunks(await cloud.log_text(job_id, "stdout", 1))
    resumed_at = primes.chunks(attempt2)[0][0]
    assert resumed_at < max(lo for lo, _ in attempt1)  # it went back to the older state


async def test_a_shutdown_signal_checkpoints_and_interrupts(cloud: LocalCloud) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    shutdown = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(cloud.boot(job_id, 1), shutdown=shutdown))
        first = await _pointer(cloud, job_id, 1, 1)
        shutdown.set()
    assert worker.result() == 0
    record = await cloud.store.get(job_id)
    assert record.state is JobState.INTERRUPTED
    assert record.checkpoint is not None
    assert record.checkpoint.seq > first.seq
    events = await cloud.store.events(job_id)
    assert events[-1].detail == "signal"
    assert "stopping on SIGTERM" in await cloud.log_text(job_id, "stdout", 1)
    assert SystemClock().now() > record.created_at


@pytest.mark.parametrize(("every_hours", "least"), [(1, 1), (None, 0)])
async def test_hour_aligned_checkpoints_are_taken_before_each_hour_ends(
    cloud: LocalCloud, every_hours: int | None, least: int
) -> None:
    """A 0.5 s "hour": the worker checkpoints before each one ends; with the same (hour
    long) interval but no alignment it takes none while the job runs."""
    spec = primes.spec(limit=1_000_000, pause_s=0.05)  # about 2 s
    job_id = await cloud.submit(spec, {"primes.py": primes.PROGRAM})
    instance_id = cloud.boot(
        job_id,
        1,
        checkpoint_interval_s=3600,
        checkpoint_every_hours=every_hours,
        billing_hour_s=0.5,
    )
    with capture_logs() as logs:
        assert await cloud.run_worker(instance_id) == 0
    saved = [e for e in logs if e["event"] == "checkpoint_saved"]
    assert len(saved) >= least
    if least == 0:
        assert saved == []
    assert (await cloud.store.get(job_id)).state is JobState.SUCCEEDED
