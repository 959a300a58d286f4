"""Masters across regions for a chaos run with `--regions`: one master in each region at
the start, a killed master replaced in its own region, and region outages: every master of
one region killed with -9 for 8 to 30 seconds (several lease lives, so the other regions'
masters adopt its jobs), then one started there again."""

from __future__ import annotations

import asyncio
import random

import structlog

from cbas_async.clock import Clock
from chaos.masters import Masters

log = structlog.get_logger(__name__)

OUTAGE_S = (8.0, 30.0)


class RegionMasters:
    """The masters of every region of the run and the outages of whole regions."""

    def __init__(
        self,
        *,
        masters: Masters,
        regions: tuple[str, ...],
        rng: random.Random,
        clock: Clock,
        second_master_p: float = 0.3,
    ) -> None:
        self._masters = masters
        self.regions = regions
        self._rng = rng
        self._clock = clock
        self._second_master_p = second_master_p
        self._down_until: dict[str, float] = {}  # region -> monotonic end of its outage

    @property
    def down(self) -> set[str]:
        return set(self._down_until)

    async def start_all(self) -> None:
        for region in self.regions:
            await self._masters.start(region)

    async def kill_one(self) -> int:
        """kill -9 one live master, then make sure every region not in an outage has one
        (sometimes two); returns how many masters were killed (0 or 1)."""
        live = self._masters.live
        killed = 0
        if live:
            await self._masters.kill(self._rng.choice(live))
            killed = 1
        up = [r for r in self.regions if r not in self._down_until]
        for region in up:
            if not self._masters.live_in(region):
                await self._masters.start(region)
        if up and self._rng.random() < self._second_master_p:
            await self._masters.start(self._rng.choice(up))
        return killed

    async def outage(self) -> bool:
        """Every master of one region (not already down, and never the last region up)
        killed; False when no region may go down now."""
        up = [r for r in self.regions if r not in self._down_until]
        if len(up) < 2:
            return False
        region = self._rng.choice(up)
        victims = self._masters.live_in(region)
        await asyncio.gather(*(self._masters.kill(p) for p in victims))
        seconds = round(self._rng.uniform(*OUTAGE_S), 1)
        self._down_until[region] = self._clock.monotonic() + seconds
        log.info("chaos_region_outage", region=region, masters=len(victims), s=seconds)
        return True

    async def restore_due(self) -> int:
        """Start a master in each region whose outage is over; how many came back."""
        now = self._clock.monotonic()
        back = [r for r, until in self._down_until.items() if until <= now]
        for region in back:
            del self._down_until[region]
            await self._masters.start(region)
            log.info("chaos_region_back", region=region)
        return len(back)
