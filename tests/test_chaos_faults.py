"""The chaos harness's EC2 outages: seeded draws within the workload's pools, carried out by
the local cloud's fault gate; and their flags."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, cast

from chaos.__main__ import parse
from chaos.faults import QUOTA_VCPUS, FaultInjector

from cbas_async.local.ec2_faults import Ec2Faults
from cbas_async.local.faults import FaultGate
from tests.fakes import FakeClock

ZONES = ("us-east-1a", "us-east-1b")


class _View:
    def zones(self, region: str) -> list[str]:
        return list(ZONES)

    def vcpus(self, instance_type: str) -> int | None:
        return 2

    def live_vcpus(self, region: str, market: str) -> int:
        return 0

    def subnet_zone(self, region: str, subnet_id: str) -> str | None:
        return None


def _injector(seed: int) -> tuple[FaultInjector, Ec2Faults]:
    ec2 = Ec2Faults(view=_View())
    unused = cast(Any, None)  # the EC2 outages touch only the gate
    injector = FaultInjector(
        rng=random.Random(seed),
        hypervisor=unused,
        interrupter=unused,
        masters=unused,
        gate=FaultGate(lambda e, s: [b""], ec2=ec2),
        sqs=unused,
        queue_url="",
        sns=unused,
        events_topic_arn="",
        region="us-east-1",
        clock=FakeClock(),
        zones=ZONES,
        instance_types=("c5.large", "t3.micro"),
    )
    return injector, ec2


async def test_capacity_and_quota_outages_start_in_the_gate() -> None:
    for seed in range(5):
        injector, ec2 = _injector(seed)
        assert await injector.inject("capacity_outage")
        assert await injector.inject("quota_outage")
        capacity, quotas = ec2.active()
        assert len(capacity) == 1
        assert capacity[0].zone in {"all", *ZONES}
        assert capacity[0].instance_type in {"c5.large", "t3.micro"}
        assert capacity[0].market in {"spot", None}
        assert [q.vcpus in QUOTA_VCPUS for q in quotas] == [True]
        assert (injector.done["capacity_outage"], injector.done["quota_outage"]) == (1, 1)


async def test_the_seed_fixes_the_draw() -> None:
    drawn = []
    for _ in range(2):
        injector, ec2 = _injector(4)
        await injector.inject("capacity_outage")
        await injector.inject("quota_outage")
        capacity, quotas = ec2.active()
        drawn.append(
            [(o.zone, o.instance_type, o.market, q.vcpus) for o in capacity for q in quotas]
        )
    assert drawn[0] == drawn[1]


def test_outage_flags_reach_the_budgets_and_the_repro_command(tmp_path: Path) -> None:
    flags = ["--capacity-outages", "3", "--quota-outages", "2", "--seed", "5"]
    options = parse([*flags, "--home", str(tmp_path)])
    assert (options.budgets["capacity_outage"], options.budgets["quota_outage"]) == (3, 2)
    assert "--capacity-outages 3 --quota-outages 2 --seed 5" in options.command
