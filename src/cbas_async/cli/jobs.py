"""The job commands of `cbas`: submit, status, list, wait, cancel, logs, outputs; through the
master's REST API when CBAS_API_URL is set, else straight to AWS."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from cbas_async import commands
from cbas_async.apiclient import open_api
from cbas_async.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from cbas_async.clock import SystemClock
from cbas_async.deployment import open_session
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.specfile import load_spec_file
from cbas_async.states import JobState

Handler = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def _print_job(job: JobRecord, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job.to_json(), indent=2, sort_keys=True))
        return
    where = job.placement
    cost = job.cost
    print(f"job        {job.job_id} ({job.name})")
    print(f"state      {job.state.value}   attempt {job.attempt}/{job.spec.max_attempts}")
    placed = [where.instance_type, where.region, where.zone, where.instance_id] if where else []
    print(f"placement  {_words(placed) or '-'}")
    print(
        f"cost       spot ${cost.spot_usd:.4f}  on-demand ${cost.ondemand_usd:.4f}"
        f"  work redone {cost.work_redone_s:.0f}s"
    )
    for number, priced in sorted(cost.attempts.items()):
        ran = _words([priced.instance_type, priced.region, priced.zone, priced.outcome.value])
        print(f"attempt {number:<3}{ran}  ${priced.cost_usd:.4f}")
    if job.reason:
        print(f"reason     {job.reason}")


def _words(words: list[str | None]) -> str:
    return " ".join(w for w in words if w)


async def _with_jobs(
    settings: Settings, body: Callable[[commands.Jobs], Coroutine[Any, Any, int]]
) -> int:
    """Through the master's REST API when CBAS_API_URL is set, else straight to AWS."""
    if settings.api_url is not None:
        async with open_api(settings) as client:
            return await body(client)
    async with open_session(settings) as session:
        return await body(commands.SessionJobs(session, clock=SystemClock()))


async def _submit(settings: Settings, args: argparse.Namespace) -> int:
    loaded = load_spec_file(args.spec)  # a bad spec fails here, before any connection

    async def body(jobs: commands.Jobs) -> int:
        job = await jobs.submit(loaded)
        print(json.dumps({"job_id": job.job_id}) if args.json else job.job_id)
        return EXIT_OK

    return await _with_jobs(settings, body)


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    async def body(jobs: commands.Jobs) -> int:
        _print_job(await jobs.get(args.job_id), args.json)
        return EXIT_OK

    return await _with_jobs(settings, body)


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    states = [JobState(args.state)] if args.state else list(JobState)

    async def body(source: commands.Jobs) -> int:
        jobs = await source.list_jobs(states)
        if args.json:
            print(json.dumps([j.to_json() for j in jobs], indent=2, sort_keys=True))
            return EXIT_OK
        print(f"{'JOB':34} {'NAME':16} {'STATE':12} ATTEMPT")
        for j in jobs:
            print(f"{j.job_id:34} {j.name[:16]:16} {j.state.value:12} {j.attempt}")
        return EXIT_OK

    return await _with_jobs(settings, body)


async def _wait(settings: Settings, args: argparse.Namespace) -> int:
    async def body(jobs: commands.Jobs) -> int:
        done = await commands.wait_for(
            jobs.get,
            args.job_ids,
            timeout_s=args.timeout,
            clock=SystemClock(),
            on_change=lambda j: print(f"{j.job_id} {j.state.value}", flush=True),
        )
        if done is None:
            return EXIT_USAGE
        ok = all(j.state is JobState.SUCCEEDED for j in done.values())
        return EXIT_OK if ok else EXIT_FAILED

    return await _with_jobs(settings, body)


async def _cancel(settings: Settings, args: argparse.Namespace) -> int:
    async def body(jobs: commands.Jobs) -> int:
        job = await jobs.cancel(args.job_id)
        print(f"{job.job_id} {job.state.value}")
        return EXIT_OK

    return await _with_jobs(settings, body)


async def _logs(settings: Settings, args: argparse.Namespace) -> int:
    clock = SystemClock()

    async def body(jobs: commands.Jobs) -> int:
        shown: set[str] = set()
        heading: tuple[int, str] | None = None
        while True:
            for chunk, data in await jobs.read_logs(args.job_id, shown):
                if heading != (chunk.attempt, chunk.stream):
                    heading = (chunk.attempt, chunk.stream)
                    print(f"==> attempt {chunk.attempt} {chunk.stream} <==", flush=True)
                sys.stdout.write(data.decode(errors="replace"))
                shown.add(chunk.key)
            sys.stdout.flush()
            if not args.follow or (await jobs.get(args.job_id)).state.terminal:
                return EXIT_OK
            await clock.sleep(1.0)

    return await _with_jobs(settings, body)


async def _outputs(settings: Settings, args: argparse.Namespace) -> int:
    args.to.mkdir(parents=True, exist_ok=True)

    async def body(jobs: commands.Jobs) -> int:
        for path in await jobs.outputs(args.job_id, args.to):
            print(path)
        return EXIT_OK

    return await _with_jobs(settings, body)


HANDLERS: dict[str, Handler] = {
    "submit": _submit,
    "status": _status,
    "list": _list,
    "wait": _wait,
    "cancel": _cancel,
    "logs": _logs,
    "outputs": _outputs,
}
