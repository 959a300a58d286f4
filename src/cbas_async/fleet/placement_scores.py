"""Spot Placement Scores: how likely EC2 thinks a spot request for one instance of a type
succeeds in each zone (1 to 10), fed to the `PoolBook` for the broker's risk surcharge.

One `GetSpotPlacementScores` per instance type (single zone, capacity 1), at most every
`refresh_s`: EC2 limits how many distinct requests an account makes a day, and a score is
per type so that jobs allowing several types share them. Where the API does not answer
(no permission, an endpoint without it such as the local cloud), the pools go without a
score until the next refresh, and this is logged once.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from cbas_async.clock import Clock
from cbas_async.fleet.pools import PoolBook

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

log = structlog.get_logger(__name__)

REFRESH_S = 1800.0


class PlacementScores:
    """Asks EC2 for the scores of the types jobs allow, and hands them to `pools`."""

    def __init__(
        self,
        *,
        ec2: EC2Client,
        region: str,
        clock: Clock,
        pools: PoolBook,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._ec2 = ec2
        self._region = region
        self._clock = clock
        self._pools = pools
        self._refresh_s = refresh_s
        self._asked: dict[str, float] = {}  # type -> when (monotonic)
        self._zones: dict[str, str] = {}  # zone id -> zone name
        self._quiet = False  # the API did not answer once: logged

    async def refresh(self, instance_types: Collection[str]) -> None:
        """Ask for the scores of the types not asked about for `refresh_s`; never raises
        for an API that does not answer."""
        now_s = self._clock.monotonic()
        for itype in instance_types:
            if now_s - self._asked.get(itype, -math.inf) < self._refresh_s:
                continue
            self._asked[itype] = now_s
            try:
                scores = await self._scores(itype)
            except (ClientError, BotoCoreError, ResponseParserError) as exc:
                self._unanswered(exc)  # moto's server answers an HTML page
                continue
            self._pools.set_scores(scores)

    async def _scores(self, itype: str) -> dict[tuple[str, str], int]:
        answer = await self._ec2.get_spot_placement_scores(
            InstanceTypes=[itype],
            TargetCapacity=1,
            TargetCapacityUnitType="units",
            SingleAvailabilityZone=True,
            RegionNames=[self._region],
        )
        found = {}
        for entry in answer.get("SpotPlacementScores", []):
            zone = await self._zone_name(entry.get("AvailabilityZoneId", ""))
            score = entry.get("Score")
            if zone is not None and score is not None and entry.get("Region") == self._region:
                found[(zone, itype)] = int(score)
        return found

    async def _zone_name(self, zone_id: str) -> str | None:
        """Scores name zones by id (use1-az4), the broker by name (us-east-1b)."""
        if zone_id and zone_id not in self._zones:
            answer = await self._ec2.describe_availability_zones()
            for zone in answer.get("AvailabilityZones", []):
                if "ZoneId" in zone and "ZoneName" in zone:
                    self._zones[zone["ZoneId"]] = zone["ZoneName"]
        return self._zones.get(zone_id)

    def _unanswered(self, exc: Exception) -> None:
        if not self._quiet:
            log.info("placement_scores_unavailable", error=str(exc))
            self._quiet = True
