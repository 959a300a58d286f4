"""`cbas doctor` of a deployment in two regions against the moto server: every check passes
in each region, and a resource missing in the second region fails that region's check,
named after it."""

from __future__ import annotations

from pathlib import Path

from cbas_async.doctor import diagnose_regions, render
from cbas_async.settings import Settings
from cbas_async.spot_role import make_spot_role_as_aws_names_it
from tests.regions import HOME, WEST, Opened, deploy
from tests.test_doctor import TYPES


async def test_a_queue_missing_in_the_second_region_fails_that_regions_check(
    two: Settings, everywhere: Opened, tmp_path: Path
) -> None:
    clients, accounts = everywhere
    await make_spot_role_as_aws_names_it(accounts[HOME].iam)  # as the local cloud does
    made = await deploy(everywhere, two, tmp_path)
    checks = await diagnose_regions(clients, accounts, two, TYPES)
    assert [c for c in checks if not c.ok] == []
    names = [c.name for c in checks]
    assert {"tables", "spot_role", f"queues in {HOME}", f"queues in {WEST}"} <= set(names)
    assert f"wheel in {WEST}" in names
    assert f"tables in {WEST}" not in names
    [west_bucket] = [c for c in checks if c.name == f"bucket in {WEST}"]
    assert made[WEST]["bucket"] in west_bucket.message

    await clients[WEST].sqs.delete_queue(QueueUrl=made[WEST]["ping_queue_url"])
    failed = [c for c in await diagnose_regions(clients, accounts, two, TYPES) if not c.ok]
    assert [c.name for c in failed] == [f"queues in {WEST}"]
    assert "missing: test-ping" in failed[0].message
    assert f"FAIL queues in {WEST}: missing: test-ping" in render(failed, as_json=False)
