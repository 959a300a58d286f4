"""A checkpoint follows its job to another region: the master copies the checkpoint the next
attempt resumes from, server-side, from the bucket of the region that holds it (the
pointer's `region`, None: home) to the bucket of the region the attempt launches in, at the
same key, right before RunInstances. The worker there reads the copy from its own bucket;
the pointer still names where the original is, until the new attempt takes a checkpoint.

A checkpoint is one object (`worker/checkpoint/storage.py`): CopyObject up to 5 GiB,
multipart UploadPartCopy above. The source must have the pointer's size; a CopyObject's
SHA-256 (S3 computes it on request) must match the pointer's; a multipart copy's SHA-256
is not computed by S3, so there the worker's check on download is the one that holds. Only
the newest checkpoint is copied, not the one before it (twice the egress for a fallback).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import ClientError

from cbas_async.clock import Clock
from cbas_async.errors import PermanentError, TransientError
from cbas_async.fleet.transfer_meter import TransferMeter
from cbas_async.records import CheckpointPointer, JobRecord

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = structlog.get_logger(__name__)

GIB = 1024**3
COPY_MAX_BYTES = 5 * GIB  # S3's largest CopyObject
PART_BYTES = 512 * 1024**2  # UploadPartCopy: 5 MiB to 5 GiB a part, at most 10,000 parts
PART_CONCURRENCY = 4
_MISSING = ("NoSuchKey", "404", "NotFound")
DEFAULT_MIB_S = 100.0  # CBAS_TRANSFER_MIB_S's default: the rate before any copy is measured


@dataclass(frozen=True, slots=True)
class RegionBucket:
    """One region's bucket, and an S3 client of that region."""

    region: str
    bucket: str
    s3: S3Client


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointCopied:
    """What one copy moved, how long it took and what the egress cost."""

    key: str
    source_region: str
    region: str
    size_bytes: int
    seconds: float
    usd: float


class CopyFailed(TransientError):
    """The copy did not complete, or the copy is not what the pointer recorded: try again."""


