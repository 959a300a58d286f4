"""What a job's attempts cost: each run priced from the price history under the market's
billing, next to what on-demand would have cost and the work that had to be redone. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cbas_async.spot.eras import HOUR_S, Billing, MarketModel, per_second_billed_s
from cbas_async.spot.history import PriceHistory


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptCost:
    """One attempt (one instance run): what it cost, what on-demand would have, work redone."""

    cost_usd: float
    ondemand_usd: float
    duration_s: float
    work_redone_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCost:
    """A job's attempts together. `ondemand_usd` prices the run time less the redone work,
    as one on-demand run (on-demand is not interrupted, so nothing would be redone)."""

    cost_usd: float
    ondemand_usd: float
    work_redone_s: float
    attempts: int


def ondemand_run_usd(duration_s: float, price_usd_per_hour: float, model: MarketModel) -> float:
    """One on-demand run of `duration_s` under the era's billing (the user stops it)."""
    if duration_s <= 0:
        return 0.0
    if model.billing is Billing.HOURLY:
        return math.ceil(duration_s / HOUR_S - 1e-9) * price_usd_per_hour
    return per_second_billed_s(duration_s, model) * price_usd_per_hour / HOUR_S


def attempt_cost(
    *,
    history: PriceHistory,
    zone: str | None,
    instance_type: str,
    start: datetime,
    end: datetime,
    model: MarketModel,
    ondemand_usd_per_hour: float,
    spot: bool = True,
    provider_interrupted: bool = False,
    work_redone_s: float = 0.0,
) -> AttemptCost:
    """A spot attempt is priced from the history of its zone; an on-demand one (or a spot one
    with no known zone or price series) at the on-demand price."""
    duration_s = max((end - start).total_seconds(), 0.0)
    ondemand = ondemand_run_usd(duration_s, ondemand_usd_per_hour, model)
    priced = spot and zone is not None and history.has(zone, instance_type)
    if priced and zone is not None:
        cost = history.cost(
            zone, instance_type, start, end, model, provider_interrupted=provider_interrupted
        )
    else:
        cost = ondemand
    return AttemptCost(
        cost_usd=cost, ondemand_usd=ondemand, duration_s=duration_s, work_redone_s=work_redone_s
    )


def job_cost(
    attempts: Sequence[AttemptCost], *, ondemand_usd_per_hour: float, model: MarketModel
) -> JobCost:
    useful_s = sum(a.duration_s for a in attempts) - sum(a.work_redone_s for a in attempts)
    return JobCost(
        cost_usd=sum(a.cost_usd for a in attempts),
        ondemand_usd=ondemand_run_usd(max(useful_s, 0.0), ondemand_usd_per_hour, model),
        work_redone_s=sum(a.work_redone_s for a in attempts),
        attempts=len(attempts),
    )
