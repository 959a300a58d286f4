"""What priced zone traces feed on the local cloud: the capacity the fault gate refuses
launches for (EC2's own error, through moto) and the prices EC2's price history shows."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cbas_async.aws import Clients, open_clients
from cbas_async.errors import ConfigError
from cbas_async.local.ec2_faults import ALL_ZONES, CapacityOutage
from cbas_async.local.moto_server import MotoServer
from cbas_async.local.spot_market import PriceMarket, Target
from cbas_async.local.trace_feeds import (
    PricedMarket,
    TraceCapacity,
    load_market,
    region_traces,
    replay_market,
)
from cbas_async.settings import Settings
from cbas_async.spot.history import epoch_s
from cbas_async.spot.replay import WARMUP, ReplayTimeline
from tests.fakes import FakeClock
from tests.local.test_spot_market import price_trace
from tests.sim.test_priced import write_zone

WALL = datetime(2026, 12, 7, 12, tzinfo=UTC)
GAP_S = 600
WEEK = int(WARMUP.total_seconds()) // GAP_S  # the replay starts this many ticks in
TYPE = "p3.2xlarge"


def zones(tmp: Path) -> list[Path]:
    """At the replay's start: us-west-2a out, us-west-2b in; us-east-1a in at 1.6 USD/h."""
    ticks = WEEK + 10
    return [
        write_zone(
            tmp, "us-west-2a", [1] * WEEK + [0] * 10, [0.9] * (ticks - 1) + [0.95], gap=GAP_S
        ),
        write_zone(tmp, "us-west-2b", [1] * ticks, [0.93] * ticks, gap=GAP_S),
        write_zone(tmp, "us-east-1a", [1] * ticks, [1.5] * WEEK + [1.6] * 10, gap=GAP_S),
    ]


def test_capacity_outages_are_the_region_zones_out_now(tmp_path: Path) -> None:
    market = load_market(zones(tmp_path))
    assert isinstance(market, PricedMarket)
    assert market.regions() == ["us-east-1", "us-west-2"]
    start_s = market.zones[0].start_s
    at_start = ReplayTimeline(origin_s=start_s, epoch_s=epoch_s(WALL))
    in_week = ReplayTimeline(origin_s=start_s + WEEK * GAP_S, epoch_s=epoch_s(WALL))
    assert TraceCapacity(market, at_start, lambda: WALL).outages("us-west-2") == []
    capacity = TraceCapacity(market, in_week, lambda: WALL, market.region_of)
    assert capacity.outages("us-west-2") == [CapacityOutage("us-west-2a", TYPE, "spot", math.inf)]
    assert capacity.outages("us-east-1") == []


def test_when_every_zone_of_the_region_is_out_so_is_the_region(tmp_path: Path) -> None:
    market = load_market([write_zone(tmp_path, "us-east-2a", [0, 0], gap=GAP_S)])
    assert isinstance(market, PricedMarket)
    timeline = ReplayTimeline(origin_s=market.zones[0].start_s, epoch_s=epoch_s(WALL))
    outages = TraceCapacity(market, timeline, lambda: WALL).outages("us-east-2")
    assert [o.zone for o in outages] == ["us-east-2a", ALL_ZONES]


def test_which_market_the_traces_make(tmp_path: Path) -> None:
    assert isinstance(load_market([price_trace(tmp_path)]), PriceMarket)
    folder = tmp_path / "priced"
    folder.mkdir()
    zones(folder)
    assert isinstance(load_market([folder]), PricedMarket)
    with pytest.raises(ValueError, match="self-describing"):
        load_market([price_trace(tmp_path), *zones(tmp_path)])


def test_the_shared_traces_of_the_regions_asked(tmp_path: Path) -> None:
    zones(tmp_path)
    chosen = region_traces(["us-west-2"], tmp_path)
    assert sorted(p.name for p in chosen) == ["trace-us-west-2a.json", "trace-us-west-2b.json"]
    with pytest.raises(ConfigError, match="eu-west-1"):
        region_traces(["eu-west-1"], tmp_path)


class NoInterrupter:
    async def interrupt(self, job_id: str) -> str | None:
        return None


async def no_targets() -> list[Target]:
    return []


@pytest.fixture
async def west(moto: MotoServer, settings: Settings) -> AsyncIterator[Clients]:
    """us-west-2 clients that give up on a 500 quickly (botocore retries it, as on AWS)."""
    async with open_clients(settings.replace(aws_retry_s=0.5).in_region("us-west-2")) as opened:
        yield opened
    moto.faults.clear()
    moto.prices.clear()


async def _launch(clients: Clients, zone: str, *, spot: bool = True) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ImageId": "ami-12345678",
        "InstanceType": TYPE,
        "MinCount": 1,
        "MaxCount": 1,
        "Placement": {"AvailabilityZone": zone},
    }
    if spot:
        params["InstanceMarketOptions"] = {"MarketType": "spot"}
    return dict(await clients.ec2.run_instances(**params))


async def test_a_replay_refuses_launches_where_the_trace_has_no_capacity_and_shows_its_prices(
    moto: MotoServer, west: Clients, tmp_path: Path
) -> None:
    replay_market(
        zones(tmp_path),
        epoch=WALL,
        speed=1.0,
        targets=no_targets,
        interrupter=NoInterrupter(),
        clock=FakeClock(WALL),
        moto=moto,
    )
    with pytest.raises(ClientError) as refused:
        await _launch(west, "us-west-2a")
    assert refused.value.response["Error"] == {
        "Code": "InsufficientInstanceCapacity",
        "Message": "There is no Spot capacity available that matches your request.",
    }
    await _launch(west, "us-west-2a", spot=False)  # the trace is of spot capacity
    await _launch(west, "us-west-2b")
    history = await west.ec2.describe_spot_price_history(InstanceTypes=[TYPE])
    shown = [(r["AvailabilityZone"], r["SpotPrice"]) for r in history["SpotPriceHistory"]]
    assert shown == [("us-west-2a", "0.900000"), ("us-west-2b", "0.930000")]
    assert history["SpotPriceHistory"][0]["Timestamp"] < WALL  # the week before, as history
    # moto's data no longer lists the traces' type; the local EC2 describes it as EC2 does
    described = await west.ec2.describe_instance_types(InstanceTypes=[TYPE])
    assert described["InstanceTypes"][0]["VCpuInfo"]["DefaultVCpus"] == 8
