"""The `--plot` figure of `cbas simulate`: the first job's market and each policy's progress.

matplotlib is optional and not a dependency: without it, `--plot` is refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

from cbas_async.spot.report import Scenario
from cbas_async.spot.simulator import SimResult


class PlotUnavailable(Exception):
    """matplotlib cannot be imported."""


def pyplot() -> ModuleType:
    """matplotlib.pyplot with a file-only backend; raises PlotUnavailable without it."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed (pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def write_plot(path: Path, scenario: Scenario, results: Mapping[str, SimResult]) -> None:
    """Top: price (or capacity) per zone over job 0's window and the on-demand max price.
    Bottom: job 0's progress under each simulated policy."""
    plt = pyplot()
    trace = scenario.trace
    start = int(scenario.starts[0])
    steps = scenario.horizon_steps
    hours = np.arange(steps) * trace.step_s / 3600.0
    figure, (market, progress) = plt.subplots(2, 1, sharex=True, figsize=(10, 7))
    window = slice(start, start + steps)
    for row, zone in enumerate(trace.zones):
        if trace.available.all():
            market.step(hours, trace.price_start[row, window], where="post", label=zone)
        else:
            market.step(hours, trace.available[row, window] + 0.02 * row, where="post", label=zone)
    if trace.available.all():
        market.axhline(trace.ondemand_usd_per_hour, linestyle="--", color="k", label="max price")
        market.set_ylabel("USD per hour")
    else:
        market.set_ylabel("spot available")
    market.legend(fontsize="small")
    for name, result in results.items():
        if result.progress_s is not None:
            progress.plot(hours, result.progress_s / 3600.0, label=name)
    progress.axvline(scenario.workload.deadline_s / 3600.0, linestyle=":", color="k")
    progress.set_xlabel("hours since the job started")
    progress.set_ylabel("work done, hours")
    progress.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
