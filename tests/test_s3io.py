"""Streaming S3 transfers against moto: single put, concurrent multipart, abort on failure."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cbas_async.aws import Clients
from cbas_async.s3io import download_file, list_keys, upload_stream

BUCKET = "s3io-test"
MIB = 1024 * 1024


async def _stream(data: bytes, chunk: int = 3 * MIB) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


@pytest.fixture
async def bucket(clients: Clients) -> str:
    await clients.s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.mark.parametrize("size", [0, 1, 5 * MIB, 21 * MIB + 7])
async def test_round_trip_keeps_bytes_and_hash(
    clients: Clients, bucket: str, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    uploaded = await upload_stream(clients.s3, bucket, "k", _stream(data), part_bytes=5 * MIB)
    assert uploaded.size_bytes == size
    assert uploaded.sha256 == hashlib.sha256(data).hexdigest()
    target = tmp_path / "out.bin"
    assert await download_file(clients.s3, bucket, "k", target) == size
    assert target.read_bytes() == data


async def test_failed_stream_aborts_the_multipart_upload(clients: Clients, bucket: str) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(6 * MIB)
        yield os.urandom(6 * MIB)
        raise OSError("disk went away")

    with pytest.raises(ExceptionGroup) as info:
        await upload_stream(clients.s3, bucket, "broken", broken(), part_bytes=5 * MIB)
    assert info.group_contains(OSError)
    assert await list_keys(clients.s3, bucket, "broken") == []
    pending = await clients.s3.list_multipart_uploads(Bucket=bucket)
    assert pending.get("Uploads", []) == []
