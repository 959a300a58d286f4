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
from cbas_async.sim.report import PolicySummary, Scenario, run_policy, summarize
from cbas_async.sim.scenario import build_scenario
from cbas_async.sim.simulator import SimResult, simulate
from cbas_async.spot.region_scoring import MOVE_MARGIN

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHAPES = ((2.0, 4.0), (6.0, 12.0), (24.0, 36.0))  # (work hours, deadline hours)
MOVE_RULE = """\
How the policies use the regions: `uniform-progress` runs in the home region only;
`uniform-progress-multi` stays in the region of its checkpoint while a zone there has
capacity, else takes the cheapest zone with capacity in any region; `broker` asks the
production broker (`choose_placement`) for its placement in each region and ranks them by
expected cost to finish plus, for a region other than the checkpoint's, the move (egress,
and the copy's time at the placement's rate); `optimum` is the offline optimum with the
checkpoint's region in its state and the same move costs; `ondemand` runs at the cheapest
region's on-demand price. The simulator bills the instance during the copy (in production
the copy runs server-side before the instance boots), so moves cost a little more here.

The rule for a proactive move: once an hour, a job running on spot compares the expected
cost to finish in its region with every other region's; it moves to the region whose
saving, less twice the move's cost (egress, and the copy, its checkpoint and the restart
at the target's rate), is largest, when that is above 0, a zone there has capacity now
and its spare slack covers the move's time. With a 30 GiB checkpoint it never fires on
these traces: the broker starts a job where it is cheapest to finish, and the price gaps
that open later between the cheap regions are smaller than a move. Without the margin
(0) it fires on thin estimated savings and costs more. With a 1 GiB checkpoint moves are
cheap, and it fires.
"""
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
    """The broker at other proactive-move margins, with this checkpoint size: mean cost, vs
    the optimum (same move costs), proactive moves, deadline misses."""
    scenarios = [scenario(data, args, w, d) for w, d in SHAPES]
    best = [float(run_policy(sc, "optimum").cost_usd.mean()) for sc in scenarios]
    heads = [f"{w:g} h work, {d:g} h deadline" for w, d in SHAPES]
    lines = ["| checkpoint, margin | " + " | ".join(heads) + " |"]
    lines.append("|" + " --- |" * (len(SHAPES) + 1))
    for margin in margins:
        cells = []
        for sc, optimum_usd in zip(scenarios, best, strict=True):
            result, moved = broker_run(sc, margin)
            mean = float(result.cost_usd.mean())
            misses = int((~result.deadline_met).sum())
            cells.append(f"{mean:.2f} / {mean / optimum_usd:.3f} / {moved} / {misses}")
        label = f"{args.checkpoint_gib:g} GiB, {margin:g}"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def section(data: Path = DATA, jobs: int = 12) -> str:
    """The markdown section `make bench` puts in docs/BENCHMARKS.md (after the spot one)."""
    if not (data / "regions").is_dir():
        return ""
    args = argparse.Namespace(jobs=jobs, checkpoint_gib=30.0, transfer_mib_s=128.0)
    small = argparse.Namespace(jobs=jobs, checkpoint_gib=1.0, transfer_mib_s=128.0)
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
            "per job (for the optimum, those of one cheapest plan). `python",
            "benchmarks/region_bench.py`; per column, the same as",
            f"`{command}`.\n",
            markdown(data, args),
            "The broker at other proactive-move margins and checkpoint sizes (`python",
            "benchmarks/region_bench.py --margins 0,1,2 [--checkpoint-gib 1]`): mean cost USD /",
            "vs the optimum with the same move costs / proactive moves / deadline misses.\n",
            margin_table(data, args, (0.0, 1.0, MOVE_MARGIN)).rstrip("\n"),
            margin_table(data, small, (0.0, MOVE_MARGIN)).split("\n", 2)[2],
            MOVE_RULE,
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