class SourceUnusable(PermanentError):
    """The checkpoint to copy is gone, or its bytes are not what its pointer recorded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyLimits:
    """Above `single_max_bytes`, a multipart copy in parts of `part_bytes` (tests shrink
    both to reach the multipart path with small objects)."""

    single_max_bytes: int = COPY_MAX_BYTES
    part_bytes: int = PART_BYTES
    concurrency: int = PART_CONCURRENCY


async def copy_checkpoint(
    pointer: CheckpointPointer,
    *,
    source: RegionBucket,
    dest: RegionBucket,
    clock: Clock,
    usd_per_gib: float,
    limits: CopyLimits = CopyLimits(),
) -> CheckpointCopied:
    """Copy `pointer`'s object from `source` to `dest` at the same key. Raises
    `SourceUnusable` (nothing copied, or the copy deleted) and `CopyFailed`."""
    started = clock.monotonic()
    size = await _size(source, pointer.key)
    if size is None or size != pointer.size_bytes:
        raise SourceUnusable(f"{pointer.key}: {size} bytes in {source.bucket}")
    try:
        if size <= limits.single_max_bytes:
            await _copy_object(pointer, source, dest)
        else:
            await _copy_parts(pointer.key, size, source, dest, limits)
    except ClientError as exc:
        if _code(exc) in _MISSING:
            raise SourceUnusable(f"{pointer.key}: gone from {source.bucket}") from exc
        raise CopyFailed(f"{pointer.key}: {exc}") from exc
    if await _size(dest, pointer.key) != size:
        raise CopyFailed(f"{pointer.key}: the copy in {dest.bucket} is not {size} bytes")
    return CheckpointCopied(
        key=pointer.key,
        source_region=source.region,
        region=dest.region,
        size_bytes=size,
        seconds=clock.monotonic() - started,
        usd=size / GIB * usd_per_gib,
    )


async def _size(where: RegionBucket, key: str) -> int | None:
    """The object's size; None when there is none."""
    try:
        head = await where.s3.head_object(Bucket=where.bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return None
        raise CopyFailed(f"{key}: {exc}") from exc
    return head["ContentLength"]


async def _copy_object(
    pointer: CheckpointPointer, source: RegionBucket, dest: RegionBucket
) -> None:
    answer = await dest.s3.copy_object(
        Bucket=dest.bucket,
        Key=pointer.key,
        CopySource={"Bucket": source.bucket, "Key": pointer.key},
        ChecksumAlgorithm="SHA256",
    )
    found = answer.get("CopyObjectResult", {}).get("ChecksumSHA256")
    if found is not None and base64.b64decode(found).hex() != pointer.sha256:
        await dest.s3.delete_object(Bucket=dest.bucket, Key=pointer.key)
        raise SourceUnusable(f"{pointer.key}: SHA-256 differs from the recorded one")


async def _copy_parts(
    key: str, size: int, source: RegionBucket, dest: RegionBucket, limits: CopyLimits
) -> None:
    """A multipart copy; aborted on any failure, so no parts are left behind."""
    created = await dest.s3.create_multipart_upload(Bucket=dest.bucket, Key=key)
    upload_id = created["UploadId"]
    try:
        etags = await _part_copies(key, size, source, dest, upload_id, limits)
        parts: Any = [{"ETag": etags[n], "PartNumber": n} for n in sorted(etags)]
        await dest.s3.complete_multipart_upload(
            Bucket=dest.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        await dest.s3.abort_multipart_upload(Bucket=dest.bucket, Key=key, UploadId=upload_id)
        raise


async def _part_copies(
    key: str,
    size: int,
    source: RegionBucket,
    dest: RegionBucket,
    upload_id: str,
    limits: CopyLimits,
) -> dict[int, str]:
    """UploadPartCopy of every range, `limits.concurrency` at a time; the ETags by part
    number. The first failure is raised as itself (not in a group)."""
    slots = asyncio.Semaphore(limits.concurrency)
    etags: dict[int, str] = {}

    async def part(number: int, first: int) -> None:
        last = min(first + limits.part_bytes, size) - 1
        async with slots:
            answer = await dest.s3.upload_part_copy(
                Bucket=dest.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": source.bucket, "Key": key},
                CopySourceRange=f"bytes={first}-{last}",
            )
        etags[number] = answer["CopyPartResult"]["ETag"]

    try:
        async with asyncio.TaskGroup() as group:
            for number, first in enumerate(range(0, size, limits.part_bytes), start=1):
                group.create_task(part(number, first))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from failed
    return etags


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class CheckpointCopier:
    """Brings a job's checkpoint to the bucket of the region its next attempt launches in
    (the master's side, right before RunInstances)."""

    def __init__(
        self,
        *,
        buckets: Mapping[str, RegionBucket],
        home_region: str,
        clock: Clock,
        usd_per_gib: float,
        limits: CopyLimits = CopyLimits(),
        meter: TransferMeter | None = None,
    ) -> None:
        """`meter`: where the copies' measured rate goes (the placement reads it)."""
        self.meter = meter or TransferMeter(DEFAULT_MIB_S)
        self._buckets = buckets
        self._home_region = home_region
        self._clock = clock
        self._usd_per_gib = usd_per_gib
        self._limits = limits

    def source_region(self, job: JobRecord, region: str) -> str | None:
        """Where the checkpoint to copy to `region` is; None when there is nothing to copy."""
        pointer = job.checkpoint
        held = (pointer.region or self._home_region) if pointer else None
        return held if held not in (None, region) else None

    async def follow(self, job: JobRecord, region: str) -> float | None:
        """Copy the job's newest checkpoint into `region`'s bucket when another region holds
        it; the USD the copy cost, None when nothing was copied (none needed, or already
        there from an earlier try). Raises `TransientError` when the copy failed: the job
        stays PENDING, the next pass tries again and no attempt is spent. A checkpoint that
        is gone or damaged is not copied (logged): the worker finds it unusable and falls
        back, as it would in the checkpoint's own region."""
        held = self.source_region(job, region)
        if held is None or job.checkpoint is None:
            return None
        source, dest = self._buckets.get(held), self._buckets.get(region)
        if source is None or dest is None:
            log.error("checkpoint_region_unknown", job_id=job.job_id, source=held, region=region)
            return None
        if await _size(dest, job.checkpoint.key) == job.checkpoint.size_bytes:
            return None
        try:
            copied = await copy_checkpoint(
                job.checkpoint,
                source=source,
                dest=dest,
                clock=self._clock,
                usd_per_gib=self._usd_per_gib,
                limits=self._limits,
            )
        except SourceUnusable as exc:
            log.warning("checkpoint_not_copied", job_id=job.job_id, reason=str(exc))
            return None
        self.meter.record(copied.size_bytes, copied.seconds)
        log.info("checkpoint_copied", job_id=job.job_id, **_fields(copied))
        return copied.usd


def _fields(copied: CheckpointCopied) -> dict[str, object]:
    return {
        "source": copied.source_region,
        "region": copied.region,
        "size_bytes": copied.size_bytes,
        "seconds": round(copied.seconds, 3),
        "usd": round(copied.usd, 6),
    }
