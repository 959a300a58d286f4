"""The `cbas` command line: parses arguments, runs the command, prints, sets the exit code."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from cbas_async import commands, localenv, logs
from cbas_async.apiclient import open_api
from cbas_async.clock import SystemClock
from cbas_async.errors import (
    ApiFailed,
    CloudUnreachable,
    ConfigError,
    InvalidSpec,
    JobNotFound,
    StaleWrite,
)
from cbas_async.records import JobRecord
from cbas_async.session import open_session
from cbas_async.settings import Settings
from cbas_async.sim.options import add_arguments as add_simulate_arguments
from cbas_async.specfile import load_spec_file
from cbas_async.states import JobState

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cbas", description="Batch jobs on spot instances.")
    sub = parser.add_subparsers(dest="command", required=True)
    local = sub.add_parser("local", help="local cloud + master, in the foreground")
    local.add_argument("--port", type=int, default=8080)
    local.add_argument("--trace", type=Path)
    local.add_argument("--speed", type=float, default=1.0)
    local.add_argument("--no-master", action="store_true", help="start no master process")
    sub.add_parser("master", help="the master daemon")
    sub.add_parser("worker", help="the worker daemon (on instance boot)")
    sub.add_parser("bootstrap", help="create the deployment's AWS resources (idempotent)")
    sub.add_parser("demo", help="local cloud + example jobs + report")
    p = sub.add_parser("submit", help="submit a job spec (JSON or JDL)")
    p.add_argument("spec", type=Path)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("status", help="show one job")
    p.add_argument("job_id")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("list", help="list jobs")
    p.add_argument("--state", type=str.upper, choices=[s.value for s in JobState])
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("wait", help="wait for jobs to finish")
    p.add_argument("job_ids", nargs="+")
    p.add_argument("--timeout", type=float, default=3600.0)
    p = sub.add_parser("cancel", help="cancel a job")
    p.add_argument("job_id")
    p = sub.add_parser("logs", help="print a job's logs, every attempt in order")
    p.add_argument("job_id")
    p.add_argument("--follow", action="store_true")
    p = sub.add_parser("outputs", help="download a job's output files")
    p.add_argument("job_id")
    p.add_argument("--to", type=Path, required=True)
    p = sub.add_parser("interrupt", help="send a spot interruption notice (local cloud)")
    p.add_argument("job_id")
    p = sub.add_parser("token", help="API tokens")
    p.add_argument("action", choices=["create"])
    p.add_argument("--name", default="", help="a note to tell tokens apart")
    _add_simulate(sub)
    return parser


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("simulate", help="replay spot traces against policies")
    add_simulate_arguments(p)


def _print_job(job: JobRecord, as_json: bool) -> None:
    if as_json:
        print(json.dumps(job.to_json(), indent=2, sort_keys=True))
        return
    where = job.placement
    cost = job.cost
    print(f"job        {job.job_id} ({job.name})")
    print(f"state      {job.state.value}   attempt {job.attempt}/{job.spec.max_attempts}")
    print(
        f"placement  {where.instance_type if where else '-'} {(where and where.zone) or ''}"
        f" {(where and where.instance_id) or ''}".rstrip()
    )
    print(
        f"cost       spot ${cost.spot_usd:.4f}  on-demand ${cost.ondemand_usd:.4f}"
        f"  work redone {cost.work_redone_s:.0f}s"
    )
    if job.reason:
        print(f"reason     {job.reason}")


async def _with_session(settings: Settings, body: Callable[[Any], Coroutine[Any, Any, int]]) -> int:
    async with open_session(settings) as session:
        return await body(session)


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


async def _token(settings: Settings, args: argparse.Namespace) -> int:
    from cbas_async.web.auth import TokenStore

    async def body(session: Any) -> int:
        print(await TokenStore(store=session.store, clock=SystemClock()).create(name=args.name))
        return EXIT_OK

    return await _with_session(settings, body)


async def _interrupt(environ: Mapping[str, str], args: argparse.Namespace) -> int:
    import aiohttp

    control = environ.get("CBAS_LOCAL_CONTROL_URL")
    if not control:
        raise ConfigError("CBAS_LOCAL_CONTROL_URL", "not set: is `cbas local` running?")
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(f"{control}/interrupt/{args.job_id}") as response:
                body = await response.json()
        except aiohttp.ClientConnectionError as exc:
            raise CloudUnreachable(control, str(exc)) from exc
    if response.status == 404:
        print(body.get("error"), file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"notice sent to {body['instance_id']}; reclaimed in {body['notice_s']:.0f}s")
    return EXIT_OK


async def _bootstrap(settings: Settings) -> int:
    from cbas_async.aws import open_clients
    from cbas_async.bootstrap import bootstrap

    async with open_clients(settings) as clients:
        resources = await bootstrap(clients, settings)
    print(json.dumps(dataclasses.asdict(resources), indent=2))
    return EXIT_OK


def _run(coroutine: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _dispatch(args: argparse.Namespace, environ: dict[str, str]) -> int:
    settings = Settings.from_env(environ)
    if args.command not in ("master", "worker", "local", "demo"):
        # an interactive command should say "unreachable" in seconds, not retry for a minute
        settings = settings.replace(aws_retry_s=min(settings.aws_retry_s, 8.0))
    command = args.command
    if command == "master":
        from cbas_async.master.app import serve

        return _run(serve(settings))
    if command == "worker":
        from cbas_async.worker.agent import main_worker

        return main_worker(environ)
    if command == "local":
        from cbas_async.local.cloud import run_local

        settings = settings.replace(speed=args.speed)
        # off on the local cloud (moto's signatures are not real) unless forced on
        verify = "CBAS_SNS_VERIFY" in environ and settings.sns_verify
        return _run(
            run_local(
                settings,
                port=args.port,
                with_master=not args.no_master,
                trace=args.trace,
                sns_verify=verify,
            )
        )
    if command == "demo":
        from cbas_async.demo import run_demo

        return _run(run_demo(settings))
    if command == "simulate":
        from cbas_async.sim.cli import run

        return run(args)
    if command == "interrupt":
        return _run(_interrupt(environ, args))
    if command == "bootstrap":
        return _run(_bootstrap(settings))
    handler = _HANDLERS[command]
    return _run(handler(settings, args))


_HANDLERS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "submit": _submit,
    "status": _status,
    "list": _list,
    "wait": _wait,
    "cancel": _cancel,
    "logs": _logs,
    "outputs": _outputs,
    "token": _token,
}


_EXIT_CODES: dict[type[Exception], int] = {
    InvalidSpec: EXIT_USAGE,
    ConfigError: EXIT_USAGE,
    CloudUnreachable: EXIT_UNREACHABLE,
    JobNotFound: EXIT_NOT_FOUND,
    StaleWrite: EXIT_FAILED,
    ApiFailed: EXIT_FAILED,
}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of `cbas` and `python -m cbas_async`; returns the exit code."""
    args = _parser().parse_args(argv)
    env = localenv.effective(os.environ if environ is None else environ)
    # the demo prints its own progress; only warnings from the parts underneath
    logs.configure(level=logging.WARNING if args.command == "demo" else logging.INFO)
    try:
        return _dispatch(args, env)
    except (InvalidSpec, ConfigError, CloudUnreachable, JobNotFound, StaleWrite, ApiFailed) as exc:
        prefix = "configuration: " if isinstance(exc, ConfigError) else ""
        print(f"cbas: {prefix}{exc}", file=sys.stderr)
        return _EXIT_CODES[type(exc)]
    except KeyboardInterrupt:
        return 130
