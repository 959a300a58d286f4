"""The other regions of a master's deployment as the master uses them: the clients,
resources and launcher it has in each (`RegionParts`), found once at start; and what it
runs there, the sweep of each region and the pollers of a region it watches
(`master/region_watch.py`).

A region's resources are found by `bootstrap.resolve_region`: its bucket (`misc`
`bucket:<region>`), queues and topics, with the home region's bucket as `home_bucket`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, resolve_region
from cbas_async.bus import Bus
from cbas_async.clock import Clock
from cbas_async.components import Component
from cbas_async.errors import ConfigError
from cbas_async.fleet.launch_config import other_region_settings
from cbas_async.fleet.launcher import Launcher, Launchers
from cbas_async.handlers.sweeper import Sweeper, SweptRegion
from cbas_async.master.health import Health
from cbas_async.master.intake import events_poller, sns_intake
from cbas_async.master.ping_poller import PingPoller
from cbas_async.master.region_watch import RegionWatcher
from cbas_async.master.wiring import make_launcher
from cbas_async.settings import Settings
from cbas_async.store import JobStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionParts:
    """What a master uses in one region of its deployment other than its own."""

    settings: Settings  # the master's settings as a process of that region has them
    clients: Clients
    resources: Resources
    launcher: Launcher

    @property
    def region(self) -> str:
        return self.settings.region


async def open_other_regions(
    clients: Mapping[str, Clients], settings: Settings
) -> dict[str, RegionParts]:
    """The parts of every region but the master's own, by region; raises `ConfigError`
    when a region is not bootstrapped or has no launch configuration."""
    return {
        region: await _open_region(clients, settings, region)
        for region in settings.all_regions
        if region != settings.region
    }


async def _open_region(
    clients: Mapping[str, Clients], settings: Settings, region: str
) -> RegionParts:
    try:
        resources = await resolve_region(clients, settings, region)
    except LookupError as exc:
        raise ConfigError("CBAS_REGIONS", f"{region}: {exc}; run `cbas bootstrap`") from exc
    there = other_region_settings(settings, region)
    here = clients[region]
    launcher = await make_launcher(here, there, bucket=resources.bucket, recorded=False)
    return RegionParts(settings=there, clients=here, resources=resources, launcher=launcher)


def launchers(own: Launcher, others: Mapping[str, RegionParts]) -> Launchers:
    """The master's launcher in each region of its deployment."""
    by_region = {region: parts.launcher for region, parts in others.items()}
    return Launchers({own.region: own, **by_region}, own=own.region)


def region_resources(own: Resources, others: Mapping[str, RegionParts]) -> dict[str, Resources]:
    """Every region's resources, by region (the user data of a launch names its region's)."""
    return {own.region: own, **{region: parts.resources for region, parts in others.items()}}


def swept(others: Mapping[str, RegionParts]) -> list[SweptRegion]:
    """The other regions as the sweeper cleans them up."""
    return [
        SweptRegion(launcher=p.launcher, sns=p.clients.sns, topic_arn=p.resources.topic_arn)
        for p in others.values()
    ]


def make_sweeper(
    store: JobStore,
    clock: Clock,
    clients: Clients,
    resources: Resources,
    launcher: Launcher,
    others: Mapping[str, RegionParts],
) -> Sweeper:
    """The sweeper of this master's region (`clients`, `resources`, `launcher`) and of the
    other regions."""
    return Sweeper(
        store=store,
        launcher=launcher,
        sns=clients.sns,
        topic_arn=resources.topic_arn,
        clock=clock,
        others=swept(others),
    )


def region_pollers(
    parts: RegionParts, *, bus: Bus, clock: Clock, health: Health
) -> list[Component]:
    """A ping poller and an events poller on the region's queues, publishing to `bus`: what
    a master runs for a region it watches."""
    intake = sns_intake(parts.settings, parts.clients, parts.resources, clock)
    pings = PingPoller(
        sqs=parts.clients.sqs,
        queue_url=parts.resources.ping_queue_url,
        bus=bus,
        clock=clock,
        health=health,
        region=parts.region,
    )
    return [pings, events_poller(parts.clients, parts.resources, intake, bus, clock)]


def region_watcher(
    settings: Settings,
    store: JobStore,
    others: Mapping[str, RegionParts],
    *,
    bus: Bus,
    clock: Clock,
    health: Health,
) -> RegionWatcher | None:
    """The watcher of the other regions; None in a deployment of one region."""
    if not others:
        return None
    return RegionWatcher(
        store=store,
        master_id=settings.master_id,
        regions=others.keys(),
        pollers=lambda region: region_pollers(others[region], bus=bus, clock=clock, health=health),
        clock=clock,
        interval_s=settings.supervise_interval_s,
    )
