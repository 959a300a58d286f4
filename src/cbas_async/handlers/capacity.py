"""What the scheduler does with capacity: which launch may go now (the live-vCPU ceiling,
the quota holds, a job's back-off after a refused configuration), and what a launch EC2
declined means for later ones (docs/ARCHITECTURE.md, "Launch errors and capacity").

- `NoCapacity`: the pool goes into back-off (`PoolBook`); the placer avoids it at once.
- `QuotaExceeded`: launches of that market wait until an instance frees up (`LaunchGate`).
- `PriceTooLow`: the pool waits for jobs capped at that price or less.
- `LaunchRefused`: the job waits a back-off; the cause is logged once and `/healthz` is
  degraded with it until a launch lands (`LaunchRefusals`).
Every one of them started no instance: the job goes back to PENDING with its attempt.
"""

from __future__ import annotations

import asyncio

import structlog

from cbas_async.clock import Clock
from cbas_async.errors import TransientError
from cbas_async.fleet.ceiling import Claim, LaunchGate
from cbas_async.fleet.launch_errors import (
    LaunchDeclined,
    LaunchRefused,
    NoCapacity,
    PriceTooLow,
    QuotaExceeded,
)
from cbas_async.fleet.launcher import Launcher, LaunchRequest
from cbas_async.fleet.placement_scores import PlacementScores
from cbas_async.fleet.pools import BACKOFF_FIRST_S, BACKOFF_MAX_S, PoolBook
from cbas_async.fleet.quotas import VcpuCatalog
from cbas_async.fleet.refusals import LaunchRefusals
from cbas_async.fleet.tags import tag_value
from cbas_async.handlers.placement import pool_of
from cbas_async.records import JobPlacement, JobRecord

log = structlog.get_logger(__name__)

Declined = LaunchDeclined | LaunchRefused


