"""`cbas local`: the whole system on one machine. This process holds the local "AWS"
(moto, serving every region of the deployment), the IMDS emulator, the hypervisor and the
interrupter (one each for all regions: one machine hosts every instance) and EC2's
state-change events (one emitter per region, as EventBridge is per region); each master
runs as a process of its own, one per region, so it can be killed and restarted while
"AWS" keeps its state."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from aiohttp import web

from cbas_async import localenv
from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources
from cbas_async.clock import Clock, SystemClock
from cbas_async.components import Component, run_components
from cbas_async.deployment import make_store
from cbas_async.errors import ConfigError
from cbas_async.httpserver import HttpServer
from cbas_async.local.ec2_events import StateChangeEmitter
from cbas_async.local.fault_control import add_fault_routes
from cbas_async.local.faults import FaultGate
from cbas_async.local.hypervisor import Hypervisor
from cbas_async.local.image import host_env
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.local.instance_role import InstanceRole
from cbas_async.local.interrupter import Interrupter, RegionLink
from cbas_async.local.jobs_dir import jobs_dir
from cbas_async.local.local_files import write_local_env
from cbas_async.local.master_process import region_masters
from cbas_async.local.moto_server import LOCAL_KEY, MotoServer
from cbas_async.local.regions import LocalRegion, LocalRegions, set_up_regions
from cbas_async.local.spot_market import LocalMarket, instance_targets
from cbas_async.local.trace_feeds import region_traces, replay_market
from cbas_async.settings import Settings
from cbas_async.wheels import this_wheel, upload_wheel

log = structlog.get_logger(__name__)

INTERRUPTER = web.AppKey("interrupter", Interrupter)


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
    """The running local cloud: its settings (pointing at moto; `region` is the home region)
    and parts. `resources` are the home region's; `regions` holds every region's."""

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
    regions: dict[str, LocalRegion] = field(default_factory=dict)
    region_events: list[StateChangeEmitter] = field(default_factory=list)  # other regions'

    @property
    def parts(self) -> list[Component]:
        """The local cloud's running parts, as on AWS: instances, interruptions, events."""
        return [self.hypervisor, self.interrupter, self.ec2_events, *self.region_events]


@asynccontextmanager
async def open_local_cloud(
    settings: Settings,
    *,
    clock: Clock | None = None,
    moto_port: int = 0,
    sns_verify: bool = False,
    trace: Path | Sequence[Path] | None = None,
    api_url: str | None = None,
    fault_exempt_keys: frozenset[str] = frozenset(),
) -> AsyncIterator[LocalCloud]:
    """Every region of `settings` (`all_regions`, the home region first) on one moto server.
    `trace`: replay it in a local spot market (a price CSV, availability JSON, or
    self-describing zone traces; a price CSV is also the master's prices).
    `api_url`: the master's address, written to local.env so the CLI goes through its API.
    `fault_exempt_keys`: access keys whose calls `LocalCloud.faults` never fails."""
    clock = clock or SystemClock()
    traces = [trace] if isinstance(trace, Path) else list(trace or [])
    moto = MotoServer(port=moto_port, exempt_keys=fault_exempt_keys)
    url = await asyncio.to_thread(moto.start)
    try:
        local = _with_trace(local_settings(settings, url, sns_verify=sns_verify), traces, clock)
        local = local.replace(region=local.home_region)
        async with AsyncExitStack() as stack:
            set_up = await set_up_regions(stack, local)
            yield await _assemble(stack, local, set_up, moto, traces, clock, api_url)
    finally:
        await asyncio.to_thread(moto.stop)


