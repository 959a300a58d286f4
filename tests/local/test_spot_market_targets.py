"""What the local market knows of a local instance: zone and type from EC2, max price from
the job's placement (against moto)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.deployment import make_store
from cbas_async.fleet.launcher import LaunchRequest
from cbas_async.handlers.placement import job_placement
from cbas_async.jobs import parse_spec
from cbas_async.local.hypervisor import Hypervisor, LocalInstance
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.local.spot_market import Target, instance_targets
from cbas_async.settings import Settings
from cbas_async.states import JobState
from tests.fakes import FakeClock
from tests.launching import account_launcher
from tests.master.test_launcher import _user_data

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


async def test_targets_combine_ec2_and_the_job_placement(
    clients: Clients, settings: Settings, tmp_path: Path
) -> None:
    resources = await bootstrap(clients, settings)
    store = make_store(clients, resources)
    launcher = await account_launcher(clients, settings, resources)
    placement = LaunchRequest(
        region="us-east-1",
        zone="us-east-1c",
        instance_type="m5.large",
        max_price_usd_per_hour=0.05,
        checkpoint_interval_s=60.0,
    )
    job = await store.create(parse_spec({"name": "t", "command": ["true"]}), now=NOW, actor="t")
    await store.transition(
        job.job_id,
        {JobState.SUBMITTED},
        JobState.PENDING,
        job.version,
        now=NOW,
        actor="t",
        updates={"placement": job_placement(placement)},
    )
    instance_id = await launcher.launch(placement, _user_data(job.job_id))
    clock = FakeClock(NOW)
    hypervisor = Hypervisor(
        ec2={"us-east-1": clients.ec2},
        imds=ImdsEmulator(clock=clock),
        deployment="test",
        worker_env={},
        root=tmp_path,
        jobs_dir=tmp_path / "jobs",
        clock=clock,
    )
    process = await asyncio.create_subprocess_exec("true")
    await process.wait()
    hypervisor.instances[instance_id] = LocalInstance(
        instance_id, job.job_id, 1, process, tmp_path / "log", region="us-east-1"
    )
    targets = instance_targets(hypervisor=hypervisor, ec2={"us-east-1": clients.ec2}, store=store)
    expected = Target(
        instance_id=instance_id,
        job_id=job.job_id,
        zone="us-east-1c",
        instance_type="m5.large",
        max_price_usd_per_hour=0.05,
        spot=True,
    )
    assert await targets() == [expected]
    hypervisor.instances.clear()
    assert await targets() == []
