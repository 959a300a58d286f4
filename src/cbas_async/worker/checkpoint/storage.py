"""Checkpoint storage: a state directory packed to S3 with the SHA-256 of the stored bytes,
its pointer recorded in DynamoDB fenced by attempt (the previous one kept), and restore of
the newest good checkpoint, falling back to the previous one when it is missing or corrupt.

Keys: `jobs/<job_id>/checkpoints/<attempt>-<seq>/state.tar.zst`, in the bucket of the region
the attempt runs in (the pointer's `region`). An attempt in another region than the pointer's
reads the copy the master made at the same key in its own bucket (`fleet/checkpoint_copy.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path

import aiofiles
import structlog
from botocore.exceptions import ClientError

from cbas_async.clock import Clock, utc_iso
from cbas_async.errors import PermanentError, StaleWrite
from cbas_async.records import CheckpointPointer
from cbas_async.s3io import download_chunks, list_keys, upload_stream
from cbas_async.sandbox import Sandbox
from cbas_async.store import JobStore
from cbas_async.worker.checkpoint.archive import CorruptArchive, pack, unpack
from cbas_async.worker.retry import retrying

log = structlog.get_logger(__name__)

ARCHIVE_NAME = "state.tar.zst"
_KEY_ORDER = re.compile(r"/checkpoints/(\d+)-(\d+)/")
_MAX_FALLBACKS = 4


class BadCheckpoint(PermanentError):
    """A stored checkpoint that cannot be used: missing or not matching its SHA-256."""


class CheckpointStorage:
    """The checkpoints of one job, as written and read by one attempt."""

    def __init__(
        self,
        *,
        store: JobStore,
        sandbox: Sandbox,
        job_id: str,
        attempt: int,
        method: str,
        clock: Clock,
        region: str | None = None,
    ) -> None:
        self._store = store
        self._region = region  # where `sandbox`'s bucket is, recorded in each pointer
        self._sandbox = sandbox
        self._job_id = job_id
        self._attempt = attempt
        self._method = method
        self._clock = clock
        self.seq = 0

    def continue_after(self, pointer: CheckpointPointer | None) -> None:
        """Number after `pointer` if this attempt wrote it (a restarted worker)."""
        if pointer is not None and pointer.attempt == self._attempt:
            self.seq = max(self.seq, pointer.seq)

    def key(self, seq: int) -> str:
        name = f"{self._attempt}-{seq}/{ARCHIVE_NAME}"
        return self._sandbox.key(self._job_id, "checkpoints", name)

    async def save(self, directory: Path, *, extra: dict[str, str]) -> CheckpointPointer:
        pointer = await self.upload(directory, extra=extra)
        await self.record(pointer)
        return pointer

    async def upload(self, directory: Path, *, extra: dict[str, str]) -> CheckpointPointer:
        """Pack and upload `directory`; the pointer is not recorded yet."""
        self.seq += 1  # taken even if this fails, so a later pointer is always newer
        seq, key = self.seq, self.key(self.seq)

        async def send() -> CheckpointPointer:
            started = self._clock.monotonic()
            async with aclosing(pack(directory)) as chunks:
                sent = await upload_stream(self._sandbox.s3, self._sandbox.bucket, key, chunks)
            # the measured cost of a checkpoint, which the broker's interval choice uses
            took = {"duration_s": f"{self._clock.monotonic() - started:.3f}"}
            return CheckpointPointer(
                attempt=self._attempt,
                seq=seq,
                key=key,
                sha256=sent.sha256,
                size_bytes=sent.size_bytes,
                method=self._method,
                taken_at=utc_iso(self._clock.now()),
                extra={**extra, **took},
                region=self._region,
            )

        return await send()

    async def record(self, pointer: CheckpointPointer) -> None:
        """Make `pointer` the job's latest checkpoint; `StaleWrite` if a newer attempt owns
        the job. Afterwards, objects older than the kept two are deleted."""
        try:
            await self._store.record_checkpoint(self._job_id, pointer)
        except StaleWrite:
            # an earlier try may have landed although its answer was lost
            if (await self._store.get(self._job_id)).checkpoint != pointer:
                raise
        await self._prune()

    async def restore(
        self, dest: Path, scratch: Path, accepts: Callable[[CheckpointPointer], bool]
    ) -> CheckpointPointer | None:
        """Unpack the newest usable checkpoint into `dest`, dropping bad ones on the way
        (so the previous one becomes the newest). None: start from scratch."""
        for _ in range(_MAX_FALLBACKS):
            record = await self._store.get(self._job_id)
            pointer = record.checkpoint
            if pointer is None or not accepts(pointer):
                return None
            try:
                await self._fetch_and_unpack(pointer, dest, scratch / ARCHIVE_NAME)
            except (BadCheckpoint, CorruptArchive) as exc:
                log.warning("checkpoint_unusable", key=pointer.key, problem=str(exc))
                await self._store.drop_checkpoint(self._job_id, pointer)
                continue
            log.info("checkpoint_restored", key=pointer.key, size_bytes=pointer.size_bytes)
            return pointer
        return None

    async def _fetch_and_unpack(self, pointer: CheckpointPointer, dest: Path, file: Path) -> None:
        # the GET is retried by the S3 client; this retries a body that broke off
        digest = await retrying(
            lambda: self._download(pointer.key, file), clock=self._clock, what="checkpoint_get"
        )
        if digest != pointer.sha256:
            raise BadCheckpoint(f"{pointer.key}: SHA-256 {digest} != recorded {pointer.sha256}")
        try:
            await asyncio.to_thread(unpack, file, dest)
        finally:
            await asyncio.to_thread(file.unlink, missing_ok=True)

    async def _download(self, key: str, file: Path) -> str:
        digest = hashlib.sha256()
        try:
            async with aiofiles.open(file, "wb") as out:
                async for chunk in download_chunks(self._sandbox.s3, self._sandbox.bucket, key):
                    digest.update(chunk)
                    await out.write(chunk)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BadCheckpoint(f"{key} is missing") from exc
            raise
        return digest.hexdigest()

    async def _prune(self) -> None:
        """Delete this job's checkpoint objects older than both kept pointers."""
        try:
            record = await self._store.get(self._job_id)
            kept = [p for p in (record.checkpoint, record.checkpoint_prev) if p is not None]
            if not kept:
                return
            oldest = min((p.attempt, p.seq) for p in kept)
            prefix = self._sandbox.prefix(self._job_id, "checkpoints")
            for key in await list_keys(self._sandbox.s3, self._sandbox.bucket, prefix):
                order = _KEY_ORDER.search(key)
                if order and (int(order[1]), int(order[2])) < oldest:
                    await self._sandbox.s3.delete_object(Bucket=self._sandbox.bucket, Key=key)
        except Exception as exc:  # pruning is housekeeping: never fail a checkpoint for it
            log.warning("checkpoint_prune_failed", error=repr(exc))
