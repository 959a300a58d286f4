"""Small helpers for the web tests: specs, and moving a job along its states."""

from __future__ import annotations

from typing import Any

from cbas_async.clock import SystemClock
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.store import JobStore

PATH_TO = {
    JobState.LAUNCHING: [JobState.LAUNCHING],
    JobState.RUNNING: [JobState.LAUNCHING, JobState.RUNNING],
    JobState.SUCCEEDED: [JobState.LAUNCHING, JobState.RUNNING, JobState.SUCCEEDED],
}


def spec(**extra: Any) -> dict[str, Any]:
    return {"name": "hello", "command": ["echo", "hi"], "checkpoint": {"method": "none"}, **extra}


async def advance(store: JobStore, job_id: str, target: JobState, **updates: Any) -> JobRecord:
    """Walk a PENDING job to `target` the legal way, as the master and worker would."""
    job = await store.get(job_id)
    for state in PATH_TO[target]:
        job = await store.transition(
            job_id,
            {job.state},
            state,
            job.version,
            now=SystemClock().now(),
            actor="test",
            updates=updates if state is JobState.LAUNCHING and updates else None,
        )
    return job
