"""`main_worker` as the hypervisor runs it: a process of its own, configured by environment,
stopped by SIGTERM, or killed outright (its job must not outlive it)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from cbas_async.local.moto_server import LOCAL_KEY
from cbas_async.states import JobState
from tests.worker import primes
from tests.worker.helpers import EXAMPLES, LocalCloud, eventually, job_path

MAIN = "import os, sys; from cbas_async.worker.agent import main_worker; "
MAIN += "sys.exit(main_worker(os.environ))"


async def _spawn(cloud: LocalCloud, instance_id: str, log: Path) -> asyncio.subprocess.Process:
    env = {
        "PATH": job_path(),
        "CBAS_IMDS_ENDPOINT": cloud.emulator.endpoint(instance_id),
        "CBAS_HOME": str(cloud.tmp_path / "home"),
        "AWS_ACCESS_KEY_ID": LOCAL_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_KEY,
    }
    with log.open("wb") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-c", MAIN, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )


async def _logged(log: Path, event: str) -> dict[str, object]:
    async def probe() -> dict[str, object] | None:
        for line in (await asyncio.to_thread(log.read_text)).splitlines():
            if line.startswith("{") and json.loads(line)["event"] == event:
                found: dict[str, object] = json.loads(line)
                return found
        return None

    return await eventually(probe)


async def test_a_worker_process_runs_its_job(cloud: LocalCloud, tmp_path: Path) -> None:
    spec = json.loads((EXAMPLES / "hello" / "spec.json").read_text())
    job_id = await cloud.submit(spec)
    worker = await _spawn(cloud, cloud.boot(job_id, 1), tmp_path / "log")
    assert await worker.wait() == 0
    assert (await cloud.store.get(job_id)).state is JobState.SUCCEEDED
    finished = await _logged(tmp_path / "log", "job_moved")
    assert finished["job_id"] == job_id  # JSON logs with the bound context


async def test_sigterm_checkpoints_and_interrupts(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    worker = await _spawn(cloud, cloud.boot(job_id, 1), tmp_path / "log")
    await _logged(tmp_path / "log", "checkpoint_saved")
    worker.send_signal(signal.SIGTERM)
    assert await worker.wait() == 0
    record = await cloud.store.get(job_id)
    assert record.state is JobState.INTERRUPTED
    assert record.checkpoint is not None


async def test_the_job_dies_with_a_killed_worker(cloud: LocalCloud, tmp_path: Path) -> None:
    job_id = await cloud.submit(primes.spec(), {"primes.py": primes.PROGRAM})
    worker = await _spawn(cloud, cloud.boot(job_id, 1), tmp_path / "log")
    started = await _logged(tmp_path / "log", "job_started")
    worker.kill()
    await worker.wait()
    pid = started["pid"]
    assert isinstance(pid, int)

    async def gone() -> bool:
        return await asyncio.to_thread(_dead, pid)

    await eventually(gone, timeout_s=5)


def _dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # a zombie nobody reaped yet is dead too
