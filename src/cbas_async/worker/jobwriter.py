"""The worker's writes to its job record, every one fenced by the worker's attempt."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import StaleWrite
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)

_RACES = 5


class JobWriter:
    """Moves the job on behalf of one attempt.

    A version race (the master moved LAUNCHING -> RUNNING on our first ping) is settled by
    re-reading; a move already made counts as done. Anything else (another attempt, a state
    we do not expect) raises `StaleWrite`: the job is no longer ours to write.
    """

    def __init__(
        self, *, store: JobStore, job_id: str, attempt: int, actor: str, clock: Clock
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._attempt = attempt
        self._actor = actor
        self._clock = clock

    async def read(self) -> JobRecord:
        return await self._store.get(self._job_id)

    async def move(
        self,
        expected: Collection[JobState],
        target: JobState,
        *,
        detail: str | None = None,
        updates: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        for _ in range(_RACES):
            record = await self.read()
            if record.attempt != self._attempt:
                raise StaleWrite(self._job_id, f"attempt {record.attempt} owns the job")
            if record.state is target:
                return record
            if record.state not in expected:
                raise StaleWrite(self._job_id, f"the job is {record.state.value}")
            try:
                return await self._transition(record, target, detail, updates)
            except StaleWrite:
                continue
        raise StaleWrite(self._job_id, "the job kept changing under the worker")

    async def _transition(
        self,
        record: JobRecord,
        target: JobState,
        detail: str | None,
        updates: Mapping[str, Any] | None,
    ) -> JobRecord:
        moved = await self._store.transition(
            self._job_id,
            {record.state},
            target,
            record.version,
            now=self._clock.now(),
            actor=self._actor,
            attempt=self._attempt,
            updates=updates,
            detail=detail,
        )
        log.info("job_moved", from_state=record.state.value, to_state=target.value)
        return moved

    async def current(self) -> JobRecord | None:
        """The job as stored, or None on a read failure (logged)."""
        try:
            return await self._store.get(self._job_id)
        except Exception as exc:
            log.warning("ownership_check_failed", error=repr(exc))
            return None

    def move_asked(self, record: JobRecord) -> str | None:
        """The region a master asked this attempt, RUNNING, to move to; else None."""
        mine = record.attempt == self._attempt and record.state is JobState.RUNNING
        return record.move_to if mine else None

    def superseded(self, record: JobRecord) -> str | None:
        """Why this attempt no longer owns `record`'s job, or None while it does."""
        if record.attempt != self._attempt:
            return f"attempt {record.attempt} owns the job"
        if record.state.terminal:
            return f"the job is {record.state.value}"
        return None
