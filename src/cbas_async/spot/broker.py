"""The broker: for a pending job, the placement (zone, type, max price, checkpoint interval)
with the lowest expected cost, deadline risk included. Pure: no I/O.

For each (zone, type) with history and each candidate max price, over a lookback window
ending at `now`, the broker estimates the price paid while running (the price now,
reverting to the window's mean at the hourly persistence the window shows), the
interruption rate (given, or counted as crossings of the max price in the bid era) and the
spells without spot. Expected instance time and billed hours come from `expectation.py`
(Daly's model, the notice, hourly billing, a checkpoint the deadline needs anyway);
expected cost is price x billed hours, plus the on-demand premium for the work expected to
be bridged on on-demand, during spells without spot, when interruptions eat more than the
slack before the deadline. On-demand is a candidate unless the caller bridges itself.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from cbas_async.spot.eras import Billing, Era, MarketModel, model_for
from cbas_async.spot.expectation import ExpectedRun, expected_run
from cbas_async.spot.history import PriceHistory, PriceSeries, epoch_s
from cbas_async.spot.interval import daly_interval_s
from cbas_async.spot.outlook import (
    SpotOutlook,
    bridge_s,
    expected_price,
    outlook,
    time_quantiles,
    wall_time_s,
)

DEFAULT_LOOKBACK = timedelta(days=7)
DEFAULT_REGION = "us-east-1"
# interruptions per hour assumed when nothing is known (about one a day)
PRIOR_RATE_PER_HOUR = 1.0 / 24.0
# bid-era max prices tried besides the cap: lower ones rely on the market staying as calm as
# in the lookback window, which the 2015 traces show it does not (tuned on them: lower
# quantiles cost 1-3 % more on average, with a few jobs losing hours of work). These two
# pause the job when the price rises past the window's range; with checkpoints at every
# hour end (deadline jobs, see expectation.py) a pause costs the unbilled partial hour, and
# on the 2015 traces they save up to 1.8 % of on-demand over the cap alone
BID_QUANTILES = (0.99, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerJob:
    """What the broker needs to know about a pending job (work is what remains to be done)."""

    instance_types: tuple[str, ...]
    work_hours: float
    checkpoint_cost_s: float = 60.0
    restart_cost_s: float = 120.0
    deadline: datetime | None = None
    max_price_usd_per_hour: float | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementChoice:
    """Where and how to run a job next. `max_price_usd_per_hour` None: EC2's default cap
    (on-demand); `checkpoint_interval_s` None: no periodic checkpoint needed;
    `checkpoint_at_hour_end`: (hourly billing) time checkpoints to complete at the end of
    every (interval / 1 h)-th instance-hour instead of every interval of work;
    `expected_instance_s`: (spot) instance time expected, rework included, without the
    spells spent waiting for spot; `expected_interruptions` over that time."""

    region: str
    zone: str | None
    instance_type: str
    market: Literal["spot", "on-demand"]
    max_price_usd_per_hour: float | None
    checkpoint_interval_s: float | None
    expected_cost_usd: float | None
    expected_runtime_s: float | None
    checkpoint_at_hour_end: bool = False
    expected_instance_s: float | None = None
    expected_interruptions: float | None = None


@dataclass(frozen=True, slots=True)
class _Option:
    """A candidate placement and its expected cost."""

    placement: PlacementChoice
    cost_usd: float  # expected, with on-demand bridging for the deadline (spot)


def choose_placement(
    *,
    job: BrokerJob,
    history: PriceHistory,
    ondemand: Mapping[str, float],
    hazard_per_hour: Mapping[tuple[str, str], float] | None,
    now: datetime,
    model: MarketModel | None = None,
    unavailable: Mapping[tuple[str, str], float] | None = None,
    outage_s: Mapping[tuple[str, str], float] | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    bridged_by_caller: bool = False,
    risk: Mapping[tuple[str, str], float] | None = None,
    ondemand_unavailable: Collection[str] = (),
) -> PlacementChoice:
    """The placement with the lowest expected cost, counting the on-demand fallback that a
    spot plan too slow for the deadline would need. `unavailable` maps (zone, type) without
    capacity now to the expected wait in seconds until it returns (inf: skip it); `outage_s`
    gives the mean spell without capacity after an interruption (current era; by default
    the spells above the max price in the price history). `bridged_by_caller`: the
    caller runs on on-demand itself when its deadline needs it (the simulator's broker
    policy), so spot placements are ranked with the fallback they would need, but
    on-demand is not offered instead. `risk` maps (zone, type) to a surcharge on the
    spot pool's expected cost when ranking (0.5: ranked as if 50 % dearer), for the
    capacity this deployment saw it lack or lose (`fleet.pools.risk_of`); the cost the
    choice reports stays unscaled. `ondemand_unavailable`: types not to offer on demand
    now. Only history before `now` is used. Raises ValueError only for an empty
    `instance_types`."""
    if not job.instance_types:
        raise ValueError("the job allows no instance type")
    era = model or model_for(now)
    slack_s = (job.deadline - now).total_seconds() if job.deadline else math.inf
    context = _Context(
        job, ondemand, era, slack_s, dict(unavailable or {}), dict(outage_s or {}), risk or {}
    )
    spot = _spot_options(context, history, hazard_per_hour, now, lookback)
    if not spot:
        return _fallback(job, ondemand)
    if not bridged_by_caller:
        offered = {t: p for t, p in ondemand.items() if t not in ondemand_unavailable}
        spot += _ondemand_options(replace(context, ondemand=offered), history)
    options = spot
    return min(options, key=lambda o: o.cost_usd).placement


@dataclass(frozen=True, slots=True)
class _Context:
    """What every candidate of one decision shares."""

    job: BrokerJob
    ondemand: Mapping[str, float]
    era: MarketModel
    slack_s: float
    waits_s: Mapping[tuple[str, str], float]
    outages_s: Mapping[tuple[str, str], float]
    risks: Mapping[tuple[str, str], float]


def _spot_options(
    context: _Context,
    history: PriceHistory,
    hazard: Mapping[tuple[str, str], float] | None,
    now: datetime,
    lookback: timedelta,
) -> list[_Option]:
    options = []
    start_s, now_s = epoch_s(now - lookback), epoch_s(now)
    for itype in context.job.instance_types:
        for zone in history.zones(itype):
            wait_s = context.waits_s.get((zone, itype), 0.0)
            if math.isinf(wait_s) or not _in_region(history, zone, context.job.region):
                continue
            series = history.series(zone, itype)
            if series.first_s >= now_s:
                continue
            for bid in _bids(series, (start_s, now_s), context, itype):
                view = outlook(series, bid, start_s=start_s, end_s=now_s)
                outage = context.outages_s.get((zone, itype), view.mean_outage_s)
                view = replace(view, wait_now_s=max(view.wait_now_s, wait_s), mean_outage_s=outage)
                rate = hazard.get((zone, itype)) if hazard is not None else view.rate_per_hour
                option = _spot_option(
                    context, history.region_of(zone), (zone, itype), bid, view, rate
                )
                if option is not None:
                    options.append(option)
    return options


def _in_region(history: PriceHistory, zone: str, region: str | None) -> bool:
    return region is None or history.region_of(zone) == region


def _bids(
    series: PriceSeries, window: tuple[float, float], context: _Context, itype: str
) -> list[float]:
    """Candidate max prices: in the bid era, time-weighted price quantiles of the window and
    the cap; in the current era (the max price only caps what is paid), the cap."""
    cap = context.job.max_price_usd_per_hour or context.ondemand.get(itype) or math.inf
    if context.era.era is Era.CURRENT:
        return [cap]
    levels = set(time_quantiles(series, *window, BID_QUANTILES)) | {cap}
    return sorted(level for level in levels if level <= cap)


def _spot_option(
    context: _Context,
    region: str,
    key: tuple[str, str],
    bid: float,
    view: SpotOutlook,
    rate_per_hour: float | None,
) -> _Option | None:
    job, (zone, itype) = context.job, key
    if view.up_fraction <= 0 or not math.isfinite(view.mean_price_usd_per_hour):
        return None
    rate = PRIOR_RATE_PER_HOUR if rate_per_hour is None else max(rate_per_hour, 0.0)
    work_s = job.work_hours * 3600.0
    run = _expected_run(context, rate)
    if not math.isfinite(run.instance_s):
        return None
    spare_s = context.slack_s - work_s - _margin_s(job) - view.wait_now_s
    bridged_s = bridge_s(run, view, work_s=work_s, spare_s=spare_s)
    price = expected_price(view, run.billed_hours)
    ondemand_usd = context.ondemand.get(itype, max(bid, price))
    cost = price * run.billed_hours + bridged_s / 3600.0 * max(ondemand_usd - price, 0.0)
    placement = PlacementChoice(
        region=region,
        zone=zone,
        instance_type=itype,
        market="spot",
        max_price_usd_per_hour=None if math.isinf(bid) else bid,
        checkpoint_interval_s=run.interval_s if math.isfinite(run.interval_s) else None,
        expected_cost_usd=cost,
        expected_runtime_s=wall_time_s(run, view),
        checkpoint_at_hour_end=run.hour_aligned,
        expected_instance_s=run.instance_s,
        expected_interruptions=run.interruptions,
    )
    return _Option(placement, cost * (1.0 + max(context.risks.get(key, 0.0), 0.0)))


def _margin_s(job: BrokerJob) -> float:
    return job.restart_cost_s + job.checkpoint_cost_s


def _expected_run(context: _Context, rate_per_hour: float) -> ExpectedRun:
    """The expected run of the job's work; a deadline that could not absorb losing the whole
    run near its end needs a checkpoint whatever the plan."""
    job = context.job
    work_s = job.work_hours * 3600.0
    return expected_run(
        work_s=work_s,
        rate_per_hour=rate_per_hour,
        checkpoint_cost_s=job.checkpoint_cost_s,
        restart_cost_s=job.restart_cost_s,
        model=context.era,
        checkpoint_needed=context.slack_s - work_s < work_s + _margin_s(job),
    )


def _ondemand_options(context: _Context, history: PriceHistory) -> list[_Option]:
    options = []
    job = context.job
    work_h = job.work_hours
    billed_h = math.ceil(work_h - 1e-9) if context.era.billing is Billing.HOURLY else work_h
    for itype in job.instance_types:
        if itype not in context.ondemand:
            continue
        zones = [z for z in history.zones(itype) if _in_region(history, z, job.region)]
        region = history.region_of(zones[0]) if zones else job.region or DEFAULT_REGION
        cost = context.ondemand[itype] * billed_h
        placement = PlacementChoice(
            region=region,
            zone=None,
            instance_type=itype,
            market="on-demand",
            max_price_usd_per_hour=None,
            checkpoint_interval_s=None,
            expected_cost_usd=cost,
            expected_runtime_s=work_h * 3600.0,
        )
        options.append(_Option(placement, cost))
    return options


def _fallback(job: BrokerJob, ondemand: Mapping[str, float]) -> PlacementChoice:
    """No spot history for any allowed type: spot on the type cheapest on demand, capped at
    its on-demand price, in no particular zone."""
    priced = [t for t in job.instance_types if t in ondemand]
    itype = min(priced, key=lambda t: ondemand[t]) if priced else job.instance_types[0]
    price = ondemand.get(itype)
    mtbf_s = 3600.0 / PRIOR_RATE_PER_HOUR
    return PlacementChoice(
        region=job.region or DEFAULT_REGION,
        zone=None,
        instance_type=itype,
        market="spot",
        max_price_usd_per_hour=price,
        checkpoint_interval_s=daly_interval_s(job.checkpoint_cost_s, mtbf_s)
        if job.checkpoint_cost_s > 0
        else None,
        expected_cost_usd=price * job.work_hours if price is not None else None,
        expected_runtime_s=job.work_hours * 3600.0,
    )
