"""What the user commands do (submit, status, list, wait, cancel, logs, outputs), as
coroutines over a `Session`; `cli.py` parses arguments and prints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import structlog

from cbas_async.clock import Clock
from cbas_async.deployment import Session
from cbas_async.errors import StaleWrite
from cbas_async.records import JobRecord
from cbas_async.sandbox import LogChunk
from cbas_async.specfile import LoadedSpec, load_spec_file
from cbas_async.states import JobState

log = structlog.get_logger(__name__)

ACTOR = "cli"


async def submit(
    session: Session,
    spec: Path | LoadedSpec,
    *,
    clock: Clock,
    submitted_by: str | None = None,
) -> JobRecord:
    """Validate, store SUBMITTED, upload inputs, then make the job PENDING. `submitted_by`
    is the API token's owner (None when the job is stored straight in AWS).

    The spec is validated (and its input files checked) before anything is written, so a
    bad spec stores nothing. If an upload fails, the job is marked FAILED with the reason.
    """
    loaded = spec if isinstance(spec, LoadedSpec) else load_spec_file(spec)
    record = await session.store.create(
        loaded.spec, now=clock.now(), actor=ACTOR, submitted_by=submitted_by
    )
    try:
        await session.sandbox.upload_inputs(
            record.job_id, loaded.base_dir, list(loaded.spec.input_files)
        )
    except Exception as exc:
        await _leave_submitted(
            session, record, JobState.FAILED, clock, f"input upload failed: {exc}"
        )
        raise
    return await _leave_submitted(session, record, JobState.PENDING, clock)


async def _leave_submitted(
    session: Session, record: JobRecord, target: JobState, clock: Clock, reason: str | None = None
) -> JobRecord:
    return await session.store.transition(
        record.job_id,
        {JobState.SUBMITTED},
        target,
        record.version,
        now=clock.now(),
        actor=ACTOR,
        attempt=record.attempt,
        updates={"reason": reason} if reason else None,
    )


async def list_jobs(session: Session, states: list[JobState]) -> list[JobRecord]:
    jobs = await session.store.all_in_states(states)
    return sorted(jobs, key=lambda j: j.created_at)


async def cancel(session: Session, job_id: str, *, clock: Clock, tries: int = 5) -> JobRecord:
    """Move a live job to CANCELLED; the master then stops its instance. Idempotent."""
    for _ in range(tries):
        job = await session.store.get(job_id)
        if job.state.terminal:
            return job
        try:
            return await session.store.transition(
                job_id,
                {job.state},
                JobState.CANCELLED,
                job.version,
                now=clock.now(),
                actor=ACTOR,
                attempt=job.attempt,
                updates={"reason": "cancelled by user"},
            )
        except StaleWrite:
            continue  # it moved meanwhile; look again
    raise StaleWrite(job_id, "the job kept changing; try again")


async def wait(
    session: Session,
    job_ids: list[str],
    *,
    timeout_s: float,
    clock: Clock,
    poll_s: float = 1.0,
    on_change: Callable[[JobRecord], None] | None = None,
) -> dict[str, JobRecord] | None:
    """Poll until every job is terminal; None when `timeout_s` passes first."""
    return await wait_for(
        session.store.get,
        job_ids,
        timeout_s=timeout_s,
        clock=clock,
        poll_s=poll_s,
        on_change=on_change,
    )


async def wait_for(
    get: Callable[[str], Awaitable[JobRecord]],
    job_ids: list[str],
    *,
    timeout_s: float,
    clock: Clock,
    poll_s: float = 1.0,
    on_change: Callable[[JobRecord], None] | None = None,
) -> dict[str, JobRecord] | None:
    """`wait` over any way of reading a job (`Jobs.get`)."""
    deadline = clock.monotonic() + timeout_s
    seen: dict[str, JobState] = {}
    while True:
        jobs = {job_id: await get(job_id) for job_id in job_ids}
        for job in jobs.values():
            if on_change is not None and seen.get(job.job_id) is not job.state:
                on_change(job)
            seen[job.job_id] = job.state
        if all(job.state.terminal for job in jobs.values()):
            return jobs
        if clock.monotonic() >= deadline:
            return None
        await clock.sleep(poll_s)


async def read_logs(session: Session, job_id: str, after: set[str]) -> list[tuple[LogChunk, bytes]]:
    """Log chunks not in `after` (keys), in order, with their bytes."""
    await session.store.get(job_id)  # JobNotFound for an unknown id
    chunks = [c for c in await session.sandbox.log_chunks(job_id) if c.key not in after]
    return [(c, await session.sandbox.read(c.key)) for c in chunks]


async def outputs(session: Session, job_id: str, dest: Path) -> list[Path]:
    job = await session.store.get(job_id)
    if job.state is not JobState.SUCCEEDED:
        log.warning("outputs_of_unfinished_job", job_id=job_id, state=job.state.value)
    return await session.sandbox.download_area(job_id, "output", dest)


class Jobs(Protocol):
    """The user commands over one deployment: `SessionJobs` talks to AWS,
    `apiclient.ApiClient` to the master's REST API."""

    async def submit(self, loaded: LoadedSpec) -> JobRecord: ...
    async def get(self, job_id: str) -> JobRecord: ...
    async def list_jobs(self, states: list[JobState]) -> list[JobRecord]: ...
    async def cancel(self, job_id: str) -> JobRecord: ...
    async def read_logs(self, job_id: str, after: set[str]) -> list[tuple[LogChunk, bytes]]: ...
    async def outputs(self, job_id: str, dest: Path) -> list[Path]: ...


class SessionJobs:
    """`Jobs` straight over DynamoDB and S3."""

    def __init__(self, session: Session, *, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def submit(self, loaded: LoadedSpec) -> JobRecord:
        return await submit(self._session, loaded, clock=self._clock)

    async def get(self, job_id: str) -> JobRecord:
        return await self._session.store.get(job_id)

    async def list_jobs(self, states: list[JobState]) -> list[JobRecord]:
        return await list_jobs(self._session, states)

    async def cancel(self, job_id: str) -> JobRecord:
        return await cancel(self._session, job_id, clock=self._clock)

    async def read_logs(self, job_id: str, after: set[str]) -> list[tuple[LogChunk, bytes]]:
        return await read_logs(self._session, job_id, after)

    async def outputs(self, job_id: str, dest: Path) -> list[Path]:
        return await outputs(self._session, job_id, dest)
