"""The `/api/v1` job routes: list, submit, detail (with timeline and attempts), cancel.

A `user` token sees only the jobs its owner submitted: another's job answers 404 exactly as
an unknown id does, and listings leave it out. An `admin` token sees every job."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from cbas_async import commands
from cbas_async.errors import JobNotFound
from cbas_async.events import JobSubmitted
from cbas_async.records import JobEvent, JobRecord
from cbas_async.states import JobState
from cbas_async.web import paging
from cbas_async.web.auth import caller
from cbas_async.web.errors import ApiError
from cbas_async.web.keys import BUS, CLOCK, CLOUD, LIMITS
from cbas_async.web.schemas import AttemptSummary, JobDetail, JobPage
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


async def visible_job(request: web.Request) -> JobRecord:
    """The path's job, if the caller may see it; else `JobNotFound`, as for an unknown id."""
    job_id = job_id_of(request)
    job = await request.app[CLOUD].store.get(job_id)
    if not caller(request).may_see(job.submitted_by):
        raise JobNotFound(job_id)
    return job


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
    store, who = request.app[CLOUD].store, caller(request)
    jobs, next_token = await paging.page(
        store, states, limit, token, keep=lambda job: who.may_see(job.submitted_by)
    )
    body = JobPage(jobs=jobs, next_page_token=next_token)
    return web.json_response(body.model_dump(mode="json"))


async def submit_job(request: web.Request) -> web.Response:
    """Validate the spec and its uploaded inputs first; only a valid job is stored. The job
    records the token's owner as `submitted_by` (the body cannot name one), and wakes the
    master's supervisor so the job is placed at once rather than at its next tick."""
    owner = caller(request).owner
    with tempfile.TemporaryDirectory(prefix="cbas-upload-") as tmp:
        loaded = await read_submission(request, Path(tmp), request.app[LIMITS])
        job = await commands.submit(
            request.app[CLOUD], loaded, clock=request.app[CLOCK], submitted_by=owner
        )
    await request.app[BUS].publish(JobSubmitted(job_id=job.job_id))  # the master places it now
    location = f"{PREFIX}/jobs/{job.job_id}"
    return web.json_response(job.to_json(), status=201, headers={"Location": location})


async def job_detail(request: web.Request) -> web.Response:
    job = await visible_job(request)
    return web.json_response(detail(job, await request.app[CLOUD].store.events(job.job_id)))


async def cancel_job(request: web.Request) -> web.Response:
    """Idempotent: cancelling a finished job returns it unchanged."""
    job_id = (await visible_job(request)).job_id
    job = await commands.cancel(request.app[CLOUD], job_id, clock=request.app[CLOCK])
    return web.json_response(job.to_json())


def detail(job: JobRecord, events: list[JobEvent]) -> dict[str, Any]:
    """The job as its record shows it, plus its history, attempts and checkpoints."""
    checkpoints = [c for c in (job.checkpoint_prev, job.checkpoint) if c is not None]
    fields = {name: getattr(job, name) for name in JobRecord.model_fields}
    found = attempts(job, events)
    body = JobDetail(**fields, events=events, attempts=found, checkpoints=checkpoints)
    return body.to_json()


def attempts(job: JobRecord, events: list[JobEvent]) -> list[AttemptSummary]:
    """One entry per attempt that left a trace: when it began, its states, the last and when,
    where it ran and what it cost."""
    found: dict[int, list[JobEvent]] = {}
    for event in sorted(events, key=lambda e: e.seq):
        if event.attempt >= 1:
            found.setdefault(event.attempt, []).append(event)
    return [attempt_summary(job, number, own) for number, own in sorted(found.items())]


def attempt_summary(job: JobRecord, number: int, own: list[JobEvent]) -> AttemptSummary:
    """Where: the priced attempt's region, else the placement its history recorded, else
    (the live attempt) the job's placement. Cost: the priced attempt's, once priced."""
    priced = job.cost.attempts.get(number)
    placed = [e.placement for e in own if e.placement is not None]
    placement = placed[-1] if placed else job.placement if number == job.attempt else None
    where = priced or placement
    regions = [w.region for w in (priced, placement) if w is not None and w.region]
    return AttemptSummary(
        attempt=number,
        started_at=own[0].at,
        states=[e.to_state for e in own],
        last_state=own[-1].to_state,
        last_at=own[-1].at,
        region=regions[0] if regions else None,
        zone=where.zone if where else None,
        instance_type=where.instance_type if where else None,
        cost_usd=priced.cost_usd if priced else None,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/jobs", list_jobs)
    app.router.add_post(f"{PREFIX}/jobs", submit_job)
    app.router.add_get(f"{PREFIX}/jobs/{{job_id}}", job_detail)
    app.router.add_post(f"{PREFIX}/jobs/{{job_id}}/cancel", cancel_job)
