"""The S3 layout of a job: `jobs/<job_id>/{input,output,logs,checkpoints}/`, and its transfers.

Every relative name that becomes a key or a local path goes through `safe_relative`, so a
name such as `../../etc/passwd` can neither escape a job's prefix nor a local directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from cbas_async.errors import InvalidSpec
from cbas_async.s3io import Uploaded, download_file, file_chunks, list_keys, upload_stream

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


def safe_relative(name: str) -> PurePosixPath:
    """A relative POSIX path with no `..`, no absolute root, no empty or odd parts."""
    path = PurePosixPath(name)
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    )
    if bad:
        raise InvalidSpec([("path", f"unsafe file name {name!r}")])
    return path


def inside(base: Path, name: str) -> Path:
    """`base/name`, guaranteed to stay inside `base` (after resolving links)."""
    target = (base / safe_relative(name)).resolve()
    if not target.is_relative_to(base.resolve()):
        raise InvalidSpec([("path", f"{name!r} leaves its directory")])
    return target


@dataclass(frozen=True, slots=True)
class LogChunk:
    """One shipped piece of a job's stdout or stderr."""

    attempt: int
    stream: str
    seq: int
    key: str


class Sandbox:
    """A job's files in the deployment's bucket."""

    def __init__(self, *, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    @staticmethod
    def prefix(job_id: str, area: str) -> str:
        return f"jobs/{job_id}/{area}/"

    def key(self, job_id: str, area: str, name: str) -> str:
        return self.prefix(job_id, area) + str(safe_relative(name))

    async def upload_file(self, key: str, path: Path) -> Uploaded:
        return await upload_stream(self.s3, self.bucket, key, file_chunks(path))

    async def upload_inputs(self, job_id: str, base_dir: Path, names: list[str]) -> list[Uploaded]:
        """Upload each input file (multipart when large) under the job's input prefix."""
        return [
            await self.upload_file(self.key(job_id, "input", n), inside(base_dir, n)) for n in names
        ]

    async def download_area(self, job_id: str, area: str, dest: Path) -> list[Path]:
        """Download every file of one area (`input`, `output`) into `dest`."""
        prefix = self.prefix(job_id, area)
        written = []
        for key in await list_keys(self.s3, self.bucket, prefix):
            target = inside(dest, key[len(prefix) :])
            await download_file(self.s3, self.bucket, key, target)
            written.append(target)
        return written

    async def upload_outputs(self, job_id: str, workdir: Path, names: list[str]) -> list[str]:
        """Upload declared outputs; returns the names that are missing (nothing is uploaded
        for those)."""
        missing = [n for n in names if not inside(workdir, n).is_file()]
        for name in names:
            if name not in missing:
                await self.upload_file(self.key(job_id, "output", name), inside(workdir, name))
        return missing

    # logs: jobs/<id>/logs/<attempt:04d>/<stream>.<seq:06d>
    def log_key(self, job_id: str, attempt: int, stream: str, seq: int) -> str:
        return f"{self.prefix(job_id, 'logs')}{attempt:04d}/{stream}.{seq:06d}"

    async def put_log_chunk(
        self, job_id: str, attempt: int, stream: str, seq: int, data: bytes
    ) -> None:
        key = self.log_key(job_id, attempt, stream, seq)
        await self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    async def log_chunks(self, job_id: str) -> list[LogChunk]:
        """Every shipped log chunk, in (attempt, stream, seq) order."""
        prefix = self.prefix(job_id, "logs")
        chunks = []
        for key in await list_keys(self.s3, self.bucket, prefix):
            attempt_text, _, leaf = key[len(prefix) :].partition("/")
            stream, _, seq_text = leaf.partition(".")
            if attempt_text.isdigit() and seq_text.isdigit():
                chunks.append(LogChunk(int(attempt_text), stream, int(seq_text), key))
        return sorted(chunks, key=lambda c: (c.attempt, c.stream, c.seq))

    async def read(self, key: str) -> bytes:
        response = await self.s3.get_object(Bucket=self.bucket, Key=key)
        async with response["Body"] as body:
            return await body.read()
