"""The master's composition root: builds every component and runs them in one TaskGroup."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from cbas_async.aws import Clients, open_region_clients
from cbas_async.bootstrap import Resources, resolve
from cbas_async.bus import Bus
from cbas_async.clock import Clock, SystemClock
from cbas_async.components import Component, run_components
from cbas_async.deployment import Session, make_store
from cbas_async.errors import ConfigError
from cbas_async.fleet.checkpoint_copy import CheckpointCopier
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.lease import MasterLease
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.capacity import CapacityControl
from cbas_async.handlers.costing import JobCosting
from cbas_async.handlers.placement import broker_placer
from cbas_async.httpserver import HttpServer
from cbas_async.job_keys import KeyKeeper
from cbas_async.master.health import Health, LoopLagMonitor
from cbas_async.master.http import build_app
from cbas_async.master.intake import events_poller, sns_intake, sns_verifier, subscribe_http
from cbas_async.master.keys import open_keeper
from cbas_async.master.ping_poller import PingPoller
from cbas_async.master.price_fetcher import PriceFeed, RegionPrices, open_price_feed
from cbas_async.master.region_placement import (
    make_move_checker,
    make_region_chooser,
    region_price_feeds,
)
from cbas_async.master.regions import (
    RegionParts,
    launchers,
    make_sweeper,
    open_other_regions,
    region_resources,
    region_watcher,
)
from cbas_async.master.wiring import (
    make_capacity,
    make_copier,
    make_event_handlers,
    make_job_steps,
    make_launcher,
    make_mover,
    make_state_change_handler,
    make_supervisor,
    subscribe_handlers,
    subscribe_wake_ups,
)
from cbas_async.metrics import Metrics
from cbas_async.sandbox import Sandbox
from cbas_async.settings import Settings
from cbas_async.sns_intake import SnsIntake
from cbas_async.store import JobStore
from cbas_async.web import WebParts, mount, parts_for_master

log = structlog.get_logger(__name__)


@dataclass
class Master:
    """The open components of one master process."""

    settings: Settings
    clients: Clients
    resources: Resources
    store: JobStore
    bus: Bus
    health: Health
    lease: MasterLease
    server: HttpServer
    components: list[Component]
    others: dict[str, RegionParts] = field(default_factory=dict)  # the other regions' parts


@asynccontextmanager
async def open_master(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[Master]:
    """Open clients, find the deployment, take the lease, bind HTTP, subscribe `/sns` when
    `CBAS_PUBLIC_URL` is set; undo it all on exit."""
    clock = clock or SystemClock()
    async with AsyncExitStack() as stack:
        regional = await stack.enter_async_context(open_region_clients(settings))
        clients = regional[settings.region]
        resources = await _found(clients, settings)
        metrics = Metrics()
        store = make_store(clients, resources, on_transition=metrics.transitioned)
        lease = await stack.enter_async_context(
            MasterLease(
                store=store,
                master_id=settings.master_id,
                ttl_s=settings.lease_ttl_s,
                clock=clock,
                region=settings.region,
            )
        )
        health = Health(clock=clock, lease_held=lambda: lease.held)
        bus = Bus()
        tracker = HeartbeatTracker()
        sandbox = Sandbox(s3=clients.s3, bucket=resources.files_bucket)  # inputs, outputs, logs
        cloud = Session(settings, clients, resources, store, sandbox)
        price_ec2 = {region: each.ec2 for region, each in regional.items()}
        web_parts = parts_for_master(
            cloud, clock=clock, bus=bus, tracker=tracker, metrics=metrics, price_ec2=price_ec2
        )
        intake = sns_intake(settings, clients, resources, clock)
        app = http_app(settings, clients, resources, health, bus, clock, web_parts, intake=intake)
        server = await stack.enter_async_context(
            HttpServer(app=app, host=settings.http_host, port=settings.http_port)
        )
        await subscribe_http(stack, settings, clients, resources, store)
        prices = await open_price_feed(settings, ec2=clients.ec2, bus=bus, clock=clock)
        region_prices = await region_price_feeds(settings, regional, prices, bus, clock)
        launcher = await make_launcher(clients, settings, bucket=resources.bucket)
        others = await open_other_regions(regional, settings)
        capacity = await make_capacity(clients, settings, clock)
        health.problems = capacity.refusals.reasons
        keys = await open_keeper(stack, clients, settings, resources, clock)
        copier = make_copier(regional, region_resources(resources, others), settings, clock)
        components = _wire(
            settings,
            clients,
            resources,
            store,
            bus,
            health,
            lease,
            clock,
            tracker,
            prices,
            launcher,
            capacity,
            keys=keys,
            region_prices=region_prices,
            copier=copier,
            others=others,
        )
        components.append(events_poller(clients, resources, intake, bus, clock))
        yield Master(
            settings, clients, resources, store, bus, health, lease, server, components, others
        )


async def _found(clients: Clients, settings: Settings) -> Resources:
    """The deployment's resources; the master creates none (`cbas bootstrap` does)."""
    try:
        return await resolve(clients, settings)
    except LookupError as exc:
        raise ConfigError("CBAS_DEPLOYMENT", f"{exc}; run `cbas bootstrap` first") from exc


