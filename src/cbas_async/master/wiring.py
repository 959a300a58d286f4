"""Named factories for the master's object graph: the launcher, the job mover, the event
handlers and the supervisor's job steps, each built one way.

`master/app.py` wires a running master from them; tests and benchmarks call the same
factories (with a fake clock, a fixed placer, a store of their own) instead of copying the
graph by hand, so a new collaborator is added in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from cbas_async.aws import Clients, open_service_quotas
from cbas_async.bootstrap import Resources
from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.fleet.ceiling import LaunchGate
from cbas_async.fleet.checkpoint_copy import CheckpointCopier, RegionBucket
from cbas_async.fleet.launch_config import LaunchConfig, resolve_launch_config
from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.fleet.placement_scores import PlacementScores
from cbas_async.fleet.pools import PoolBook
from cbas_async.fleet.quotas import VcpuCatalog, ceiling_vcpus
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.fleet.transfer_meter import TransferMeter
from cbas_async.handlers.capacity import CapacityControl
from cbas_async.handlers.costing import JobCosting
from cbas_async.handlers.heartbeats import HeartbeatHandler
from cbas_async.handlers.interruptions import InterruptionHandler
from cbas_async.handlers.mover import JobMover
from cbas_async.handlers.moves import MoveChecker
from cbas_async.handlers.placement import Placer
from cbas_async.handlers.recovery import LostWorkerDetector
from cbas_async.handlers.regions import RegionChooser
from cbas_async.handlers.scheduling import Scheduler
from cbas_async.handlers.statechanges import StateChangeHandler
from cbas_async.handlers.sweeper import Sweeper
from cbas_async.handlers.wakeup import SubmitWaker
from cbas_async.job_keys import KeyKeeper
from cbas_async.master.health import Health
from cbas_async.master.supervisor import Supervisor
from cbas_async.settings import Settings
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


async def make_capacity(clients: Clients, settings: Settings, clock: Clock) -> CapacityControl:
    """Pools (with Spot Placement Scores), the live-vCPU ceiling (CBAS_MAX_VCPUS, else the
    account's spot vCPU quota where Service Quotas answers), quota holds and refusals. On
    the local cloud (an endpoint URL) neither Service Quotas nor the scores are asked."""
    if settings.max_vcpus is not None or settings.endpoint_url is not None:
        limit = await ceiling_vcpus(settings.max_vcpus, None)
    else:
        async with open_service_quotas(settings) as quotas:
            limit = await ceiling_vcpus(None, quotas)
    pools = PoolBook()
    # the local cloud has no placement scores to give (and a launch should not wait on it)
    scores = (
        PlacementScores(ec2=clients.ec2, region=settings.region, clock=clock, pools=pools)
        if settings.endpoint_url is None
        else None
    )
    return CapacityControl(
        clock=clock,
        pools=pools,
        gate=LaunchGate(limit_vcpus=limit),
        vcpus=VcpuCatalog(ec2=clients.ec2),
        scores=scores,
    )


async def make_launcher(
    clients: Clients,
    settings: Settings,
    config: LaunchConfig | None = None,
    *,
    bucket: str | None = None,
    recorded: bool = True,
) -> Launcher:
    """The launcher of `settings.region`, with `config` or the deployment's own looked up
    once (images from SSM, the group by name, the wheel in `bucket`); raises `ConfigError`
    naming what is missing. `recorded=False`: not the images `cbas image build` recorded
    (another region's launcher: `fleet/launch_config.py`)."""
    config = config or await resolve_launch_config(
        clients, settings, bucket=bucket, recorded=recorded
    )
    return Launcher(
        ec2=clients.ec2,
        config=config,
        deployment=settings.deployment,
        launch_ec2=clients.ec2_launch,
        region=settings.region,
    )


def make_copier(
    regional: Mapping[str, Clients],
    resources: Mapping[str, Resources],
    settings: Settings,
    clock: Clock,
) -> CheckpointCopier | None:
    """The checkpoint copier of a deployment in several regions (None in one): each
    region's S3 client (`regional`) and bucket (`resources`, as the master found them at
    start), by region."""
    if len(settings.all_regions) < 2:
        return None
    buckets = {
        region: RegionBucket(region, found.bucket, regional[region].s3)
        for region, found in resources.items()
    }
    return CheckpointCopier(
        buckets=buckets,
        home_region=settings.home_region,
        clock=clock,
        usd_per_gib=settings.egress_usd_per_gib,
        meter=TransferMeter(settings.transfer_mib_s),
    )


def make_mover(store: JobStore, clock: Clock, master_id: str) -> JobMover:
    """The one object through which this master moves jobs; it fences on `master_id`."""
    return JobMover(store=store, clock=clock, actor=master_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventHandlers:
    """The master's bus subscribers (besides the web face's metrics)."""

    heartbeats: HeartbeatHandler
    interruptions: InterruptionHandler


def make_event_handlers(
    *,
    store: JobStore,
    mover: JobMover,
    launcher: Launcher | Launchers,
    tracker: HeartbeatTracker,
    clock: Clock,
    wake: asyncio.Event,
) -> EventHandlers:
    return EventHandlers(
        heartbeats=HeartbeatHandler(store=store, mover=mover, tracker=tracker, clock=clock),
        interruptions=InterruptionHandler(
            store=store, launcher=launcher, tracker=tracker, clock=clock, wake=wake
        ),
    )


def subscribe_handlers(bus: Bus, handlers: EventHandlers) -> None:
    """The master's event handlers on its bus, each for the kinds of events it handles."""
    bus.subscribe("heartbeats", handlers.heartbeats, kinds=HeartbeatHandler.kinds)
    bus.subscribe("interruptions", handlers.interruptions, kinds=InterruptionHandler.kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSteps:
    """What the supervisor does to one job: place or re-queue it, or check it is alive."""

    scheduler: Scheduler
    detector: LostWorkerDetector


def make_job_steps(
    settings: Settings,
    *,
    mover: JobMover,
    launcher: Launcher | Launchers,
    placer: Placer,
    tracker: HeartbeatTracker,
    resources: Resources,
    clock: Clock,
    costing: JobCosting | None = None,
    capacity: CapacityControl | None = None,
    keys: KeyKeeper | None = None,
    regions: RegionChooser | None = None,
    copier: CheckpointCopier | None = None,
    hand_over: bool = True,
    region_resources: Mapping[str, Resources] | None = None,
) -> JobSteps:
    """`launcher`: one per region (`Launchers`), or one for every region; `resources`
    this master's region's, `region_resources` every region's (the user data of a launch
    names its region's bucket, ping queue and topic)."""
    scheduler = Scheduler(
        mover=mover,
        launcher=launcher,
        placer=placer,
        tracker=tracker,
        resources=resources,
        settings=settings,
        clock=clock,
        costing=costing,
        capacity=capacity,
        keys=keys,
        regions=regions,
        copier=copier,
        hand_over=hand_over,
        region_resources=region_resources,
    )
    detector = LostWorkerDetector(
        mover=mover,
        launcher=launcher,
        tracker=tracker,
        clock=clock,
        timeout_s=settings.lost_worker_timeout_s,
        launch_timeout_s=settings.launch_timeout_s,
        notice_s=settings.scaled_notice_s,
        # a worker writes INTERRUPTED right after its final checkpoint: one heartbeat's time
        notice_grace_s=settings.heartbeat_interval_s,
    )
    return JobSteps(scheduler=scheduler, detector=detector)


def make_state_change_handler(
    settings: Settings,
    steps: JobSteps,
    *,
    store: JobStore,
    mover: JobMover,
    launcher: Launcher | Launchers,
    wake: asyncio.Event,
) -> StateChangeHandler:
    """EC2 state-change events -> INTERRUPTED and re-queued at once (the scheduler's
    re-queue, so the attempt is priced and max_attempts holds)."""
    return StateChangeHandler(
        store=store,
        mover=mover,
        launcher=launcher,
        requeue=steps.scheduler.requeue,
        deployment=settings.deployment,
        wake=wake,
    )


def subscribe_wake_ups(bus: Bus, state_changes: StateChangeHandler, wake: asyncio.Event) -> None:
    """The subscribers that cut the supervisor's wait short: instance state changes and
    submissions through this master's API."""
    bus.subscribe("state_changes", state_changes, kinds=StateChangeHandler.kinds)
    bus.subscribe("submissions", SubmitWaker(wake=wake), kinds=SubmitWaker.kinds)


def make_supervisor(
    settings: Settings,
    steps: JobSteps,
    *,
    store: JobStore,
    sweeper: Sweeper,
    health: Health,
    clock: Clock,
    wake: asyncio.Event,
    lease_held: Callable[[], bool] = lambda: True,
    costing: JobCosting | None = None,
    sweep_every: int = 5,
    regions: RegionChooser | None = None,
    moves: MoveChecker | None = None,
) -> Supervisor:
    return Supervisor(
        store=store,
        scheduler=steps.scheduler,
        detector=steps.detector,
        sweeper=sweeper,
        health=health,
        clock=clock,
        master_id=settings.master_id,
        interval_s=settings.supervise_interval_s,
        wake=wake,
        lease_held=lease_held,
        sweep_every=sweep_every,
        costing=costing,
        regions=regions,
        moves=moves,
    )
