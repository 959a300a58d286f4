"""Fixtures for the master's parts, against the moto server."""

from __future__ import annotations

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import Resources, bootstrap
from cbas_async.deployment import make_store
from cbas_async.fleet.launcher import Launcher
from cbas_async.settings import Settings
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
