"""Spot market eras: how each era of EC2 spot interrupts and bills an instance (its `MarketModel`).

Two eras, as the data READMEs describe them:

- **bid era** (before the late-2017 pricing change): an instance runs while the spot price
  stays at or below its max price (its bid); a price *above* the max price interrupts it
  (a price equal to it does not). Billing is hourly: each started instance-hour is charged
  at the spot price in effect at the start of that hour; when the provider interrupts, the
  partial hour is free, when the user stops, it is charged in full. No notice.
- **current era**: per-second billing with a 60 s minimum, at the price in effect; the max
  price only caps what is paid. Interruptions come from capacity (an availability trace, or
  a hazard rate per zone and type) with a 2-minute notice.

The functions here are pure: they work on plain numbers and arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt

HOUR_S = 3600.0
# the late-2017 change: smoothed prices, interruptions from capacity, per-second billing
PRICING_CHANGE = datetime(2017, 11, 28, tzinfo=UTC)


class Billing(StrEnum):
    """How running time turns into money."""

    HOURLY = "hourly"
    PER_SECOND = "per-second"


class Era(StrEnum):
    """Which rules decide interruptions."""

    BID = "bid"
    CURRENT = "current"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketModel:
    """The interruption and billing rules of one era of the spot market."""

    era: Era
    billing: Billing
    notice_s: float
    min_billed_s: float

    @property
    def name(self) -> str:
        return self.era.value


BID_ERA = MarketModel(era=Era.BID, billing=Billing.HOURLY, notice_s=0.0, min_billed_s=0.0)
CURRENT_ERA = MarketModel(
    era=Era.CURRENT, billing=Billing.PER_SECOND, notice_s=120.0, min_billed_s=60.0
)


def model_named(name: str) -> MarketModel:
    """`bid` or `current`; raises ValueError for anything else."""
    for model in (BID_ERA, CURRENT_ERA):
        if model.name == name:
            return model
    raise ValueError(f"unknown market model {name!r}: expected 'bid' or 'current'")


def model_for(moment: datetime) -> MarketModel:
    """The era in force at `moment` (a UTC-aware datetime)."""
    return BID_ERA if moment < PRICING_CHANGE else CURRENT_ERA


def interrupted_by_price(price_usd_per_hour: float, max_price_usd_per_hour: float) -> bool:
    """Bid-era rule: only a price strictly above the max price interrupts."""
    return price_usd_per_hour > max_price_usd_per_hour


def billed_hour_starts_s(
    start_s: float, end_s: float, *, provider_interrupted: bool
) -> npt.NDArray[np.float64]:
    """Start times of the instance-hours charged for running over [start_s, end_s).

    Every started hour is charged, except a partial last hour when the provider interrupted.
    A run that ends exactly on an hour boundary has no partial hour.
    """
    duration_s = max(end_s - start_s, 0.0)
    full_hours = math.floor(duration_s / HOUR_S)
    partial = duration_s - full_hours * HOUR_S > 1e-9
    hours = full_hours + (1 if partial and not provider_interrupted else 0)
    return start_s + HOUR_S * np.arange(hours, dtype=np.float64)


def per_second_billed_s(duration_s: float, model: MarketModel) -> float:
    """Seconds charged for one run under per-second billing (the minimum applies per run)."""
    return max(duration_s, model.min_billed_s) if duration_s > 0 else 0.0


def interruption_probability(rate_per_hour: float, duration_s: float) -> float:
    """Chance that a Poisson interruption process with this rate fires within `duration_s`."""
    return 1.0 - math.exp(-max(rate_per_hour, 0.0) * duration_s / HOUR_S)


def hazard_availability(
    rate_per_hour: float, *, step_s: float, steps: int, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """A sampled capacity trace for a zone with a constant interruption rate.

    Each step is, independently, one step of lost capacity with the probability that an
    interruption falls inside it; a running instance is interrupted at the start of such
    a step and a new one can start after it.
    """
    lost = rng.random(steps) < interruption_probability(rate_per_hour, step_s)
    return ~lost
