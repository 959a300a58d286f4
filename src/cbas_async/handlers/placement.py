"""Choosing where an attempt runs: the spot broker's placement for the job, mapped onto what
the launcher needs. Pure: the price book and the time are handed in.

What the broker is told about a job:
- instance types, max price and deadline from the spec;
- work: the spec's `expected_hours` (`DEFAULT_WORK_HOURS` without one), less the work held
  by the checkpoint the next attempt resumes from (`checkpointed_work_s`), but never less
  than `MIN_REMAINING_FRACTION` of the estimate (a job past its estimate has more to do);
- checkpoint cost: the last checkpoint's measured `duration_s` (recorded in the pointer's
  `extra`) when there is one, else `DEFAULT_CHECKPOINT_COST_S`.

A spec's `checkpoint.interval_s` overrides the broker's interval.

With a `PoolBook`, the broker is also told which spot pools are in back-off after a
capacity or price refusal (`unavailable`), which on-demand types are (`ondemand_unavailable`)
and the pools' risk surcharges; a choice of a pool EC2 picks the zone of (zone None) that is
in back-off drops that type and asks again. None: no allowed pool may be tried now.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from cbas_async.clock import Clock, parse_utc
from cbas_async.fleet.launcher import LaunchRequest
from cbas_async.fleet.pools import Pool, PoolBook
from cbas_async.jobs import JobSpec
from cbas_async.records import JobPlacement, JobRecord, PricedAttempt
from cbas_async.spot.broker import DEFAULT_REGION, BrokerJob, choose_placement
from cbas_async.spot.broker import PlacementChoice as BrokerPlacement
from cbas_async.spot.pricebook import PriceBook

DEFAULT_CHECKPOINT_INTERVAL_S = 300.0
DEFAULT_WORK_HOURS = 1.0
# a guess for a job that ran past its estimate: the estimate was short, by how much is unknown
MIN_REMAINING_FRACTION = 0.1
DEFAULT_CHECKPOINT_COST_S = 60.0
# the worker needs a positive interval: the broker's "none needed" becomes a day, and a
# near-zero one (free checkpoints) a floor that keeps S3 traffic sane
MIN_CHECKPOINT_INTERVAL_S = 30.0
MAX_CHECKPOINT_INTERVAL_S = 86400.0

Placer = Callable[[JobRecord], LaunchRequest | None]


def first_allowed_type(
    region: str, *, pools: PoolBook | None = None, clock: Clock | None = None
) -> Placer:
    """Place on the spec's first allowed instance type not in back-off (spot, any zone),
    capped at the spec's max price."""

    def place(job: JobRecord) -> LaunchRequest | None:
        spec = job.spec
        for itype in spec.resources.instance_types:
            request = LaunchRequest(
                region=region,
                zone=None,
                instance_type=itype,
                max_price_usd_per_hour=spec.max_price_usd_per_hour,
                checkpoint_interval_s=spec.checkpoint.interval_s or DEFAULT_CHECKPOINT_INTERVAL_S,
                disk_gib=spec.resources.disk_gib,
            )
            if not _waiting(pools, clock, request):
                return request
        return None

    return place


def broker_placer(
    *, book: PriceBook, clock: Clock, region: str, pools: PoolBook | None = None
) -> Placer:
    """Place each job where the broker expects it to cost least, with the book's prices now
    and, with `pools`, around the pools in back-off and priced for their risk."""

    def place(job: JobRecord) -> LaunchRequest | None:
        now, now_s = clock.now(), clock.monotonic()
        asked = broker_job(job, region=region, now=now)
        while asked.instance_types:
            chosen = broker_choice(asked, book=book, now=now, now_s=now_s, pools=pools)
            request = to_launch_request(chosen, job.spec)
            if not _waiting(pools, clock, request):
                return request
            left = tuple(t for t in asked.instance_types if t != request.instance_type)
            asked = replace(asked, instance_types=left)
        return None

    return place


def broker_choice(
    asked: BrokerJob, *, book: PriceBook, now: datetime, now_s: float, pools: PoolBook | None
) -> BrokerPlacement:
    """The broker's placement of `asked` in its region, with the book's prices at `now` and,
    with `pools`, around the pools in back-off at `now_s` (monotonic) and their risk."""
    region = asked.region or DEFAULT_REGION
    cap = asked.max_price_usd_per_hour
    return choose_placement(
        job=asked,
        history=book.history,
        ondemand=book.ondemand,
        hazard_per_hour=None,
        now=now,
        model=book.model,
        unavailable=pools.unavailable(region, now_s, cap) if pools else None,
        risk=pools.risk(region, now_s) if pools else None,
        ondemand_unavailable=_ondemand_waiting(pools, region, asked, now_s),
    )


def pool_of(request: LaunchRequest) -> Pool:
    return Pool(request.region, request.zone, request.instance_type, request.market)


