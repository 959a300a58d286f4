"""Spot prices for the API and the UI's chart: DescribeSpotPriceHistory in every region of
the deployment (each with that region's EC2 client), cached briefly per region."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cbas_async.clock import Clock, utc_iso
from cbas_async.spot.history import PricePoint
from cbas_async.spot.prices import Ec2PriceSource

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client

_Key = tuple[str, tuple[str, ...], int]  # region, instance types, hours


@dataclass
class SpotPrices:
    """Price series per (region, zone, instance type); one EC2 call per region and query
    per `ttl_s`. `ec2` maps each region of the deployment, the home region first, to its
    EC2 client; a deployment of one region has one entry."""

    ec2: Mapping[str, EC2Client]
    clock: Clock
    ttl_s: float = 60.0
    _cache: dict[_Key, tuple[float, list[PricePoint]]] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return list(self.ec2)

    async def series(
        self, instance_types: Sequence[str], hours: int, regions: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """`[{region, zone, instance_type, points: [[iso time, usd/h], ...]}]`, oldest point
        first, the regions in the deployment's order (all of them when `regions` is None).

        Raises TransientError or PermanentError as `Ec2PriceSource.fetch` does, for any
        region: the answer covers every region asked or none.
        """
        wanted = [r for r in self.ec2 if regions is None or r in regions]
        types = tuple(sorted(set(instance_types)))
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._points(r, types, hours)) for r in wanted]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from failed  # one region's error, as with one region
        by_region = zip(wanted, tasks, strict=True)
        return [s for region, task in by_region for s in _grouped(region, task.result())]

    async def _points(self, region: str, types: tuple[str, ...], hours: int) -> list[PricePoint]:
        now = self.clock.monotonic()
        cached = self._cache.get((region, types, hours))
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        source = Ec2PriceSource(self.ec2[region], region, list(types))
        points = await source.fetch(since=self.clock.now() - timedelta(hours=hours))
        self._cache[(region, types, hours)] = (now, points)
        return points


def _grouped(region: str, points: list[PricePoint]) -> list[dict[str, Any]]:
    """One region's points as series, by zone then instance type."""
    grouped: dict[tuple[str, str], list[PricePoint]] = {}
    for point in points:
        grouped.setdefault((point.zone, point.instance_type), []).append(point)
    return [
        {
            "region": region,
            "zone": zone,
            "instance_type": instance_type,
            "points": [
                [utc_iso(p.timestamp), p.price_usd_per_hour]
                for p in sorted(group, key=lambda p: p.timestamp)
            ],
        }
        for (zone, instance_type), group in sorted(grouped.items())
    ]
