"""The local spot market: replays a price trace (CSV) or an availability trace (JSON) on the
wall clock, compressed by `speed`, and interrupts local instances as the market would:
bid-era rule for prices (a price above the instance's max price reclaims it), capacity for
availability (no capacity left in its zone reclaims it). Interruptions go through the
`Interrupter`: IMDS notice, EventBridge warning, kill when the notice ends."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import JobNotFound
from cbas_async.local.hypervisor import Hypervisor
from cbas_async.loops import every
from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.eras import interrupted_by_price
from cbas_async.spot.history import PriceHistory, epoch_s
from cbas_async.spot.pricebook import BUILTIN_ONDEMAND_USD_PER_HOUR
from cbas_async.spot.prices import read_price_csv
from cbas_async.spot.replay import ReplayTimeline, replay_origin_s
from cbas_async.store import JobStore

if TYPE_CHECKING:
    from datetime import datetime

    from types_aiobotocore_ec2 import EC2Client

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A live local instance as the market sees it."""

    instance_id: str
    job_id: str
    zone: str | None
    instance_type: str
    max_price_usd_per_hour: float | None
    spot: bool = True


class TraceMarket(Protocol):
    """Decides, at a trace time, whether the market takes an instance back. `warm_up`: the
    replay starts a week into the trace, so the prices before it are history."""

    warm_up: bool

    def span_s(self) -> tuple[float, float]: ...

    def reclaims(self, target: Target, trace_s: float) -> bool: ...


class Interrupting(Protocol):
    async def interrupt(self, job_id: str) -> str | None: ...


class PriceMarket:
    """Bid era: reclaimed when the zone's price is above the max price (equal is not)."""

    warm_up = True

    def __init__(self, history: PriceHistory, ondemand: Mapping[str, float]) -> None:
        self.history = history
        self._ondemand = ondemand

    def span_s(self) -> tuple[float, float]:
        series = [self.history.series(*k) for k in self.history.series_keys()]
        return min(s.first_s for s in series), max(s.last_s for s in series)

    def reclaims(self, target: Target, trace_s: float) -> bool:
        if target.zone is None or not self.history.has(target.zone, target.instance_type):
            return False
        cap = target.max_price_usd_per_hour or self._ondemand.get(target.instance_type)
        price = self.history.series(target.zone, target.instance_type).price_at(trace_s)
        return cap is not None and not math.isnan(price) and interrupted_by_price(price, cap)


class CapacityMarket:
    """Current era: reclaimed when the zone has no capacity for the type."""

    warm_up = False

    def __init__(self, history: AvailabilityHistory) -> None:
        self.history = history

    def span_s(self) -> tuple[float, float]:
        series = [self.history.series(*k) for k in self.history.series_keys()]
        return min(s.start_s for s in series), max(s.end_s for s in series)

    def reclaims(self, target: Target, trace_s: float) -> bool:
        key = (target.zone or "", target.instance_type)
        if key not in self.history.series_keys():
            return False
        in_trace = self.history.series(*key)
        return in_trace.start_s <= trace_s < in_trace.end_s and not in_trace.available_at(trace_s)


def load_trace_market(path: Path) -> TraceMarket:
    """A price CSV, an availability JSON, or a folder of availability JSONs."""
    if path.is_dir():
        return CapacityMarket(AvailabilityHistory.from_files(sorted(path.glob("*.json"))))
    if path.suffix == ".json":
        return CapacityMarket(AvailabilityHistory.from_files([path]))
    return PriceMarket(read_price_csv(path), BUILTIN_ONDEMAND_USD_PER_HOUR)


def market_timeline(market: TraceMarket, *, epoch: datetime, speed: float) -> ReplayTimeline:
    """The same mapping the master derives for a price trace (plain availability: no
    warm-up)."""
    first_s, last_s = market.span_s()
    origin_s = replay_origin_s(first_s, last_s) if market.warm_up else first_s
    return ReplayTimeline(origin_s=origin_s, epoch_s=epoch_s(epoch), speed=speed)


Targets = Callable[[], Awaitable[list[Target]]]


class LocalMarket:
    """Steps the replay every `poll_s`; warns each instance the market takes back, once."""

    name = "local-market"

    def __init__(
        self,
        *,
        market: TraceMarket,
        timeline: ReplayTimeline,
        targets: Targets,
        interrupter: Interrupting,
        clock: Clock,
        poll_s: float = 0.5,
    ) -> None:
        self._market = market
        self._timeline = timeline
        self._targets = targets
        self._interrupter = interrupter
        self._clock = clock
        self._poll_s = poll_s
        self._warned: set[str] = set()

    async def run(self, stopping: asyncio.Event) -> None:
        await every(
            self._poll_s,
            self.step_once,
            stopping=stopping,
            clock=self._clock,
            log_event="local_market_step_failed",
        )

    async def step_once(self) -> list[str]:
        """Interrupt what the market reclaims now; returns the jobs warned."""
        trace_s = self._timeline.trace_s(self._clock.now())
        warned = []
        for target in await self._targets():
            if target.instance_id in self._warned or not target.spot:
                continue
            if not self._market.reclaims(target, trace_s):
                continue
            self._warned.add(target.instance_id)
            await self._interrupter.interrupt(target.job_id)
            log.info("market_reclaimed", job_id=target.job_id, instance_id=target.instance_id)
            warned.append(target.job_id)
        return warned


def instance_targets(
    *, hypervisor: Hypervisor, ec2: Mapping[str, EC2Client], store: JobStore
) -> Targets:
    """The hypervisor's live instances, with zone and type from their region's EC2 and the
    max price from the job's placement (EC2 does not report it back); looked up once per
    instance."""
    known: dict[str, Target] = {}

    async def targets() -> list[Target]:
        live = list(hypervisor.instances.values())
        for local in live:
            if local.instance_id not in known:
                found = await _target(local.instance_id, local.job_id, ec2[local.region], store)
                if found is not None:
                    known[local.instance_id] = found
        return [known[i.instance_id] for i in live if i.instance_id in known]

    return targets


async def _target(instance_id: str, job_id: str, ec2: EC2Client, store: JobStore) -> Target | None:
    response = await ec2.describe_instances(InstanceIds=[instance_id])
    instances = [i for r in response.get("Reservations", []) for i in r.get("Instances", [])]
    if not instances:
        return None
    try:
        placement = (await store.get(job_id)).placement
    except JobNotFound:
        placement = None
    cap = placement.max_price_usd_per_hour if placement else None
    return Target(
        instance_id=instance_id,
        job_id=job_id,
        zone=instances[0].get("Placement", {}).get("AvailabilityZone"),
        instance_type=str(instances[0].get("InstanceType", "")),
        max_price_usd_per_hour=cap,
        spot=instances[0].get("InstanceLifecycle") == "spot",
    )