class CapacityControl:
    """The scheduler's view of capacity: pools, the ceiling, quota holds, refusals."""

    def __init__(
        self,
        *,
        clock: Clock,
        pools: PoolBook | None = None,
        gate: LaunchGate | None = None,
        refusals: LaunchRefusals | None = None,
        vcpus: VcpuCatalog | None = None,
        scores: PlacementScores | None = None,
    ) -> None:
        self._clock = clock
        self.pools = pools or PoolBook()
        self.gate = gate or LaunchGate(limit_vcpus=None)
        self.refusals = refusals or LaunchRefusals()
        self._vcpus = vcpus
        self._scores = scores
        self._refused: dict[str, tuple[float, float]] = {}  # job id -> (until_s, delay_s)
        self._seeded = asyncio.Lock()
        self._seed_done = False

    def ready(self, job: JobRecord) -> bool:
        """False while the job waits out a back-off after a refused configuration."""
        until_s, _ = self._refused.get(job.job_id, (0.0, 0.0))
        return until_s <= self._clock.monotonic()

    async def refresh_scores(self, job: JobRecord) -> None:
        """Spot Placement Scores of the job's types, if due (see `PlacementScores`)."""
        if self._scores is not None:
            await self._scores.refresh(job.spec.resources.instance_types)

    async def claim(self, job: JobRecord, request: LaunchRequest, launcher: Launcher) -> bool:
        """Reserve the launch's vCPUs; False (logged) when it must wait."""
        if self.gate.limit_vcpus is None or self._vcpus is None:
            free = Claim(0, request.market)
            now_s = self._clock.monotonic()
            return self.gate.admit(job.job_id, job.created_at, free, now_s) is None
        try:
            await self._seed(launcher)
            vcpus = await self._vcpus.vcpus(request.instance_type)
        except TransientError as exc:
            log.warning("vcpu_count_unknown", job_id=job.job_id, error=str(exc))
            return False
        now_s = self._clock.monotonic()
        why = self.gate.admit(job.job_id, job.created_at, Claim(vcpus, request.market), now_s)
        if why is not None:
            log.debug("launch_waits", job_id=job.job_id, reason=why)
        return why is None

    def declined(self, job: JobRecord, request: LaunchRequest, error: Declined) -> str:
        """Note what a declined launch says about later launches; returns the reason."""
        now_s = self._clock.monotonic()
        self.gate.withdraw(job.job_id)
        pool = pool_of(request)
        if isinstance(error, NoCapacity):
            wait_s = self.pools.no_capacity(pool, now_s)
            return (
                f"no capacity in {_name(request)} ({error.code}); retried there in {wait_s:.0f} s"
            )
        if isinstance(error, QuotaExceeded):
            wait_s = self.gate.quota_reached(request.market, now_s)
            return f"{request.market} quota reached ({error.code}); held up to {wait_s:.0f} s"
        if isinstance(error, PriceTooLow):
            self.pools.price_refused(pool, request.max_price_usd_per_hour, now_s)
            return f"max price too low in {_name(request)} ({error.code})"
        if isinstance(error, LaunchDeclined):  # a new kind: treat as no capacity
            self.pools.no_capacity(pool, now_s)
            return f"declined in {_name(request)} ({error.code})"
        self.refusals.refused(error)
        _, delay_s = self._refused.get(job.job_id, (0.0, 0.0))
        delay_s = min(max(delay_s * 2, BACKOFF_FIRST_S), BACKOFF_MAX_S)
        self._refused[job.job_id] = (now_s + delay_s, delay_s)
        return f"launch refused: {error}"

    def landed(self, job: JobRecord, request: LaunchRequest) -> None:
        self.pools.launched(pool_of(request))
        self.gate.quota_ok(request.market)
        self.refusals.landed()
        self._refused.pop(job.job_id, None)

    async def observe(self, job: JobRecord) -> None:
        """Count a live attempt's vCPUs (after a restart, or a job adopted)."""
        placement = job.placement
        if placement is None or self._vcpus is None or self.gate.hold(job.job_id):
            return
        try:
            vcpus = await self._vcpus.vcpus(placement.instance_type)
        except TransientError:
            return  # counted at a later tick
        self.gate.observe(job.job_id, Claim(vcpus, placement.market))

    def ended(self, job: JobRecord) -> None:
        """The job's attempt is over (interrupted, failed): its vCPUs free up; an
        interrupted instance counts against its pool."""
        self.gate.release(job.job_id)
        placement = job.placement
        if placement is not None and placement.instance_id is not None:
            self.pools.interrupted(pool_of(_request_of(placement)), self._clock.monotonic())

    def keep_only(self, live: set[str]) -> None:
        self.gate.keep_only(live)
        for job_id in [j for j in self._refused if j not in live]:
            del self._refused[job_id]

    async def _seed(self, launcher: Launcher) -> None:
        """Count the deployment's live instances once, before the first launch under the
        ceiling, so a restarted master does not overshoot it."""
        async with self._seeded:
            if self._seed_done or self._vcpus is None:
                return
            for instance in await launcher.live_instances():
                job_id = tag_value(instance, "cbas:job_id")
                if job_id is None:
                    continue
                vcpus = await self._vcpus.vcpus(str(instance.get("InstanceType")))
                spot = instance.get("InstanceLifecycle") == "spot"
                self.gate.observe(job_id, Claim(vcpus, "spot" if spot else "on-demand"))
            self._seed_done = True


def _name(request: LaunchRequest) -> str:
    return f"{request.zone or request.region}/{request.instance_type}/{request.market}"


def _request_of(placement: JobPlacement) -> LaunchRequest:
    return LaunchRequest(
        region=placement.region,
        zone=placement.zone,
        instance_type=placement.instance_type,
        max_price_usd_per_hour=placement.max_price_usd_per_hour,
        checkpoint_interval_s=placement.checkpoint_interval_s,
        market=placement.market,
    )
