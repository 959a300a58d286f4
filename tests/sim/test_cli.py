"""`cbas simulate` through `add_arguments` + `run`, and as `python -m cbas_async.sim.cli`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cbas_async.sim.catalog import POLICY_NAMES
from cbas_async.sim.cli import add_arguments, run

FIELDS = {
    "name",
    "cost_usd",
    "completion_hours",
    "interruptions",
    "work_lost_hours",
    "deadline_misses",
    "cost_vs_ondemand",
    "cost_vs_optimum",
    "region_moves",
}


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _prices(data_dir: Path) -> list[str]:
    return [
        "--prices",
        str(data_dir / "spot" / "spot_us-east-1_2021_post-2017.csv"),
        "--instance-type",
        "c5.large",
        "--work-hours",
        "2",
        "--deadline-hours",
        "4",
        "--jobs",
        "3",
        "--lookback-hours",
        "24",
        "--hazard-per-hour",
        "0.2",
    ]


def test_json_has_every_policy(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(*_prices(data_dir), "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in report["policies"]}
    assert list(rows) == list(POLICY_NAMES)
    for row in rows.values():
        assert set(row) == FIELDS
    assert rows["ondemand"]["cost_vs_ondemand"] == pytest.approx(1.0)
    assert rows["optimum"]["cost_vs_optimum"] == pytest.approx(1.0)
    assert rows["ondemand"]["cost_usd"] == pytest.approx(2 * 0.085)
    for row in rows.values():
        assert row["cost_vs_optimum"] >= 1.0 - 1e-9 or row["deadline_misses"] > 0


def test_table_for_some_policies(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_args(*_prices(data_dir), "--policies", "ondemand,broker")) == 0
    out = capsys.readouterr().out
    assert "| policy |" in out
    assert "| broker |" in out
    assert "| young-daly |" not in out


def test_availability_traces(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = data_dir / "availability" / "aws-10-26-2022"
    files = sorted(str(p) for p in folder.glob("*v100_1.json"))
    argv = ["--availability", *files, "--spot-price", "0.9", "--work-hours", "2", "--jobs", "2"]
    assert run(_args(*argv, "--json", "--policies", "all")) == 0
    rows = json.loads(capsys.readouterr().out)["policies"]
    assert len(rows) == len(POLICY_NAMES)
    assert run(_args("--availability", *files)) == 2  # the price is missing
    assert "--spot-price" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policies", "cheap"], "unknown policy"),
        (["--instance-type", "x9.mega"], "has no x9.mega"),
        (["--start", "2030-01-01T00:00:00Z"], "--start"),
        (["--jobs", "0"], "--jobs"),
    ],
)
def test_usage_errors_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert run(_args(*_prices(data_dir), *extra)) == 2
    assert message in capsys.readouterr().err


def test_plot_is_written(data_dir: Path, tmp_path: Path) -> None:
    assert run(_args(*_prices(data_dir), "--plot", str(tmp_path / "p.png"))) == 0
    assert (tmp_path / "p.png").stat().st_size > 0


def test_module_entry_point(data_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cbas_async.sim.cli", *_prices(data_dir), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["policies"][0]["name"] == "ondemand"


def test_every_policy_name_has_a_builder_and_the_options_name_them_all() -> None:
    from cbas_async.sim import catalog, options

    assert set(catalog._BUILDERS) | {catalog.OPTIMUM} == set(options.NAMES)
    assert catalog.POLICY_NAMES == options.NAMES
