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
LIMIT = 800_000  # the primes job: 32 chunks, about 3 s


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


async def test_a_worker_started_again_on_its_instance_resumes_its_attempt(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """What systemd's Restart=on-failure does after a kill -9: the same descriptor again."""
    job_id = await cloud.submit(primes.spec(limit=LIMIT), {"primes.py": primes.PROGRAM})
    instance_id = cloud.boot(job_id, 1)
    await cloud.place_on(job_id, instance_id)
    first = await _spawn(cloud, instance_id, tmp_path / "first")
    await _logged(tmp_path / "first", "checkpoint_saved")
    first.kill()
    await first.wait()
    assert (await cloud.store.get(job_id)).state is JobState.RUNNING
    second = await _spawn(cloud, instance_id, tmp_path / "second")
    resuming = await _logged(tmp_path / "second", "worker_resuming")
    assert isinstance(resuming["checkpoint"], int)
    assert await second.wait() == 0
    restored = await _logged(tmp_path / "second", "checkpoint_restored")
    assert restored["attempt"] == 1
    record = await cloud.store.get(job_id)
    assert (record.state, record.attempt) == (JobState.SUCCEEDED, 1)
    history = [e.to_state for e in await cloud.store.events(job_id)]
    assert history.count(JobState.RUNNING) == 1  # resumed, not re-run: no new move
    expected = await asyncio.to_thread(primes.uninterrupted_result, tmp_path / "plain", limit=LIMIT)
    assert await cloud.output(job_id, "result.txt") == expected


def _dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # a zombie nobody reaped yet is dead too
