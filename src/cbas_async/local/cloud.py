"""`cbas local`: the whole system on one machine. This process holds the local "AWS"
(moto), the IMDS emulator, the hypervisor, the interrupter and EC2's state-change events;
the master runs as a process of its own, so it can be killed and restarted while "AWS"
keeps its state."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from cbas_async import localenv
from cbas_async.account import open_account_clients, set_up_account
from cbas_async.aws import Clients, open_clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.clock import Clock, SystemClock
from cbas_async.components import Component, run_components
from cbas_async.deployment import make_store
from cbas_async.errors import ConfigError
from cbas_async.hostpath import unpacked_bin
from cbas_async.httpserver import HttpServer
from cbas_async.local.ec2_events import StateChangeEmitter
from cbas_async.local.fault_control import add_fault_routes
from cbas_async.local.faults import FaultGate
from cbas_async.local.hypervisor import Hypervisor
from cbas_async.local.image import host_env
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.local.instance_role import InstanceRole
from cbas_async.local.interrupter import Interrupter
from cbas_async.local.jobs_dir import jobs_dir
from cbas_async.local.master_process import MasterProcess
from cbas_async.local.moto_server import LOCAL_KEY, MotoServer
from cbas_async.local.spot_market import (
    LocalMarket,
    Targets,
    instance_targets,
    load_trace_market,
    market_timeline,
)
from cbas_async.settings import Settings
from cbas_async.spot_role import make_spot_role_as_aws_names_it
from cbas_async.web.auth import TokenStore
from cbas_async.web.tokens import TokenNotFound
from cbas_async.wheels import this_wheel, upload_wheel

log = structlog.get_logger(__name__)

INTERRUPTER = web.AppKey("interrupter", Interrupter)
LOCAL_TOKEN_NAME = "cbas local"


async def interrupt_route(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    instance_id = await request.app[INTERRUPTER].interrupt(job_id)
    if instance_id is None:
        return web.json_response({"error": f"no running instance for job {job_id}"}, status=404)
    notice_s = request.app[INTERRUPTER].notice_s
    return web.json_response({"job_id": job_id, "instance_id": instance_id, "notice_s": notice_s})


def local_settings(settings: Settings, endpoint_url: str, *, sns_verify: bool = False) -> Settings:
    """The master's and workers' settings on the local cloud. SNS verification is off
    unless forced on: moto's SNS signatures are not real ones."""
    return settings.replace(
        endpoint_url=endpoint_url,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
        sns_verify=sns_verify,
    )


@dataclass
class LocalCloud:
    """The running local cloud: its settings (pointing at moto) and parts."""

    settings: Settings
    resources: Resources
    hypervisor: Hypervisor
    interrupter: Interrupter
    control_url: str
    env: dict[str, str]
    faults: FaultGate
    ec2_events: StateChangeEmitter
    market: LocalMarket | None = None
    imds: ImdsEmulator | None = None
    role: InstanceRole | None = None  # the workers' role, as IMDS hands it out

    @property
    def parts(self) -> list[Component]:
        """The local cloud's running parts, as on AWS: instances, interruptions, events."""
        return [self.hypervisor, self.interrupter, self.ec2_events]


@asynccontextmanager
async def open_local_cloud(
    settings: Settings,
    *,
    clock: Clock | None = None,
    moto_port: int = 0,
    sns_verify: bool = False,
    trace: Path | None = None,
    api_url: str | None = None,
    fault_exempt_keys: frozenset[str] = frozenset(),
) -> AsyncIterator[LocalCloud]:
    """`trace`: replay it in a local spot market (a price CSV is also the master's prices).
    `api_url`: the master's address, written to local.env so the CLI goes through its API.
    `fault_exempt_keys`: access keys whose calls `LocalCloud.faults` never fails."""
    clock = clock or SystemClock()
    moto = MotoServer(port=moto_port, exempt_keys=fault_exempt_keys)
    url = await asyncio.to_thread(moto.start)
    try:
        local = _with_trace(local_settings(settings, url, sns_verify=sns_verify), trace, clock)
        async with AsyncExitStack() as stack:
            clients = await stack.enter_async_context(open_clients(local))
            resources = await bootstrap(clients, local)
            # the account set-up as on AWS: the launch names its instance profile and group
            accounts = await stack.enter_async_context(open_account_clients(local))
            await make_spot_role_as_aws_names_it(accounts.iam)
            account = await set_up_account(clients, accounts, local, resources)
            await _upload_wheel(clients, resources.bucket)
            role = InstanceRole(sts=accounts.sts, role_arn=account.roles["worker"], clock=clock)
            imds = await stack.enter_async_context(ImdsEmulator(clock=clock, role=role))
            env = _worker_env(local)
            _private_dir(local.home / "instances")  # the workers' logs: no job may read them
            jobs = jobs_dir(local)
            hypervisor = Hypervisor(
                ec2=clients.ec2,
                imds=imds,
                deployment=local.deployment,
                worker_env=host_env(local, jobs_dir=jobs),
                root=local.home / "instances",
                jobs_dir=jobs,
                clock=clock,
            )
            interrupter = Interrupter(
                hypervisor=hypervisor,
                imds=imds,
                ec2=clients.ec2,
                sns=clients.sns,
                events_topic_arn=resources.events_topic_arn,
                region=local.region,
                notice_s=local.scaled_notice_s,
                clock=clock,
            )
            control = web.Application()
            control[INTERRUPTER] = interrupter
            control.router.add_post("/interrupt/{job_id}", interrupt_route)
            if moto.faults.ec2 is not None:
                add_fault_routes(control, faults=moto.faults.ec2, region=local.region)
            server = await stack.enter_async_context(
                HttpServer(app=control, host="127.0.0.1", port=0)
            )
            env["CBAS_LOCAL_CONTROL_URL"] = server.url
            env["CBAS_API_TOKEN"] = await _local_token(
                TokenStore(store=make_store(clients, resources), clock=clock)
            )
            if api_url is not None:
                env["CBAS_API_URL"] = api_url
            localenv.write(local.home / localenv.FILE_NAME, env)
            market = None
            if trace is not None:
                targets = instance_targets(
                    hypervisor=hypervisor, ec2=clients.ec2, store=make_store(clients, resources)
                )
                market = _market(local, trace, targets, interrupter, clock)
            yield LocalCloud(
                local,
                resources,
                hypervisor,
                interrupter,
                server.url,
                env,
                faults=moto.faults,
                ec2_events=StateChangeEmitter(
                    ec2=clients.ec2,
                    sns=clients.sns,
                    events_topic_arn=resources.events_topic_arn,
                    deployment=local.deployment,
                    region=local.region,
                    clock=clock,
                ),
                market=market,
                imds=imds,
                role=role,
            )
    finally:
        await asyncio.to_thread(moto.stop)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


