"""Checkpoint copies between the buckets of two regions, against the moto server: CopyObject,
multipart UploadPartCopy (with small limits), the checks against the pointer, and the
copier's choice of what to copy."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiobotocore.session import get_session
from structlog.testing import capture_logs

from cbas_async.aws import Clients, client_kwargs
from cbas_async.fleet.checkpoint_copy import (
    GIB,
    CheckpointCopier,
    CopyFailed,
    CopyLimits,
    RegionBucket,
    SourceUnusable,
    copy_checkpoint,
)
from cbas_async.jobs import parse_spec
from cbas_async.records import CheckpointPointer, JobRecord
from cbas_async.settings import Settings
from cbas_async.states import JobState
from tests.fakes import FakeClock

EAST, WEST = "us-east-1", "us-west-2"
KEY = "jobs/j-1/checkpoints/1-3/state.tar.zst"
MIB = 1024**2


@pytest.fixture
async def buckets(clients: Clients, settings: Settings) -> AsyncIterator[dict[str, RegionBucket]]:
    """One bucket in each region, each with an S3 client of its region."""
    kwargs = client_kwargs(settings.in_region(WEST))
    async with get_session().create_client("s3", **kwargs) as west:  # type: ignore[call-overload]
        await clients.s3.create_bucket(Bucket="home-east")
        await west.create_bucket(
            Bucket="away-west", CreateBucketConfiguration={"LocationConstraint": WEST}
        )
        yield {
            EAST: RegionBucket(EAST, "home-east", clients.s3),
            WEST: RegionBucket(WEST, "away-west", west),
        }


async def _put(where: RegionBucket, body: bytes, *, region: str | None = None) -> CheckpointPointer:
    await where.s3.put_object(Bucket=where.bucket, Key=KEY, Body=body)
    return CheckpointPointer(
        attempt=1,
        seq=3,
        key=KEY,
        sha256=hashlib.sha256(body).hexdigest(),
        size_bytes=len(body),
        method="app",
        taken_at="2026-01-01T00:00:00Z",
        region=region,
    )


async def _read(where: RegionBucket) -> bytes:
    answer = await where.s3.get_object(Bucket=where.bucket, Key=KEY)
    async with answer["Body"] as body:
        return await body.read()


async def _uploads_left(where: RegionBucket) -> list[object]:
    found = await where.s3.list_multipart_uploads(Bucket=where.bucket)
    return list(found.get("Uploads", []))


async def test_a_checkpoint_is_copied_to_the_other_regions_bucket_at_the_same_key(
    buckets: dict[str, RegionBucket],
) -> None:
    body = os.urandom(64 * 1024)
    pointer = await _put(buckets[EAST], body)
    copied = await copy_checkpoint(
        pointer, source=buckets[EAST], dest=buckets[WEST], clock=FakeClock(), usd_per_gib=0.02
    )
    assert await _read(buckets[WEST]) == body
    assert (copied.source_region, copied.region, copied.size_bytes) == (EAST, WEST, len(body))
    assert copied.usd == pytest.approx(len(body) / GIB * 0.02)
    assert copied.seconds == 0.0  # the fake clock did not move


async def test_above_the_single_copy_limit_the_copy_goes_in_parts(
    buckets: dict[str, RegionBucket],
) -> None:
    body = os.urandom(5 * MIB + 1024)  # parts of 5 MiB and 1 KiB (S3's smallest is 5 MiB)
    pointer = await _put(buckets[EAST], body)
    limits = CopyLimits(single_max_bytes=1 * MIB, part_bytes=5 * MIB, concurrency=2)
    copied = await copy_checkpoint(
        pointer,
        source=buckets[EAST],
        dest=buckets[WEST],
        clock=FakeClock(),
        usd_per_gib=0.09,
        limits=limits,
    )
    assert copied.size_bytes == len(body)
    assert hashlib.sha256(await _read(buckets[WEST])).hexdigest() == pointer.sha256
    head = await buckets[WEST].s3.head_object(Bucket="away-west", Key=KEY, PartNumber=1)
    assert head["PartsCount"] == 2
    assert await _uploads_left(buckets[WEST]) == []


async def test_a_failed_multipart_copy_is_aborted_and_left_to_try_again(
    buckets: dict[str, RegionBucket],
) -> None:
    pointer = await _put(buckets[EAST], os.urandom(2 * MIB + 1))
    too_small = CopyLimits(single_max_bytes=1 * MIB, part_bytes=1 * MIB)  # S3 refuses the parts
    with pytest.raises(CopyFailed, match="EntityTooSmall"):
        await copy_checkpoint(
            pointer,
            source=buckets[EAST],
            dest=buckets[WEST],
            clock=FakeClock(),
            usd_per_gib=0.02,
            limits=too_small,
        )
    assert await _uploads_left(buckets[WEST]) == []
    listed = await buckets[WEST].s3.list_objects_v2(Bucket="away-west")
    assert listed.get("KeyCount") == 0


async def test_a_source_gone_or_not_as_recorded_is_not_copied(
    buckets: dict[str, RegionBucket],
) -> None:
    pointer = await _put(buckets[EAST], b"state")
    east, west = buckets[EAST], buckets[WEST]
    for wrong, problem in [
        (pointer.model_copy(update={"key": KEY + ".gone"}), "None bytes"),
        (pointer.model_copy(update={"size_bytes": 6}), "5 bytes"),
    ]:
        with pytest.raises(SourceUnusable, match=problem):
            await copy_checkpoint(wrong, source=east, dest=west, clock=FakeClock(), usd_per_gib=1)
    forged = pointer.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(SourceUnusable, match="SHA-256"):
        await copy_checkpoint(forged, source=east, dest=west, clock=FakeClock(), usd_per_gib=1)
    listed = await west.s3.list_objects_v2(Bucket="away-west")
    assert listed.get("KeyCount") == 0  # the copy that did not match was deleted


def _job(pointer: CheckpointPointer | None) -> JobRecord:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    spec = parse_spec({"name": "j", "command": ["true"]})
    return JobRecord(
        job_id="j-1",
        state=JobState.PENDING,
        version=4,
        attempt=2,
        spec=spec,
        created_at=now,
        updated_at=now,
        checkpoint=pointer,
    )


def _copier(buckets: dict[str, RegionBucket]) -> CheckpointCopier:
    return CheckpointCopier(buckets=buckets, home_region=EAST, clock=FakeClock(), usd_per_gib=0.02)


async def test_the_copier_copies_only_what_is_in_another_region_and_not_there_yet(
    buckets: dict[str, RegionBucket],
) -> None:
    pointer = await _put(buckets[EAST], b"state" * 1000)  # region None: the home region's
    copier = _copier(buckets)
    assert await copier.follow(_job(None), WEST) is None
    assert await copier.follow(_job(pointer), EAST) is None
    assert await copier.follow(_job(pointer.model_copy(update={"region": WEST})), WEST) is None
    usd = await copier.follow(_job(pointer), WEST)
    assert usd == pytest.approx(5000 / GIB * 0.02)
    assert await _read(buckets[WEST]) == b"state" * 1000
    assert await copier.follow(_job(pointer), WEST) is None  # already there: no second copy


async def test_the_copier_leaves_an_unusable_checkpoint_to_the_worker(
    buckets: dict[str, RegionBucket],
) -> None:
    pointer = await _put(buckets[WEST], b"state", region=WEST)
    copier = _copier(buckets)
    with capture_logs() as logs:
        assert await copier.follow(_job(pointer.model_copy(update={"size_bytes": 9})), EAST) is None
        assert await copier.follow(_job(pointer), "eu-west-1") is None  # no bucket known there
    assert [e["event"] for e in logs] == ["checkpoint_not_copied", "checkpoint_region_unknown"]


async def test_a_copy_that_fails_is_transient(
    buckets: dict[str, RegionBucket],
) -> None:
    pointer = await _put(buckets[EAST], b"state")
    gone = RegionBucket(WEST, "no-such-bucket", buckets[WEST].s3)
    copier = CheckpointCopier(
        buckets={EAST: buckets[EAST], WEST: gone},
        home_region=EAST,
        clock=FakeClock(),
        usd_per_gib=0.02,
    )
    with pytest.raises(CopyFailed, match="NoSuchBucket"):
        await copier.follow(_job(pointer), WEST)
