"""What a finished run leaves behind: the spec's stdout/stderr files and the declared outputs."""

from __future__ import annotations

from pathlib import Path

import aiofiles

from cbas_async.s3io import file_chunks
from cbas_async.sandbox import Sandbox, inside


async def assemble_stream(
    sandbox: Sandbox,
    *,
    job_id: str,
    attempt: int,
    stream: str,
    local: Path,
    target: Path,
    with_earlier: bool,
) -> None:
    """Write a stream's output to `target`: earlier attempts' shipped chunks first (when this
    attempt resumed their work), then this attempt's local file."""
    chunks = []
    if with_earlier:
        chunks = [
            c
            for c in await sandbox.log_chunks(job_id)
            if c.stream == stream and c.attempt < attempt
        ]
    target.parent.mkdir(parents=True, exist_ok=True)
    async with aiofiles.open(target, "wb") as out:
        for chunk in chunks:
            await out.write(await sandbox.read(chunk.key))
        try:
            async for data in file_chunks(local):
                await out.write(data)
        except FileNotFoundError:
            pass  # the job never started


def missing_reason(missing: list[str]) -> str:
    return "missing output file(s): " + ", ".join(missing)


def sandbox_path(workdir: Path, name: str) -> Path:
    return inside(workdir, name)
