"""The options of `cbas simulate`, kept apart from the simulator so that building the
`cbas` command line (which every master and worker does at boot) imports no numpy."""

from __future__ import annotations

import argparse
from pathlib import Path

# the policies `--policies` accepts; `spot.catalog` checks it builds exactly these
NAMES = (
    "ondemand",
    "spot-no-ckpt",
    "yi-hour",
    "yi-edge",
    "yi-adaptive",
    "young-daly",
    "uniform-progress",
    "uniform-progress-multi",
    "broker",
    "optimum",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """All options of `cbas simulate`."""
    _trace_arguments(parser)
    _job_arguments(parser)
    _region_arguments(parser)
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
        help="spot USD/h for availability traces that carry no prices",
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


def _region_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint-gib",
        type=float,
        default=0.0,
        metavar="G",
        help="checkpoint size: a move to another region copies it (default 0)",
    )
    parser.add_argument("--egress-usd-per-gib", type=float, default=0.02, metavar="U")
    parser.add_argument(
        "--transfer-mib-s",
        type=float,
        default=100.0,
        metavar="R",
        help="copy rate between regions (default 100 MiB/s)",
    )
    parser.add_argument(
        "--home-region",
        help="where jobs start, and uniform-progress's region (default: the first file's)",
    )


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", default="all", help=f"all, or some of: {', '.join(NAMES)}")
    parser.add_argument("--json", action="store_true", help='print {"policies": [...]}')
    parser.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="write a PNG (needs cbas-async[plot])"
    )


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--market",
        dest="market_model",
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
