"""The local cloud for end-to-end tests: moto, IMDS emulator, hypervisor, interrupter in
this process; masters as child processes that tests may kill with -9."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from cbas_async import commands
from cbas_async.clock import SystemClock
from cbas_async.components import Component
from cbas_async.deployment import Session, open_session
from cbas_async.local.cloud import LocalCloud, open_local_cloud
from cbas_async.records import JobRecord
from cbas_async.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Masters:
    """Start master processes; kill them with -9 or stop them with SIGTERM."""

    def __init__(self, env: dict[str, str], home: Path) -> None:
        self._env = env
        self._home = home
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        n = len(self.processes)
        env = {**self._env, "CBAS_MASTER_ID": f"m-e2e{n}", "CBAS_HTTP_PORT": "0"}
        with (self._home / f"master-{n}.log").open("ab") as sink:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cbas_async", "master", env=env, stdout=sink, stderr=sink
            )
        self.processes.append(process)
        return process

    async def stop_all(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()


class E2E:
    """A running local cloud plus helpers to submit and wait."""

    def __init__(self, cloud: LocalCloud, session: Session, masters: Masters) -> None:
        self.cloud = cloud
        self.session = session
        self.masters = masters

    async def submit(self, spec: Path) -> str:
        return (await commands.submit(self.session, spec, clock=SystemClock())).job_id

    async def until(
        self, check: Callable[[], Awaitable[bool]], *, timeout_s: float, poll_s: float = 0.25
    ) -> None:
        """Poll `check` until it is true; fail with a timeout otherwise (no blind sleeps)."""
        clock = SystemClock()
        deadline = clock.monotonic() + timeout_s
        while not await check():
            if clock.monotonic() > deadline:
                pytest.fail(f"condition not met within {timeout_s}s")
            await clock.sleep(poll_s)

    async def wait_all(self, job_ids: list[str], timeout_s: float) -> dict[str, JobRecord]:
        done = await commands.wait(
            self.session, job_ids, timeout_s=timeout_s, clock=SystemClock(), poll_s=0.5
        )
        assert done is not None, f"jobs not finished within {timeout_s}s"
        return done


def e2e_settings(tmp: Path) -> Settings:
    return Settings(
        deployment="e2e",
        home=tmp,
        heartbeat_interval_s=0.5,
        lost_worker_timeout_s=6.0,
        launch_timeout_s=90.0,  # 20 Python processes booting on 2 cores
        lease_ttl_s=4.0,
        supervise_interval_s=0.3,
        shutdown_grace_s=5.0,
        speed=24.0,  # a 5 s spot notice
    )


@pytest.fixture
async def e2e(tmp_path: Path) -> AsyncIterator[E2E]:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        os.environ.pop(name)
    stopping = asyncio.Event()
    async with open_local_cloud(e2e_settings(tmp_path)) as cloud:
        masters = Masters(cloud.env, tmp_path)
        parts: list[Component] = cloud.parts
        tasks = [asyncio.create_task(p.run(stopping)) for p in parts]
        try:
            async with open_session(cloud.settings) as session:
                yield E2E(cloud, session, masters)
        finally:
            await masters.stop_all()
            stopping.set()
            await asyncio.gather(*tasks)


def spec_file(tmp: Path, name: str, command: list[str], **extra: object) -> Path:
    """Write a small job spec into `tmp` and return its path."""
    import json

    spec = {"name": name, "command": command, "checkpoint": {"method": "none"}, **extra}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(spec))
    return path


def settings_of(e2e: E2E) -> Settings:
    return e2e.cloud.settings.replace()


def long_primes(tmp: Path, limit: int = 8_000_000) -> Path:
    """The primes example made long enough (about 20 s) to still be running when a test
    interrupts or kills it after its first checkpoint."""
    spec = json.loads((EXAMPLES / "primes_app" / "spec.json").read_text())
    spec["command"] = ["python3", "primes.py", str(limit)]
    shutil.copy(EXAMPLES / "primes_app" / "primes.py", tmp / "primes.py")
    path = tmp / "long-primes.json"
    path.write_text(json.dumps(spec))
    return path


def aws_path(env: dict[str, str]) -> dict[str, str]:
    """Without CBAS_API_URL the CLI goes straight to AWS (tests/web/test_cli_api.py covers the
    API path)."""
    return {k: v for k, v in env.items() if k != "CBAS_API_URL"}


async def cbas(e2e: E2E, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cbas_async",
        *args,
        env=aws_path(e2e.cloud.env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
