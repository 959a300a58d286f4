"""The pools this master launches into (region x zone x type x market): back-offs after
capacity and price refusals, and a decayed history of launch errors and interruptions.
Pure: every method takes `now_s` (the clock's monotonic seconds).

- A capacity refusal (`NoCapacity`) makes the pool unavailable for a back-off that starts at
  `first_s` and doubles with each refusal in a row, up to `max_s`; a launch that lands resets
  it. The broker places elsewhere meanwhile.
- A price refusal (`PriceTooLow`) makes the pool unavailable, for the same back-off, to jobs
  whose max price is not above the refused one.
- Launch errors and interruptions are counted per pool, each weighing 1/2 after `half_life_s`:
  `risk` turns them (and a Spot Placement Score where one is known) into the broker's
  surcharge, see `risk_of`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from cbas_async.fleet.backoff import Backoff

Market = Literal["spot", "on-demand"]

BACKOFF_FIRST_S = 60.0
BACKOFF_MAX_S = 900.0
HALF_LIFE_S = 3600.0
# the broker's surcharge per recent event: a launch error costs a retry elsewhere, an
# interruption the work since the last checkpoint and a restart
LAUNCH_ERROR_RISK = 0.25
INTERRUPTION_RISK = 0.5
# a Spot Placement Score of 1 (of 10) adds this much; 10 adds nothing
LOW_SCORE_RISK = 0.5
MAX_RISK = 2.0


@dataclass(frozen=True, slots=True)
class Pool:
    """Where an instance can be bought: zone None means "any zone EC2 picks"."""

    region: str
    zone: str | None
    instance_type: str
    market: Market


@dataclass(slots=True)
class _Backoff(Backoff):
    max_price: float | None = None  # a price refusal: jobs capped at or below this wait


@dataclass(slots=True)
class _Decayed:
    """An event count that halves every `HALF_LIFE_S`."""

    value: float = 0.0
    at_s: float = 0.0

    def at(self, now_s: float, half_life_s: float) -> float:
        return self.value * math.pow(0.5, max(now_s - self.at_s, 0.0) / half_life_s)

    def add(self, now_s: float, half_life_s: float) -> None:
        self.value, self.at_s = self.at(now_s, half_life_s) + 1.0, now_s


@dataclass(slots=True)
class _History:
    launch_errors: _Decayed = field(default_factory=_Decayed)
    interruptions: _Decayed = field(default_factory=_Decayed)


class PoolBook:
    """Back-offs and history per pool, as this master saw them."""

    def __init__(
        self,
        *,
        first_s: float = BACKOFF_FIRST_S,
        max_s: float = BACKOFF_MAX_S,
        half_life_s: float = HALF_LIFE_S,
    ) -> None:
        self._first_s = first_s
        self._max_s = max_s
        self._half_life_s = half_life_s
        self._backoffs: dict[Pool, _Backoff] = {}
        self._history: dict[Pool, _History] = {}
        self._scores: dict[tuple[str, str], int] = {}  # (zone, type) -> 1..10

    def no_capacity(self, pool: Pool, now_s: float) -> float:
        """Note a capacity refusal; returns the back-off it set, in seconds."""
        self._history_of(pool).launch_errors.add(now_s, self._half_life_s)
        return self._back_off(pool, now_s, None)

    def price_refused(self, pool: Pool, max_price: float | None, now_s: float) -> float:
        """Note a `PriceTooLow` at `max_price` (None: EC2's default cap)."""
        return self._back_off(pool, now_s, math.inf if max_price is None else max_price)

    def launched(self, pool: Pool) -> None:
        """A launch landed: the pool has capacity again."""
        self._backoffs.pop(pool, None)

    def interrupted(self, pool: Pool, now_s: float) -> None:
        self._history_of(pool).interruptions.add(now_s, self._half_life_s)

    def set_scores(self, scores: Mapping[tuple[str, str], int]) -> None:
        """Spot Placement Scores by (zone, type); replaces those of the same pools."""
        self._scores.update(scores)

    def wait_s(self, pool: Pool, now_s: float, max_price: float | None = None) -> float:
        """Seconds until the pool may be tried again by a job capped at `max_price`; 0: now."""
        backoff = self._backoffs.get(pool)
        if backoff is None or backoff.until_s <= now_s:
            return 0.0
        cap = math.inf if max_price is None else max_price
        if backoff.max_price is not None and cap > backoff.max_price:
            return 0.0  # refused a lower price only
        return backoff.until_s - now_s

    def unavailable(
        self, region: str, now_s: float, max_price: float | None = None
    ) -> dict[tuple[str, str], float]:
        """The broker's `unavailable`: (zone, type) of the region's spot pools in back-off,
        with the seconds left."""
        waits = {}
        for pool in self._backoffs:
            if pool.market == "spot" and pool.region == region and pool.zone is not None:
                wait = self.wait_s(pool, now_s, max_price)
                if wait > 0:
                    waits[(pool.zone, pool.instance_type)] = wait
        return waits

    def risk(self, region: str, now_s: float) -> dict[tuple[str, str], float]:
        """The broker's `risk`: (zone, type) of the region's spot pools with a surcharge."""
        keys = set(self._scores)
        for pool in self._history:
            if pool.market == "spot" and pool.region == region and pool.zone is not None:
                keys.add((pool.zone, pool.instance_type))
        risks = {key: self._risk(region, key, now_s) for key in keys}
        return {key: value for key, value in risks.items() if value > 0}

    def _risk(self, region: str, key: tuple[str, str], now_s: float) -> float:
        history = self._history.get(Pool(region, key[0], key[1], "spot"))
        errors = history.launch_errors.at(now_s, self._half_life_s) if history else 0.0
        lost = history.interruptions.at(now_s, self._half_life_s) if history else 0.0
        return risk_of(errors, lost, self._scores.get(key))

    def _back_off(self, pool: Pool, now_s: float, max_price: float | None) -> float:
        backoff = self._backoffs.setdefault(pool, _Backoff())
        backoff.max_price = max_price
        return backoff.extend(now_s, self._first_s, self._max_s)

    def _history_of(self, pool: Pool) -> _History:
        return self._history.setdefault(pool, _History())


def risk_of(launch_errors: float, interruptions: float, score: int | None) -> float:
    """The broker's surcharge on a spot pool's expected cost, as a fraction: 0.25 per recent
    launch error, 0.5 per recent interruption (both decayed), plus up to 0.5 for a low
    Spot Placement Score (10: none, 1: all), capped at 2 (three times the cost)."""
    surcharge = LAUNCH_ERROR_RISK * launch_errors + INTERRUPTION_RISK * interruptions
    if score is not None:
        surcharge += LOW_SCORE_RISK * (10 - min(max(score, 1), 10)) / 9.0
    return min(surcharge, MAX_RISK)
