"""A job moves to another region: its worker, asked by `move_to`, checkpoints and ends the
attempt INTERRUPTED; the checkpoint is copied to the other region's bucket, where the next
attempt resumes from it, keeps its own checkpoints in that bucket and writes its logs and
outputs to the home bucket (in-process workers against the moto server)."""

from __future__ import annotations

import asyncio

from cbas_async.aws import open_clients
from cbas_async.fleet.checkpoint_copy import RegionBucket, copy_checkpoint
from cbas_async.records import CheckpointPointer
from cbas_async.s3io import list_keys
from cbas_async.states import JobState
from tests.fakes import FakeClock
from tests.worker import primes
from tests.worker.helpers import LocalCloud, eventually

WEST = "us-west-2"
LIMIT = 600_000  # 24 chunks of 0.1 s


async def _west(cloud: LocalCloud) -> tuple[str, str]:
    """A bucket and a ping queue in us-west-2: the other region's."""
    async with open_clients(cloud.settings.in_region(WEST)) as west:
        await west.s3.create_bucket(
            Bucket="test-west", CreateBucketConfiguration={"LocationConstraint": WEST}
        )
        queue = await west.sqs.create_queue(QueueName=cloud.settings.ping_queue)
    return "test-west", queue["QueueUrl"]


async def _moved_away(cloud: LocalCloud, job_id: str) -> CheckpointPointer:
    """Attempt 1 runs at home until its first checkpoint, then a master asks it to move."""
    instance_id = cloud.boot(job_id, 1)
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(cloud.run_worker(instance_id))

        async def checkpointed() -> bool:
            return (await cloud.store.get(job_id)).checkpoint is not None

        await eventually(checkpointed)
        await cloud.store.update_fields(job_id, attempt=1, updates={"move_to": WEST})
    assert worker.result() == 0
    record = await cloud.store.get(job_id)
    assert record.state is JobState.INTERRUPTED
    assert (await cloud.store.events(job_id))[-1].detail == f"moved to {WEST}"
    assert record.checkpoint is not None
    return record.checkpoint


async def test_a_job_moved_to_another_region_resumes_there_from_its_checkpoint(
    cloud: LocalCloud,
) -> None:
    job_id = await cloud.submit(primes.spec(limit=LIMIT), {"primes.py": primes.PROGRAM})
    pointer = await _moved_away(cloud, job_id)
    assert pointer.region == "us-east-1"  # taken at home, in the home bucket
    bucket, queue_url = await _west(cloud)
    home = RegionBucket("us-east-1", cloud.resources.bucket, cloud.clients.s3)
    west = RegionBucket(WEST, bucket, cloud.clients.s3)  # moto: any client reaches any bucket
    await copy_checkpoint(pointer, source=home, dest=west, clock=FakeClock(), usd_per_gib=0.02)
    assert await cloud.requeue(job_id) == 2  # `move_to` left set: the worker there ignores it
    instance_id = cloud.boot(
        job_id,
        2,
        region=WEST,
        bucket=bucket,
        ping_queue_url=queue_url,
        home_region="us-east-1",
        home_bucket=cloud.resources.bucket,
        checkpoint_interval_s=0.2,  # what is left of the work takes a second or so
    )
    assert await cloud.run_worker(instance_id) == 0
    record = await cloud.store.get(job_id)
    assert (record.state, record.attempt) == (JobState.SUCCEEDED, 2)
    expected = f"primes below {LIMIT}: 49098\n".encode()
    assert await cloud.output(job_id, "result.txt") == expected  # in the home bucket
    first = primes.chunks(await cloud.log_text(job_id, "stdout", 2))[0][0]
    assert first > 0
    assert f"resumed at {first}" in await cloud.log_text(job_id, "stdout", 2)
    prefix = f"jobs/{job_id}/checkpoints/2-"
    assert await list_keys(cloud.clients.s3, bucket, prefix)  # attempt 2's, in its region
    assert await list_keys(cloud.clients.s3, cloud.resources.bucket, prefix) == []
    assert record.checkpoint is not None
    assert (record.checkpoint.attempt, record.checkpoint.region) == (2, WEST)