async def _assemble(
    stack: AsyncExitStack,
    local: Settings,
    set_up: LocalRegions,
    moto: MotoServer,
    traces: list[Path],
    clock: Clock,
    api_url: str | None,
) -> LocalCloud:
    home = set_up.home
    for region in set_up.regions.values():  # a worker fetches it from its region's bucket
        await _upload_wheel(region.clients, region.resources.bucket)
    workers = set_up.account.roles["worker"]
    role = InstanceRole(sts=set_up.accounts.sts, role_arn=workers, clock=clock)
    imds = await stack.enter_async_context(ImdsEmulator(clock=clock, role=role))
    _private_dir(local.home / "instances")  # the workers' logs: no job may read them
    jobs = jobs_dir(local)
    ec2 = {name: region.clients.ec2 for name, region in set_up.regions.items()}
    hypervisor = Hypervisor(
        ec2=ec2,
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
        regions={name: _link(region) for name, region in set_up.regions.items()},
        notice_s=local.scaled_notice_s,
        clock=clock,
    )
    control_url = await _control(stack, interrupter, moto, local.region)
    env = await write_local_env(local, home, control_url, api_url, clock)
    market = _market(local, home, hypervisor, interrupter, moto, traces, clock)
    events = [_events(region, local.deployment, clock) for region in set_up.regions.values()]
    return LocalCloud(
        local,
        home.resources,
        hypervisor,
        interrupter,
        control_url,
        env,
        faults=moto.faults,
        ec2_events=events[0],
        market=market,
        imds=imds,
        role=role,
        regions=set_up.regions,
        region_events=events[1:],
    )


def _market(
    local: Settings,
    home: LocalRegion,
    hypervisor: Hypervisor,
    interrupter: Interrupter,
    moto: MotoServer,
    traces: list[Path],
    clock: Clock,
) -> LocalMarket | None:
    if not traces:
        return None
    store = make_store(home.clients, home.resources)
    return replay_market(
        traces,
        epoch=local.trace_epoch or clock.now(),
        speed=local.speed,
        targets=instance_targets(hypervisor=hypervisor, ec2=hypervisor.ec2, store=store),
        interrupter=interrupter,
        clock=clock,
        moto=moto,
    )


def _link(region: LocalRegion) -> RegionLink:
    clients = region.clients
    return RegionLink(clients.ec2, clients.sns, region.resources.events_topic_arn)


def _events(region: LocalRegion, deployment: str, clock: Clock) -> StateChangeEmitter:
    return StateChangeEmitter(
        ec2=region.clients.ec2,
        sns=region.clients.sns,
        events_topic_arn=region.resources.events_topic_arn,
        deployment=deployment,
        region=region.name,
        clock=clock,
    )


async def _control(
    stack: AsyncExitStack, interrupter: Interrupter, moto: MotoServer, region: str
) -> str:
    """The control app (`cbas interrupt`, `cbas fault`); returns its address."""
    control = web.Application()
    control[INTERRUPTER] = interrupter
    control.router.add_post("/interrupt/{job_id}", interrupt_route)
    if moto.faults.ec2 is not None:
        add_fault_routes(control, faults=moto.faults.ec2, region=region)
    server = await stack.enter_async_context(HttpServer(app=control, host="127.0.0.1", port=0))
    return server.url


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


def _with_trace(settings: Settings, traces: Sequence[Path], clock: Clock) -> Settings:
    """Fix the replay's epoch for every process; a price CSV also feeds the master."""
    if len(traces) == 1 and traces[0].suffix == ".csv":
        settings = settings.replace(price_trace=traces[0].resolve())
    if settings.price_trace is None and not traces:
        return settings
    return settings.replace(trace_epoch=settings.trace_epoch or clock.now())


async def run_local(
    settings: Settings,
    *,
    port: int,
    with_master: bool = True,
    trace: Sequence[Path] = (),
    sns_verify: bool = False,
) -> int:
    """`cbas local`: run in the foreground until Ctrl-C; `trace` drives a local market (with
    `settings.regions` and no trace: the shared priced traces of those regions). One master
    process per region."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    api_url = f"http://127.0.0.1:{port}" if with_master else None
    traces = list(trace) or (region_traces(settings.regions) if settings.regions else [])
    async with open_local_cloud(
        settings, trace=traces, sns_verify=sns_verify, api_url=api_url
    ) as cloud:
        components = cloud.parts
        if cloud.market is not None:
            components.append(cloud.market)
        if with_master:
            regions = cloud.settings.all_regions
            components += region_masters(cloud.env, regions, port=port, home=cloud.settings.home)
        print(
            f"local cloud up ({', '.join(cloud.settings.all_regions)}): moto at "
            f"{cloud.settings.endpoint_url}, master at http://127.0.0.1:{port}; settings in "
            f"{cloud.settings.home / localenv.FILE_NAME}. Ctrl-C stops.",
            flush=True,
        )
        await run_components(components, stopping, settings.shutdown_grace_s)
    return 0
