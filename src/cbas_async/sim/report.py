"""Runs named policies (and the optimum) over jobs on one trace, and summarises the outcomes.

The summary is what `cbas simulate` prints: per policy the mean cost, completion time,
interruptions and work lost per job, the number of deadline misses, and the mean cost
relative to on-demand and to the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from cbas_async.sim.catalog import OPTIMUM, make_policy
from cbas_async.sim.oracle import optimum
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.simulator import SimResult, simulate
from cbas_async.sim.state import IntArray, Workload
from cbas_async.sim.trace import MarketTrace
from cbas_async.spot.history import PriceHistory

HOME_ONLY = "uniform-progress"  # the single-region baseline on a trace with regions


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySummary:
    """One policy's outcome over all jobs (means are per job; misses count jobs)."""

    name: str
    cost_usd: float
    completion_hours: float | None  # over the jobs that finished
    interruptions: float
    work_lost_hours: float
    deadline_misses: int
    cost_vs_ondemand: float | None
    cost_vs_optimum: float | None
    region_moves: float | None = None  # checkpoints copied between regions per job

    def to_json(self) -> dict[str, object]:
        return {k: _finite(v) for k, v in asdict(self).items()}


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Scenario:
    """Jobs on one trace: their start steps, how long to follow them, what they may know."""

    trace: MarketTrace
    workload: Workload
    starts: IntArray
    horizon_steps: int
    lookback_steps: int
    history: PriceHistory | None = None


def run_policy(scenario: Scenario, name: str, *, record: bool = False) -> SimResult:
    """One named policy (or the optimum) over every job of the scenario; on a trace with
    regions, `uniform-progress` sees only the home region's zones."""
    if name == OPTIMUM:
        return optimum_result(scenario)
    if name == HOME_ONLY and scenario.trace.multi_region:
        scenario = home_only(scenario)
    ctx = PolicyContext(
        trace=scenario.trace,
        workload=scenario.workload,
        starts=scenario.starts,
        lookback_steps=scenario.lookback_steps,
    )
    policy = make_policy(name, ctx, scenario.history)
    return simulate(
        scenario.trace,
        scenario.workload,
        policy,
        scenario.starts,
        horizon_steps=scenario.horizon_steps,
        record=record,
    )


def home_only(scenario: Scenario) -> Scenario:
    """The scenario on the zones of the jobs' home region."""
    trace, home = scenario.trace, scenario.workload.home_region or scenario.trace.regions[0]
    rows = [row for row, region in enumerate(trace.regions) if region == home]
    return replace(scenario, trace=trace.only_zones(rows))


def optimum_result(scenario: Scenario) -> SimResult:
    """The offline optimum per job, as a `SimResult` (it is never interrupted, loses nothing;
    its region moves are those of one cheapest plan)."""
    outcomes = [optimum(scenario.trace, scenario.workload, int(s)) for s in scenario.starts]
    cost = np.array([o.cost_usd for o in outcomes])
    completion = np.array([o.completion_s for o in outcomes])
    jobs = len(outcomes)
    return SimResult(
        policy=OPTIMUM,
        cost_usd=cost,
        completion_s=completion,
        interruptions=np.zeros(jobs, dtype=np.int64),
        work_lost_s=np.zeros(jobs),
        deadline_met=np.isfinite(cost),
        steps=0,
        region_moves=np.array([o.region_moves for o in outcomes], dtype=np.int64),
    )


def summarize(
    results: Sequence[SimResult], ondemand: SimResult, best: SimResult
) -> list[PolicySummary]:
    """One row per result; ratios are of mean costs over all jobs."""
    od_mean = float(ondemand.cost_usd.mean())
    best_mean = float(best.cost_usd.mean())
    rows = []
    for result in results:
        mean = float(result.cost_usd.mean())
        finished = result.completion_s[np.isfinite(result.completion_s)]
        rows.append(
            PolicySummary(
                name=result.policy,
                cost_usd=mean,
                completion_hours=float(finished.mean() / 3600.0) if len(finished) else None,
                interruptions=float(result.interruptions.mean()),
                work_lost_hours=float(result.work_lost_s.mean() / 3600.0),
                deadline_misses=int((~result.deadline_met).sum()),
                cost_vs_ondemand=mean / od_mean if od_mean > 0 else None,
                cost_vs_optimum=mean / best_mean if 0 < best_mean < math.inf else None,
                region_moves=None
                if result.region_moves is None
                else float(result.region_moves.mean()),
            )
        )
    return rows


def evaluate(
    scenario: Scenario, names: Sequence[str], *, record: bool = False
) -> tuple[list[PolicySummary], dict[str, SimResult]]:
    """Every named policy, plus on-demand and the optimum for the ratios."""
    results = {name: run_policy(scenario, name, record=record) for name in names}
    ondemand = results.get("ondemand") or run_policy(scenario, "ondemand")
    best = results.get(OPTIMUM) or run_policy(scenario, OPTIMUM)
    return summarize([results[name] for name in names], ondemand, best), results


def format_table(rows: Sequence[PolicySummary], *, regions: bool = False) -> str:
    """A markdown table of the summaries; with `regions`, also the region moves per job."""
    header = (
        "| policy | cost USD/job | vs on-demand | vs optimum | completion h | "
        "interruptions | work lost h | deadline misses |"
    )
    columns = 8
    if regions:
        header, columns = header + " region moves |", 9
    lines = [header, "|" + " --- |" * columns]
    for row in rows:
        cells = [
            row.name,
            f"{row.cost_usd:.4f}",
            _ratio(row.cost_vs_ondemand),
            _ratio(row.cost_vs_optimum),
            "-" if row.completion_hours is None else f"{row.completion_hours:.2f}",
            f"{row.interruptions:.2f}",
            f"{row.work_lost_hours:.2f}",
            str(row.deadline_misses),
        ]
        if regions:
            cells.append(_ratio(row.region_moves))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
