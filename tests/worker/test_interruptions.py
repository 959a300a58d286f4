"""Interruptions: the app-checkpointed primes job survives notices and hard kills, resumes
from its newest good checkpoint, and keeps its logs; a stale worker changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from cbas_async.clock import SystemClock
from cbas_async.records import CheckpointPointer
from cbas_async.states import JobState
from tests.worker import primes
from tests.worker.helpers import LocalCloud, eventually

INTERVAL_S = 1.0
NOTICE_S = 10.0


async def _checkpoint_of(cloud: LocalCloud, job_id: str, attempt: int, seq: int = 1) -> object:
    async def probe() -> CheckpointPointer | None:
        pointer = (await cloud.store.get(job_id)).checkpoint
        ok = pointer is not None and pointer.attempt == attempt and pointer.seq >= seq
        return pointer if ok else None

    return await eventually(probe)


async def _interrupt_after_checkpoint(cloud: LocalCloud, job_id: str, attempt: int) -> int:
    instance_id = cloud.boot(job_id, attempt)
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(instance_id))
        await _checkpoint_of(cloud, job_id, attempt)
        at = SystemClock().now() + timedelta(seconds=NOTICE_S)
        cloud.emulator.interrupt(instance_id, at=at)
    return worker.result()


async def _kill_mid_interval(cloud: LocalCloud, job_id: str, attempt: int) -> None:
    """A worker that vanishes without notice (its job dies with it), some chunks after its
    second checkpoint."""
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(cloud.boot(job_id, attempt)))
        await _checkpoint_of(cloud, job_id, attempt, seq=2)
        logged = len(primes.chunks(await cloud.log_text(job_id, "stdout", attempt)))

        async def progressed() -> bool:
            text = await cloud.log_text(job_id, "stdout", attempt)
            return len(primes.chunks(text)) >= logged + 4

        await eventually(progressed)
        worker.cancel()


async def test_primes_interrupted_three_times_matches_an_uninterrupted_run(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    with capture_logs() as logs:
        for attempt in (1, 2, 3):
            assert await _interrupt_after_checkpoint(cloud, job_id, attempt) == 0
            record = await cloud.store.get(job_id)
            assert record.state is JobState.INTERRUPTED
            assert "chunk" in await cloud.log_text(job_id, "stdout", attempt)  # survived it
            assert await cloud.requeue(job_id) == attempt + 1
        await _kill_mid_interval(cloud, job_id, 4)
        assert await cloud.requeue(job_id) == 5
        assert await cloud.run_worker(cloud.boot(job_id, 5)) == 0
    record = await cloud.store.get(job_id)
    assert (record.state, record.attempt) == (JobState.SUCCEEDED, 5)
    expected = primes.uninterrupted_result(tmp_path / "plain")
    assert expected == b"primes below 2000000: 148933\n"
    assert await cloud.output(job_id, "result.txt") == expected

    stdouts = [await cloud.log_text(job_id, "stdout", attempt) for attempt in range(1, 6)]
    for attempt in range(2, 6):
        first_chunk = primes.chunks(stdouts[attempt - 1])[0][0]
        assert f"resumed at {first_chunk}" in stdouts[attempt - 1]
        redone_s = primes.redone_s(stdouts[: attempt - 1], stdouts[attempt - 1])
        structlog.get_logger().info("work_redone", attempt=attempt, redone_s=redone_s)
        if attempt <= 4:  # after a notice: the final checkpoint has everything
            assert redone_s <= INTERVAL_S, f"attempt {attempt} redid {redone_s} s of work"
        else:  # after a kill: back to the last periodic checkpoint (plus its own duration)
            assert 0 < redone_s <= INTERVAL_S + 0.5, f"attempt {attempt} redid {redone_s} s"
    assert not [e for e in logs if e["log_level"] == "error"]

    handled = [e for e in logs if e["event"] == "interruption_handled"]
    assert len(handled) == 3
    for event in handled:
        assert event["checkpoint_seq"] is not None
        assert event["notice_to_durable_s"] < NOTICE_S / 2
        print("notice_to_durable_s", event["notice_to_durable_s"], "total_s", event["total_s"])
    steps = {e["step"] for e in logs if e["event"] == "interruption_step"}
    assert steps == {"stop_and_capture", "upload", "record", "kill_job", "ship_logs", "transition"}
