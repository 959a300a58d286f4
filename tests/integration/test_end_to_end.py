"""End to end on the local cloud: jobs through master, hypervisor and workers; killed
workers and a killed master do not lose jobs."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from cbas_async import commands
from cbas_async.clock import SystemClock
from cbas_async.states import JobState
from tests.integration.conftest import E2E, long_primes, spec_file

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PRIMES_BELOW_6M = 412849


async def test_twenty_jobs_succeed_with_outputs_in_s3(e2e: E2E, tmp_path: Path) -> None:
    await e2e.masters.start()
    ids = {}
    for n in range(20):
        spec = spec_file(
            tmp_path, f"echo{n}", ["sh", "-c", f"echo {n * n} > out.txt"], output_files=["out.txt"]
        )
        ids[n] = await e2e.submit(spec)
    done = await e2e.wait_all(list(ids.values()), timeout_s=240)
    assert {job.state for job in done.values()} == {JobState.SUCCEEDED}
    for n, job_id in ids.items():
        key = e2e.session.sandbox.key(job_id, "output", "out.txt")
        assert (await e2e.session.sandbox.read(key)).decode().strip() == str(n * n)


async def test_killed_worker_is_rescheduled_and_succeeds(e2e: E2E, tmp_path: Path) -> None:
    await e2e.masters.start()
    job_id = await e2e.submit(long_primes(tmp_path, limit=6_000_000))

    async def running_with_checkpoint() -> bool:
        job = await e2e.session.store.get(job_id)
        return job.state is JobState.RUNNING and job.checkpoint is not None

    await e2e.until(running_with_checkpoint, timeout_s=60)
    victim = e2e.cloud.hypervisor.find(job_id)
    assert victim is not None
    e2e.cloud.hypervisor.kill(victim.instance_id)  # kill -9, no notice
    done = await e2e.wait_all([job_id], timeout_s=120)
    job = done[job_id]
    assert job.state is JobState.SUCCEEDED
    assert job.attempt >= 2
    history = [e.detail or "" for e in await e2e.session.store.events(job_id)]
    # the instance went with its worker: EC2's state-change event says so before heartbeats
    assert any("lost worker" in d or "EC2 state-change event" in d for d in history)
    result = await e2e.session.sandbox.read(e2e.session.sandbox.key(job_id, "output", "result.txt"))
    assert str(PRIMES_BELOW_6M) in result.decode()


async def test_an_instance_terminated_through_ec2_is_re_queued_at_once(
    e2e: E2E, tmp_path: Path
) -> None:
    await e2e.masters.start()
    job_id = await e2e.submit(spec_file(tmp_path, "sleeper", ["sleep", "600"]))

    async def running() -> bool:
        return (await e2e.session.store.get(job_id)).state is JobState.RUNNING

    await e2e.until(running, timeout_s=60, poll_s=0.1)
    victim = e2e.cloud.hypervisor.find(job_id)
    assert victim is not None
    clock = SystemClock()
    terminated = clock.monotonic()
    await e2e.session.clients.ec2.terminate_instances(InstanceIds=[victim.instance_id])

    async def requeued() -> bool:
        job = await e2e.session.store.get(job_id)
        return job.attempt == 2 and job.state is not JobState.INTERRUPTED

    await e2e.until(requeued, timeout_s=30, poll_s=0.1)
    took_s = clock.monotonic() - terminated
    # the lost-worker timeout is the heartbeats' bound; the event is well inside it
    assert took_s < e2e.cloud.settings.lost_worker_timeout_s
    details = [e.detail or "" for e in await e2e.session.store.events(job_id)]
    assert f"instance {victim.instance_id} terminated (EC2 state-change event)" in details
    await commands.cancel(e2e.session, job_id, clock=clock)


async def test_master_killed_and_replaced_loses_nothing(e2e: E2E, tmp_path: Path) -> None:
    first = await e2e.masters.start()
    ids = [
        await e2e.submit(spec_file(tmp_path, f"slow{n}", ["sh", "-c", "sleep 3; echo done"]))
        for n in range(6)
    ]

    async def some_running() -> bool:
        states = [(await e2e.session.store.get(i)).state for i in ids]
        return JobState.RUNNING in states

    await e2e.until(some_running, timeout_s=60)
    first.kill()  # kill -9: no lease release, no unsubscribe
    await first.wait()
    late = [
        await e2e.submit(spec_file(tmp_path, f"late{n}", ["sh", "-c", "echo late"]))
        for n in range(3)
    ]
    await e2e.masters.start()
    most = Counter[str]()
    finished = asyncio.Event()

    async def watch() -> None:  # how many instances each job has at once
        while not finished.is_set():
            for job_id, count in Counter(
                i.job_id for i in e2e.cloud.hypervisor.instances.values()
            ).items():
                most[job_id] = max(most[job_id], count)
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        done = await e2e.wait_all(ids + late, timeout_s=180)
    finally:
        finished.set()
        await watcher
    assert {job.state for job in done.values()} == {JobState.SUCCEEDED}
    assert all(count <= 1 for count in most.values()), most
    # jobs submitted while no master lived are placed by the new one
    assert {done[job_id].owner for job_id in late} == {"m-e2e1"}
