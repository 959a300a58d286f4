"""Recovery on the local cloud at default timers: worker kill -> job re-queued (as a ratio
to the heartbeat interval), spot notice -> checkpoint durable, work redone per
interruption, and submit -> RUNNING latency."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cbas_async import commands
from cbas_async.clock import SystemClock
from cbas_async.components import Component, run_components
from cbas_async.deployment import Session, open_session
from cbas_async.local.cloud import LocalCloud, MasterProcess, open_local_cloud
from cbas_async.settings import Settings
from cbas_async.states import JobState

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 300.0) -> float:
    """Poll until `check` holds; returns the perf_counter time it first did."""
    deadline = time.perf_counter() + timeout_s
    while not await check():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.05)
    return time.perf_counter()


def _spec(tmp: Path, name: str, command: list[str], **extra: object) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"name": name, "command": command, **extra}))
    return path


async def _kill_once(session: Session, cloud: LocalCloud, tmp: Path) -> dict[str, float]:
    spec = _spec(tmp, "sleeper", ["sleep", "600"], checkpoint={"method": "none"})
    submitted = time.perf_counter()
    job = await commands.submit(session, spec, clock=SystemClock())

    async def running() -> bool:
        return (await session.store.get(job.job_id)).state is JobState.RUNNING

    started = await _until(running)
    victim = cloud.hypervisor.find(job.job_id)
    assert victim is not None
    killed = time.perf_counter()
    cloud.hypervisor.kill(victim.instance_id)

    async def requeued() -> bool:
        record = await session.store.get(job.job_id)
        return record.attempt >= 2 and record.state is not JobState.INTERRUPTED

    back = await _until(requeued)
    await commands.cancel(session, job.job_id, clock=SystemClock())
    return {"submit_to_running_s": started - submitted, "kill_to_requeued_s": back - killed}


def _long_primes(tmp: Path) -> Path:
    """The primes example, long enough (about a minute) to be running when the notice lands."""
    spec = json.loads((EXAMPLES / "primes_app" / "spec.json").read_text())
    spec["command"] = ["python3", "primes.py", "20000000"]
    shutil.copy(EXAMPLES / "primes_app" / "primes.py", tmp / "primes.py")
    path = tmp / "long-primes.json"
    path.write_text(json.dumps(spec))
    return path


async def _notice_once(session: Session, cloud: LocalCloud, tmp: Path) -> dict[str, float]:
    job = await commands.submit(session, _long_primes(tmp), clock=SystemClock())

    async def checkpointed() -> bool:
        record = await session.store.get(job.job_id)
        return record.state is JobState.RUNNING and record.checkpoint is not None

    await _until(checkpointed)
    noticed = time.perf_counter()
    await cloud.interrupter.interrupt(job.job_id)

    async def interrupted() -> bool:
        record = await session.store.get(job.job_id)
        if record.state.terminal:
            raise RuntimeError(f"job ended {record.state.value} before the notice was seen")
        return record.attempt >= 2 or record.state is JobState.INTERRUPTED

    durable = await _until(interrupted)
    await commands.wait(session, [job.job_id], timeout_s=300, clock=SystemClock())
    return {
        "notice_to_durable_s": durable - noticed,
        "work_redone_s": await _redone(session, job.job_id),
    }


async def _redone(session: Session, job_id: str) -> float:
    """Seconds of chunks computed in more than one attempt, from the job's own log."""
    seen: dict[str, float] = {}
    redone = 0.0
    for chunk, data in await commands.read_logs(session, job_id, set()):
        if chunk.stream != "stdout":
            continue
        for line in data.decode().splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[0] == "chunk":
                if parts[1] in seen:
                    redone += float(parts[4])
                seen[parts[1]] = float(parts[4])
    return redone


async def run(
    settings: Settings, tmp: Path, kills: int = 2, notices: int = 2
) -> dict[str, list[dict[str, float]]]:
    stopping = asyncio.Event()
    async with open_local_cloud(settings) as cloud:
        master = MasterProcess(env=cloud.env, port=0, log_path=tmp / "master.log")
        parts: list[Component] = [*cloud.parts, master]
        async with asyncio.TaskGroup() as group:
            runner = group.create_task(run_components(parts, stopping, 10.0))
            try:
                async with open_session(cloud.settings) as session:
                    results = {
                        "kills": [await _kill_once(session, cloud, tmp) for _ in range(kills)],
                        "notices": [
                            await _notice_once(session, cloud, tmp) for _ in range(notices)
                        ],
                    }
            finally:
                stopping.set()
            await runner
    return results
