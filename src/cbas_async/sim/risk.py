"""Interruption statistics from a gridded market's past: what online policies may know.

Every estimate for a job looks only at a lookback window that ends at the job's start, so
no policy sees the future it is judged on. Rates use half an event as a prior, so a zone
that was never interrupted in the window still gets a finite mean time between failures.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cbas_async.sim.trace import MarketTrace

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PRIOR_EVENTS = 0.5
# price / on-demand edges of the price levels the adaptive policy conditions on
PRICE_LEVEL_EDGES = np.array([0.25, 0.5, 0.75])


def blocked(trace: MarketTrace, max_price_usd_per_hour: float) -> BoolArray:
    """(zones, steps): a spot instance with this max price cannot run in the step."""
    return (trace.price_max > max_price_usd_per_hour) | ~trace.available


def _window_sums(values: npt.NDArray[np.float64], lo: IntArray, hi: IntArray) -> FloatArray:
    """Sums of values[..., lo:hi] per job: shape (jobs,) + values.shape[:-1]."""
    cumulative = np.concatenate(
        [np.zeros((*values.shape[:-1], 1)), np.cumsum(values, axis=-1)], axis=-1
    )
    return np.moveaxis(cumulative[..., hi] - cumulative[..., lo], -1, 0)


def lookback(starts: IntArray, steps: int) -> tuple[IntArray, IntArray]:
    """[lo, hi) step windows ending at each job's start."""
    return np.maximum(starts - steps, 0), starts.astype(np.int64)


def interruption_rate_per_hour(
    trace: MarketTrace, max_price_usd_per_hour: float, lo: IntArray, hi: IntArray
) -> FloatArray:
    """(jobs, zones): interruptions per hour of running, over each job's window."""
    stop = blocked(trace, max_price_usd_per_hour)
    starts_blocked = stop & ~np.concatenate([stop[:, :1], stop[:, :-1]], axis=1)
    events = _window_sums(starts_blocked.astype(np.float64), lo, hi)
    up_hours = _window_sums((~stop).astype(np.float64), lo, hi) * trace.step_s / 3600.0
    return (events + PRIOR_EVENTS) / np.maximum(up_hours, trace.step_s / 3600.0)


def mean_outage_s(
    trace: MarketTrace, max_price_usd_per_hour: float, lo: IntArray, hi: IntArray
) -> FloatArray:
    """(jobs, zones): mean length of a spell without spot, over each job's window."""
    stop = blocked(trace, max_price_usd_per_hour)
    starts_blocked = stop & ~np.concatenate([np.zeros_like(stop[:, :1]), stop[:, :-1]], axis=1)
    events = _window_sums(starts_blocked.astype(np.float64), lo, hi)
    down = _window_sums(stop.astype(np.float64), lo, hi) * trace.step_s
    return np.where(events > 0, down / np.maximum(events, 1), 0.0)


def price_levels(trace: MarketTrace) -> npt.NDArray[np.int64]:
    """(zones, steps): the price level (0..3) of each step's opening price vs on-demand."""
    ratio = trace.price_start / trace.ondemand_usd_per_hour
    return np.digitize(ratio, PRICE_LEVEL_EDGES).astype(np.int64)


def failure_within(
    trace: MarketTrace, max_price_usd_per_hour: float, lo: IntArray, hi: IntArray, horizon: int
) -> FloatArray:
    """(jobs, zones, levels): chance that a running instance, at a step of that price level,
    is interrupted within the next `horizon` steps; estimated over each job's window, with
    the window's end pulled back by `horizon` so the estimate never reads past the start."""
    stop = blocked(trace, max_price_usd_per_hour)
    padded = np.concatenate([np.zeros((stop.shape[0], 1)), np.cumsum(stop, axis=1)], axis=1)
    steps = stop.shape[1]
    ahead = np.minimum(np.arange(steps) + 1 + horizon, steps)
    fails = (padded[:, ahead] - padded[:, 1 : steps + 1]) > 0
    levels = price_levels(trace)
    at_risk = ~stop
    counts, events = [], []
    for level in range(len(PRICE_LEVEL_EDGES) + 1):
        here = at_risk & (levels == level)
        counts.append(here.astype(np.float64))
        events.append((here & fails).astype(np.float64))
    end = np.maximum(hi - horizon, lo)
    n = _window_sums(np.stack(counts, axis=1), lo, end)  # (jobs, zones, levels)
    e = _window_sums(np.stack(events, axis=1), lo, end)
    return (e + PRIOR_EVENTS) / (n + 1.0)


class CapacityOutlook:
    """Per zone, at any step: interruption rate and expected wait for capacity, from the
    lookback window before that step (for the broker in the current era)."""

    def __init__(self, trace: MarketTrace, lookback_steps: int) -> None:
        self.trace, self.window = trace, lookback_steps
        stop = blocked(trace, trace.ondemand_usd_per_hour)
        before = np.concatenate([np.zeros_like(stop[:, :1]), stop[:, :-1]], axis=1)
        zero = np.zeros((trace.n_zones, 1))
        self.rises = np.concatenate([zero, np.cumsum(stop & ~before, axis=1)], axis=1)
        self.down = np.concatenate([zero, np.cumsum(stop, axis=1)], axis=1)
        steps = np.arange(trace.n_steps)
        self.last_up = np.maximum.accumulate(np.where(~stop, steps, -1), axis=1)
        self.stop = stop
        # after each interruption, the steps until some zone (any) has capacity again
        anywhere = ~stop.all(axis=0)
        upcoming = np.where(anywhere, steps, trace.n_steps)
        next_any = np.minimum.accumulate(upcoming[::-1])[::-1]
        waits = (stop & ~before) * (next_any - steps)[None, :]
        self.waited = np.concatenate([zero, np.cumsum(waits, axis=1)], axis=1)

    def _counts(self, step: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        lo = max(step - self.window, 0)
        rises = self.rises[:, step] - self.rises[:, lo]
        down = self.down[:, step] - self.down[:, lo]
        return rises, down, (step - lo) - down

    def rates_per_hour(self, step: int) -> FloatArray:
        rises, _, up = self._counts(step)
        step_h = self.trace.step_s / 3600.0
        rates: FloatArray = (rises + PRIOR_EVENTS) / np.maximum(up * step_h, step_h)
        return rates

    def outages_s(self, step: int) -> FloatArray:
        """Per zone, the mean wait after one of its interruptions until some zone (the job
        moves) has capacity again, over the window; one step if it was never interrupted."""
        lo = max(step - self.window, 0)
        rises = self.rises[:, step] - self.rises[:, lo]
        waited = self.waited[:, step] - self.waited[:, lo]
        spells: FloatArray = np.where(rises > 0, waited / np.maximum(rises, 1), 1.0)
        return spells * self.trace.step_s

    def spells_s(self, step: int) -> FloatArray:
        """Mean spell without capacity per zone over the window (one step if none)."""
        rises, down, _ = self._counts(step)
        spells: FloatArray = np.where(rises > 0, down / np.maximum(rises, 1), 1.0)
        return spells * self.trace.step_s

    def waits_s(self, step: int) -> FloatArray:
        """Expected seconds until capacity, per zone (0 where there is capacity now): at least
        the window's mean spell without it, and as long again as the current spell."""
        spell_s = (step - self.last_up[:, step]) * self.trace.step_s
        waits: FloatArray = np.where(
            self.stop[:, step], np.maximum(self.spells_s(step), spell_s), 0.0
        )
        return waits
