"""`cbas demo` / `make demo`: the local cloud in two regions replaying the shared priced
spot traces (real prices and capacity of a V100 instance type), a master process in each
region, a few example jobs (one of them interrupted), live progress, and a final table
with where each job ran and what it cost against on-demand. Without the shared traces it
runs in one region on the local EC2's placeholder prices."""

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
from cbas_async.errors import ConfigError
from cbas_async.local.cloud import LocalCloud, open_local_cloud
from cbas_async.local.master_process import region_masters
from cbas_async.local.trace_feeds import region_traces
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
REGIONS = ("us-east-1", "us-west-2")
TRACE_TYPE = "p3.2xlarge"  # the instance type the shared priced traces were collected on


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
    _say(
        f"\n{'job':8} {'state':10} {'attempts':>8} {'runtime_s':>9} {'regions':20} "
        f"{'spot_usd':>9} {'ondemand_usd':>12}  note"
    )
    for name, job in jobs.items():
        runtime = (job.updated_at - job.created_at).total_seconds()
        note = " | ".join((job.reason or "").splitlines())
        ran = sorted({a.region or "?" for a in job.cost.attempts.values()})
        row = (
            f"{name:8} {job.state.value:10} {job.attempt:>8} {runtime:>9.1f} "
            f"{','.join(ran):20} {job.cost.spot_usd:>9.4f} {job.cost.ondemand_usd:>12.4f}"
        )
        _say(f"{row}  {note[:40]}")
    spot = sum(job.cost.spot_usd for job in jobs.values())
    ondemand = sum(job.cost.ondemand_usd for job in jobs.values())
    if ondemand > 0:
        _say(
            f"spot {spot:.4f} USD against {ondemand:.4f} on demand: {1 - spot / ondemand:.0%} saved"
        )


async def _priced(session: Session, jobs: dict[str, JobRecord]) -> dict[str, JobRecord]:
    """The jobs once their masters priced their last attempts (a few seconds at most)."""
    clock = SystemClock()
    deadline = clock.monotonic() + 15.0
    while True:
        jobs = {name: await session.store.get(job.job_id) for name, job in jobs.items()}
        if all(j.attempt in j.cost.attempts for j in jobs.values()):
            return jobs
        if clock.monotonic() > deadline:
            return jobs
        await clock.sleep(0.5)


def _specs(home: Path, instance_type: str | None = None) -> dict[str, Path]:
    """The examples' specs; the interrupted one slowed down, in a copy under `home`; with
    `instance_type`, every one copied to run on that type (the traces')."""
    paths = {name: EXAMPLES / spec for name, (spec, _) in JOBS.items()}
    folder = home / "specs"
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in list(paths.items()):
        if name != INTERRUPTED_JOB and instance_type is None:
            continue
        spec = json.loads(source.read_text())
        if name == INTERRUPTED_JOB:
            spec["env"] = {**spec.get("env", {}), "PAUSE_S": PRIMES_PAUSE_S}
        if instance_type is not None:
            resources = {**spec.get("resources", {}), "instance_types": [instance_type]}
            spec["resources"] = resources
        for file in spec.get("input_files", []):
            shutil.copy(source.parent / file, folder / file)
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(spec))
    return paths


async def _run_jobs(cloud: LocalCloud, home: Path, instance_type: str | None) -> bool:
    async with open_session(cloud.settings) as session:
        ids = {}
        for name, spec in _specs(home, instance_type).items():
            job = await commands.submit(session, spec, clock=SystemClock())
            ids[name] = job.job_id
            _say(f"submitted {name}: {job.job_id}")
        jobs = await _priced(session, await _progress(session, ids, cloud))
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


def _traces() -> list[Path]:
    try:
        return region_traces(REGIONS)
    except ConfigError as exc:
        _say(f"no priced traces ({exc}): one region, placeholder prices")
        return []


async def run_demo(settings: Settings) -> int:
    home = Path(tempfile.mkdtemp(prefix="cbas-demo-"))
    traces = _traces()
    local = demo_settings(settings, home)
    if traces:
        local = local.replace(regions=REGIONS, region=REGIONS[0])
    regions = ", ".join(local.all_regions)
    _say(f"starting the local cloud (moto, IMDS emulator, hypervisor; {regions}) in {home}")
    async with open_local_cloud(local, trace=traces) as cloud:
        stopping = asyncio.Event()
        masters = region_masters(cloud.env, cloud.settings.all_regions, port=0, home=home)
        parts: list[Component] = [*cloud.parts, *masters]
        async with asyncio.TaskGroup() as group:
            runner = group.create_task(run_components(parts, stopping, 10.0))
            try:
                ok = await _run_jobs(cloud, home, TRACE_TYPE if traces else None)
            finally:
                stopping.set()
            await runner
    verdict = "passed: every job ended as expected, primes resumed with the right result"
    _say("\ndemo " + (verdict if ok else "FAILED: see the table"))
    _say(f"logs: {home}/master.log and {home}/instances/*/worker.log")
    return 0 if ok else 1
