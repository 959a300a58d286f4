"""Fixtures for worker tests: a bootstrapped local cloud with an IMDS emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cbas_async.aws import Clients
from cbas_async.bootstrap import bootstrap
from cbas_async.local.imds_server import ImdsEmulator
from cbas_async.settings import Settings
from tests.worker.helpers import LocalCloud


@pytest.fixture
async def cloud(settings: Settings, clients: Clients, tmp_path: Path) -> AsyncIterator[LocalCloud]:
    resources = await bootstrap(clients, settings)
    async with ImdsEmulator() as emulator:
        yield LocalCloud(settings, clients, resources, emulator, tmp_path)
