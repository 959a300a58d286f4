"""Choosing where an attempt runs (a simple rule until the spot broker takes over)."""

from __future__ import annotations

from collections.abc import Callable

from cbas_async.master.launcher import Placement
from cbas_async.records import JobRecord

DEFAULT_CHECKPOINT_INTERVAL_S = 300.0

Placer = Callable[[JobRecord], Placement]


def first_allowed_type(region: str) -> Placer:
    """Place on the spec's first allowed instance type, capped at the spec's max price."""

    def place(job: JobRecord) -> Placement:
        spec = job.spec
        types = spec.get("resources", {}).get("instance_types") or ["c5.large"]
        interval = spec.get("checkpoint", {}).get("interval_s") or DEFAULT_CHECKPOINT_INTERVAL_S
        return Placement(
            region=region,
            zone=None,
            instance_type=str(types[0]),
            max_price_usd_per_hour=spec.get("max_price_usd_per_hour"),
            checkpoint_interval_s=float(interval),
        )

    return place
