"""The local EC2's DescribeSpotPriceHistory: the board's prices, through aiobotocore against the
session's moto server, in two regions; the master's `Ec2PriceSource` reads them as is."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError

from cbas_async.aws import Clients, open_clients
from cbas_async.local.moto_server import MotoServer
from cbas_async.local.price_board import (
    HistoryQuery,
    PriceTrack,
    SpotPriceBoard,
    history_records,
)
from cbas_async.local.price_history_api import PriceHistoryApi
from cbas_async.settings import Settings
from cbas_async.spot.history import epoch_s
from cbas_async.spot.prices import Ec2PriceSource

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NOW_S = epoch_s(NOW)
TYPE: Final = "p3.2xlarge"


def track(region: str, zone: str, prices: list[float], *, step_s: float = 600.0) -> PriceTrack:
    """One price per sample, the last sample `step_s` in the future (not published yet)."""
    start = NOW_S - step_s * (len(prices) - 1)
    return PriceTrack.of_changes(
        region=region,
        zone=zone,
        instance_type=TYPE,
        times_s=[start + step_s * i + step_s for i in range(len(prices))],
        prices=prices,
    )


TRACKS = [
    track("us-east-1", "us-east-1a", [1.5, 1.5, 1.6, 1.7]),
    track("us-east-1", "us-east-1c", [1.2, 1.3, 1.3, 1.3]),
    track("us-west-2", "us-west-2a", [0.93, 0.95, 0.95, 0.99]),
]


@pytest.fixture
def board(moto: MotoServer, moto_url: str) -> Iterator[MotoServer]:
    moto.prices.publish(TRACKS, now_s=lambda: NOW_S)
    yield moto
    moto.prices.clear()


@pytest.fixture
async def west(settings: Settings) -> AsyncIterator[Clients]:
    async with open_clients(settings.in_region("us-west-2")) as opened:
        yield opened


def test_a_track_keeps_the_first_sample_and_the_changes() -> None:
    kept = TRACKS[0]
    assert kept.prices_usd_per_hour.tolist() == [1.5, 1.6, 1.7]
    assert kept.times_s.tolist() == [NOW_S - 1200, NOW_S, NOW_S + 600]


def test_records_up_to_now_newest_first_with_the_price_in_force_at_the_start() -> None:
    query = HistoryQuery(start_s=NOW_S - 300)
    records = history_records(TRACKS, "us-east-1", query, NOW_S)
    assert [(r["AvailabilityZone"], r["SpotPrice"]) for r in records] == [
        ("us-east-1a", "1.600000"),  # at now
        ("us-east-1c", "1.300000"),  # in force since before the start
        ("us-east-1a", "1.500000"),  # in force at the start
    ]
    assert records[0]["Timestamp"] == "2026-12-07T12:00:00.000Z"
    assert history_records(TRACKS, "us-east-1", HistoryQuery(start_s=NOW_S + 1), NOW_S) == []


async def test_each_region_answers_its_own_trace_prices(
    board: MotoServer, clients: Clients, west: Clients
) -> None:
    east = await clients.ec2.describe_spot_price_history(InstanceTypes=[TYPE])
    rows = [(r["AvailabilityZone"], r["SpotPrice"]) for r in east["SpotPriceHistory"]]
    assert rows == [
        ("us-east-1a", "1.600000"),
        ("us-east-1c", "1.300000"),
        ("us-east-1a", "1.500000"),
        ("us-east-1c", "1.200000"),
    ]
    assert east["SpotPriceHistory"][0]["Timestamp"] == NOW
    assert east["SpotPriceHistory"][0]["ProductDescription"] == "Linux/UNIX"
    source = Ec2PriceSource(west.ec2, "us-west-2", [TYPE])
    points = sorted(await source.fetch(since=None), key=lambda p: p.timestamp)
    assert [(p.zone, p.region, p.price_usd_per_hour) for p in points] == [
        ("us-west-2a", "us-west-2", 0.93),
        ("us-west-2a", "us-west-2", 0.95),
    ]


async def test_filters_and_the_window(board: MotoServer, clients: Clients) -> None:
    ec2 = clients.ec2
    one_zone = await ec2.describe_spot_price_history(AvailabilityZone="us-east-1c")
    assert {r["AvailabilityZone"] for r in one_zone["SpotPriceHistory"]} == {"us-east-1c"}
    by_filter = await ec2.describe_spot_price_history(
        Filters=[{"Name": "availability-zone", "Values": ["us-east-1a"]}],
        StartTime=NOW - timedelta(seconds=60),
        EndTime=NOW,
    )
    assert [r["SpotPrice"] for r in by_filter["SpotPriceHistory"]] == ["1.600000", "1.500000"]
    other = await ec2.describe_spot_price_history(InstanceTypes=["c5.large"])
    windows = await ec2.describe_spot_price_history(ProductDescriptions=["Windows"])
    assert other["SpotPriceHistory"] == windows["SpotPriceHistory"] == []


async def test_pages_as_moto_pages(board: MotoServer, clients: Clients) -> None:
    paginator = clients.ec2.get_paginator("describe_spot_price_history")
    pages = [
        page["SpotPriceHistory"]
        async for page in paginator.paginate(PaginationConfig={"PageSize": 3})
    ]
    assert [len(p) for p in pages] == [3, 1]
    with pytest.raises(ClientError) as refused:
        await clients.ec2.describe_spot_price_history(NextToken="not-a-token")
    assert refused.value.response["Error"]["Code"] == "InvalidPaginationToken"


def test_without_prices_every_request_goes_to_moto() -> None:
    seen: list[str] = []

    def moto_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(str(environ["wsgi.input"].read()))
        return [b"moto"]

    api = PriceHistoryApi(moto_app, SpotPriceBoard())
    body = b"Action=DescribeSpotPriceHistory&Version=2016-11-15"
    signed = "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/ec2/aws4_request, x"
    environ = {
        "HTTP_AUTHORIZATION": signed,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    assert api(environ, None) == [b"moto"]
    assert seen == [str(body)]  # untouched: moto's placeholder answers
