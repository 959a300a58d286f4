"""Across regions, end to end: a job starts in the home region, capacity there ends (every
pool refused, then its instance is reclaimed), and it finishes in the other region from its
checkpoint, copied there server-side, with its outputs in the home bucket and the copy in
its cost. A master runs in each region, as `cbas local --regions` runs them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from cbas_async import commands
from cbas_async.clock import SystemClock
from cbas_async.deployment import open_session
from cbas_async.local.cloud import open_local_cloud
from cbas_async.states import JobState
from tests.integration.conftest import E2E, e2e_settings, long_primes

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

EAST, WEST = "us-east-1", "us-west-2"
# so that a checkpoint of a few hundred bytes costs cents to copy, and the copy shows
EGRESS_USD_PER_GIB = 1e6


async def _master(env: dict[str, str], home: Path, region: str) -> asyncio.subprocess.Process:
    env = {**env, "CBAS_REGION": region, "CBAS_MASTER_ID": f"m-{region}", "CBAS_HTTP_PORT": "0"}
    with (home / f"master-{region}.log").open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cbas_async", "master", env=env, stdout=sink, stderr=sink
        )


async def test_a_job_whose_region_runs_out_of_capacity_finishes_in_the_other(
    tmp_path: Path,
) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        os.environ.pop(name)
    settings = e2e_settings(tmp_path).replace(
        regions=(EAST, WEST), egress_usd_per_gib=EGRESS_USD_PER_GIB
    )
    stopping = asyncio.Event()
    async with open_local_cloud(settings) as cloud:
        tasks = [asyncio.create_task(p.run(stopping)) for p in cloud.parts]
        masters = [await _master(cloud.env, tmp_path, r) for r in (EAST, WEST)]
        try:
            async with open_session(cloud.settings) as session:
                await _moves_and_finishes(E2E(cloud, session, None), tmp_path)  # type: ignore[arg-type]
        finally:
            for process in masters:
                if process.returncode is None:
                    process.terminate()
            await asyncio.gather(*(p.wait() for p in masters))
            stopping.set()
            await asyncio.gather(*tasks)


async def _moves_and_finishes(e2e: E2E, tmp: Path) -> None:
    job_id = await e2e.submit(long_primes(tmp, limit=3_000_000))

    async def checkpointed_at_home() -> bool:
        job = await e2e.session.store.get(job_id)
        return job.state is JobState.RUNNING and job.checkpoint is not None

    await e2e.until(checkpointed_at_home, timeout_s=60)
    job = await e2e.session.store.get(job_id)
    assert job.placement is not None
    assert (job.placement.region, job.checkpoint and job.checkpoint.region) == (EAST, EAST)
    gate = e2e.cloud.faults.ec2
    assert gate is not None
    for itype in job.spec.resources.instance_types:
        gate.capacity(region=EAST, zone="all", instance_type=itype, market=None, seconds=600)
    assert await e2e.cloud.interrupter.interrupt(job_id) is not None

    done = await commands.wait(
        e2e.session, [job_id], timeout_s=120, clock=SystemClock(), poll_s=0.5
    )
    assert done is not None, "the job did not finish"
    job = done[job_id]
    assert job.state is JobState.SUCCEEDED
    assert job.placement is not None
    assert job.placement.region == WEST
    assert job.checkpoint is not None
    assert job.checkpoint.region == WEST  # its own checkpoints, in its region's bucket
    sandbox = e2e.session.sandbox  # the home bucket
    out = await sandbox.read(sandbox.key(job_id, "output", "result.txt"))
    assert out.decode() == "primes below 3000000: 216816\n"
    stdout = b"".join(
        [
            await sandbox.read(c.key)
            for c in await sandbox.log_chunks(job_id)
            if c.attempt == job.attempt
        ]
    )
    assert b"resumed at " in stdout  # from the checkpoint taken at home
    costed = await _costed(e2e, job_id)
    last = costed.cost.attempts[job.attempt]
    assert last.region == WEST
    assert last.transfer_usd is not None
    assert last.transfer_usd > 0
    assert costed.cost.spot_usd >= last.transfer_usd


async def _costed(e2e: E2E, job_id: str):  # type: ignore[no-untyped-def]
    async def priced() -> bool:
        job = await e2e.session.store.get(job_id)
        return job.attempt in job.cost.attempts

    await e2e.until(priced, timeout_s=30)
    return await e2e.session.store.get(job_id)
