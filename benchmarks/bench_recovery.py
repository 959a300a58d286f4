"""Recovery on the local cloud at default timers, each measure over many runs: submit ->
RUNNING (through the master's API, which wakes the supervisor), instance terminated without
notice -> job placed again (EC2's state-change event), worker kill -9 on a live instance ->
job running again from its checkpoint, spot notice -> checkpoint durable, work redone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from cbas_async import commands
from cbas_async.apiclient import ApiClient, open_api
from cbas_async.clock import SystemClock
from cbas_async.components import Component, run_components
from cbas_async.deployment import Session, open_session
from cbas_async.local.cloud import LocalCloud, open_local_cloud
from cbas_async.local.master_process import MasterProcess
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.specfile import load_spec_file
from cbas_async.states import JobState

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
Rows = list[dict[str, float]]


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


def _state(
    session: Session, job_id: str, attempt: int, *states: JobState
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        job = await session.store.get(job_id)
        return job.attempt >= attempt and job.state in states

    return check


async def _terminate_once(
    session: Session, api: ApiClient, cloud: LocalCloud, tmp: Path
) -> dict[str, float]:
    """Submit through the API; once RUNNING, terminate its instance through EC2."""
    spec = load_spec_file(_spec(tmp, "sleeper", ["sleep", "600"], checkpoint={"method": "none"}))
    submitted = time.perf_counter()
    job = await api.submit(spec)
    started = await _until(_state(session, job.job_id, 1, JobState.RUNNING))
    victim = cloud.hypervisor.find(job.job_id)
    assert victim is not None
    terminated = time.perf_counter()
    await session.clients.ec2.terminate_instances(InstanceIds=[victim.instance_id])
    placed = await _until(_state(session, job.job_id, 2, JobState.LAUNCHING, JobState.RUNNING))
    running = await _until(_state(session, job.job_id, 2, JobState.RUNNING))
    await api.cancel(job.job_id)
    return {
        "submit_to_running_s": started - submitted,
        "terminate_to_placed_s": placed - terminated,
        "terminate_to_running_s": running - terminated,
        **await _phases(session, job.job_id),
    }


async def _phases(session: Session, job_id: str) -> dict[str, float]:
    """Where attempt 1's submit -> RUNNING went, from the job's history: the master's part
    (PENDING -> LAUNCHING, placement) and the instance's (LAUNCHING -> RUNNING: RunInstances,
    the hypervisor's poll, the worker process starting and reading its job)."""
    at = {(e.to_state, e.attempt): e.at for e in await session.store.events(job_id)}
    pending, launching = at[JobState.PENDING, 1], at[JobState.LAUNCHING, 1]
    running = at[JobState.RUNNING, 1]
    return {
        "pending_to_launching_s": (launching - pending).total_seconds(),
        "launching_to_running_s": (running - launching).total_seconds(),
    }


def _long_primes(tmp: Path, interval_s: float = 5.0) -> Path:
    """The primes example, long enough (about a minute) to be running when the notice lands."""
    spec = json.loads((EXAMPLES / "primes_app" / "spec.json").read_text())
    spec["command"] = ["python3", "primes.py", "20000000"]
    spec["checkpoint"]["interval_s"] = interval_s
    shutil.copy(EXAMPLES / "primes_app" / "primes.py", tmp / "primes.py")
    path = tmp / "long-primes.json"
    path.write_text(json.dumps(spec))
    return path


def _started_count(log_path: Path) -> int:
    """How many times the job process was started, from the instance's worker log."""
    try:
        return log_path.read_text(errors="replace").count('"event": "job_started"')
    except FileNotFoundError:
        return 0


async def _restart_once(
    session: Session, api: ApiClient, cloud: LocalCloud, tmp: Path
) -> dict[str, float]:
    """kill -9 the worker process only (not its instance): the instance's supervisor starts
    it again there, and it resumes its attempt; until the local hypervisor restarts workers,
    the instance ends with its process and the job resumes on a new one (`same_instance` 0)."""
    job = await api.submit(load_spec_file(_long_primes(tmp, interval_s=2.0)))

    async def checkpointed() -> bool:
        record = await session.store.get(job.job_id)
        return record.state is JobState.RUNNING and record.checkpoint is not None

    await _until(checkpointed)
    victim = cloud.hypervisor.find(job.job_id)
    assert victim is not None
    pid, before = victim.process.pid, _started_count(victim.log_path)
    killed = time.perf_counter()
    os.kill(pid, signal.SIGKILL)

    async def running_again() -> bool:
        record = await session.store.get(job.job_id)
        if record.attempt != job.attempt:  # a new instance
            return record.state is JobState.RUNNING
        local = cloud.hypervisor.instances.get(victim.instance_id)
        if local is None or local.process.pid == pid:
            return False
        earlier = before if local.log_path == victim.log_path else 0
        return _started_count(local.log_path) > earlier

    back = await _until(running_again)
    record: JobRecord = await session.store.get(job.job_id)
    await api.cancel(job.job_id)
    return {"kill_to_running_s": back - killed, "same_instance": float(record.attempt == 1)}


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _master_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:

        async def answers() -> bool:
            try:
                async with http.get(url + "/healthz"):
                    return True
            except aiohttp.ClientError:
                return False

        await _until(answers, timeout_s=120)


async def run(settings: Settings, tmp: Path, runs: int = 10, notices: int = 2) -> dict[str, Rows]:
    stopping = asyncio.Event()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    async with open_local_cloud(settings, api_url=url) as cloud:
        master = MasterProcess(env=cloud.env, port=port, log_path=tmp / "master.log")
        parts: list[Component] = [*cloud.parts, master]
        through_api = cloud.settings.replace(api_url=url, api_token=cloud.env["CBAS_API_TOKEN"])
        async with asyncio.TaskGroup() as group:
            runner = group.create_task(run_components(parts, stopping, 10.0))
            try:
                await _master_up(url)
                async with open_session(cloud.settings) as session, open_api(through_api) as api:
                    results = {
                        "terminations": [
                            await _terminate_once(session, api, cloud, tmp) for _ in range(runs)
                        ],
                        "restarts": [
                            await _restart_once(session, api, cloud, tmp) for _ in range(runs)
                        ],
                        "notices": [
                            await _notice_once(session, cloud, tmp) for _ in range(notices)
                        ],
                    }
            finally:
                stopping.set()
            await runner
    return results
