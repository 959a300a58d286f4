"""REST API requests per second: the master's own aiohttp app (`master.app.http_app`, as
`open_master` builds it) on 127.0.0.1, backed by a moto server in a child process, under an
aiohttp client keeping a fixed number of requests in flight.

Baseline in the same run: `/healthz` on the same server (no auth, no store). An
authenticated 404 (a job id that cannot exist) isolates the bearer token's check, which reads
DynamoDB on every request.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiodynamo.client import Client
from aiodynamo.expressions import HashKey
from aiodynamo.models import BatchWriteRequest
from aiohttp import web

from benchmarks.rates import Rate, best, table, timed_counted
from cbas_async import logs
from cbas_async.aws import open_clients
from cbas_async.bootstrap import bootstrap
from cbas_async.bus import Bus
from cbas_async.clock import SystemClock
from cbas_async.deployment import Session, open_session
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.httpserver import HttpServer
from cbas_async.jobs import parse_spec
from cbas_async.local.cloud import local_settings
from cbas_async.master.app import http_app
from cbas_async.master.health import Health
from cbas_async.metrics import Metrics
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore, new_job_id
from cbas_async.web import WebParts
from cbas_async.web.auth import TokenStore

SPEC = parse_spec({"name": "bench", "command": ["true"], "checkpoint": {"method": "none"}})
# the states of the template jobs; the others are copies of them, a third each
TEMPLATE_PATHS = (
    (JobState.PENDING,),
    (JobState.PENDING, JobState.LAUNCHING, JobState.RUNNING),
    (JobState.PENDING, JobState.LAUNCHING, JobState.RUNNING, JobState.SUCCEEDED),
)
BATCH_WRITE_MAX = 25  # DynamoDB's most items per BatchWriteItem
_MOTO_CHILD = (
    "import sys\n"
    "from cbas_async.local.moto_server import MotoServer\n"
    "server = MotoServer()\n"
    "print(server.start(), flush=True)\n"
    "sys.stdin.read()\n"  # until the parent closes our stdin
    "server.stop()\n"
)


@asynccontextmanager
async def moto_process() -> AsyncIterator[str]:
    """The local cloud's moto server in a child process, so its CPU is not charged to the
    API's process (as in `cbas local`, where the master is another process); its URL."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _MOTO_CHILD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        url = (await asyncio.wait_for(child.stdout.readline(), 60)).decode().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"moto child did not start: {url!r}")
        yield url
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            child.kill()
            await child.wait()


async def _template(store: JobStore, path: tuple[JobState, ...]) -> str:
    now = SystemClock().now
    job = await store.create(SPEC, now=now(), actor="bench")
    for state in path:
        job = await store.transition(
            job.job_id, {job.state}, state, job.version, now=now(), actor="bench"
        )
    return job.job_id


async def make_jobs(cloud: Session, jobs: int) -> list[str]:
    """A few jobs written by the store, and copies of their items (job and history) under
    new ids. Copies, because each of the store's transactions costs moto a deep copy of
    the whole table, which would make setup time grow with the square of the jobs."""
    templates = [await _template(cloud.store, path) for path in TEMPLATE_PATHS]
    dynamo, tables = cloud.clients.dynamo, cloud.resources
    originals = [
        (
            await dynamo.get_item(tables.jobs_table, {"job_id": job_id}),
            [e async for e in dynamo.query(tables.events_table, HashKey("job_id", job_id))],
        )
        for job_id in templates
    ]
    job_ids, puts = list(templates), []
    now = SystemClock().now()
    while len(job_ids) < jobs:
        job, events = originals[len(job_ids) % len(originals)]
        job_id = new_job_id(now)
        job_ids.append(job_id)
        puts.append((tables.jobs_table, {**job, "job_id": job_id}))
        puts += [(tables.events_table, {**e, "job_id": job_id}) for e in events]
    for at in range(0, len(puts), BATCH_WRITE_MAX):
        await _batch_put(dynamo, puts[at : at + BATCH_WRITE_MAX])
    return job_ids


async def _batch_put(dynamo: Client, puts: list[tuple[str, dict[str, Any]]]) -> None:
    by_table: dict[str, list[dict[str, Any]]] = {}
    for name, item in puts:
        by_table.setdefault(name, []).append(item)
    request = {name: BatchWriteRequest(items_to_put=items) for name, items in by_table.items()}
    unprocessed = await dynamo.batch_write(request)
    if any(result.unput_items for result in unprocessed.values()):
        raise RuntimeError("moto left items of a batch write unprocessed")


