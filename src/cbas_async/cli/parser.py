"""The argument parser of `cbas`: every command and its options."""

from __future__ import annotations

import argparse
from pathlib import Path

from cbas_async.sim.options import add_arguments as add_simulate_arguments
from cbas_async.states import JobState

Commands = argparse._SubParsersAction  # argparse names no public type for it


def region_list(text: str) -> tuple[str, ...]:
    """`us-east-1,us-west-2`: the names, blanks dropped (CBAS_REGIONS checks them)."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("name at least one region")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cbas", description="Batch jobs on spot instances.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_daemons(sub)
    _add_jobs(sub)
    _add_admin(sub)
    return parser


def _add_daemons(sub: Commands[argparse.ArgumentParser]) -> None:
    local = sub.add_parser("local", help="local cloud + master, in the foreground")
    local.add_argument("--port", type=int, default=8080)
    local.add_argument(
        "--regions",
        type=region_list,
        help="comma-separated regions, the home region first (default: CBAS_REGION only)",
    )
    local.add_argument(
        "--trace",
        type=Path,
        nargs="+",
        action="extend",
        help="price CSV, availability or priced zone JSON files (default with --regions: "
        "the shared priced traces of those regions)",
    )
    local.add_argument("--speed", type=float, default=1.0)
    local.add_argument("--no-master", action="store_true", help="start no master process")
    sub.add_parser("master", help="the master daemon")
    sub.add_parser("worker", help="the worker daemon (on instance boot)")
    p = sub.add_parser("bootstrap", help="create the deployment's AWS resources (idempotent)")
    p.add_argument("--print-policies", action="store_true", help="print the IAM policies")
    p.add_argument("--wheel", type=Path, help="this version's wheel (default: dist/ or built)")
    p = sub.add_parser("doctor", help="check the deployment before launching anything")
    p.add_argument(
        "--instance-type",
        dest="instance_types",
        action="append",
        help="an instance type jobs may use (repeatable; default: the spec's default)",
    )
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("teardown", help="delete the deployment's AWS resources (idempotent)")
    p.add_argument("--force", action="store_true", help="even while jobs are live")
    sub.add_parser("demo", help="local cloud + example jobs + report")


def _add_jobs(sub: Commands[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("submit", help="submit a job spec (JSON or JDL)")
    p.add_argument("spec", type=Path)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("status", help="show one job")
    p.add_argument("job_id")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("list", help="list jobs")
    p.add_argument("--state", type=str.upper, choices=[s.value for s in JobState])
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("wait", help="wait for jobs to finish")
    p.add_argument("job_ids", nargs="+")
    p.add_argument("--timeout", type=float, default=3600.0)
    p = sub.add_parser("cancel", help="cancel a job")
    p.add_argument("job_id")
    p = sub.add_parser("logs", help="print a job's logs, every attempt in order")
    p.add_argument("job_id")
    p.add_argument("--follow", action="store_true")
    p = sub.add_parser("outputs", help="download a job's output files")
    p.add_argument("job_id")
    p.add_argument("--to", type=Path, required=True)


def _add_admin(sub: Commands[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("interrupt", help="send a spot interruption notice (local cloud)")
    p.add_argument("job_id")
    _add_fault(sub.add_parser("fault", help="EC2 capacity and quota outages (local cloud)"))
    _add_token(sub.add_parser("token", help="API tokens: create, list, revoke"))
    _add_image(sub.add_parser("image", help="worker images: build"))
    p = sub.add_parser("simulate", help="replay spot traces against policies")
    add_simulate_arguments(p)


def _add_fault(fault: argparse.ArgumentParser) -> None:
    kinds = fault.add_subparsers(dest="kind", required=True)
    p = kinds.add_parser("capacity", help="launches in a pool fail: InsufficientInstanceCapacity")
    p.add_argument("--zone", required=True, help="an availability zone, or 'all'")
    p.add_argument("--type", dest="instance_type", required=True, help="e.g. c5.large")
    p.add_argument("--market", choices=["spot", "on-demand"], help="default: both")
    p.add_argument("--seconds", type=float, required=True)
    p = kinds.add_parser("quota", help="launches beyond N live vCPUs per market fail")
    p.add_argument("--vcpus", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)


def _add_image(image: argparse.ArgumentParser) -> None:
    actions = image.add_subparsers(dest="action", required=True)
    p = actions.add_parser("build", help="bake this version into a worker image and use it")
    p.add_argument("--base", help="the image to start from (default: Amazon Linux 2023)")
    p.add_argument("--with-dmtcp", action="store_true", help="also build DMTCP (pinned)")
    p.add_argument("--instance-type", help="the builder's type (default: by architecture)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds (default: 3600)")


def _add_token(token: argparse.ArgumentParser) -> None:
    actions = token.add_subparsers(dest="action", required=True)
    p = actions.add_parser("create", help="create a token (printed once)")
    p.add_argument("--name", default="", help="unique; default: the token's id")
    p.add_argument("--owner", default="", help="whose jobs it sees; default: the name")
    p.add_argument("--role", choices=["user", "admin"], default="user")
    p.add_argument("--json", action="store_true")
    p = actions.add_parser("list", help="list tokens (never their secrets)")
    p.add_argument("--json", action="store_true")
    p = actions.add_parser("revoke", help="delete a token: refused from the next request")
    p.add_argument("name", help="the token's name (or id)")
