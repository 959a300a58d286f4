"""The `--plot` figure of `cbas simulate`: the first job's market and each policy's progress.

matplotlib is the optional `plot` extra (part of `dev`): without it, `--plot` is refused
before anything is simulated. The figure is drawn on matplotlib's non-interactive Agg
canvas, without pyplot, so no display and no global figure state are involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from cbas_async.sim.report import Scenario
from cbas_async.sim.simulator import SimResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure


class PlotUnavailable(Exception):
    """matplotlib cannot be imported."""


def require_matplotlib() -> None:
    """Raises PlotUnavailable when matplotlib is not installed."""
    _agg()


def _agg() -> tuple[type[Figure], type[FigureCanvasAgg]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed (pip install 'cbas-async[plot]')"
        ) from exc
    return Figure, FigureCanvasAgg


def figure(scenario: Scenario, results: Mapping[str, SimResult]) -> Figure:
    """Top: price per zone over job 0's window and the max price (on-demand), or capacity
    per zone for an availability trace. Bottom: job 0's progress under each policy that
    recorded it, and the deadline."""
    trace = scenario.trace
    hours = np.arange(scenario.horizon_steps) * trace.step_s / 3600.0
    new_figure, canvas = _agg()
    drawn = new_figure(figsize=(10, 7))
    canvas(drawn)
    market, progress = drawn.subplots(2, 1, sharex=True)
    _market(market, scenario, hours)
    for name, result in results.items():
        if result.progress_s is not None:
            progress.plot(hours, result.progress_s / 3600.0, label=name)
    progress.axvline(scenario.workload.deadline_s / 3600.0, linestyle=":", color="k")
    progress.set_xlabel("hours since the job started")
    progress.set_ylabel("work done, hours")
    progress.legend(fontsize="small")
    drawn.tight_layout()
    return drawn


def _market(axes: Axes, scenario: Scenario, hours: npt.NDArray[np.floating[Any]]) -> None:
    trace = scenario.trace
    start = int(scenario.starts[0])
    window = slice(start, start + scenario.horizon_steps)
    priced = bool(trace.available.all())
    for row, zone in enumerate(trace.zones):
        if priced:
            axes.step(hours, trace.price_start[row, window], where="post", label=zone)
        else:  # rows offset a little so that zones with the same capacity stay visible
            axes.step(hours, trace.available[row, window] + 0.02 * row, where="post", label=zone)
    if priced:
        axes.axhline(trace.ondemand_usd_per_hour, linestyle="--", color="k", label="max price")
        axes.set_ylabel("USD per hour")
    else:
        axes.set_ylabel("spot available")
    axes.legend(fontsize="small")


def write_plot(path: Path, scenario: Scenario, results: Mapping[str, SimResult]) -> None:
    """The figure, as a PNG file at `path`."""
    figure(scenario, results).savefig(path, format="png")