def master_app(cloud: Session) -> web.Application:
    """The master's HTTP app as `open_master` builds it; health fresh, so /healthz is 200."""
    clock = SystemClock()
    health = Health(clock=clock, max_age_s=3600.0)
    health.mark("sqs")
    health.mark("dynamodb")
    bus = Bus()
    parts = WebParts(
        cloud=cloud, clock=clock, bus=bus, tracker=HeartbeatTracker(), metrics=Metrics()
    )
    return http_app(cloud.settings, cloud.clients, cloud.resources, health, bus, clock, parts)


async def load(
    http: aiohttp.ClientSession,
    paths: Iterator[str],
    *,
    status: int,
    concurrency: int,
    duration_s: float,
) -> Rate:
    """`concurrency` clients, each sending its next request as soon as the last one is
    answered, until `duration_s` is up. Every answer must have `status`."""

    async def client(deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            async with http.get(next(paths)) as response:
                await response.read()
                if response.status != status:
                    raise RuntimeError(f"{response.url}: {response.status}, not {status}")
            done += 1
        return done

    async def all_clients() -> int:
        deadline = time.perf_counter() + duration_s
        async with asyncio.TaskGroup() as group:
            clients = [group.create_task(client(deadline)) for _ in range(concurrency)]
        return sum(c.result() for c in clients)

    return await timed_counted(all_clients)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiResult:
    jobs: int
    runs: int
    duration_s: float
    concurrency: int
    healthz: Rate
    auth_only: Rate
    listing: Rate
    detail: Rate


async def run(
    endpoint_url: str,
    scratch: Path,
    *,
    jobs: int = 200,
    concurrency: int = 16,
    duration_s: float = 3.0,
    repeats: int = 2,
) -> ApiResult:
    settings = local_settings(Settings(deployment="bench-api", home=scratch), endpoint_url)
    async with open_clients(settings) as clients:
        await bootstrap(clients, settings)
    async with open_session(settings) as cloud:
        job_ids = await make_jobs(cloud, jobs)
        token = await TokenStore(store=cloud.store, clock=SystemClock()).create(name="bench")
        async with HttpServer(app=master_app(cloud), host="127.0.0.1", port=0) as server:
            headers = {"Authorization": f"Bearer {token}"}
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(
                server.url, headers=headers, connector=connector
            ) as http:
                return await _measure(http, job_ids, concurrency, duration_s, repeats)


async def _measure(
    http: aiohttp.ClientSession,
    job_ids: list[str],
    concurrency: int,
    duration_s: float,
    repeats: int,
) -> ApiResult:
    routes = {
        "healthz": (itertools.repeat("/healthz"), 200),
        "auth_only": (itertools.repeat("/api/v1/jobs/no-such-job"), 404),
        "listing": (itertools.repeat("/api/v1/jobs?limit=50"), 200),
        "detail": (itertools.cycle(f"/api/v1/jobs/{j}" for j in job_ids), 200),
    }
    runs: dict[str, list[Rate]] = {name: [] for name in routes}
    for _ in range(repeats):  # interleaved, so every route sees the same background load
        for name, (paths, status) in routes.items():
            rate = await load(
                http, paths, status=status, concurrency=concurrency, duration_s=duration_s
            )
            runs[name].append(rate)
    return ApiResult(
        jobs=len(job_ids),
        runs=repeats,
        duration_s=duration_s,
        concurrency=concurrency,
        healthz=best(runs["healthz"]),
        auth_only=best(runs["auth_only"]),
        listing=best(runs["listing"]),
        detail=best(runs["detail"]),
    )


def markdown(result: ApiResult) -> str:
    rows = [
        ("`GET /api/v1/jobs?limit=50` (list)", result.listing),
        ("`GET /api/v1/jobs/{id}` (detail + history)", result.detail),
        ("authenticated 404 (token check only)", result.auth_only),
        ("`GET /healthz` (baseline)", result.healthz),
    ]
    return (
        f"{result.jobs} jobs (a third each PENDING, RUNNING, SUCCEEDED), "
        f"{result.concurrency} requests in flight, best of {result.runs} runs of "
        f"{result.duration_s:.0f} s per route. CPU is this process's per request: the server "
        "and the load-generating client share it; moto runs in a child process and is not "
        "counted.\n\n" + table(rows, result.healthz, "request") + "\n\n"
        "List and detail wait on moto's DynamoDB, which serves one request at a time and "
        "scans a table per query, so their ratio says more about moto than about the master; "
        "the CPU column is the master's own cost (with the client's). A token that verified "
        "is cached for 30 s, so the 404 row is routing plus the token check without a "
        "DynamoDB read (one per token per 30 s).\n"
    )


async def _main() -> None:
    logs.configure(level=40)
    with tempfile.TemporaryDirectory(prefix="cbas-bench-api-") as tmp:
        async with moto_process() as url:
            print(markdown(await run(url, Path(tmp))))


if __name__ == "__main__":
    asyncio.run(_main())