def http_app(
    settings: Settings,
    clients: Clients,
    resources: Resources,
    health: Health,
    bus: Bus,
    clock: Clock,
    web_parts: WebParts,
    *,
    intake: SnsIntake | None = None,
) -> web.Application:
    """The master's HTTP app: /healthz, /sns, and the web face mounted on it."""
    app = build_app(
        health=health,
        bus=bus,
        verifier=sns_verifier(settings, clients, clock),
        session=clients.http,
        topics=frozenset({resources.events_topic_arn}),
        max_body_bytes=settings.max_body_bytes,
        region=settings.region,
        verify=settings.sns_verify,
        intake=intake,
    )
    mount(app, web_parts)  # the API, auth, /metrics and the web UI
    return app


def _wire(
    settings: Settings,
    clients: Clients,
    resources: Resources,
    store: JobStore,
    bus: Bus,
    health: Health,
    lease: MasterLease,
    clock: Clock,
    tracker: HeartbeatTracker,
    prices: PriceFeed,
    launcher: Launcher,
    capacity: CapacityControl,
    *,
    keys: KeyKeeper | None = None,
    region_prices: RegionPrices | None = None,
    copier: CheckpointCopier | None = None,
    others: Mapping[str, RegionParts] | None = None,
) -> list[Component]:
    others = others or {}
    books = region_prices.books if region_prices else {settings.region: prices.book}
    costing = JobCosting(store=store, book=prices.book, books=books)
    wake = asyncio.Event()
    mover = make_mover(store, clock, settings.master_id)
    everywhere = launchers(launcher, others)
    regions = make_region_chooser(
        settings, books=books, store=store, clock=clock, pools=capacity.pools, copier=copier
    )
    handlers = make_event_handlers(
        store=store,
        mover=mover,
        launcher=everywhere,
        tracker=tracker,
        clock=clock,
        wake=wake,
    )
    subscribe_handlers(bus, handlers)
    steps = make_job_steps(
        settings,
        mover=mover,
        launcher=everywhere,
        placer=broker_placer(
            book=prices.book, clock=clock, region=settings.region, pools=capacity.pools
        ),
        tracker=tracker,
        resources=resources,
        clock=clock,
        costing=costing,
        capacity=capacity,
        keys=keys,
        regions=regions,
        copier=copier,
        region_resources=region_resources(resources, others),
    )
    state_changes = make_state_change_handler(
        settings, steps, store=store, mover=mover, launcher=everywhere, wake=wake
    )
    subscribe_wake_ups(bus, state_changes, wake)
    sweeper = make_sweeper(store, clock, clients, resources, launcher, others)
    supervisor = make_supervisor(
        settings,
        steps,
        store=store,
        sweeper=sweeper,
        health=health,
        clock=clock,
        wake=wake,
        lease_held=lambda: lease.held,
        costing=costing,
        regions=regions,
        moves=make_move_checker(settings, regions, mover=mover, clock=clock),
    )
    poller = PingPoller(
        sqs=clients.sqs, queue_url=resources.ping_queue_url, bus=bus, clock=clock, health=health
    )
    components: list[Component] = [
        lease,
        LoopLagMonitor(health=health),
        _BusComponent(bus),
        poller,
        supervisor,
        prices.fetcher,
        *(region_prices.other_fetchers if region_prices else []),
    ]
    watcher = region_watcher(settings, store, others, bus=bus, clock=clock, health=health)
    components += [] if watcher is None else [watcher]  # one region: nothing to watch
    return components if keys is None else [*components, keys]


class _BusComponent:
    name = "bus"

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def run(self, stopping: asyncio.Event) -> None:
        await self._bus.run(stopping)


async def serve(settings: Settings, *, stopping: asyncio.Event | None = None) -> int:
    """`cbas master`: run until SIGTERM/SIGINT (or `stopping`), then shut down gracefully."""
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    if not settings.sns_verify:
        log.warning("sns_verification_off", reason="CBAS_SNS_VERIFY=false (local cloud)")
    async with open_master(settings) as master:
        log.info("master_started", master_id=settings.master_id, url=master.server.url)
        await run_components(master.components, stopping, settings.shutdown_grace_s)
    log.info("master_stopped", master_id=settings.master_id)
    return 0
