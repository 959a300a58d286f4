"""`cbas simulate` on self-describing trace files of several regions: the move flags, the
JSON keys, and the usage errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cbas_async.sim.cli import add_arguments, run
from tests.sim.test_priced import write_zone

STEPS = 120  # ten-minute samples: 20 h


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def regions(tmp_path: Path) -> list[str]:
    """East (home, dear, room two steps in three) and west (cheap, room from the 40th)."""
    east = write_zone(tmp_path, "us-east-1a", [1, 1, 0] * (STEPS // 3), [2.0] * STEPS)
    west = write_zone(tmp_path, "us-west-2a", [0] * 40 + [1] * (STEPS - 40), [0.5] * STEPS)
    return [str(east), str(west)]


def _job(files: list[str], *extra: str) -> argparse.Namespace:
    return _args(
        "--availability",
        *files,
        "--work-hours",
        "2",
        "--deadline-hours",
        "4",
        "--jobs",
        "2",
        "--lookback-hours",
        "2",
        "--checkpoint-gib",
        "10",
        "--transfer-mib-s",
        "128",
        *extra,
    )


def test_json_gives_region_moves_for_every_policy(
    regions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    names = "ondemand,uniform-progress,uniform-progress-multi,broker,optimum"
    assert run(_job(regions, "--json", "--policies", names)) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["policies"]}
    assert list(rows) == names.split(",")
    assert rows["uniform-progress"]["region_moves"] == 0.0
    assert rows["ondemand"]["region_moves"] == 0.0
    assert rows["uniform-progress-multi"]["region_moves"] > 0  # east runs dry, west is open
    assert rows["optimum"]["region_moves"] >= 0
    for name in ("uniform-progress-multi", "broker"):
        assert rows[name]["deadline_misses"] == 0
        assert rows[name]["cost_vs_optimum"] >= 1.0 - 1e-9


def test_the_home_region_decides_where_uniform_progress_runs(
    regions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    costs = []
    for home in ("us-east-1", "us-west-2"):
        argv = ("--json", "--policies", "uniform-progress", "--home-region", home)
        assert run(_job(regions, *argv)) == 0
        costs.append(json.loads(capsys.readouterr().out)["policies"][0]["cost_usd"])
    assert costs[1] < costs[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--home-region", "eu-west-9"], "--home-region eu-west-9"),
        (["--transfer-mib-s", "0"], "--transfer-mib-s"),
        (["--step-s", "60"], "own gap_seconds"),
        (["--zones", "us-east-1q"], "no trace of p3.2xlarge for zones us-east-1q"),
    ],
)
def test_usage_errors_exit_2(
    regions: list[str], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert run(_job(regions, *extra)) == 2
    assert message in capsys.readouterr().err


def test_a_malformed_file_exits_2_naming_it(
    tmp_path: Path, regions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_zone(tmp_path, "us-east-2a", [1, 1, 1], [1.0])
    assert run(_job([*regions, str(bad)])) == 2
    assert f"{bad}: prices has 1 samples, data has 3" in capsys.readouterr().err


def test_files_with_and_without_metadata_do_not_mix(
    data_dir: Path, regions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    plain = data_dir / "availability" / "aws-10-26-2022" / "us-west-2a_v100_1.json"
    assert run(_job([*regions, str(plain)], "--spot-price", "1")) == 2
    assert "mix of trace files" in capsys.readouterr().err


def test_the_table_names_the_home_region_and_counts_moves(
    regions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_job(regions, "--policies", "ondemand,uniform-progress-multi")) == 0
    out = capsys.readouterr().out
    assert "home region us-east-1; a move copies for 0.2 USD and 80 s" in out
    assert out.count("region moves |") == 1
