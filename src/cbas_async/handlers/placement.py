"""Choosing where an attempt runs: the spot broker's placement for the job, mapped onto what
the launcher needs. Pure: the price book and the time are handed in.

What the broker is told about a job:
- instance types, max price and deadline from the spec;
- work: `DEFAULT_WORK_HOURS` (the spec has no runtime estimate yet);
- checkpoint cost: the last checkpoint's measured `duration_s` (recorded in the pointer's
  `extra`) when there is one, else `DEFAULT_CHECKPOINT_COST_S`.

A spec's `checkpoint.interval_s` overrides the broker's interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cbas_async.clock import Clock, parse_utc
from cbas_async.master.launcher import Placement
from cbas_async.master.pricebook import PriceBook
from cbas_async.records import JobRecord
from cbas_async.spot.broker import BrokerJob, choose_placement
from cbas_async.spot.broker import Placement as BrokerPlacement

DEFAULT_CHECKPOINT_INTERVAL_S = 300.0
DEFAULT_WORK_HOURS = 1.0
DEFAULT_CHECKPOINT_COST_S = 60.0
DEFAULT_INSTANCE_TYPE = "c5.large"
# the worker needs a positive interval: the broker's "none needed" becomes a day, and a
# near-zero one (free checkpoints) a floor that keeps S3 traffic sane
MIN_CHECKPOINT_INTERVAL_S = 30.0
MAX_CHECKPOINT_INTERVAL_S = 86400.0

Placer = Callable[[JobRecord], Placement]


def first_allowed_type(region: str) -> Placer:
    """Place on the spec's first allowed instance type, capped at the spec's max price."""

    def place(job: JobRecord) -> Placement:
        spec = job.spec
        types = spec.get("resources", {}).get("instance_types") or [DEFAULT_INSTANCE_TYPE]
        interval = spec.get("checkpoint", {}).get("interval_s") or DEFAULT_CHECKPOINT_INTERVAL_S
        return Placement(
            region=region,
            zone=None,
            instance_type=str(types[0]),
            max_price_usd_per_hour=spec.get("max_price_usd_per_hour"),
            checkpoint_interval_s=float(interval),
        )

    return place


def broker_placer(*, book: PriceBook, clock: Clock, region: str) -> Placer:
    """Place each job where the broker expects it to cost least, with the book's prices now."""

    def place(job: JobRecord) -> Placement:
        now = clock.now()
        chosen = choose_placement(
            job=broker_job(job, region=region, now=now),
            history=book.history,
            ondemand=book.ondemand,
            hazard_per_hour=None,
            now=now,
            model=book.model,
        )
        return to_launch_placement(chosen, job.spec)

    return place


def broker_job(job: JobRecord, *, region: str, now: datetime) -> BrokerJob:
    spec = job.spec
    types = spec.get("resources", {}).get("instance_types") or [DEFAULT_INSTANCE_TYPE]
    deadline = spec.get("deadline")
    max_price = spec.get("max_price_usd_per_hour")
    return BrokerJob(
        instance_types=tuple(str(t) for t in types),
        work_hours=DEFAULT_WORK_HOURS,
        checkpoint_cost_s=checkpoint_cost_s(job),
        deadline=parse_utc(str(deadline)) if deadline else None,
        max_price_usd_per_hour=float(max_price) if max_price else None,
        region=region,
    )


def checkpoint_cost_s(job: JobRecord) -> float:
    """The last checkpoint's measured duration, if the worker recorded one."""
    pointer = job.checkpoint
    measured = pointer.extra.get("duration_s") if pointer is not None else None
    try:
        value = float(measured) if measured is not None else math.nan
    except ValueError:
        value = math.nan
    return value if math.isfinite(value) and value > 0 else DEFAULT_CHECKPOINT_COST_S


def to_launch_placement(chosen: BrokerPlacement, spec: dict[str, Any]) -> Placement:
    """The launcher's placement; the spec's checkpoint interval wins over the broker's."""
    asked = spec.get("checkpoint", {}).get("interval_s")
    interval = float(asked) if asked else _clamp_interval(chosen.checkpoint_interval_s)
    return Placement(
        region=chosen.region,
        zone=chosen.zone,
        instance_type=chosen.instance_type,
        max_price_usd_per_hour=chosen.max_price_usd_per_hour if chosen.market == "spot" else None,
        checkpoint_interval_s=interval,
        market=chosen.market,
    )


def _clamp_interval(interval_s: float | None) -> float:
    if interval_s is None or not math.isfinite(interval_s):
        return MAX_CHECKPOINT_INTERVAL_S
    return min(max(float(interval_s), MIN_CHECKPOINT_INTERVAL_S), MAX_CHECKPOINT_INTERVAL_S)
