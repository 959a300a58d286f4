"""Spot prices for the API and the UI's chart: DescribeSpotPriceHistory, cached briefly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cbas_async.clock import Clock, utc_iso
from cbas_async.spot.history import PricePoint
from cbas_async.spot.prices import Ec2PriceSource

if TYPE_CHECKING:
    from types_aiobotocore_ec2 import EC2Client


@dataclass
class SpotPrices:
    """Price series per (zone, instance type); one EC2 call per query per `ttl_s`."""

    ec2: EC2Client
    region: str
    clock: Clock
    ttl_s: float = 60.0
    _cache: dict[tuple[tuple[str, ...], int], tuple[float, list[PricePoint]]] = field(
        default_factory=dict
    )

    async def series(self, instance_types: Sequence[str], hours: int) -> list[dict[str, Any]]:
        """`[{zone, instance_type, points: [[iso time, usd/h], ...]}]`, oldest point first.

        Raises TransientError or PermanentError as `Ec2PriceSource.fetch` does.
        """
        points = await self._points(tuple(sorted(set(instance_types))), hours)
        grouped: dict[tuple[str, str], list[PricePoint]] = {}
        for point in points:
            grouped.setdefault((point.zone, point.instance_type), []).append(point)
        return [
            {
                "zone": zone,
                "instance_type": instance_type,
                "points": [
                    [utc_iso(p.timestamp), p.price_usd_per_hour]
                    for p in sorted(group, key=lambda p: p.timestamp)
                ],
            }
            for (zone, instance_type), group in sorted(grouped.items())
        ]

    async def _points(self, types: tuple[str, ...], hours: int) -> list[PricePoint]:
        now = self.clock.monotonic()
        cached = self._cache.get((types, hours))
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1]
        source = Ec2PriceSource(self.ec2, self.region, list(types))
        points = await source.fetch(since=self.clock.now() - timedelta(hours=hours))
        self._cache[(types, hours)] = (now, points)
        return points
