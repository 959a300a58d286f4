"""Self-describing trace files: loading, the market they make, and the errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cbas_async.sim.priced import (
    TraceFileError,
    describes_itself,
    read_zone_trace,
    trace_from_zone_files,
)

START = "2023-02-15T00:00:00Z"


def write_zone(
    folder: Path,
    zone: str,
    data: list[int],
    prices: list[float] | None = None,
    *,
    start: str = START,
    ondemand: float = 3.0,
    drop: str | None = None,
    gap: int = 600,
) -> Path:
    """A trace file with an arbitrary name; `drop` leaves one metadata field out."""
    meta: dict[str, Any] = {
        "gap_seconds": gap,
        "start": start,
        "zone": zone,
        "region": zone[:-1],
        "instance_type": "p3.2xlarge",
        "ondemand_usd_per_hour": ondemand,
    }
    if drop is not None:
        del meta[drop]
    document: dict[str, Any] = {"metadata": meta, "data": data}
    if prices is not None:
        document["prices"] = prices
    path = folder / f"trace-{zone}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_file_with_any_name_gives_its_zone_region_and_prices(tmp_path: Path) -> None:
    path = write_zone(tmp_path, "us-west-2a", [1, 0, 1], [0.9, 1.0, 1.1])
    assert describes_itself(path)
    zone = read_zone_trace(path)
    assert (zone.zone, zone.region, zone.instance_type) == ("us-west-2a", "us-west-2", "p3.2xlarge")
    assert zone.available.tolist() == [True, False, True]
    assert zone.prices is not None
    assert zone.prices.tolist() == [0.9, 1.0, 1.1]
    assert zone.gap_s == 600.0


def test_the_trace_covers_where_every_zone_is_known(tmp_path: Path) -> None:
    east = read_zone_trace(write_zone(tmp_path, "us-east-1a", [1, 1, 0, 1], [2.0, 2.1, 2.2, 2.3]))
    west = read_zone_trace(
        write_zone(tmp_path, "us-west-2a", [0, 1, 1], [1.0, 1.1, 1.2], start="2023-02-15T00:10:00Z")
    )
    trace = trace_from_zone_files([east, west], spot_usd_per_hour=None)
    assert trace.n_steps == 3
    assert trace.regions == ("us-east-1", "us-west-2")
    assert trace.multi_region
    assert trace.zone_regions().tolist() == [0, 1]
    assert trace.price_mean[0].tolist() == [2.1, 2.2, 2.3]
    assert trace.available[1].tolist() == [False, True, True]
    assert trace.ondemand_usd_per_hour == 3.0


def test_the_flat_price_stands_in_for_a_file_without_prices(tmp_path: Path) -> None:
    zone = read_zone_trace(write_zone(tmp_path, "us-east-1a", [1, 1]))
    trace = trace_from_zone_files([zone], spot_usd_per_hour=0.5)
    assert np.array_equal(trace.price_start, [[0.5, 0.5]])
    with pytest.raises(TraceFileError, match="carries no prices"):
        trace_from_zone_files([zone], spot_usd_per_hour=None)


def test_on_demand_is_the_cheapest_region(tmp_path: Path) -> None:
    east = read_zone_trace(write_zone(tmp_path, "us-east-1a", [1], [1.0], ondemand=3.06))
    west = read_zone_trace(write_zone(tmp_path, "us-west-2a", [1], [1.0], ondemand=2.5))
    assert trace_from_zone_files([east, west], spot_usd_per_hour=None).ondemand_usd_per_hour == 2.5


def test_prices_of_another_length_are_refused(tmp_path: Path) -> None:
    path = write_zone(tmp_path, "us-east-1a", [1, 0, 1], [1.0, 2.0])
    with pytest.raises(TraceFileError, match="prices has 2 samples, data has 3"):
        read_zone_trace(path)


@pytest.mark.parametrize("field", ["start", "region", "ondemand_usd_per_hour"])
def test_a_missing_field_is_named(tmp_path: Path, field: str) -> None:
    path = write_zone(tmp_path, "us-east-1a", [1], [1.0], drop=field)
    with pytest.raises(TraceFileError, match=f"missing metadata.{field}"):
        read_zone_trace(path)


def test_files_that_do_not_line_up_are_refused(tmp_path: Path) -> None:
    a = read_zone_trace(write_zone(tmp_path, "us-east-1a", [1, 1], [1.0, 1.0]))
    b = read_zone_trace(write_zone(tmp_path, "us-east-1b", [1, 1], [1.0, 1.0], gap=300))
    c = read_zone_trace(
        write_zone(tmp_path, "us-east-1c", [1, 1], [1.0, 1.0], start="2023-02-15T00:00:07Z")
    )
    with pytest.raises(TraceFileError, match="different gap_seconds"):
        trace_from_zone_files([a, b], spot_usd_per_hour=None)
    with pytest.raises(TraceFileError, match="not on one grid"):
        trace_from_zone_files([a, c], spot_usd_per_hour=None)
    with pytest.raises(TraceFileError, match="same zone"):
        trace_from_zone_files([a, a], spot_usd_per_hour=None)


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TraceFileError, match="not JSON"):
        describes_itself(path)
