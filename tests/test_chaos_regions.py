"""The chaos harness across regions: a master in each region, a killed master replaced in
its region, region outages that kill every master of one region and end with one started
there again; and their flags."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, cast

from chaos.__main__ import parse
from chaos.region_faults import OUTAGE_S, RegionMasters
from chaos.runner import chaos_settings

from tests.fakes import FakeClock

EAST, WEST = "us-east-1", "us-west-2"


class _Process:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None


class _Masters:
    """What `RegionMasters` uses of `Masters`, without processes."""

    def __init__(self) -> None:
        self.processes: list[_Process] = []
        self.region_of: dict[int, str | None] = {}

    @property
    def live(self) -> list[_Process]:
        return [p for p in self.processes if p.returncode is None]

    def live_in(self, region: str | None) -> list[_Process]:
        return [p for p in self.live if self.region_of[p.pid] == region]

    async def start(self, region: str | None = None) -> _Process:
        process = _Process(len(self.processes) + 1)
        self.processes.append(process)
        self.region_of[process.pid] = region
        return process

    async def kill(self, process: _Process) -> None:
        process.returncode = -9


def _regions(seed: int) -> tuple[RegionMasters, _Masters, FakeClock]:
    masters, clock = _Masters(), FakeClock()
    regions = RegionMasters(
        masters=cast(Any, masters), regions=(EAST, WEST), rng=random.Random(seed), clock=clock
    )
    return regions, masters, clock


async def test_every_region_keeps_a_master_through_kills() -> None:
    for seed in range(10):
        regions, masters, _ = _regions(seed)
        await regions.start_all()
        assert [masters.region_of[p.pid] for p in masters.live] == [EAST, WEST]
        for _ in range(5):
            assert await regions.kill_one() == 1
            assert masters.live_in(EAST)
            assert masters.live_in(WEST)


async def test_a_region_outage_kills_its_masters_until_it_is_over() -> None:
    regions, masters, clock = _regions(3)
    await regions.start_all()
    assert await regions.outage()
    (down,) = regions.down
    up = WEST if down == EAST else EAST
    assert masters.live_in(down) == []
    assert not await regions.outage()  # the last region up never goes down
    await regions.kill_one()
    assert masters.live_in(down) == []  # a replaced master never lands in a region that is down
    assert masters.live_in(up)
    assert await regions.restore_due() == 0
    await clock.advance(OUTAGE_S[1])
    assert await regions.restore_due() == 1
    assert len(masters.live_in(down)) == 1
    assert regions.down == set()


def test_the_flags_and_settings_across_regions() -> None:
    options = parse(["--regions", f"{EAST}, {WEST}", "--region-outages", "3", "--seed", "1"])
    assert options.regions == (EAST, WEST)
    assert options.budgets["region_outage"] == 3
    assert f"--regions {EAST},{WEST} --region-outages 3" in options.command
    assert "--regions" not in parse(["--seed", "1"]).command
    settings = chaos_settings(Path("/tmp"), options.regions)
    assert (settings.home_region, settings.region, settings.regions) == (EAST, EAST, (EAST, WEST))
