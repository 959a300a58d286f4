"""The local spot market: tiny hand-made traces, a FakeClock, no sleeps."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from cbas_async.local.spot_market import (
    CapacityMarket,
    LocalMarket,
    PriceMarket,
    Target,
    load_trace_market,
    market_timeline,
)
from cbas_async.spot.replay import WARMUP
from tests.fakes import FakeClock

WALL = datetime(2026, 11, 27, 12, tzinfo=UTC)
HEADER = "timestamp,region,availability_zone,instance_type,product_description,price_usd_per_hour\n"


def price_trace(tmp: Path) -> Path:
    """us-east-1a c5.large: 0.03, then 0.05 one trace hour into the replay, 0.09 at two."""
    rows = [
        "2021-03-01T00:00:00Z,us-east-1,us-east-1a,c5.large,Linux/UNIX,0.03",
        "2021-03-08T01:00:00Z,us-east-1,us-east-1a,c5.large,Linux/UNIX,0.05",
        "2021-03-08T02:00:00Z,us-east-1,us-east-1a,c5.large,Linux/UNIX,0.09",
    ]
    path = tmp / "prices.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def availability_trace(tmp: Path) -> Path:
    """us-west-2a p3.2xlarge, 600 s samples: capacity, capacity, none, capacity."""
    folder = tmp / "aws-10-26-2022"
    folder.mkdir()
    path = folder / "us-west-2a_v100_1.json"
    path.write_text(json.dumps({"metadata": {"gap_seconds": 600}, "data": [1, 1, 0, 1]}))
    return path


def target(job_id: str, *, cap: float | None = 0.05, zone: str = "us-east-1a") -> Target:
    return Target(
        instance_id=f"i-{job_id}",
        job_id=job_id,
        zone=zone,
        instance_type="c5.large",
        max_price_usd_per_hour=cap,
    )


class Recorder:
    """Stands in for the Interrupter (a local component, not AWS): records the warnings."""

    def __init__(self) -> None:
        self.warned: list[str] = []

    async def interrupt(self, job_id: str) -> str | None:
        self.warned.append(job_id)
        return f"i-{job_id}"


def market_for(
    path: Path, targets: list[Target], speed: float
) -> tuple[LocalMarket, Recorder, FakeClock]:
    clock = FakeClock(WALL)
    market = load_trace_market(path)
    recorder = Recorder()

    async def live() -> list[Target]:
        return targets

    local = LocalMarket(
        market=market,
        timeline=market_timeline(market, epoch=WALL, speed=speed),
        targets=live,
        interrupter=recorder,
        clock=clock,
        poll_s=1.0,
    )
    return local, recorder, clock


def test_price_rule_only_a_price_above_the_cap_reclaims(tmp_path: Path) -> None:
    market = load_trace_market(price_trace(tmp_path))
    assert isinstance(market, PriceMarket)
    at = datetime(2021, 3, 8, 1, 30, tzinfo=UTC).timestamp()
    assert not market.reclaims(target("a", cap=0.05), at)  # equal: kept
    assert market.reclaims(target("b", cap=0.04), at)
    assert not market.reclaims(target("c", zone="us-east-1b", cap=0.01), at)  # no series
    # no cap: EC2's default, the on-demand price (0.085 for c5.large)
    assert not market.reclaims(target("d", cap=None), at)
    assert market.reclaims(target("d", cap=None), at + 3600)


def test_price_replay_starts_after_the_warm_up(tmp_path: Path) -> None:
    market = load_trace_market(price_trace(tmp_path))
    timeline = market_timeline(market, epoch=WALL, speed=3600.0)
    assert timeline.origin == datetime(2021, 3, 1, tzinfo=UTC) + WARMUP
    assert timeline.trace_s(WALL) == timeline.origin_s


def test_capacity_rule_reclaims_when_none_is_left(tmp_path: Path) -> None:
    market = load_trace_market(availability_trace(tmp_path))
    assert isinstance(market, CapacityMarket)
    p3 = Target(
        instance_id="i-1",
        job_id="j",
        zone="us-west-2a",
        instance_type="p3.2xlarge",
        max_price_usd_per_hour=None,
    )
    start = datetime(2022, 10, 26, tzinfo=UTC).timestamp()
    assert not market.reclaims(p3, start + 1199)
    assert market.reclaims(p3, start + 1200)
    assert not market.reclaims(p3, start + 1800)
    assert not market.reclaims(p3, start + 3000)  # after the trace: nothing known


async def test_a_price_spike_interrupts_each_instance_once(tmp_path: Path) -> None:
    spot = [target("low", cap=0.04), target("high", cap=0.06), target("top", cap=0.1)]
    market, recorder, clock = market_for(price_trace(tmp_path), spot, speed=3600.0)
    assert await market.step_once() == []  # 0.03: below every cap
    await clock.advance(1)  # one trace hour: 0.05
    assert await market.step_once() == ["low"]
    assert await market.step_once() == []  # already warned
    await clock.advance(1)  # 0.09
    assert await market.step_once() == ["high"]
    assert recorder.warned == ["low", "high"]


async def test_on_demand_instances_are_never_reclaimed(tmp_path: Path) -> None:
    on_demand = Target(
        instance_id="i-od",
        job_id="od",
        zone="us-east-1a",
        instance_type="c5.large",
        max_price_usd_per_hour=None,
        spot=False,
    )
    market, recorder, clock = market_for(price_trace(tmp_path), [on_demand], speed=36000.0)
    await clock.advance(10)
    assert await market.step_once() == []
    assert recorder.warned == []


async def test_run_replays_an_availability_trace_compressed(tmp_path: Path) -> None:
    p3 = Target(
        instance_id="i-1",
        job_id="gpu",
        zone="us-west-2a",
        instance_type="p3.2xlarge",
        max_price_usd_per_hour=None,
    )
    market, recorder, clock = market_for(availability_trace(tmp_path), [p3], speed=600.0)
    stopping = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(market.run(stopping))
        await clock.advance(1)  # trace 600 s: still capacity
        assert recorder.warned == []
        await clock.advance(1)  # trace 1200 s: none left
        assert recorder.warned == ["gpu"]
        stopping.set()
