"""Placement across regions: the region a job's next launch goes to (its `target_region`),
whether a running job should move to another one, and which orphaned jobs a master adopts.

Each region's placement is the production broker's in that region (`placement.broker_choice`
with that region's price book); `spot.region_scoring` ranks them by expected cost to finish
plus, for a region other than the checkpoint's, the move: the checkpoint's `size_bytes` at
`CBAS_EGRESS_USD_PER_GIB` and its copy at `CBAS_TRANSFER_MIB_S` (an instance's time without
progress). Without a checkpoint nothing moves, and ties go to the checkpoint's region (the
home region without one). Only regions with a live master are candidates. Pure, but for
`live`, which asks the leases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum

from cbas_async.clock import Clock
from cbas_async.fleet.pools import PoolBook
from cbas_async.fleet.transfer_meter import TransferMeter
from cbas_async.handlers.placement import broker_choice, broker_job, remaining_work_hours
from cbas_async.records import JobRecord
from cbas_async.spot.broker import PlacementChoice
from cbas_async.spot.pricebook import PriceBook
from cbas_async.spot.region_scoring import MOVE_MARGIN, MoveCost, RegionOption, rank_regions
from cbas_async.spot.region_scoring import worth_moving as worth_moving_to
from cbas_async.states import JobState

GIB = 1024.0**3
MIB = 1024.0**2

LiveRegions = Callable[[], Awaitable[set[str]]]
LIVE_FOR_S = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRates:
    """What copying a checkpoint between regions costs: S3 egress, and the copy's rate."""

    egress_usd_per_gib: float = 0.02
    transfer_mib_s: float = 100.0
    meter: TransferMeter | None = None  # the copies' measured rate, once there is one

    @property
    def mib_s(self) -> float:
        return self.meter.mib_s if self.meter is not None else self.transfer_mib_s

    def copy(self, size_bytes: int, *, extra_s: float = 0.0) -> MoveCost:
        """A copy of `size_bytes`, plus `extra_s` of other time without progress."""
        return MoveCost(
            usd=size_bytes / GIB * self.egress_usd_per_gib,
            seconds=size_bytes / MIB / self.mib_s + extra_s,
        )


class Adoption(Enum):
    """What a master does with a job that has no live owner."""

    ADOPT = "adopt"
    RETARGET = "retarget"  # choose its region again first; adopt it if that is this one
    LEAVE = "leave"  # another live region's masters take it


WAITING = (JobState.PENDING, JobState.INTERRUPTED)


def adoption(job: JobRecord, *, own: str, live: Collection[str]) -> Adoption:
    """A PENDING or INTERRUPTED job is adopted by the masters of its target region, and
    re-targeted by any master when the target is unset or has no live master. Any other
    live job stays with the masters of the region it was placed in while it has some."""
    if job.state in WAITING:
        target = job.target_region
        if target == own:
            return Adoption.ADOPT
        return Adoption.RETARGET if target is None or target not in live else Adoption.LEAVE
    region = job.placement.region if job.placement is not None else None
    if region is None or region == own or region not in live:
        return Adoption.ADOPT
    return Adoption.LEAVE


class RegionChooser:
    """Ranks the live regions for a job with each region's price book (see the module)."""

    def __init__(
        self,
        *,
        books: Mapping[str, PriceBook],
        own: str,
        home: str,
        clock: Clock,
        live: LiveRegions,
        rates: TransferRates | None = None,
        pools: PoolBook | None = None,
        margin: float = MOVE_MARGIN,
    ) -> None:
        self._books = books
        self.own = own
        self._home = home
        self._clock = clock
        self._live = live
        self._seen: tuple[float, set[str]] | None = None  # (monotonic, live regions)
        self._rates = rates or TransferRates()
        self._pools = pools  # this master's pools (its own region's launches)
        self._margin = margin

    async def live(self) -> set[str]:
        """The regions with a live master, this one's included. One read of the leases
        serves every caller for `LIVE_FOR_S` (a pass places, re-queues and hands over
        many jobs; leases last much longer than that)."""
        now_s = self._clock.monotonic()
        if self._seen is None or now_s - self._seen[0] >= LIVE_FOR_S:
            self._seen = (now_s, await self._live() | {self.own})
        return set(self._seen[1])

    def checkpoint_region(self, job: JobRecord) -> str:
        """Where the checkpoint the next attempt resumes from is (the home region without)."""
        pointer = job.checkpoint
        return (pointer.region if pointer is not None else None) or self._home

    def target(self, job: JobRecord, live: Collection[str]) -> str:
        """The live region where the job is expected to finish cheapest, the checkpoint's
        copy included; with no spot placement anywhere, the checkpoint's region if live,
        else this master's."""
        here = self.checkpoint_region(job)
        pointer = job.checkpoint
        move = self._rates.copy(pointer.size_bytes) if pointer is not None else None
        options = self.options(job, live, here=here, move=move)
        if options:
            return options[0].region
        return here if here in live else self.own

    async def elsewhere(self, job: JobRecord) -> str | None:
        """The best live region other than this master's for a job it cannot place now (every
        allowed pool here in back-off), or None when no other region has a master."""
        others = await self.live() - {self.own}
        if not others:
            return None
        target = self.target(job, others)
        return target if target in others else None

    async def requeue_target(self, job: JobRecord) -> str:
        """The target of an interrupted job's next attempt: the region its move asked for
        while that region has a master, else the best one now."""
        live = await self.live()
        if job.move_to is not None and job.move_to in live:
            return job.move_to
        return self.target(job, live)

    def worth_moving(self, job: JobRecord, live: Collection[str]) -> RegionOption | None:
        """For a job running on spot, the live region it should move to now, or None: the
        saving over staying must beat the move (its checkpoint, the copy of the latest
        checkpoint's size, the restart) `margin` times."""
        placement = job.placement
        if placement is None or placement.market != "spot" or job.move_to is not None:
            return None
        here = placement.region
        if not set(live) - {here}:
            return None
        asked = broker_job(job, region=here, now=self._clock.now())
        size = job.checkpoint.size_bytes if job.checkpoint is not None else 0
        move = self._rates.copy(size, extra_s=asked.checkpoint_cost_s + asked.restart_cost_s)
        options = self.options(job, {*live, here}, here=here, move=move)
        return worth_moving_to(options, here=here, margin=self._margin)

    def options(
        self, job: JobRecord, live: Collection[str], *, here: str, move: MoveCost | None
    ) -> list[RegionOption]:
        """The live regions with a price book and a spot placement, cheapest first."""
        placements = {
            region: self._placement(job, region, book)
            for region in sorted(live)
            if (book := self._books.get(region)) is not None
        }
        return rank_regions(placements, here=here, move=move, work_hours=remaining_work_hours(job))

    def _placement(self, job: JobRecord, region: str, book: PriceBook) -> PlacementChoice:
        now = self._clock.now()
        asked = broker_job(job, region=region, now=now)
        return broker_choice(
            asked, book=book, now=now, now_s=self._clock.monotonic(), pools=self._pools
        )
