"""The `/api/v1` routes about the fleet: spot prices (with the max prices in use) and
workers (live jobs, their instances, and when each was last heard from). A `user` token
sees only its own jobs' workers and max prices: never another user's job ids."""

from __future__ import annotations

import re

from aiohttp import web

from cbas_async.jobs import Resources
from cbas_async.records import JobRecord
from cbas_async.states import JobState
from cbas_async.web.api import PREFIX, int_param
from cbas_async.web.auth import caller
from cbas_async.web.errors import ApiError
from cbas_async.web.keys import CLOCK, CLOUD, PRICES, TRACKER
from cbas_async.web.schemas import MaxPrice, Prices, Worker, Workers

_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*", re.ASCII)
WORKER_STATES = (JobState.LAUNCHING, JobState.RUNNING, JobState.INTERRUPTED)
DEFAULT_TYPES = tuple(Resources().instance_types)  # the spec's default
MAX_TYPES = 10


def types_param(request: web.Request, in_use: list[str]) -> list[str]:
    text = request.query.get("instance_type", "")
    types = [t.strip() for t in text.split(",") if t.strip()] or in_use or list(DEFAULT_TYPES)
    bad = [t for t in types if not _INSTANCE_TYPE.fullmatch(t)]
    if bad or len(types) > MAX_TYPES:
        problem = f"not an instance type: {bad[0]!r}" if bad else f"at most {MAX_TYPES} types"
        raise ApiError(400, problem, field="instance_type")
    return types


def max_price(job: JobRecord) -> MaxPrice | None:
    placement = job.placement
    if placement is None or not placement.instance_type:
        return None
    return MaxPrice(
        job_id=job.job_id,
        region=placement.region,
        zone=placement.zone,
        instance_type=placement.instance_type,
        max_price_usd_per_hour=placement.max_price_usd_per_hour,
    )


def regions_param(request: web.Request, known: list[str]) -> list[str]:
    """The regions asked (comma separated), each one of the deployment's; all when absent."""
    text = request.query.get("region", "")
    asked = [r.strip() for r in text.split(",") if r.strip()]
    unknown = [r for r in asked if r not in known]
    if unknown:
        problem = f"not a region of this deployment: {unknown[0]!r} (it has {', '.join(known)})"
        raise ApiError(400, problem, field="region")
    return asked or known


async def _live_jobs(request: web.Request) -> list[JobRecord]:
    """The jobs with a worker that the caller may see."""
    live = await request.app[CLOUD].store.all_in_states(WORKER_STATES)
    who = caller(request)
    return [job for job in live if who.may_see(job.submitted_by)]


async def spot_prices(request: web.Request) -> web.Response:
    live = await _live_jobs(request)
    in_use = [m for m in (max_price(j) for j in live) if m is not None]
    types = types_param(request, sorted({m.instance_type for m in in_use}))
    hours = int_param(request, "hours", 24, 1, 24 * 30)
    prices = request.app[PRICES]
    regions = regions_param(request, prices.regions)
    series = await prices.series(types, hours, regions)
    body = {
        "regions": prices.regions,
        "instance_types": types,
        "series": series,
        "max_prices": [m for m in in_use if m.region in regions],
    }
    return web.json_response(Prices.model_validate(body).model_dump(mode="json"))


def worker_json(job: JobRecord, silent_s: float | None) -> Worker:
    placement = job.placement
    return Worker(
        job_id=job.job_id,
        name=job.name,
        state=job.state,
        attempt=job.attempt,
        instance_id=placement.instance_id if placement else None,
        instance_type=placement.instance_type if placement else None,
        region=placement.region if placement else None,
        zone=placement.zone if placement else None,
        last_ping_s_ago=None if silent_s is None else round(silent_s, 3),
    )


async def workers(request: web.Request) -> web.Response:
    """`last_ping_s_ago` is null until this master has heard from the current attempt."""
    live = await _live_jobs(request)
    tracker, now = request.app[TRACKER], request.app[CLOCK].monotonic()
    body: list[Worker] = []
    for job in sorted(live, key=lambda j: j.created_at):
        seen = tracker.last_seen(job.job_id)
        fresh = seen is not None and seen[0] == job.attempt
        fresh = fresh and tracker.pinged(job.job_id, job.attempt)
        body.append(worker_json(job, now - seen[1] if seen is not None and fresh else None))
    return web.json_response(Workers(workers=body).model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/spot/prices", spot_prices)
    app.router.add_get(f"{PREFIX}/workers", workers)
