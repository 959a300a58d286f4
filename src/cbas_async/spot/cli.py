"""`cbas simulate`: replay a price or availability trace against the policies and report.

    cbas simulate --prices spot.csv --instance-type c3.xlarge --work-hours 6 --jobs 20
    cbas simulate --availability aws-02-15-2023/*.json --spot-price 0.92 --json

Exit status: 0 on success, 2 on a usage or data error (with a message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cbas_async.clock import parse_utc
from cbas_async.spot.catalog import POLICY_NAMES, parse_policies
from cbas_async.spot.history import epoch_s
from cbas_async.spot.plot import PlotUnavailable, require_matplotlib, write_plot
from cbas_async.spot.report import Scenario, evaluate, format_table
from cbas_async.spot.scenario import ScenarioError, build_scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """All options of `cbas simulate`."""
    _trace_arguments(parser)
    _job_arguments(parser)
    _output_arguments(parser)
    _model_arguments(parser)


def _trace_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prices", type=Path, metavar="CSV", help="spot price trace (CSV)")
    source.add_argument(
        "--availability", type=Path, nargs="+", metavar="JSON", help="availability traces"
    )
    parser.add_argument(
        "--spot-price",
        type=float,
        metavar="USD",
        help="spot price per hour for availability traces (they carry none)",
    )
    parser.add_argument(
        "--ondemand",
        type=Path,
        metavar="CSV",
        help="on-demand prices (default: ondemand.csv beside the trace or in ../spot/)",
    )
    parser.add_argument(
        "--ondemand-price", type=float, metavar="USD", help="on-demand USD/h, not --ondemand"
    )
    parser.add_argument("--instance-type", help="default: the first type the trace holds")
    parser.add_argument("--zones", help="comma-separated zones (default: all with data)")


def _job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", help="first job start, ISO 8601 UTC (default: after the lookback window)"
    )
    parser.add_argument("--work-hours", type=float, default=4.0)
    parser.add_argument("--deadline-hours", type=float, help="default: twice the work")
    parser.add_argument("--checkpoint-cost-s", type=float, default=60.0)
    parser.add_argument("--restart-cost-s", type=float, default=120.0)
    parser.add_argument(
        "--jobs", type=int, default=10, help="jobs, start times spread over the trace"
    )


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies", default="all", help=f"all, or some of: {', '.join(POLICY_NAMES)}"
    )
    parser.add_argument("--json", action="store_true", help='print {"policies": [...]}')
    parser.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="write a PNG (needs cbas-async[plot])"
    )


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--market",
        choices=("auto", "bid", "current"),
        default="auto",
        help="market model (auto: by the trace's date)",
    )
    parser.add_argument(
        "--step-s",
        type=float,
        help="grid step (default: 300 s for prices, the sample gap for availability)",
    )
    parser.add_argument(
        "--hazard-per-hour",
        type=float,
        help="current-era price traces: capacity interruptions per hour, sampled (default: none)",
    )
    parser.add_argument(
        "--lookback-hours",
        type=float,
        default=168.0,
        help="history the online policies may use before each job",
    )
    parser.add_argument("--seed", type=int, default=0, help="for sampled interruptions")


def run(args: argparse.Namespace) -> int:
    """Simulate and print; 0 on success, 2 on a usage or data error."""
    try:
        names = parse_policies(args.policies)
        start_s = epoch_s(parse_utc(args.start)) if args.start else None
        scenario = build_scenario(args, start_s=start_s)
    except (ValueError, ScenarioError, OSError, KeyError) as exc:
        print(f"cbas simulate: {exc}", file=sys.stderr)
        return 2
    if args.plot is not None:
        try:
            require_matplotlib()
        except PlotUnavailable as exc:
            print(f"cbas simulate: {exc}", file=sys.stderr)
            return 2
    rows, results = evaluate(scenario, names, record=args.plot is not None)
    if args.json:
        print(json.dumps({"policies": [row.to_json() for row in rows]}, indent=2))
    else:
        print(_heading(scenario))
        print(format_table(rows))
    if args.plot is not None:
        write_plot(args.plot, scenario, results)
    return 0


def _heading(scenario: Scenario) -> str:
    trace, load = scenario.trace, scenario.workload
    return (
        f"{trace.instance_type} in {', '.join(trace.zones)} ({trace.model.name} era, "
        f"{trace.step_s:g} s steps), {len(scenario.starts)} jobs of {load.work_s / 3600:g} h "
        f"work, deadline {load.deadline_s / 3600:g} h, on-demand "
        f"{trace.ondemand_usd_per_hour:g} USD/h\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cbas simulate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


__all__ = ["add_arguments", "main", "run"]

if __name__ == "__main__":
    raise SystemExit(main())
