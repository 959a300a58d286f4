"""A job whose checkpoint another region's bucket holds: the scheduler copies it into the
launch region's bucket before PENDING -> LAUNCHING and records the copy's USD on the
attempt's placement; a failed copy leaves the job PENDING with its attempt (moto, fake clock;
one test, as the account set-up is the slow part)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from aiobotocore.session import get_session

from cbas_async.aws import Clients, client_kwargs
from cbas_async.bootstrap import Resources
from cbas_async.fleet.checkpoint_copy import GIB, CheckpointCopier, RegionBucket
from cbas_async.fleet.launcher import Launcher
from cbas_async.handlers.placement import first_allowed_type
from cbas_async.handlers.scheduling import Scheduler
from cbas_async.master.wiring import make_job_steps
from cbas_async.records import CheckpointPointer
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.master.test_capacity import _pending
from tests.master.test_recovery import Parts

WEST = "us-west-2"
BODY = b"checkpointed state" * 4096


@pytest.fixture
async def west(settings: Settings) -> AsyncIterator[RegionBucket]:
    kwargs = client_kwargs(settings.in_region(WEST))
    async with get_session().create_client("s3", **kwargs) as s3:  # type: ignore[call-overload]
        await s3.create_bucket(
            Bucket="test-west", CreateBucketConfiguration={"LocationConstraint": WEST}
        )
        yield RegionBucket(WEST, "test-west", s3)


def _scheduler(parts: Parts, settings: Settings, buckets: dict[str, RegionBucket]) -> Scheduler:
    copier = CheckpointCopier(
        buckets=buckets, home_region="us-east-1", clock=parts.clock, usd_per_gib=0.02
    )
    return make_job_steps(
        settings,
        mover=parts.mover,
        launcher=parts.launcher,
        placer=first_allowed_type("us-east-1"),
        tracker=parts.tracker,
        resources=parts.resources,
        clock=parts.clock,
        copier=copier,
    ).scheduler


async def _checkpointed_in_west(parts: Parts, west: RegionBucket) -> tuple[str, CheckpointPointer]:
    job_id = await _pending(parts, "c5.large")
    key = f"jobs/{job_id}/checkpoints/1-2/state.tar.zst"
    await west.s3.put_object(Bucket=west.bucket, Key=key, Body=BODY)
    pointer = CheckpointPointer(
        attempt=1,
        seq=2,
        key=key,
        sha256=hashlib.sha256(BODY).hexdigest(),
        size_bytes=len(BODY),
        method="app",
        taken_at="2026-11-27T00:00:00Z",
        region=WEST,
    )
    await parts.store.record_checkpoint(job_id, pointer)
    return job_id, pointer


async def test_the_checkpoint_is_copied_to_the_launch_region_before_launching(
    store: JobStore,
    launcher: Launcher,
    resources: Resources,
    master_settings: Settings,
    clients: Clients,
    west: RegionBucket,
) -> None:
    parts = Parts(store, launcher, resources, master_settings)
    job_id, pointer = await _checkpointed_in_west(parts, west)
    # the copy fails (here: no bucket to copy to): PENDING, same attempt, no write at all
    nowhere = RegionBucket("us-east-1", "no-such-bucket", clients.s3)
    failing = _scheduler(parts, master_settings, {"us-east-1": nowhere, WEST: west})
    before = await store.get(job_id)
    await failing.place(before)
    after = await store.get(job_id)
    assert (after.state, after.attempt, after.version) == (JobState.PENDING, 1, before.version)
    assert failing.capacity.gate.hold(job_id) is None  # its launch claim was withdrawn
    # a later pass copies it, then launches
    east = RegionBucket("us-east-1", resources.bucket, clients.s3)
    scheduler = _scheduler(parts, master_settings, {"us-east-1": east, WEST: west})
    await scheduler.place(after)
    job = await store.get(job_id)
    assert (job.state, job.attempt) == (JobState.LAUNCHING, 1)
    assert job.placement is not None
    assert job.placement.transfer_usd == pytest.approx(len(BODY) / GIB * 0.02)
    launching = [e for e in await store.events(job_id) if e.to_state is JobState.LAUNCHING]
    assert [e.placement and e.placement.transfer_usd for e in launching] == [
        job.placement.transfer_usd
    ]
    copied = await clients.s3.get_object(Bucket=resources.bucket, Key=pointer.key)
    async with copied["Body"] as body:
        assert await body.read() == BODY
    assert job.checkpoint == pointer  # it still names where the original is
    placement = first_allowed_type("us-east-1")(job)
    assert placement is not None
    data = scheduler.user_data(job, placement)
    assert (data.home_region, data.home_bucket) == ("us-east-1", resources.bucket)
