"""Builds a `Scenario` for `cbas simulate` from its options: loads the trace and prices,
picks the instance type, zones and market model, and spreads the job starts."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from cbas_async.sim.priced import describes_itself, read_zone_trace, trace_from_zone_files
from cbas_async.sim.report import Scenario
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace, trace_from_availability, trace_from_prices
from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.eras import model_named
from cbas_async.spot.history import PriceHistory, from_epoch_s
from cbas_async.spot.prices import read_ondemand_csv, read_price_csv

DEFAULT_PRICE_STEP_S = 300.0


class ScenarioError(Exception):
    """The options do not describe a scenario that can be simulated."""


def build_scenario(args: argparse.Namespace, *, start_s: float | None) -> Scenario:
    zones = [z.strip() for z in args.zones.split(",") if z.strip()] if args.zones else None
    history = None
    if args.prices is not None:
        history = read_price_csv(args.prices)
        trace = _price_trace(args, history, zones)
    else:
        trace = _availability_trace(args, zones)
    return _spread_jobs(args, trace, _workload(args, trace), history, start_s)


def _workload(args: argparse.Namespace, trace: MarketTrace) -> Workload:
    """The job, with what a move between regions costs (`--checkpoint-gib` copied at
    `--transfer-mib-s` for `--egress-usd-per-gib`)."""
    gib, rate = args.checkpoint_gib, args.transfer_mib_s
    if gib < 0 or args.egress_usd_per_gib < 0 or rate <= 0:
        raise ScenarioError(
            "--checkpoint-gib and --egress-usd-per-gib must be at least 0, --transfer-mib-s above 0"
        )
    home = args.home_region or (trace.region_names[0] if trace.region_names else "")
    if home and home not in trace.region_names:
        known = ", ".join(trace.region_names) or "none (its files name no region)"
        raise ScenarioError(f"--home-region {home}: the trace's regions are {known}")
    return Workload(
        work_s=args.work_hours * 3600.0,
        deadline_s=(args.deadline_hours or 2 * args.work_hours) * 3600.0,
        checkpoint_cost_s=args.checkpoint_cost_s,
        restart_cost_s=args.restart_cost_s,
        home_region=home,
        move_usd=gib * args.egress_usd_per_gib,
        move_s=gib * 1024.0 / rate,
    )


def _instance_type(args: argparse.Namespace, available: list[str]) -> str:
    if args.instance_type:
        if args.instance_type not in available:
            raise ScenarioError(
                f"the trace has no {args.instance_type}: it has {', '.join(available)}"
            )
        return str(args.instance_type)
    if not available:
        raise ScenarioError("the trace holds no series")
    return available[0]


def _ondemand_price(args: argparse.Namespace, itype: str, near_s: float, beside: Path) -> float:
    if args.ondemand_price is not None:
        return float(args.ondemand_price)
    candidates = (
        [args.ondemand]
        if args.ondemand
        else [
            beside / "ondemand.csv",
            beside.parent / "spot" / "ondemand.csv",
            beside.parent.parent / "spot" / "ondemand.csv",
        ]
    )
    for path in candidates:
        if path.is_file():
            prices = read_ondemand_csv(path, near=from_epoch_s(near_s))
            if itype in prices:
                return prices[itype]
            raise ScenarioError(f"{path} has no on-demand price for {itype}: use --ondemand-price")
    raise ScenarioError("no on-demand prices: give --ondemand CSV or --ondemand-price USD")


def _price_trace(
    args: argparse.Namespace, history: PriceHistory, zones: list[str] | None
) -> MarketTrace:
    itype = _instance_type(args, history.instance_types())
    keys = [(z, itype) for z in (zones or history.zones(itype))]
    known_start, _ = history.span_s(keys)
    return trace_from_prices(
        history,
        instance_type=itype,
        ondemand_usd_per_hour=_ondemand_price(args, itype, known_start, args.prices.parent),
        zones=zones,
        step_s=args.step_s or DEFAULT_PRICE_STEP_S,
        model=None if args.market_model == "auto" else model_named(args.market_model),
        hazard_per_hour=args.hazard_per_hour,
        seed=args.seed,
    )


def _availability_trace(args: argparse.Namespace, zones: list[str] | None) -> MarketTrace:
    described = [describes_itself(path) for path in args.availability]
    if any(described):
        if not all(described):
            raise ScenarioError("mix of trace files with and without metadata.zone")
        return _described_trace(args, zones)
    if args.spot_price is None:
        raise ScenarioError("availability traces carry no price: give --spot-price USD")
    history = AvailabilityHistory.from_files(args.availability)
    itype = _instance_type(args, history.instance_types())
    keys = [(z, itype) for z in (zones or history.zones(itype))]
    known_start, _ = history.span_s(keys)
    return trace_from_availability(
        history,
        instance_type=itype,
        spot_usd_per_hour=args.spot_price,
        ondemand_usd_per_hour=_ondemand_price(
            args, itype, known_start, args.availability[0].parent
        ),
        zones=zones,
        step_s=args.step_s,
    )


def _described_trace(args: argparse.Namespace, zones: list[str] | None) -> MarketTrace:
    """Self-describing files (`priced.py`): of the chosen type, and zones if given."""
    files = [read_zone_trace(path) for path in args.availability]
    itype = _instance_type(args, sorted({f.instance_type for f in files}))
    files = [f for f in files if f.instance_type == itype]
    if zones:
        missing = sorted(set(zones) - {f.zone for f in files})
        if missing:
            raise ScenarioError(f"no trace of {itype} for zones {', '.join(missing)}")
        files = [f for f in files if f.zone in zones]
    if args.step_s is not None and args.step_s != files[0].gap_s:
        raise ScenarioError("traces with metadata replay at their own gap_seconds: omit --step-s")
    return trace_from_zone_files(
        files, spot_usd_per_hour=args.spot_price, ondemand_usd_per_hour=args.ondemand_price
    )


def _spread_jobs(
    args: argparse.Namespace,
    trace: MarketTrace,
    workload: Workload,
    history: PriceHistory | None,
    start_s: float | None,
) -> Scenario:
    if args.jobs < 1:
        raise ScenarioError("--jobs must be at least 1")
    deadline_steps = math.ceil(workload.deadline_s / trace.step_s)
    lookback_steps = round(args.lookback_hours * 3600.0 / trace.step_s)
    room = trace.n_steps - deadline_steps
    if room < 0:
        raise ScenarioError("the trace is shorter than the deadline")
    if start_s is None:
        first = min(lookback_steps, room)
    else:
        first = math.ceil((start_s - trace.start_s) / trace.step_s)
        if not 0 <= first <= room:
            raise ScenarioError("--start leaves no room for a job before the trace ends")
    starts = np.linspace(first, room, args.jobs).round().astype(np.int64)
    horizon = min(2 * deadline_steps, trace.n_steps - int(starts.max()))
    return Scenario(
        trace=trace,
        workload=workload,
        starts=starts,
        horizon_steps=horizon,
        lookback_steps=lookback_steps,
        history=history,
    )
