"""The `/api/v1` job routes: list, submit, detail (with timeline and attempts), cancel."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from cbas_async import commands
from cbas_async.errors import JobNotFound
from cbas_async.records import JobEvent, JobRecord
from cbas_async.states import JobState
from cbas_async.web import paging
from cbas_async.web.errors import ApiError
from cbas_async.web.keys import CLOCK, CLOUD, LIMITS
from cbas_async.web.submission import read_submission

PREFIX = "/api/v1"
_JOB_ID = re.compile(r"j-\d{8}T\d{6}-[0-9a-f]{8}", re.ASCII)
_STATES = [s.value for s in JobState]


def job_id_of(request: web.Request) -> str:
    """The path's job id; an id that cannot exist is a 404 without asking DynamoDB."""
    job_id = request.match_info["job_id"]
    if not _JOB_ID.fullmatch(job_id):
        raise JobNotFound(job_id)
    return job_id


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(400, f"must be a whole number from {low} to {high}", field=name)
    return int(text)


def states_param(request: web.Request) -> list[JobState]:
    text = request.query.get("state")
    if text is None:
        return list(JobState)
    if text.upper() not in _STATES:
        raise ApiError(400, f"must be one of {', '.join(_STATES)}", field="state")
    return [JobState(text.upper())]


async def list_jobs(request: web.Request) -> web.Response:
    states = states_param(request)
    limit = int_param(request, "limit", 50, 1, request.app[LIMITS].page_max)
    token = request.query.get("page_token")
    jobs, next_token = await paging.page(request.app[CLOUD].store, states, limit, token)
    return web.json_response({"jobs": [j.to_json() for j in jobs], "next_page_token": next_token})


async def submit_job(request: web.Request) -> web.Response:
    """Validate the spec and its uploaded inputs first; only a valid job is stored."""
    with tempfile.TemporaryDirectory(prefix="cbas-upload-") as tmp:
        loaded = await read_submission(request, Path(tmp), request.app[LIMITS])
        job = await commands.submit(request.app[CLOUD], loaded, clock=request.app[CLOCK])
    location = f"{PREFIX}/jobs/{job.job_id}"
    return web.json_response(job.to_json(), status=201, headers={"Location": location})


async def job_detail(request: web.Request) -> web.Response:
    store = request.app[CLOUD].store
    job = await store.get(job_id_of(request))
    return web.json_response(detail(job, await store.events(job.job_id)))


async def cancel_job(request: web.Request) -> web.Response:
    """Idempotent: cancelling a finished job returns it unchanged."""
    job_id = job_id_of(request)
    job = await commands.cancel(request.app[CLOUD], job_id, clock=request.app[CLOCK])
    return web.json_response(job.to_json())


def detail(job: JobRecord, events: list[JobEvent]) -> dict[str, Any]:
    """The job as `to_json` shows it, plus its history, attempts and checkpoints."""
    checkpoints = [c.to_item() for c in (job.checkpoint_prev, job.checkpoint) if c is not None]
    return {
        **job.to_json(),
        "max_attempts": job.max_attempts,
        "events": [event_json(e) for e in events],
        "attempts": attempts(events),
        "checkpoints": checkpoints,
    }


def event_json(event: JobEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "from_state": event.from_state.value if event.from_state else None,
        "to_state": event.to_state.value,
        "at": event.at.isoformat(),
        "attempt": event.attempt,
        "actor": event.actor,
        "detail": event.detail,
    }


def attempts(events: list[JobEvent]) -> list[dict[str, Any]]:
    """One entry per attempt that left a trace: when it began, its last state and when."""
    found: dict[int, dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: e.seq):
        if event.attempt < 1:
            continue
        entry = found.setdefault(
            event.attempt,
            {"attempt": event.attempt, "started_at": event.at.isoformat(), "states": []},
        )
        entry["states"].append(event.to_state.value)
        entry["last_state"] = event.to_state.value
        entry["last_at"] = event.at.isoformat()
    return [found[n] for n in sorted(found)]


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/jobs", list_jobs)
    app.router.add_post(f"{PREFIX}/jobs", submit_job)
    app.router.add_get(f"{PREFIX}/jobs/{{job_id}}", job_detail)
    app.router.add_post(f"{PREFIX}/jobs/{{job_id}}/cancel", cancel_job)
