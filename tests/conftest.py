"""Shared fixtures: one moto server per test session, reset after each test; the shared data
(`shared/data/` beside the repository), skipped when it is absent."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cbas_async.aws import Clients, open_clients
from cbas_async.local.moto_server import LOCAL_KEY, MotoServer
from cbas_async.settings import Settings
from tests.dmtcp_tools import DMTCP_BIN, put_on_path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# nothing in the tests may reach a real account
for _name in [n for n in os.environ if n.startswith("AWS_")]:
    del os.environ[_name]
put_on_path()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto_url(moto: MotoServer) -> Iterator[str]:
    yield moto.url
    moto.faults.clear()
    moto.reset()


@pytest.fixture
def settings(moto_url: str, tmp_path: Path) -> Settings:
    return Settings(
        endpoint_url=moto_url,
        deployment="test",
        home=tmp_path,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
        sns_verify=False,
        dmtcp_bin=DMTCP_BIN,
    )


@pytest.fixture
async def clients(settings: Settings) -> AsyncIterator[Clients]:
    async with open_clients(settings) as opened:
        yield opened


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA
