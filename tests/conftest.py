"""Shared fixtures: one moto server per test session, reset after each test; the shared data
(`shared/data/` beside the repository), skipped when it is absent.

Run as root, workers run their jobs as the unprivileged `cbas-job`, which must reach the job's
directories under `tmp_path`. pytest makes its temporary folders 0700 (and resets
/tmp/pytest-of-root to 0700 whenever a session starts), so a root session keeps its
temporary folders in a folder of its own, and every test's `tmp_path` and the folders above
it get the search bit for others (0711: not listable)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cbas_async.aws import Clients, open_clients
from cbas_async.local.moto_server import LOCAL_KEY, MotoServer
from cbas_async.settings import Settings
from tests.dmtcp_tools import DMTCP_BIN, put_on_path
from tests.regions import Opened, opened, two_regions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# nothing in the tests may reach a real account
for _name in [n for n in os.environ if n.startswith("AWS_")]:
    del os.environ[_name]
put_on_path()


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() == 0 and config.option.basetemp is None:
        own = Path(tempfile.mkdtemp(prefix="cbas-pytest-"))
        own.chmod(0o711)
        config.option.basetemp = own / "tmp"


def pytest_unconfigure(config: pytest.Config) -> None:
    basetemp = config.option.basetemp
    if basetemp is not None and Path(basetemp).parent.name.startswith("cbas-pytest-"):
        shutil.rmtree(Path(basetemp).parent, ignore_errors=True)


@pytest.fixture(autouse=True)
def _job_user_may_enter_tmp(request: pytest.FixtureRequest) -> None:
    if os.geteuid() != 0 or "tmp_path" not in request.fixturenames:
        return
    path: Path = request.getfixturevalue("tmp_path")
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod((mode & 0o7777) | 0o011)


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
    moto.prices.clear()
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


@pytest.fixture
def two(settings: Settings) -> Settings:
    """The test deployment in two regions (`tests/regions.py`)."""
    return two_regions(settings)


@pytest.fixture
async def everywhere(two: Settings) -> AsyncIterator[Opened]:
    """Each region's clients and account clients, by region."""
    async with opened(two) as both:
        yield both
