"""`cbas teardown` of a deployment in two regions against the moto server: both regions'
resources go, the tables (home region) last."""

from __future__ import annotations

from pathlib import Path

from cbas_async.settings import Settings
from cbas_async.teardown import teardown_regions
from tests.regions import HOME, WEST, Opened, deploy
from tests.test_teardown import _what_is_left


async def test_teardown_removes_every_regions_resources(
    two: Settings, everywhere: Opened, tmp_path: Path
) -> None:
    clients, accounts = everywhere
    made = await deploy(everywhere, two, tmp_path)
    deleted = await teardown_regions(clients, accounts, two)
    for region in (HOME, WEST):
        left = await _what_is_left(clients[region], accounts[region])
        assert all(not found for found in left.values()), (region, left)
        assert f"{region}: {made[region]['bucket']}" in deleted
        assert f"{region}: {made[region]['events_topic_arn']}" in deleted
        assert f"{region}: role/test-{region}-worker" in deleted
    assert deleted[-1] == two.misc_table  # it names the buckets: last to go
    assert await teardown_regions(clients, accounts, two) == []  # twice is harmless
