"""Expected instance time, billed hours and checkpoint plan of a job under Poisson interruptions.

- Per-second billing without a usable notice: Daly's complete model at his optimum interval.
- Per-second billing with a notice at least as long as a checkpoint: an interruption costs
  the notice window and the restart; periodic checkpoints only guard against a missed notice.
- Hourly billing (bid era): the partial hour the provider interrupts is free, so the work
  worth protecting is the paid hours'. Checkpoints complete at the end of every m-th
  instance-hour (m chosen for the least expected billed time, or none at all); an
  interruption then costs about (m - 1) / 2 paid hours of rework plus the restart.
  When the deadline needs a checkpoint anyway (it could not absorb losing the whole run
  near its end), even the plan without periodic checkpoints pays for one: with work in
  whole hours that is a whole extra hour, in which checkpoints at every hour end then fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cbas_async.spot.eras import Billing, MarketModel
from cbas_async.spot.interval import daly_interval_s, daly_wall_time_s

# share of interruption notices assumed too late to checkpoint: AWS gives no figure, and a
# checkpoint on notice can fail (slow upload), so periodic checkpoints stay, rarely
NOTICE_MISS = 0.1
MAX_HOURS_BETWEEN_CHECKPOINTS = 24
MAX_EXPONENT = 700.0  # math.expm1 overflows a float a little above 709


@dataclass(frozen=True, slots=True)
class ExpectedRun:
    """Expected instance time and billed hours, interruptions, and the checkpoint plan:
    every `interval_s` of work, or at every `interval_s / 3600`-th hour end when
    `hour_aligned`; `interval_s` is inf for no periodic checkpoint."""

    instance_s: float
    billed_hours: float
    interruptions: float
    interval_s: float
    hour_aligned: bool = False


def expected_run(
    *,
    work_s: float,
    rate_per_hour: float,
    checkpoint_cost_s: float,
    restart_cost_s: float,
    model: MarketModel,
    checkpoint_needed: bool = False,
) -> ExpectedRun:
    """`checkpoint_needed`: at least one checkpoint will be taken whatever the plan (the
    deadline's safety net)."""
    rate = max(rate_per_hour, 0.0)
    if model.billing is Billing.HOURLY:
        least = 1 if checkpoint_needed else 0
        plans = [
            _hourly(work_s, rate, checkpoint_cost_s, restart_cost_s, hours, least)
            for hours in [*range(1, MAX_HOURS_BETWEEN_CHECKPOINTS + 1), None]
        ]
        return min(plans, key=lambda p: (p.billed_hours, -p.interval_s))
    if 0 < checkpoint_cost_s <= model.notice_s:
        return _with_notice(work_s, rate, checkpoint_cost_s, restart_cost_s, model.notice_s)
    return _daly(work_s, rate, checkpoint_cost_s, restart_cost_s)


def _daly(work_s: float, rate: float, cost_s: float, restart_s: float) -> ExpectedRun:
    mtbf_s = 3600.0 / rate if rate > 0 else math.inf
    interval_s = daly_interval_s(cost_s, mtbf_s)
    instance_s = daly_wall_time_s(
        work_s=work_s,
        interval_s=max(interval_s, 1.0),
        checkpoint_cost_s=cost_s,
        restart_cost_s=restart_s,
        mtbf_s=mtbf_s,
    )
    return ExpectedRun(instance_s, instance_s / 3600.0, rate * instance_s / 3600.0, interval_s)


def _with_notice(
    work_s: float, rate: float, cost_s: float, restart_s: float, notice_s: float
) -> ExpectedRun:
    mtbf_s = 3600.0 / rate if rate > 0 else math.inf
    interval_s = daly_interval_s(cost_s, mtbf_s / NOTICE_MISS)
    overhead = cost_s / interval_s if math.isfinite(interval_s) else 0.0
    rework_s = restart_s + notice_s + NOTICE_MISS * min(interval_s, work_s) / 2.0
    spare = 1.0 - rate / 3600.0 * rework_s
    instance_s = work_s * (1.0 + overhead) / spare if spare > 0.05 else math.inf
    return ExpectedRun(instance_s, instance_s / 3600.0, rate * instance_s / 3600.0, interval_s)


def _hourly(
    work_s: float,
    rate: float,
    cost_s: float,
    restart_s: float,
    every_hours: int | None,
    least_checkpoints: int,
) -> ExpectedRun:
    work_h, restart_h = work_s / 3600.0, restart_s / 3600.0
    if every_hours is None:  # no periodic checkpoint: an interruption restarts from scratch
        if rate * work_h > MAX_EXPONENT:  # it would practically never finish
            return ExpectedRun(math.inf, math.inf, math.inf, math.inf)
        instance_h = math.expm1(rate * work_h) / rate if rate > 0 else work_h
        interruptions = rate * instance_h
        instance_h += interruptions * restart_h
        base_h = work_h + least_checkpoints * cost_s / 3600.0
        paid_h = math.ceil(base_h - 1e-9) + max(instance_h - work_h - 0.5 * interruptions, 0.0)
        return ExpectedRun(instance_h * 3600.0, paid_h, interruptions, math.inf)
    block_s = every_hours * 3600.0 - cost_s
    if block_s <= 0:
        return ExpectedRun(math.inf, math.inf, 0.0, math.inf)
    checkpoints = max(math.ceil(work_s / block_s) - 1, least_checkpoints)
    base_h = (work_s + checkpoints * cost_s) / 3600.0
    interruptions = rate * base_h
    lost_paid_h = (every_hours - 1) / 2.0 + restart_h
    paid_h = math.ceil(base_h - 1e-9) + interruptions * lost_paid_h
    instance_h = base_h + interruptions * (every_hours / 2.0 + restart_h)
    return ExpectedRun(instance_h * 3600.0, paid_h, interruptions, every_hours * 3600.0, True)
