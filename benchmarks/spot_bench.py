"""Spot benchmark: simulator throughput and the policy table, printed as a markdown section.

    python benchmarks/spot_bench.py [--data ../shared/data] [--jobs 12] [--quick]

Throughput counts trace-steps (one grid step of the market processed for one job) per
second of wall time: each job counts the steps from its start to the step it finished in
(or the horizon), whether the simulator computed them one by one or skipped them by
fast-forward. The simulator is single-threaded (numpy element-wise operations). Each rate
is the best of a few runs (one, for a run over 10 s), for `simulate` (fast-forward where it
applies) and for the plain stepper it is checked against, measured side by side.
The policy table replays every trace in shared/data for
a few job lengths and deadlines: each cell is the mean cost relative to on-demand, relative
to the offline optimum, and the number of jobs that missed the deadline.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cbas_async.sim.catalog import POLICY_NAMES, make_policy
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.report import PolicySummary, Scenario, evaluate
from cbas_async.sim.simulator import simulate, simulate_stepwise
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace, trace_from_availability, trace_from_prices
from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.history import PriceHistory, from_epoch_s
from cbas_async.spot.prices import read_ondemand_csv, read_price_csv

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHAPES = ((2.0, 4.0), (6.0, 12.0), (24.0, 36.0))  # (work hours, deadline hours)
CHECKPOINT_S, RESTART_S = 60.0, 120.0
LOOKBACK_H = 168.0
THROUGHPUT_POLICIES = (
    "ondemand",
    "spot-no-ckpt",
    "yi-adaptive",
    "young-daly",
    "uniform-progress",
    "broker",
)
# on one region, uniform-progress-multi is uniform-progress: the tables leave it out
TABLE_POLICIES = tuple(name for name in POLICY_NAMES if name != "uniform-progress-multi")
LONG_RUN_S = 10.0  # a run this long is not repeated: its timing noise is small, its cost not


@dataclass(frozen=True)
class Market:
    """One benchmarked market: a label, its trace, and the price history the broker reads."""

    label: str
    trace: MarketTrace
    history: PriceHistory | None


def _price_market(path: Path, itype: str, hazard: float | None, label: str) -> Market:
    history = read_price_csv(path, instance_types=[itype])
    first, _ = history.span_s(history.series_keys())
    ondemand = read_ondemand_csv(path.parent / "ondemand.csv", near=from_epoch_s(first))[itype]
    trace = trace_from_prices(
        history, instance_type=itype, ondemand_usd_per_hour=ondemand, hazard_per_hour=hazard
    )
    return Market(label, trace, history)


def _availability_market(
    folder: Path, pattern: str, spot_share: float, ondemand: float | None, label: str
) -> Market:
    history = AvailabilityHistory.from_files(sorted(folder.glob(pattern)))
    itype = history.instance_types()[0]
    price = ondemand or read_ondemand_csv(folder.parent.parent / "spot" / "ondemand.csv")[itype]
    trace = trace_from_availability(
        history,
        instance_type=itype,
        spot_usd_per_hour=spot_share * price,
        ondemand_usd_per_hour=price,
    )
    return Market(label, trace, None)


def markets(data: Path) -> list[Market]:
    """Every trace file of shared/data, with the assumptions each needs stated in its label."""
    spot, avail = data / "spot", data / "availability"
    bid = spot / "spot_us-east-1_2015_bid-era.csv"
    post = spot / "spot_us-east-1_2021_post-2017.csv"
    found = [
        _price_market(bid, t, None, f"2015 bid era, {t}, zones a/b/e")
        for t in ("c3.xlarge", "r3.large", "m3.medium")
    ]
    found += [
        _price_market(post, "c5.large", rate, f"2021, c5.large, sampled capacity {rate}/h")
        for rate in (0.02, 0.2)
    ]
    found.append(
        _availability_market(
            avail / "aws-02-15-2023",
            "us-*_v100_1.json",
            0.3,
            None,
            "2023 availability, p3.2xlarge, 9 zones, spot at 0.3 x on-demand",
        )
    )
    for kind, ondemand in (("v100_1", None), ("v100_8", None), ("k80_1", 0.9), ("k80_8", 7.2)):
        found.append(
            _availability_market(
                avail / "aws-10-26-2022",
                f"*_{kind}.json",
                0.3,
                ondemand,
                f"2022 availability, {kind}, us-west-2a/b, spot at 0.3 x on-demand"
                + ("" if ondemand is None else f" ({ondemand} USD/h assumed)"),
            )
        )
    return found


def _scenario(market: Market, work_h: float, deadline_h: float, jobs: int) -> Scenario:
    trace = market.trace
    workload = Workload(
        work_s=work_h * 3600.0,
        deadline_s=deadline_h * 3600.0,
        checkpoint_cost_s=CHECKPOINT_S,
        restart_cost_s=RESTART_S,
    )
    horizon = round(2 * workload.deadline_s / trace.step_s)
    lookback = round(LOOKBACK_H * 3600.0 / trace.step_s)
    first = min(lookback, trace.n_steps - horizon)
    starts = np.linspace(first, trace.n_steps - horizon, jobs).round().astype(np.int64)
    return Scenario(
        trace=trace,
        workload=workload,
        starts=starts,
        horizon_steps=horizon,
        lookback_steps=lookback,
        history=market.history,
    )


def throughput(
    market: Market, jobs: int, policies: Sequence[str], *, runs: int = 3
) -> list[tuple[str, float, float]]:
    """Trace-steps per second for each policy on `jobs` jobs of 24 h: of `simulate` and of
    the plain stepper, the best of `runs` runs each, or of fewer when one takes longer than
    `LONG_RUN_S` (policies are built outside the timing)."""
    scenario = _scenario(market, 24.0, 48.0, jobs)
    ctx = PolicyContext(
        trace=scenario.trace,
        workload=scenario.workload,
        starts=scenario.starts,
        lookback_steps=scenario.lookback_steps,
    )
    rates = []
    for name in policies:
        best = {simulate: 0.0, simulate_stepwise: 0.0}
        for _ in range(runs):
            longest_s = 0.0
            for run in best:
                policy = make_policy(name, ctx)
                began = time.perf_counter()
                result = run(
                    scenario.trace,
                    scenario.workload,
                    policy,
                    scenario.starts,
                    horizon_steps=scenario.horizon_steps,
                )
                took_s = time.perf_counter() - began
                best[run] = max(best[run], result.steps / took_s)
                longest_s = max(longest_s, took_s)
            if longest_s > LONG_RUN_S:
                break
        rates.append((name, best[simulate], best[simulate_stepwise]))
    return rates


def _cell(row: PolicySummary) -> str:
    od = "-" if row.cost_vs_ondemand is None else f"{row.cost_vs_ondemand:.3f}"
    best = "-" if row.cost_vs_optimum is None else f"{row.cost_vs_optimum:.2f}"
    return f"{od} / {best} / {row.deadline_misses}"


def policy_table(market: Market, jobs: int) -> str:
    columns: dict[tuple[float, float], dict[str, PolicySummary]] = {}
    for work_h, deadline_h in SHAPES:
        rows, _ = evaluate(_scenario(market, work_h, deadline_h, jobs), TABLE_POLICIES)
        columns[(work_h, deadline_h)] = {row.name: row for row in rows}
    heads = [f"{w:g} h work, {d:g} h deadline" for w, d in SHAPES]
    lines = ["| policy | " + " | ".join(heads) + " |", "|" + " --- |" * (len(SHAPES) + 1)]
    for name in TABLE_POLICIES:
        cells = [_cell(columns[shape][name]) for shape in SHAPES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(data: Path = DATA, jobs: int = 12, *, quick: bool = False) -> str:
    """The whole section (what `make bench` puts in docs/BENCHMARKS.md)."""
    if not data.is_dir():
        return f"## Spot simulator and policies\n\nSkipped: no data at {data}.\n"
    found = markets(data)
    lines = [
        "## Spot simulator and policies\n",
        "### Simulator throughput (one core)\n",
        "Trace-steps per second: 24 h jobs (48 h deadline) on the 2015 c3.xlarge trace,",
        "5-minute steps, all jobs of a batch advanced together"
        " (`python benchmarks/spot_bench.py --quick`): `simulate` (each job fast-forwards",
        "over the steps where nothing can happen to it) and the plain stepper it is tested",
        "against (every rule for every job at every step), best of 3 runs each (one when a",
        f"run takes over {LONG_RUN_S:g} s). The broker's rate is bounded by its placements",
        "(`choose_placement`, a few ms each, about 3 per job), which both loops make alike;",
        "it is measured at 1,000 jobs only.\n",
        "| jobs | policy | trace-steps/s | plain stepper | speed-up |",
        "| --- | --- | --- | --- | --- |",
    ]
    for count in (1_000, 10_000):
        # the broker at 10,000 jobs would take minutes of `make bench` for the same rate
        names = [n for n in THROUGHPUT_POLICIES if count <= 1_000 or n != "broker"]
        for name, rate, stepwise in throughput(found[0], count, names):
            lines.append(
                f"| {count:,} | {name} | {rate:,.0f} | {stepwise:,.0f} | {rate / stepwise:.1f}x |"
            )
    if quick:
        return "\n".join(lines) + "\n"
    lines += [
        "\n### Policies on every trace\n",
        "Each cell: mean cost vs on-demand / vs the offline optimum / deadline misses, over",
        f"{jobs} jobs spread over the trace; checkpoint {CHECKPOINT_S:g} s, restart "
        f"{RESTART_S:g} s; online policies see the {LOOKBACK_H:g} h before each job. A policy",
        "that misses deadlines can cost less than the optimum, which must meet them all.\n",
    ]
    for market in found:
        lines += [f"#### {market.label}\n", policy_table(market, jobs), ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--jobs", type=int, default=12, help="jobs per trace and job shape")
    parser.add_argument("--quick", action="store_true", help="throughput only")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"spot_bench: no data at {args.data}", file=sys.stderr)
        return 2
    print(markdown(args.data, args.jobs, quick=args.quick), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
