"""Availability traces: file names, sampling grid, and the shared files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cbas_async.spot.availability import (
    AvailabilityHistory,
    AvailabilitySeries,
    parse_availability_name,
    read_availability_json,
)


def test_names_give_zone_type_and_start(tmp_path: Path) -> None:
    path = tmp_path / "aws-02-15-2023" / "us-east-1a_v100_1.json"
    assert parse_availability_name(path) == (
        "us-east-1a",
        "p3.2xlarge",
        datetime(2023, 2, 15, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="expected <zone>_<kind>"):
        parse_availability_name(tmp_path / "nonsense.json")


def test_grid_needs_capacity_in_every_sample_it_overlaps() -> None:
    series = AvailabilitySeries(0.0, 100.0, np.array([1, 1, 0, 1, 1, 1]))
    assert list(series.grid(0.0, 100.0, 6)) == [True, True, False, True, True, True]
    assert list(series.grid(0.0, 200.0, 3)) == [True, False, True]
    assert list(series.grid(50.0, 100.0, 6)) == [True, False, False, True, True, False]
    assert series.available_at(250.0) is False
    assert series.available_at(-1.0) is False
    assert series.available_at(700.0) is False


def test_reads_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "aws-10-26-2022"
    folder.mkdir()
    path = folder / "us-west-2b_k80_8.json"
    path.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": [0, 1, 1]}))
    key, series = read_availability_json(path)
    assert key == ("us-west-2b", "p2.8xlarge")
    assert series.start_s == datetime(2022, 10, 26, tzinfo=UTC).timestamp()
    assert series.gap_s == 600.0
    assert list(series.counts) == [0, 1, 1]


def test_shared_files_load(data_dir: Path) -> None:
    paths = sorted((data_dir / "availability").glob("*/*.json"))
    history = AvailabilityHistory.from_files(paths)
    assert ("us-east-1a", "p3.2xlarge") in history.series_keys()
    series = history.series("us-east-1a", "p3.2xlarge")
    assert series.gap_s == 195.0
    assert len(series.counts) == 20158
    assert history.zones("p3.16xlarge") == ["us-west-2a", "us-west-2b"]
