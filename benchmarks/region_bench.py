"""Policies across regions on the priced V100 traces, printed as a markdown table.

    python benchmarks/region_bench.py [--data ../shared/data] [--jobs 12]
        [--checkpoint-gib 30] [--transfer-mib-s 128] [--margins 0,1,2]

For each job shape it runs what `cbas simulate --availability regions/aws-02-15-2023/*.json
--jobs 12 --checkpoint-gib 30 --transfer-mib-s 128 --policies ...` runs (the same scenario,
built from the same options), and also counts the broker's proactive moves (running jobs it
moved because the saving beat the move's cost), which the command does not report.
With `--margins`, it prints instead the broker alone at each proactive-move margin.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cbas_async.sim.catalog import make_policy
from cbas_async.sim.cli import add_arguments
from cbas_async.sim.policy import PolicyContext
from cbas_async.sim.region_broker import RegionBroker
from cbas_async.sim.region_scoring import MOVE_MARGIN
from cbas_async.sim.report import PolicySummary, Scenario, run_policy, summarize
from cbas_async.sim.scenario import build_scenario
from cbas_async.sim.simulator import SimResult, simulate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHAPES = ((2.0, 4.0), (6.0, 12.0), (24.0, 36.0))  # (work hours, deadline hours)
POLICIES = ("ondemand", "uniform-progress", "uniform-progress-multi", "broker", "optimum")


def scenario(data: Path, args: argparse.Namespace, work_h: float, deadline_h: float) -> Scenario:
    files = sorted(str(p) for p in (data / "regions" / "aws-02-15-2023").glob("*.json"))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--availability", *files, "--jobs", str(args.jobs)]
    argv += ["--work-hours", f"{work_h:g}", "--deadline-hours", f"{deadline_h:g}"]
    argv += ["--checkpoint-gib", f"{args.checkpoint_gib:g}"]
    argv += ["--transfer-mib-s", f"{args.transfer_mib_s:g}"]
    return build_scenario(parser.parse_args(argv), start_s=None)


def broker_run(sc: Scenario, margin: float = MOVE_MARGIN) -> tuple[SimResult, int]:
    """The broker's result, and how many proactive moves it made."""
    ctx = PolicyContext(
        trace=sc.trace, workload=sc.workload, starts=sc.starts, lookback_steps=sc.lookback_steps
    )
    policy = make_policy("broker", ctx, sc.history)
    assert isinstance(policy, RegionBroker)
    policy.move_margin = margin
    result = simulate(sc.trace, sc.workload, policy, sc.starts, horizon_steps=sc.horizon_steps)
    return result, policy.proactive_moves


def shape_rows(sc: Scenario) -> tuple[list[PolicySummary], int]:
    results = {n: run_policy(sc, n) for n in POLICIES if n != "broker"}
    results["broker"], proactive = broker_run(sc)
    ordered = [results[n] for n in POLICIES]
    return summarize(ordered, results["ondemand"], results["optimum"]), proactive


def _cell(row: PolicySummary) -> str:
    od = "-" if row.cost_vs_ondemand is None else f"{row.cost_vs_ondemand:.3f}"
    best = "-" if row.cost_vs_optimum is None else f"{row.cost_vs_optimum:.3f}"
    moves = "-" if row.region_moves is None else f"{row.region_moves:.2f}"
    return f"{row.cost_usd:.2f} / {od} / {best} / {row.deadline_misses} / {moves}"


def markdown(data: Path, args: argparse.Namespace) -> str:
    columns, proactive = [], []
    for work_h, deadline_h in SHAPES:
        rows, moved = shape_rows(scenario(data, args, work_h, deadline_h))
        columns.append({row.name: row for row in rows})
        proactive.append(moved)
    heads = [f"{w:g} h work, {d:g} h deadline" for w, d in SHAPES]
    lines = ["| policy | " + " | ".join(heads) + " |", "|" + " --- |" * (len(SHAPES) + 1)]
    for name in POLICIES:
        lines.append(f"| {name} | " + " | ".join(_cell(c[name]) for c in columns) + " |")
    counts = " | ".join(f"{m} of {args.jobs} jobs" for m in proactive)
    lines.append(f"| broker: proactive moves | {counts} |")
    return "\n".join(lines) + "\n"


def margin_table(data: Path, args: argparse.Namespace, margins: Sequence[float]) -> str:
    """The broker at other proactive-move margins: mean cost, proactive moves, misses."""
    scenarios = [scenario(data, args, w, d) for w, d in SHAPES]
    heads = [f"{w:g} h work, {d:g} h deadline" for w, d in SHAPES]
    lines = ["| margin | " + " | ".join(heads) + " |", "|" + " --- |" * (len(SHAPES) + 1)]
    for margin in margins:
        cells = []
        for sc in scenarios:
            result, moved = broker_run(sc, margin)
            misses = int((~result.deadline_met).sum())
            cells.append(f"{result.cost_usd.mean():.2f} USD / {moved} moves / {misses}")
        lines.append(f"| {margin:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section(data: Path = DATA, jobs: int = 12) -> str:
    """The markdown section `make bench` puts in docs/BENCHMARKS.md (after the spot one)."""
    if not (data / "regions").is_dir():
        return ""
    args = argparse.Namespace(jobs=jobs, checkpoint_gib=30.0, transfer_mib_s=128.0)
    command = (
        "cbas simulate --availability ../shared/data/regions/aws-02-15-2023/*.json "
        f"--jobs {jobs} --checkpoint-gib 30 --transfer-mib-s 128 --work-hours W "
        "--deadline-hours D --policies " + ",".join(POLICIES)
    )
    return "\n".join(
        [
            "### Policies across regions\n",
            "Nine V100 zones in three regions with their spot prices (`regions/aws-02-15-2023/`,",
            f"{jobs} jobs spread over the trace after a 168 h lookback; checkpoint 60 s, restart",
            "120 s; a move between regions copies a 30 GiB checkpoint at 128 MiB/s (240 s) for",
            "0.02 USD/GiB (0.60 USD); home region us-east-1). Each cell: mean cost USD / vs",
            "on-demand / vs the optimum / deadline misses / checkpoints moved between regions",
            "per job. `python benchmarks/region_bench.py`; per column, the same as",
            f"`{command}`.\n",
            markdown(data, args),
            "The broker at other proactive-move margins (`python benchmarks/region_bench.py",
            "--margins 0,1,2`): mean cost / proactive moves / deadline misses.\n",
            margin_table(data, args, (0.0, 1.0, MOVE_MARGIN)),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--checkpoint-gib", type=float, default=30.0)
    parser.add_argument("--transfer-mib-s", type=float, default=128.0)
    parser.add_argument(
        "--margins", help="comma-separated proactive-move margins: print the broker at each"
    )
    args = parser.parse_args(argv)
    if not (args.data / "regions").is_dir():
        print(f"region_bench: no data at {args.data / 'regions'}", file=sys.stderr)
        return 2
    if args.margins:
        margins = [float(m) for m in args.margins.split(",")]
        print(margin_table(args.data, args, margins), end="")
    else:
        print(markdown(args.data, args), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
