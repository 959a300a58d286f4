"""Checkpoint intervals: Young's first-order and Daly's higher-order optimum, and Daly's cost model.

References:
- J. W. Young, "A first order approximation to the optimum checkpoint interval",
  CACM 17(9), 1974: T = sqrt(2 delta M).
- J. T. Daly, "A higher order estimate of the optimum checkpoint interval for restart
  dumps", Future Generation Computer Systems 22(3):303-312, 2006 (the perturbation solution):
  for delta < 2M, T = sqrt(2 delta M) * [1 + (1/3) sqrt(delta/(2M)) + (1/9) (delta/(2M))] - delta,
  otherwise T = M. Here delta is the checkpoint (dump) time, M the mean time between
  interruptions, R the restart time; T is compute time between checkpoints.
"""

from __future__ import annotations

import math


def young_interval_s(checkpoint_cost_s: float, mtbf_s: float) -> float:
    """Young's first-order optimum: sqrt(2 delta M)."""
    return math.sqrt(2.0 * checkpoint_cost_s * mtbf_s)


def daly_interval_s(checkpoint_cost_s: float, mtbf_s: float) -> float:
    """Daly's higher-order optimum compute time between checkpoints."""
    delta, mtbf = checkpoint_cost_s, mtbf_s
    if delta <= 0.0:
        return 0.0  # free checkpoints: checkpoint continuously
    if delta >= 2.0 * mtbf:
        return mtbf
    ratio = delta / (2.0 * mtbf)
    correction = 1.0 + math.sqrt(ratio) / 3.0 + ratio / 9.0
    return young_interval_s(delta, mtbf) * correction - delta


def daly_wall_time_s(
    *,
    work_s: float,
    interval_s: float,
    checkpoint_cost_s: float,
    restart_cost_s: float,
    mtbf_s: float,
) -> float:
    """Expected wall time of `work_s` of compute under Poisson interruptions (Daly's full model).

    T_w = M e^(R/M) (e^((tau + delta)/M) - 1) T_s / tau: checkpoints every `interval_s` of
    compute, each costing `checkpoint_cost_s`; after each interruption `restart_cost_s`
    and the rework since the last checkpoint. Infinite when the exponent overflows.
    """
    if math.isinf(mtbf_s):
        segments = work_s / interval_s if math.isfinite(interval_s) else 0.0
        return work_s + max(math.ceil(segments) - 1, 0) * checkpoint_cost_s
    tau = min(interval_s, work_s) if work_s > 0 else interval_s
    exponent = (tau + checkpoint_cost_s) / mtbf_s
    if exponent > 700 or restart_cost_s / mtbf_s > 700:
        return math.inf
    return mtbf_s * math.exp(restart_cost_s / mtbf_s) * math.expm1(exponent) * work_s / tau