async def _upload_wheel(clients: Clients, bucket: str) -> None:
    """As `cbas bootstrap` does; without a wheel (no source checkout, no network to build
    one) the local image still boots workers: it has this version."""
    try:
        wheel = await asyncio.to_thread(this_wheel)  # built once, then cached
    except ConfigError as exc:
        log.warning("wheel_not_uploaded", reason=str(exc))
        return
    await upload_wheel(clients.s3, bucket, wheel)


def _with_trace(settings: Settings, trace: Path | None, clock: Clock) -> Settings:
    """Fix the replay's epoch for every process; a price CSV also feeds the master."""
    if trace is not None and trace.suffix == ".csv":
        settings = settings.replace(price_trace=trace.resolve())
    if settings.price_trace is None and trace is None:
        return settings
    return settings.replace(trace_epoch=settings.trace_epoch or clock.now())


def _market(
    settings: Settings,
    trace: Path,
    targets: Targets,
    interrupter: Interrupter,
    clock: Clock,
) -> LocalMarket:
    market = load_trace_market(trace)
    epoch = settings.trace_epoch or clock.now()
    timeline = market_timeline(market, epoch=epoch, speed=settings.speed)
    return LocalMarket(
        market=market, timeline=timeline, targets=targets, interrupter=interrupter, clock=clock
    )


def _worker_env(settings: Settings) -> dict[str, str]:
    """The masters' and the CLI's settings (local.env)."""
    if settings.dmtcp_bin is None:  # the copy `make dmtcp` unpacked, if any; not our PATH
        settings = settings.replace(dmtcp_bin=unpacked_bin())
    env = settings.to_env()
    env.pop("CBAS_MASTER_ID", None)  # each master process picks its own
    env.pop("CBAS_HTTP_PORT", None)
    return env


async def run_local(
    settings: Settings,
    *,
    port: int,
    with_master: bool = True,
    trace: Path | None = None,
    sns_verify: bool = False,
) -> int:
    """`cbas local`: run in the foreground until Ctrl-C; `trace` drives a local market."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    api_url = f"http://127.0.0.1:{port}" if with_master else None
    async with open_local_cloud(
        settings, trace=trace, sns_verify=sns_verify, api_url=api_url
    ) as cloud:
        components = cloud.parts
        if cloud.market is not None:
            components.append(cloud.market)
        if with_master:
            log_path = cloud.settings.home / "master.log"
            components.append(MasterProcess(env=cloud.env, port=port, log_path=log_path))
        print(
            f"local cloud up: moto at {cloud.settings.endpoint_url}, "
            f"master at http://127.0.0.1:{port}; settings in "
            f"{cloud.settings.home / localenv.FILE_NAME}. Ctrl-C stops.",
            flush=True,
        )
        await run_components(components, stopping, settings.shutdown_grace_s)
    return 0


async def _local_token(tokens: TokenStore) -> str:
    """A new admin token for this run's `local.env`; the one an earlier run against the same
    deployment made is revoked (its secret left with that run's `local.env`)."""
    with contextlib.suppress(TokenNotFound):
        await tokens.revoke(LOCAL_TOKEN_NAME)
    return await tokens.create(name=LOCAL_TOKEN_NAME)
