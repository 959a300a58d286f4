"""`cbas bootstrap` of a deployment in two regions against the moto server: each region has
its roles (whose policies know both buckets), rules, events delivery, security group,
lifecycle rule and wheel; a second run writes nothing."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from cbas_async.policies import policy
from cbas_async.scope import ROLES, Scope
from cbas_async.settings import Settings
from cbas_async.setup_regions import bootstrap_everywhere, region_settings
from cbas_async.wheels import latest_wheel_key
from tests.regions import HOME, WEST, Opened, a_wheel, deploy
from tests.test_account import ACCOUNT, _snapshot


async def test_bootstrap_sets_up_every_region_once(
    two: Settings,
    everywhere: Opened,
    tmp_path: Path,
) -> None:
    clients, accounts = everywhere
    made = await deploy(everywhere, two, tmp_path)
    buckets = {region: made[region]["bucket"] for region in (HOME, WEST)}
    for region in (HOME, WEST):
        scope = Scope.of(two.in_region(region), account=ACCOUNT, buckets=buckets)
        seen = await _snapshot(clients[region], accounts[region], scope)
        for process in ROLES:
            assert seen["roles"][process]["policy"] == policy(process, scope)
            assert seen["roles"][process]["profile_roles"] == [f"test-{region}-{process}"]
        events_topic = f"arn:aws:sns:{region}:{ACCOUNT}:test-spot-events"
        assert all(r["targets"] == [("topic", events_topic)] for r in seen["rules"].values())
        [(_, protocol, endpoint, _)] = seen["events_queue"]["subscriptions"]
        assert (protocol, endpoint) == ("sqs", f"arn:aws:sqs:{region}:{ACCOUNT}:test-master-events")
        assert seen["groups"][0]["GroupName"] == "test-worker"
        assert len(seen["lifecycle"]) == 1
        key = await latest_wheel_key(clients[region].s3, buckets[region])
        assert key == made[region]["wheel_key"]
    # the master of each region may use the other region's bucket (checkpoint copies)
    west_master = policy("master", Scope.of(two.in_region(WEST), account=ACCOUNT, buckets=buckets))
    assert f"arn:aws:s3:::{buckets[HOME]}/*" in str(west_master)
    with capture_logs() as logs:
        assert await bootstrap_everywhere(clients, accounts, two, a_wheel(tmp_path)) == made
    assert [e["event"] for e in logs if e["log_level"] == "info"] == []  # nothing written


def test_the_subnet_setting_is_the_regions_the_command_runs_in(two: Settings) -> None:
    with_subnet = two.replace(subnet_id="subnet-1")
    assert region_settings(with_subnet, HOME) is with_subnet
    west = region_settings(with_subnet, WEST)
    assert (west.region, west.subnet_id, west.home_region) == (WEST, None, HOME)