def _waiting(pools: PoolBook | None, clock: Clock | None, request: LaunchRequest) -> bool:
    if pools is None or clock is None:
        return False
    cap = request.max_price_usd_per_hour
    return pools.wait_s(pool_of(request), clock.monotonic(), cap) > 0


def _ondemand_waiting(
    pools: PoolBook | None, region: str, job: BrokerJob, now_s: float
) -> frozenset[str]:
    if pools is None:
        return frozenset()
    return frozenset(
        t for t in job.instance_types if pools.wait_s(Pool(region, None, t, "on-demand"), now_s)
    )


def job_placement(request: LaunchRequest, instance_id: str | None = None) -> JobPlacement:
    """What the job's item records about an attempt's launch."""
    return JobPlacement(
        region=request.region,
        zone=request.zone,
        instance_type=request.instance_type,
        market=request.market,
        max_price_usd_per_hour=request.max_price_usd_per_hour,
        checkpoint_interval_s=request.checkpoint_interval_s,
        instance_id=instance_id,
    )


def broker_job(job: JobRecord, *, region: str, now: datetime) -> BrokerJob:
    spec = job.spec
    return BrokerJob(
        instance_types=tuple(spec.resources.instance_types),
        work_hours=remaining_work_hours(job),
        checkpoint_cost_s=checkpoint_cost_s(job),
        deadline=spec.deadline,
        max_price_usd_per_hour=spec.max_price_usd_per_hour,
        region=region,
    )


def remaining_work_hours(job: JobRecord) -> float:
    hours = job.spec.expected_hours
    if hours is None:
        return DEFAULT_WORK_HOURS
    return max(hours - checkpointed_work_s(job) / 3600.0, hours * MIN_REMAINING_FRACTION)


def checkpointed_work_s(job: JobRecord) -> float:
    """The run time the latest checkpoint holds: each priced attempt up to the checkpoint's
    own ran from RUNNING to its last checkpoint (its priced entry says when), and
    the checkpoint's attempt from RUNNING to `taken_at`.

    Assumes each attempt resumed from the one before (a checkpoint found corrupt breaks
    that) and counts restoring as work. 0 when there is no checkpoint, or its attempt is
    not priced or its entry predates `running_at`: then the whole estimate is planned for.
    """
    pointer = job.checkpoint
    own = job.cost.attempts.get(pointer.attempt) if pointer is not None else None
    if pointer is None or own is None or own.running_at is None:
        return 0.0
    try:
        own_s = (parse_utc(pointer.taken_at) - own.running_at).total_seconds()
    except ValueError:
        return 0.0
    earlier = (e for n, e in job.cost.attempts.items() if n < pointer.attempt)
    return max(own_s, 0.0) + sum(_checkpointed_s(entry) for entry in earlier)


def _checkpointed_s(entry: PricedAttempt) -> float:
    """An earlier attempt's run up to its last checkpoint: its end less the work redone."""
    if entry.running_at is None:
        return 0.0  # never ran, or priced before entries said when it did
    end = entry.end - timedelta(seconds=entry.work_redone_s)
    return max((end - entry.running_at).total_seconds(), 0.0)


def checkpoint_cost_s(job: JobRecord) -> float:
    """The last checkpoint's measured duration, if the worker recorded one."""
    pointer = job.checkpoint
    measured = pointer.extra.get("duration_s") if pointer is not None else None
    try:
        value = float(measured) if measured is not None else math.nan
    except ValueError:
        value = math.nan
    return value if math.isfinite(value) and value > 0 else DEFAULT_CHECKPOINT_COST_S


def to_launch_request(chosen: BrokerPlacement, spec: JobSpec) -> LaunchRequest:
    """The launch request for the broker's choice; the spec's checkpoint interval wins over
    the broker's."""
    asked = spec.checkpoint.interval_s
    interval = asked if asked else _clamp_interval(chosen.checkpoint_interval_s)
    return LaunchRequest(
        region=chosen.region,
        zone=chosen.zone,
        instance_type=chosen.instance_type,
        max_price_usd_per_hour=chosen.max_price_usd_per_hour if chosen.market == "spot" else None,
        checkpoint_interval_s=interval,
        market=chosen.market,
        # the broker's hour-aligned checkpoints, unless the spec set its own interval
        checkpoint_at_hour_end=chosen.checkpoint_at_hour_end and not asked,
        disk_gib=spec.resources.disk_gib,
    )


def _clamp_interval(interval_s: float | None) -> float:
    if interval_s is None or not math.isfinite(interval_s):
        return MAX_CHECKPOINT_INTERVAL_S
    return min(max(float(interval_s), MIN_CHECKPOINT_INTERVAL_S), MAX_CHECKPOINT_INTERVAL_S)
