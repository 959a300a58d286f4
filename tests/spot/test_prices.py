"""Price sources: CSV traces, on-demand prices, and EC2 against the moto server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cbas_async.aws import Clients
from cbas_async.spot.history import PriceHistory
from cbas_async.spot.prices import (
    Ec2PriceSource,
    PricePoint,
    TracePriceSource,
    read_ondemand_csv,
    read_price_csv,
)

if TYPE_CHECKING:
    from types_aiobotocore_ec2.literals import InstanceTypeType

CSV = """timestamp,region,availability_zone,instance_type,product_description,price_usd_per_hour
2015-03-11T16:54:38Z,us-east-1,us-east-1a,c3.xlarge,Linux/UNIX,0.0324
2015-03-11T16:58:12Z,us-east-1,us-east-1a,c3.xlarge,Linux/UNIX,0.0321
2015-03-11T16:00:00Z,us-east-1,us-east-1b,c3.xlarge,Linux/UNIX,0.05
2015-03-11T17:00:00Z,us-east-1,us-east-1b,m3.medium,Linux/UNIX,0.0081
"""


@pytest.fixture
def trace_csv(tmp_path: Path) -> Path:
    path = tmp_path / "spot.csv"
    path.write_text(CSV)
    return path


async def test_trace_source_reads_points(trace_csv: Path) -> None:
    points = await TracePriceSource(trace_csv).fetch(since=None)
    assert len(points) == 4
    assert points[0] == PricePoint(
        timestamp=datetime(2015, 3, 11, 16, 54, 38, tzinfo=UTC),
        region="us-east-1",
        zone="us-east-1a",
        instance_type="c3.xlarge",
        product="Linux/UNIX",
        price_usd_per_hour=0.0324,
    )
    later = await TracePriceSource(trace_csv, instance_types=["c3.xlarge"]).fetch(
        since=datetime(2015, 3, 11, 16, 55, tzinfo=UTC)
    )
    assert [p.price_usd_per_hour for p in later] == [0.0321]


async def test_fast_reader_matches_the_source(trace_csv: Path) -> None:
    fast = read_price_csv(trace_csv)
    slow = PriceHistory.from_points(await TracePriceSource(trace_csv).fetch(since=None))
    assert fast.series_keys() == slow.series_keys()
    for key in fast.series_keys():
        assert list(fast.series(*key).times_s) == list(slow.series(*key).times_s)
        assert list(fast.series(*key).prices_usd_per_hour) == list(
            slow.series(*key).prices_usd_per_hour
        )
    assert read_price_csv(trace_csv, instance_types=["m3.medium"]).series_keys() == [
        ("us-east-1b", "m3.medium")
    ]
    assert read_price_csv(trace_csv, instance_types=["x1.huge"]).series_keys() == []


def test_ondemand_picks_the_row_nearest_the_window(tmp_path: Path) -> None:
    path = tmp_path / "ondemand.csv"
    path.write_text(
        "region,instance_type,product_description,price_usd_per_hour,as_of\n"
        "us-east-1,r3.large,Linux/UNIX,0.175,2016-07-10\n"
        "us-east-1,r3.large,Linux/UNIX,0.166,2016-12-13\n"
        "us-west-2,r3.large,Linux/UNIX,9.0,2016-07-10\n"
    )
    assert read_ondemand_csv(path, near=datetime(2015, 5, 1, tzinfo=UTC)) == {"r3.large": 0.175}
    assert read_ondemand_csv(path) == {"r3.large": 0.166}


def test_shared_trace_loads(data_dir: Path) -> None:
    history = read_price_csv(data_dir / "spot" / "spot_us-east-1_2021_post-2017.csv")
    assert len(history.series_keys()) == 57  # 11 types in 6 zones, but only 2 of them in 1e
    series = history.series("us-east-1a", "c4.large")
    assert series.first_s == datetime(2021, 3, 2, 15, 46, 13, tzinfo=UTC).timestamp()
    prices = read_ondemand_csv(
        data_dir / "spot" / "ondemand.csv", near=datetime(2021, 4, 1, tzinfo=UTC)
    )
    assert prices["c5.large"] == 0.085
    assert prices["m4.large"] == 0.1


async def test_ec2_source_against_moto(clients: Clients) -> None:
    types: list[InstanceTypeType] = ["m5.large", "c5.large"]
    source = Ec2PriceSource(clients.ec2, "us-east-1", types, page_size=5)
    points = await source.fetch(since=None)
    direct = await clients.ec2.describe_spot_price_history(InstanceTypes=types)
    assert len(points) == len(direct["SpotPriceHistory"]) > 0
    for point in points:
        assert point.instance_type in types
        assert point.zone.startswith("us-east-1")
        assert point.region == "us-east-1"
        assert point.timestamp.tzinfo is not None
        assert point.price_usd_per_hour > 0  # moto's placeholder price
    assert {p.zone for p in points} == {r["AvailabilityZone"] for r in direct["SpotPriceHistory"]}
    assert source.last_seen == max(p.timestamp for p in points)
    # incremental: nothing newer than what was already returned
    assert await source.fetch(since=None) == []
    history = PriceHistory.from_points(points)
    assert set(history.instance_types()) == set(types)
