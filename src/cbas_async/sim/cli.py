"""`cbas simulate`: replay a price or availability trace against the policies and report.

    cbas simulate --prices spot.csv --instance-type c3.xlarge --work-hours 6 --jobs 20
    cbas simulate --availability aws-02-15-2023/*.json --spot-price 0.92 --json
    cbas simulate --availability regions/aws-02-15-2023/*.json --checkpoint-gib 30 \
        --work-hours 24 --deadline-hours 36 --jobs 12

Exit status: 0 on success, 2 on a usage or data error (with a message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from cbas_async.clock import parse_utc
from cbas_async.sim.catalog import parse_policies
from cbas_async.sim.options import add_arguments
from cbas_async.sim.plot import PlotUnavailable, require_matplotlib, write_plot
from cbas_async.sim.report import Scenario, evaluate, format_table
from cbas_async.sim.scenario import ScenarioError, build_scenario
from cbas_async.spot.history import epoch_s


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
        print(format_table(rows, regions=scenario.trace.multi_region))
    if args.plot is not None:
        write_plot(args.plot, scenario, results)
    return 0


def _heading(scenario: Scenario) -> str:
    trace, load = scenario.trace, scenario.workload
    where = ", ".join(trace.zones)
    if trace.multi_region:
        where += f" (home region {load.home_region}; a move copies for {load.move_usd:g} USD"
        where += f" and {load.move_s:g} s)"
    return (
        f"{trace.instance_type} in {where} ({trace.model.name} era, "
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
