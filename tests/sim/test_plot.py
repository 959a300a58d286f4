"""`cbas simulate --plot`: the figure is drawn (market on top, progress below) and written as
a real PNG; without matplotlib, `--plot` is refused before anything is simulated."""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from cbas_async.sim.cli import add_arguments, run
from cbas_async.sim.plot import figure, write_plot
from cbas_async.sim.report import Scenario, evaluate
from cbas_async.sim.state import Workload
from cbas_async.sim.trace import MarketTrace, trace_from_availability, trace_from_prices
from cbas_async.spot.availability import AvailabilityHistory
from cbas_async.spot.prices import read_price_csv

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
POLICIES = ["ondemand", "spot-no-ckpt", "young-daly", "uniform-progress"]


def _scenario(trace: MarketTrace) -> Scenario:
    load = Workload(work_s=4 * 3600.0, deadline_s=8 * 3600.0, checkpoint_cost_s=60.0)
    horizon = round(2 * load.deadline_s / trace.step_s)
    starts = np.array([trace.n_steps // 2, trace.n_steps // 3], dtype=np.int64)
    return Scenario(
        trace=trace, workload=load, starts=starts, horizon_steps=horizon, lookback_steps=288
    )


@pytest.fixture(scope="module")
def price_scenario(data_dir: Path) -> Scenario:
    history = read_price_csv(
        data_dir / "spot" / "spot_us-east-1_2015_bid-era.csv", instance_types=["r3.large"]
    )
    return _scenario(
        trace_from_prices(history, instance_type="r3.large", ondemand_usd_per_hour=0.175)
    )


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    assert data.endswith(b"IEND\xaeB`\x82")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_figure_shows_prices_the_max_price_and_each_policys_progress(
    price_scenario: Scenario,
) -> None:
    _, results = evaluate(price_scenario, POLICIES, record=True)
    market, progress = figure(price_scenario, results).axes
    trace = price_scenario.trace
    labels = [line.get_label() for line in market.get_lines()]
    assert labels == [*trace.zones, "max price"]
    max_price = market.get_lines()[-1]
    assert np.unique(np.asarray(max_price.get_ydata(), dtype=float)).tolist() == [
        trace.ondemand_usd_per_hour
    ]
    assert market.get_ylabel() == "USD per hour"
    drawn = {line.get_label(): line for line in progress.get_lines()}
    assert set(POLICIES) <= set(drawn)
    # job 0's progress, in hours, ends at its work
    ondemand = np.asarray(drawn["ondemand"].get_ydata(), dtype=float)
    assert np.nanmax(ondemand) == pytest.approx(4.0)


def test_the_plot_is_a_png_of_the_whole_figure(price_scenario: Scenario, tmp_path: Path) -> None:
    _, results = evaluate(price_scenario, POLICIES, record=True)
    path = tmp_path / "plot.png"
    write_plot(path, price_scenario, results)
    assert _png_size(path) == (1000, 700)  # 10 x 7 inches at 100 dpi
    assert path.stat().st_size > 20_000  # lines and text, not an empty canvas
    pixels = imread(path)  # decodes: a valid PNG
    assert pixels.shape[:2] == (700, 1000)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50


def test_availability_traces_plot_capacity(data_dir: Path, tmp_path: Path) -> None:
    files = sorted((data_dir / "availability" / "aws-10-26-2022").glob("*_v100_1.json"))
    history = AvailabilityHistory.from_files(files)
    trace = trace_from_availability(
        history, instance_type="p3.2xlarge", spot_usd_per_hour=0.9, ondemand_usd_per_hour=3.06
    )
    scenario = _scenario(trace)
    _, results = evaluate(scenario, ["ondemand", "spot-no-ckpt"], record=True)
    market, _ = figure(scenario, results).axes
    assert market.get_ylabel() == "spot available"
    assert [line.get_label() for line in market.get_lines()] == list(trace.zones)
    write_plot(tmp_path / "capacity.png", scenario, results)
    assert _png_size(tmp_path / "capacity.png") == (1000, 700)


def _cli_args(data_dir: Path, plot: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    trace = data_dir / "spot" / "spot_us-east-1_2021_post-2017.csv"
    argv = ["--prices", str(trace), "--instance-type", "c5.large", "--work-hours", "2"]
    argv += ["--jobs", "2", "--lookback-hours", "24", "--plot", str(plot)]
    return parser.parse_args(argv)


def test_cbas_simulate_writes_the_plot(data_dir: Path, tmp_path: Path) -> None:
    assert run(_cli_args(data_dir, tmp_path / "p.png")) == 0
    assert _png_size(tmp_path / "p.png") == (1000, 700)


def test_without_matplotlib_the_plot_is_refused(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    assert run(_cli_args(data_dir, tmp_path / "p.png")) == 2
    assert "needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()
