"""Fixtures for the master's parts, against the moto server."""

from __future__ import annotations

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.clock import Clock
from cbas_async.deployment import make_store
from cbas_async.fleet.launcher import Launcher
from cbas_async.fleet.tracker import HeartbeatTracker
from cbas_async.handlers.mover import JobMover
from cbas_async.handlers.placement import first_allowed_type
from cbas_async.handlers.scheduling import Scheduler
from cbas_async.jobs import parse_spec
from cbas_async.master.wiring import JobSteps, make_job_steps
from cbas_async.settings import Settings
from cbas_async.states import JobState
from cbas_async.store import JobStore
from tests.launching import account_launcher


@pytest.fixture
async def resources(clients: Clients, settings: Settings) -> Resources:
    return await bootstrap(clients, settings)


@pytest.fixture
def store(clients: Clients, resources: Resources) -> JobStore:
    return make_store(clients, resources)


@pytest.fixture
async def launcher(clients: Clients, settings: Settings, resources: Resources) -> Launcher:
    return await account_launcher(clients, settings, resources)


@pytest.fixture
def master_settings(settings: Settings) -> Settings:
    return settings.replace(master_id="m-test", lost_worker_timeout_s=30.0, launch_timeout_s=60.0)


def steps_for(
    settings: Settings,
    *,
    mover: JobMover,
    launcher: Launcher,
    resources: Resources,
    clock: Clock,
    tracker: HeartbeatTracker | None = None,
) -> JobSteps:
    """The master's job steps, placing on the first allowed type in us-east-1."""
    return make_job_steps(
        settings,
        mover=mover,
        launcher=launcher,
        placer=first_allowed_type("us-east-1"),
        tracker=tracker if tracker is not None else HeartbeatTracker(),
        resources=resources,
        clock=clock,
    )


async def launched_job(
    store: JobStore, scheduler: Scheduler, clock: Clock, owner: str
) -> tuple[str, str]:
    """A job placed and launched at attempt 1 by `owner`: (job id, instance id)."""
    spec = {"name": "t", "command": ["true"], "resources": {"instance_types": ["c5.large"]}}
    job = await store.create(parse_spec(spec), now=clock.now(), actor="t")
    await store.transition(
        job.job_id, {JobState.SUBMITTED}, JobState.PENDING, 0, now=clock.now(), actor="t"
    )
    assert await store.set_owner(job.job_id, owner=owner, expected_owner=None)
    await scheduler.place(await store.get(job.job_id))
    placement = (await store.get(job.job_id)).placement
    assert placement is not None
    assert placement.instance_id is not None
    return job.job_id, placement.instance_id
