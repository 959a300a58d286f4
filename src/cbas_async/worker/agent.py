"""The worker's composition root: `cbas worker` on instance boot.

IMDS gives the user data and identity; the user data names the tables, bucket, queue and
topic (and, on the local cloud, the endpoint); then `lifecycle.Worker` runs the attempt.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import aiohttp
import structlog
from structlog.contextvars import bound_contextvars

from cbas_async import logs
from cbas_async.aws import Clients, open_clients
from cbas_async.clock import Clock, SystemClock
from cbas_async.errors import ConfigError
from cbas_async.messages import UserData
from cbas_async.settings import Settings
from cbas_async.worker.buckets import Buckets, open_buckets
from cbas_async.worker.imds import ImdsClient
from cbas_async.worker.keys import job_key_provider
from cbas_async.worker.lifecycle import Worker
from cbas_async.worker.options import WorkerOptions
from cbas_async.worker.retry import retrying
from cbas_async.worker.services import Services

log = structlog.get_logger(__name__)

_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def settings_for(settings: Settings, data: UserData) -> Settings:
    """The settings as the user data says: its region, the home region (the tables and the
    job's files), deployment and endpoint (if any)."""
    regions = (data.home_region, data.region) if data.home_region != data.region else ()
    return settings.replace(
        region=data.region,
        regions=regions,
        deployment=data.deployment,
        endpoint_url=data.endpoint_url or settings.endpoint_url,
    )


async def run_worker(
    settings: Settings,
    *,
    clock: Clock,
    options: WorkerOptions | None = None,
    shutdown: asyncio.Event | None = None,
) -> int:
    """Run this instance's job attempt to its end; the process exit code (0 unless the
    worker itself broke). Setting `shutdown` asks for checkpoint, INTERRUPTED and exit."""
    options = options or WorkerOptions()
    async with aiohttp.ClientSession() as http:
        imds = ImdsClient(http=http, endpoint=settings.imds_endpoint)
        identity = await retrying(imds.identity, clock=clock, what="imds_identity", attempts=6)
        data = identity.user_data
        with bound_contextvars(
            job_id=data.job_id, attempt=data.attempt, instance_id=identity.instance_id
        ):
            log.info("worker_started", zone=identity.zone)
            settings = settings_for(settings, data)
            advertise = ""  # no command endpoint: nothing to advertise
            if data.command_endpoint:
                advertise = await _advertise_host(imds, settings, options, clock)
            async with _clients(settings, data, clock) as (clients, buckets):
                services = Services(
                    identity=identity,
                    clients=clients,
                    imds=imds,
                    settings=settings,
                    options=options,
                    clock=clock,
                    shutdown=shutdown or asyncio.Event(),
                    advertise_host=advertise,
                )
                worker = Worker(
                    identity=identity, clients=clients, buckets=buckets, services=services
                )
                code = await worker.run()
            log.info("worker_exiting", exit_code=code)
            return code


@asynccontextmanager
async def _clients(
    settings: Settings, data: UserData, clock: Clock
) -> AsyncIterator[tuple[Clients, Buckets]]:
    """The clients and buckets, on the attempt's session keys where the master issues them
    (the user data names their table), else on the instance profile."""
    if not data.credentials_table:
        async with (
            open_clients(settings) as clients,
            open_buckets(settings, data, clients.s3) as buckets,
        ):
            yield clients, buckets
        return
    async with (
        job_key_provider(settings, data.credentials_table, clock) as provider,
        open_clients(settings, provider=provider) as clients,
        open_buckets(settings, data, clients.s3, provider=provider) as buckets,
    ):
        yield clients, buckets


async def _advertise_host(
    imds: ImdsClient, settings: Settings, options: WorkerOptions, clock: Clock
) -> str:
    """The host SNS should POST to: as configured, else the bind host, else (bound to every
    interface, as on EC2) the instance's public IPv4."""
    if options.advertise_host:
        return options.advertise_host
    if settings.http_host not in _WILDCARD_HOSTS:
        return settings.http_host
    public = await retrying(imds.public_ipv4, clock=clock, what="imds_public_ipv4")
    if public is None:
        raise ConfigError("CBAS_WORKER_ADVERTISE_HOST", "no public IPv4: say where SNS can POST")
    return public


def main_worker(environ: Mapping[str, str]) -> int:
    """`cbas worker`: settings from `environ`, logs, the loop (uvloop when installed)."""
    try:
        settings = Settings.from_env(environ)
        options = WorkerOptions.from_env(environ)
    except ConfigError as exc:
        print(f"cbas worker: {exc}", file=sys.stderr)
        return 2
    logs.configure()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            code = runner.run(_serve(settings, options))
        except Exception as exc:
            log.exception("worker_crashed")
            for cause in exc.exceptions if isinstance(exc, ExceptionGroup) else ():
                log.error("worker_crash_cause", error=repr(cause))
            code = 1
    if options.poweroff and code == 0:  # else systemd restarts the unit (Restart=on-failure)
        subprocess.run(["shutdown", "-h", "now"], check=False)  # on EC2: terminate the instance
    return code


async def _serve(settings: Settings, options: WorkerOptions) -> int:
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shutdown.set)
    return await run_worker(settings, clock=SystemClock(), options=options, shutdown=shutdown)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
