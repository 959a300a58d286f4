"""Streaming S3 transfers: multipart upload from an async byte stream, chunked download.

aiobotocore has no transfer manager, so this is the small one the project needs.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

PART_BYTES = 8 * 1024 * 1024  # S3's minimum part is 5 MiB (all parts but the last)
UPLOAD_CONCURRENCY = 4
READ_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What landed in S3: size and SHA-256 of the bytes as stored."""

    key: str
    size_bytes: int
    sha256: str


async def _parts(chunks: AsyncIterable[bytes], part_bytes: int) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= part_bytes:
            yield bytes(buffer[:part_bytes])
            del buffer[:part_bytes]
    if buffer:
        yield bytes(buffer)


async def upload_stream(
    s3: S3Client,
    bucket: str,
    key: str,
    chunks: AsyncIterable[bytes],
    *,
    part_bytes: int = PART_BYTES,
    concurrency: int = UPLOAD_CONCURRENCY,
    metadata: dict[str, str] | None = None,
) -> Uploaded:
    """Upload a byte stream: one PutObject if it fits in a part, multipart otherwise, with
    up to `concurrency` parts in flight (memory: about `concurrency` + 1 parts).

    A failed multipart upload is aborted, so no partial object or orphan parts remain.
    """
    parts = _parts(chunks, part_bytes)
    first = await anext(parts, b"")
    second = await anext(parts, None)
    if second is None:
        await s3.put_object(Bucket=bucket, Key=key, Body=first, Metadata=metadata or {})
        return Uploaded(key, len(first), hashlib.sha256(first).hexdigest())
    created = await s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata or {})
    upload = _Multipart(s3, bucket, key, created["UploadId"], concurrency)
    try:
        size, digest = await upload.send_all(_chain(first, second, parts))
        await s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload.upload_id,
            MultipartUpload={"Parts": upload.done()},  # type: ignore[typeddict-item]
        )
    except BaseException:
        await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload.upload_id)
        raise
    return Uploaded(key, size, digest)


async def _chain(first: bytes, second: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    yield second
    async for part in rest:
        yield part


class _Multipart:
    """The parts of one multipart upload, sent concurrently, hashed in order."""

    def __init__(self, s3: S3Client, bucket: str, key: str, upload_id: str, concurrency: int):
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self.upload_id = upload_id
        self._slots = asyncio.Semaphore(concurrency)
        self._etags: dict[int, str] = {}

    async def send_all(self, parts: AsyncIterator[bytes]) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        async with asyncio.TaskGroup() as group:
            number = 0
            async for body in parts:
                number += 1
                digest.update(body)
                size += len(body)
                await self._slots.acquire()  # bounds the parts held in memory
                group.create_task(self._send(number, body))
        return size, digest.hexdigest()

    async def _send(self, number: int, body: bytes) -> None:
        try:
            part = await self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=body,
            )
            self._etags[number] = part["ETag"]
        finally:
            self._slots.release()

    def done(self) -> list[dict[str, object]]:
        return [{"ETag": etag, "PartNumber": n} for n, etag in sorted(self._etags.items())]


async def file_chunks(path: Path, chunk_bytes: int = READ_BYTES) -> AsyncIterator[bytes]:
    async with aiofiles.open(path, "rb") as handle:
        while chunk := await handle.read(chunk_bytes):
            yield chunk


async def download_chunks(s3: S3Client, bucket: str, key: str) -> AsyncIterator[bytes]:
    response = await s3.get_object(Bucket=bucket, Key=key)
    async with response["Body"] as body:
        while chunk := await body.read(READ_BYTES):
            yield chunk


async def download_file(s3: S3Client, bucket: str, key: str, dest: Path) -> int:
    """Download to `dest` via a temporary file renamed into place; returns the size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    size = 0
    async with aiofiles.open(partial, "wb") as handle:
        async for chunk in download_chunks(s3, bucket, key):
            size += len(chunk)
            await handle.write(chunk)
    partial.replace(dest)
    return size


async def list_keys(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys += [obj["Key"] for obj in page.get("Contents", [])]
    return keys
