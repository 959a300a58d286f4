"""Small helpers for the web tests: specs, and moving a job along its states."""

from __future__ import annotations

from typing import Any

from cbas_async.clock import SystemClock
from cbas_async.records import JobCost, JobPlacement, JobRecord
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


async def move_across_regions(
    store: JobStore, job_id: str, first: JobPlacement, then: JobPlacement, priced: JobCost
) -> JobRecord:
    """A PENDING job's attempt 1 runs in `first`'s region and is interrupted; its attempt 2
    is LAUNCHING in `then`'s, attempt 1 priced as `priced` says, as the master writes them."""
    job = await store.get(job_id)
    moves: list[tuple[JobState, dict[str, Any]]] = [
        (JobState.LAUNCHING, {"updates": {"placement": first}}),
        (JobState.RUNNING, {}),
        (JobState.INTERRUPTED, {}),
        (JobState.PENDING, {"new_attempt": 2, "updates": priced.to_item()}),
        (JobState.LAUNCHING, {"updates": {"placement": then}}),
    ]
    for state, extra in moves:
        job = await store.transition(
            job_id,
            {job.state},
            state,
            job.version,
            now=SystemClock().now(),
            actor="test",
            attempt=job.attempt,
            **extra,
        )
    return job
