"""Ships the job's stdout and stderr to S3 while it runs, in numbered chunks per attempt.

A chunk that fails to upload is retried on the next round (nothing is skipped), so logs
written before an interruption are in S3 once `flush` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import structlog

from cbas_async.clock import Clock
from cbas_async.loops import every
from cbas_async.sandbox import Sandbox

log = structlog.get_logger(__name__)

MAX_CHUNK_BYTES = 4 * 1024 * 1024


class LogShipper:
    """Uploads new bytes of each stream's file every `interval_s`, and on `flush`."""

    def __init__(
        self,
        *,
        sandbox: Sandbox,
        job_id: str,
        attempt: int,
        files: Mapping[str, Path],
        clock: Clock,
        interval_s: float = 2.0,
        max_chunk_bytes: int = MAX_CHUNK_BYTES,
    ) -> None:
        self._sandbox = sandbox
        self._job_id = job_id
        self._attempt = attempt
        self._files = dict(files)
        self._clock = clock
        self._interval_s = interval_s
        self._max_chunk_bytes = max_chunk_bytes
        self._offsets = dict.fromkeys(self._files, 0)
        self._seqs = dict.fromkeys(self._files, 0)
        self._lock = asyncio.Lock()

    async def resume_numbering(self) -> None:
        """Number after chunks this attempt already shipped (a restarted worker)."""
        for chunk in await self._sandbox.log_chunks(self._job_id):
            if chunk.attempt == self._attempt and chunk.stream in self._seqs:
                self._seqs[chunk.stream] = max(self._seqs[chunk.stream], chunk.seq + 1)

    async def run(self, stopping: asyncio.Event) -> None:
        await every(
            self._interval_s,
            self.ship_once,
            stopping=stopping,
            clock=self._clock,
            log_event=None,  # `ship_once` logs its upload failures
            wait_first=True,
        )

    async def ship_once(self) -> int:
        """Ship at most one chunk per stream; returns the bytes shipped. Never raises for
        an upload failure (it is logged and retried next round)."""
        shipped = 0
        async with self._lock:
            for stream in self._files:
                shipped += await self._ship_stream(stream)
        return shipped

    async def flush(self) -> None:
        """Ship everything written so far."""
        while await self.ship_once():
            pass

    async def _ship_stream(self, stream: str) -> int:
        data = await self._read_new(stream)
        if not data:
            return 0
        seq = self._seqs[stream]
        try:
            await self._sandbox.put_log_chunk(self._job_id, self._attempt, stream, seq, data)
        except Exception as exc:
            log.warning("log_chunk_failed", stream=stream, seq=seq, error=repr(exc))
            return 0
        self._offsets[stream] += len(data)
        self._seqs[stream] = seq + 1
        return len(data)

    async def _read_new(self, stream: str) -> bytes:
        # the whole open-read-close runs in one thread call: a cancellation while it runs
        # cannot leave the file open (with aiofiles it could, between open and close)
        path, offset = self._files[stream], self._offsets[stream]
        return await asyncio.to_thread(_read_from, path, offset, self._max_chunk_bytes)


def _read_from(path: Path, offset: int, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(max_bytes)
    except FileNotFoundError:
        return b""
