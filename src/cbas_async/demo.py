"""`cbas demo` / `make demo`: the local cloud, a master process, a few example jobs (one of
them interrupted), live progress, and a final table."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from cbas_async import commands
from cbas_async.clock import SystemClock
from cbas_async.components import Component, run_components
from cbas_async.deployment import Session, open_session
from cbas_async.local.cloud import LocalCloud, open_local_cloud
from cbas_async.local.master_process import MasterProcess
from cbas_async.records import JobRecord
from cbas_async.settings import Settings
from cbas_async.states import JobState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# name -> (spec, the state it should end in)
JOBS = {
    "hello": ("hello/spec.json", JobState.SUCCEEDED),
    "primes": ("primes_app/spec.json", JobState.SUCCEEDED),
    "fails": ("fails/spec.json", JobState.FAILED),
}
INTERRUPTED_JOB = "primes"
PRIMES_RESULT = "primes below 3000000: 216816"  # what an uninterrupted run writes
# the primes example paced to run about 15 s: still running when its notice lands
PRIMES_PAUSE_S = "0.5"
TIMEOUT_S = 300.0


def demo_settings(settings: Settings, home: Path) -> Settings:
    """Short timers so the demo takes about a minute; the notice is 120 s / speed."""
    return settings.replace(
        deployment="demo",
        home=home,
        heartbeat_interval_s=1.0,
        lost_worker_timeout_s=10.0,
        supervise_interval_s=0.5,
        speed=8.0,
        http_port=0,
        shutdown_grace_s=5.0,
    )


def _say(text: str) -> None:
    print(text, flush=True)


async def _progress(
    session: Session, ids: dict[str, str], cloud: LocalCloud
) -> dict[str, JobRecord]:
    clock = SystemClock()
    deadline = clock.monotonic() + TIMEOUT_S
    seen: dict[str, tuple[JobState, int]] = {}
    interrupted = False
    while True:
        jobs = {name: await session.store.get(job_id) for name, job_id in ids.items()}
        for name, job in jobs.items():
            if seen.get(name) != (job.state, job.attempt):
                seen[name] = (job.state, job.attempt)
                _say(
                    f"  {clock.now():%H:%M:%S}  {name:8} {job.state.value:12} attempt {job.attempt}"
                )
        target = jobs[INTERRUPTED_JOB]
        if not interrupted and target.state is JobState.RUNNING and target.checkpoint is not None:
            instance = await cloud.interrupter.interrupt(target.job_id)
            stamp = f"{clock.now():%H:%M:%S}"
            _say(f"  {stamp}  {INTERRUPTED_JOB:8} spot interruption notice to {instance}")
            interrupted = True
        if all(job.state.terminal for job in jobs.values()) or clock.monotonic() > deadline:
            return jobs
        await clock.sleep(0.5)


def _table(jobs: dict[str, JobRecord]) -> None:
    _say(f"\n{'job':8} {'id':28} {'state':10} {'attempts':>8} {'runtime_s':>9}  note")
    for name, job in jobs.items():
        runtime = (job.updated_at - job.created_at).total_seconds()
        note = " | ".join((job.reason or "").splitlines())
        row = f"{name:8} {job.job_id:28} {job.state.value:10} {job.attempt:>8} {runtime:>9.1f}"
        _say(f"{row}  {note[:60]}")


def _specs(home: Path) -> dict[str, Path]:
    """The examples' specs; the interrupted one slowed down, in a copy under `home`."""
    paths = {name: EXAMPLES / spec for name, (spec, _) in JOBS.items()}
    source = paths[INTERRUPTED_JOB]
    folder = home / "specs"
    folder.mkdir(parents=True, exist_ok=True)
    spec = json.loads(source.read_text())
    spec["env"] = {**spec.get("env", {}), "PAUSE_S": PRIMES_PAUSE_S}
    for name in spec.get("input_files", []):
        shutil.copy(source.parent / name, folder / name)
    paths[INTERRUPTED_JOB] = folder / source.name
    paths[INTERRUPTED_JOB].write_text(json.dumps(spec))
    return paths


async def _run_jobs(cloud: LocalCloud, home: Path) -> bool:
    async with open_session(cloud.settings) as session:
        ids = {}
        for name, spec in _specs(home).items():
            job = await commands.submit(session, spec, clock=SystemClock())
            ids[name] = job.job_id
            _say(f"submitted {name}: {job.job_id}")
        jobs = await _progress(session, ids, cloud)
        _table(jobs)
        out = Path(tempfile.mkdtemp(prefix="cbas-demo-out-"))
        await commands.outputs(session, ids["primes"], out)
        result = out / "result.txt"
        text = result.read_text().strip() if result.is_file() else "(missing)"
        resumed = jobs[INTERRUPTED_JOB].attempt >= 2
        _say(f"\nprimes result (resumed in attempt {jobs[INTERRUPTED_JOB].attempt}): {text}")
    ended = all(jobs[name].state is expected for name, (_, expected) in JOBS.items())
    if not resumed:
        _say("the interrupted job was never resumed from its checkpoint")
    return ended and resumed and text == PRIMES_RESULT


async def run_demo(settings: Settings) -> int:
    home = Path(tempfile.mkdtemp(prefix="cbas-demo-"))
    _say(f"starting the local cloud (moto, IMDS emulator, hypervisor) in {home}")
    async with open_local_cloud(demo_settings(settings, home)) as cloud:
        stopping = asyncio.Event()
        master = MasterProcess(env=cloud.env, port=0, log_path=home / "master.log")
        parts: list[Component] = [*cloud.parts, master]
        async with asyncio.TaskGroup() as group:
            runner = group.create_task(run_components(parts, stopping, 10.0))
            try:
                ok = await _run_jobs(cloud, home)
            finally:
                stopping.set()
            await runner
    verdict = "passed: every job ended as expected, primes resumed with the right result"
    _say("\ndemo " + (verdict if ok else "FAILED: see the table"))
    _say(f"logs: {home}/master.log and {home}/instances/*/worker.log")
    return 0 if ok else 1
