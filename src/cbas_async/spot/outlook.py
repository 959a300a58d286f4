"""A market's recent past as the broker sees it: at a given max price, the price paid while
running, the interruption rate and the spells without spot; and the resulting wall time.
Pure functions over a `PriceSeries`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cbas_async.spot.expectation import ExpectedRun
from cbas_async.spot.history import PriceSeries

FloatArray = npt.NDArray[np.float64]
PRIOR_EVENTS = 0.5


@dataclass(frozen=True, slots=True)
class SpotOutlook:
    """How running at one max price went over a window of a series' past."""

    up_fraction: float  # share of the window with the price at or below the max price
    mean_price_usd_per_hour: float  # time-weighted, while at or below the max price
    rate_per_hour: float  # rises above the max price per hour at or below it (with a prior)
    mean_outage_s: float  # mean spell above the max price
    wait_now_s: float  # expected wait to start, when the price is above the max price now
    price_now_usd_per_hour: float = math.nan  # the price now, when at or below the max price
    hourly_persistence: float = 1.0  # lag-1 h autocorrelation of the price over the window


def segments(series: PriceSeries, start_s: float, end_s: float) -> tuple[FloatArray, FloatArray]:
    """(durations, prices) of the step function's pieces inside [start_s, end_s)."""
    start_s = max(start_s, series.first_s)
    if end_s <= start_s:
        return np.zeros(0), np.zeros(0)
    times = series.times_s
    inside = times[(times > start_s) & (times < end_s)]
    bounds = np.concatenate([[start_s], inside, [end_s]])
    return np.diff(bounds), series.prices_at(bounds[:-1])


def time_quantiles(
    series: PriceSeries, start_s: float, end_s: float, qs: Sequence[float]
) -> list[float]:
    """Time-weighted quantiles of the price over the window (empty if nothing is known)."""
    durations, prices = segments(series, start_s, end_s)
    if len(prices) == 0:
        return []
    order = np.argsort(prices)
    weight = np.cumsum(durations[order]) / durations.sum()
    picks = np.searchsorted(weight, np.asarray(qs) - 1e-12)
    return [float(prices[order][min(i, len(prices) - 1)]) for i in picks]


def outlook(series: PriceSeries, max_price: float, *, start_s: float, end_s: float) -> SpotOutlook:
    durations, prices = segments(series, start_s, end_s)
    total_s = float(durations.sum())
    if total_s <= 0:
        return SpotOutlook(0.0, math.nan, math.nan, 0.0, 0.0)
    up = prices <= max_price
    up_s = float(durations[up].sum())
    rises = int(np.count_nonzero(up[:-1] & ~up[1:]))
    spells = rises + int(not up[0])
    down_s = total_s - up_s
    mean_outage_s = down_s / spells if spells else 0.0
    mean_price = float((durations[up] * prices[up]).sum() / up_s) if up_s > 0 else math.nan
    rate = (rises + PRIOR_EVENTS) / max(up_s / 3600.0, 1e-9)
    now = series.price_at(end_s)
    return SpotOutlook(
        up_s / total_s,
        mean_price,
        rate,
        mean_outage_s,
        _wait_s(durations, up, mean_outage_s),
        price_now_usd_per_hour=now if now <= max_price else math.nan,
        hourly_persistence=_persistence(series, max_price, start_s, end_s),
    )


def _persistence(series: PriceSeries, max_price: float, start_s: float, end_s: float) -> float:
    """Lag-1 h autocorrelation of the hourly price (capped at the max price) over the window;
    1 for a constant price, 0 when too little is known."""
    times = np.arange(max(start_s, series.first_s), end_s, 3600.0)
    prices = np.minimum(series.prices_at(times), max_price)
    if len(prices) < 3:
        return 0.0
    before, after = prices[:-1] - prices[:-1].mean(), prices[1:] - prices[1:].mean()
    spread = math.sqrt(float((before**2).sum() * (after**2).sum()))
    if spread <= 0:
        return 1.0
    return min(max(float((before * after).sum()) / spread, 0.0), 1.0)


def expected_price(view: SpotOutlook, hours: float) -> float:
    """Mean price over the next `hours` of running (hourly billing charges each hour at its
    start): the price now, reverting to the window's mean at the observed persistence (an
    AR(1) process sampled hourly). Short jobs pay about the price now, long ones the mean."""
    mean, now = view.mean_price_usd_per_hour, view.price_now_usd_per_hour
    if not math.isfinite(now):
        return mean
    n, rho = max(hours, 1.0), view.hourly_persistence
    share = 1.0 if rho >= 1.0 else (1.0 - rho**n) / (n * (1.0 - rho))
    return mean + (now - mean) * share


def _wait_s(durations: FloatArray, up: npt.NDArray[np.bool_], mean_outage_s: float) -> float:
    """Expected wait when the price is above the max price now: spells are heavy-tailed, so a
    spell that has lasted t is expected to last about t more, and at least the mean."""
    if up[-1]:
        return 0.0
    last_up = np.flatnonzero(up)
    down_since = last_up[-1] + 1 if len(last_up) else 0
    return max(mean_outage_s, float(durations[down_since:].sum()))


def wall_time_s(run: ExpectedRun, view: SpotOutlook) -> float:
    """Expected wall time: instance time, the wait to start, and a spell without spot after
    each interruption."""
    return run.instance_s + run.interruptions * view.mean_outage_s + view.wait_now_s


def loss_per_interruption_s(run: ExpectedRun, view: SpotOutlook, *, work_s: float) -> float:
    """Mean wall time one interruption costs: its share of rework and restart, and a spell
    without spot."""
    if run.interruptions <= 1e-12:
        return 0.0
    return max(run.instance_s - work_s, 0.0) / run.interruptions + view.mean_outage_s


def bridge_s(run: ExpectedRun, view: SpotOutlook, *, work_s: float, spare_s: float) -> float:
    """Expected work to run on on-demand, during spells without spot, to meet the deadline.

    Fluid model: with N interruptions costing L = N x loss in all, spot progresses at pace
    work / (work + L); over the time available (work + spare) it does pace x that, and
    on-demand must do the rest: work x max(0, L - spare) / (work + L); N ~ Poisson. Without
    checkpoints: the whole work, if an interruption comes after `spare_s` of work."""
    if spare_s < 0:
        return work_s
    if math.isinf(spare_s):
        return 0.0
    if math.isinf(run.interval_s) and run.instance_s > 0:
        rate_per_s = run.interruptions / run.instance_s
        return -math.expm1(-rate_per_s * max(work_s - spare_s, 0.0)) * work_s
    each_s = loss_per_interruption_s(run, view, work_s=work_s)
    mean = run.interruptions
    if each_s <= 0 or mean <= 1e-12:
        return 0.0

    def shortfall(loss_s: float) -> float:
        return work_s * max(loss_s - spare_s, 0.0) / (work_s + loss_s)

    if mean > 200:  # many interruptions: their total is close to its mean
        return shortfall(mean * each_s)
    first = math.floor(spare_s / each_s) + 1  # fewest interruptions that overrun
    last = int(mean + 10.0 * math.sqrt(mean) + 20.0)
    if first > last:
        return 0.0
    term = math.exp(-mean + first * math.log(mean) - math.lgamma(first + 1))
    total = 0.0
    for count in range(first, last + 1):
        total += term * shortfall(count * each_s)
        term *= mean / (count + 1)
    return min(total, work_s)
