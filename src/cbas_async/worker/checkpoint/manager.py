"""Takes checkpoints one at a time (periodic, on command, final), skipping unchanged state."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import StaleWrite
from cbas_async.loops import sleep_or_stop
from cbas_async.records import CheckpointPointer
from cbas_async.worker.checkpoint.archive import Fingerprint, fingerprint
from cbas_async.worker.checkpoint.base import Checkpointer, JobHandle
from cbas_async.worker.checkpoint.schedule import CheckpointSchedule
from cbas_async.worker.checkpoint.storage import CheckpointStorage
from cbas_async.worker.heartbeat import Progress
from cbas_async.worker.timing import StepTimer

log = structlog.get_logger(__name__)


class CheckpointManager:
    """Serialises checkpoints of one running job and reports them in the pings.

    `take` and `take_final` raise `StaleWrite` when a newer attempt owns the job.
    """

    def __init__(
        self,
        *,
        checkpointer: Checkpointer,
        storage: CheckpointStorage,
        progress: Progress,
        clock: Clock,
    ) -> None:
        self._checkpointer = checkpointer
        self._storage = storage
        self._progress = progress
        self._clock = clock
        self._lock = asyncio.Lock()
        self._saved: Fingerprint | None = None
        self.last_save_s = 0.0
        self.last_duration_s = 0.0  # the last periodic checkpoint, capture to record

    def remember(self, saved: Fingerprint | None) -> None:
        """The state restored at start is already stored: no need to upload it again."""
        self._saved = saved

    async def take(self, job: JobHandle) -> CheckpointPointer | None:
        """A checkpoint of the running job now; None if there was nothing new to save."""
        async with self._lock:
            timer = StepTimer(self._clock, "checkpoint_step")
            started = self._clock.monotonic()
            async with timer.step("capture"):
                directory = await self._checkpointer.snapshot(job)
            pointer = await self._save(directory, timer)
            self.last_duration_s = self._clock.monotonic() - started
            return pointer

    async def take_final(
        self, job: JobHandle, *, budget_s: float, timer: StepTimer
    ) -> CheckpointPointer | None:
        """The last checkpoint before the instance goes (the method may stop the job)."""
        async with self._lock:
            async with timer.step("stop_and_capture"):
                directory = await self._checkpointer.final_snapshot(job, budget_s)
            return await self._save(directory, timer)

    async def run_periodic(
        self,
        job: JobHandle,
        *,
        schedule: CheckpointSchedule,
        started_s: float,
        stop: asyncio.Event,
    ) -> None:
        """Checkpoint on `schedule` (hours counted from `started_s`, monotonic) until
        `stop`; a failed checkpoint is logged and the next one tried, except `StaleWrite`,
        which propagates."""
        while True:
            delay = schedule.next_delay(
                elapsed_s=self._clock.monotonic() - started_s,
                expected_duration_s=self.last_duration_s,
            )
            if await sleep_or_stop(self._clock, delay, stop):
                return
            try:
                await self.take(job)
            except StaleWrite:
                raise
            except Exception as exc:
                log.error("checkpoint_failed", error=repr(exc))

    async def _save(self, directory: Path | None, timer: StepTimer) -> CheckpointPointer | None:
        if directory is None:
            return None
        state = await asyncio.to_thread(fingerprint, directory)
        if not state or state == self._saved:
            log.info("checkpoint_skipped", reason="empty" if not state else "unchanged")
            return None
        phase, self._progress.phase = self._progress.phase, "checkpointing"
        try:
            async with timer.step("upload"):
                pointer = await self._storage.upload(directory, extra=self._checkpointer.extra())
            async with timer.step("record"):
                await self._storage.record(pointer)
        finally:
            self._progress.phase = phase
        self._saved = state
        self._progress.checkpoint_seq = pointer.seq
        self.last_save_s = timer.durations["upload"] + timer.durations["record"]
        log.info("checkpoint_saved", seq=pointer.seq, size_bytes=pointer.size_bytes)
        return pointer
